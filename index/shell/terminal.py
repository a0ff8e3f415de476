"""What the command line writes: answers as text or JSON lines, and its errors, on a terminal or a pipe.

Shared by every `qa-bot` command; `run` gives each the same exit statuses and error handling.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import io
import json
import os
import re
import shutil
import sys
import textwrap
from typing import TextIO

from index.answers.overlaps import Passage, merge_overlapping, own_passage
from index.answers.results import Answer, Hit
from index.articles.text import UNSAFE_CHARS, clean_text, printable


class UsageError(Exception):
    """A mistake the user can fix; the message says how."""


FLAG_VALUES = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


def env_flag(name: str, raw: str, default: bool) -> bool:
    """An on/off setting from the environment, read alike by every command (the bot's and the core's).

    Raises ValueError, saying what to do, for anything but the words of FLAG_VALUES (any case) or nothing.
    """
    value = raw.strip().lower()
    if not value:
        return default
    if value not in FLAG_VALUES:
        raise ValueError(f"{name} must be true or false (got {value!r}); fix it in .env.")
    return FLAG_VALUES[value]


class OutputError(Exception):
    """Standard output could not be written (a full disk, a failing device); the message is the system's."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))
        self.errno = error.errno


def emit(text: str, end: str = "\n") -> None:
    """Write to standard output at once, so that a failed write is told here, not at exit."""
    try:
        sys.stdout.write(text + end)
        sys.stdout.flush()
    except BrokenPipeError:
        raise  # the reader went away: main() stops quietly
    except OSError as error:
        raise OutputError(error) from None


def citation(shown: Passage | Hit) -> str:
    passage = own_passage(shown) if isinstance(shown, Hit) else shown
    hit = passage.best
    numbers = passage.marked
    where = f"sentence {numbers[0]}" if len(numbers) == 1 else "sentences " + ", ".join(map(str, numbers))
    parts = [hit.title, *([hit.source] if hit.source else []), hit.date or "undated", where, hit.article]
    if hit.url:
        parts.append(hit.url)
    return " · ".join(parts)


def shown(answer: Answer) -> Answer:
    """`answer` with every text cleaned for a terminal or a JSON line: the articles' were cleaned when
    parsed, but what reaches a terminal is checked here, where it is written."""
    hits = tuple(
        dataclasses.replace(
            hit,
            article=printable(hit.article),
            title=clean_text(hit.title),
            date=clean_text(hit.date) if hit.date else hit.date,
            url=hit.url if hit.url and not UNSAFE_CHARS.search(hit.url) else None,
            text=clean_text(hit.text),
            passage=clean_text(hit.passage),
            source=clean_text(hit.source) if hit.source else hit.source,
            shown=tuple(clean_text(sentence) for sentence in hit.shown),
        )
        for hit in answer.hits
    )
    short = clean_text(answer.short_answer) if answer.short_answer else answer.short_answer
    return Answer(clean_text(answer.question), hits, short)


def answer_json(answer: Answer) -> str:
    """One line of JSON, valid UTF-8 once cleaned; U+2028 and U+2029 escaped like other line ends,
    so that no reader (JavaScript's, or Python's str.splitlines) splits the line there."""
    answer = shown(answer)
    answers = [
        {
            "rank": rank,
            "score": round(hit.score, 6),
            "confident": hit.confident,
            "confidence": hit.confidence,
            "article": hit.article,
            "title": hit.title,
            "date": hit.date,
            "url": hit.url,
            "source": hit.source,
            "sentence": hit.sentence,
            "text": hit.text,
            "passage": hit.passage,
        }
        for rank, hit in enumerate(answer.hits, start=1)
    ]
    document = {
        "question": answer.question,
        "confident": answer.confident,
        "short_answer": answer.short_answer,
        "answers": answers,
    }
    line = json.dumps(document, ensure_ascii=False)
    return line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def colour_allowed(stream: TextIO) -> bool:
    """Escape codes only for a terminal, and never when NO_COLOR is set (no-color.org) or TERM is dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def bold(text: str) -> str:
    """Bold on a terminal; plain text when piped or with NO_COLOR, so scripts read the words alone."""
    return f"\033[1m{text}\033[0m" if colour_allowed(sys.stdout) else text


# Lines of answers are at most this wide: narrower on a narrow terminal, never wider (long lines read badly).
TEXT_WIDTH = 100
MIN_WIDTH = 40


def text_width() -> int:
    """The terminal's width (at most TEXT_WIDTH), or TEXT_WIDTH when standard output is not a terminal."""
    if not sys.stdout.isatty():
        return TEXT_WIDTH
    return max(MIN_WIDTH, min(TEXT_WIDTH, shutil.get_terminal_size((TEXT_WIDTH, 24)).columns))


def answer_text(answer: Answer, width: int = TEXT_WIDTH, passages: int | None = None) -> str:
    """The answer for a terminal: at most `passages` passages (default: one per hit), overlapping ones as one."""
    answer = shown(answer)
    lines = [f"Q: {answer.question}"]
    if not answer.confident:
        lines.append("   No confident answer in the articles." + (" Closest passages:" if answer.hits else ""))
    elif answer.short_answer:
        lines.append(f"   Answer: {bold(answer.short_answer)}")
    wanted = len(answer.hits) if passages is None else passages
    for rank, passage in enumerate(merge_overlapping(answer.hits, wanted), start=1):
        weak = "" if passage.best.confident else " (weak match)"
        # Wrapped as plain text, then the marked sentences bolded: escape codes would count as width.
        body = _fill(passage.text + weak, width, f"{rank:>2}. ", "    ")
        if colour_allowed(sys.stdout):
            body = _bold_wrapped(body, passage)
        lines.append(body)
        lines.append(_fill(citation(passage), width, "    — ", "      "))
    return "\n".join(lines)


def _bold_wrapped(body: str, passage: Passage) -> str:
    # Each marked sentence's words, in the wrapped text, between bold on and off (a line break inside stays).
    for start, end in passage.marks:
        words = passage.text[start:end].split()
        pattern = r"\s+".join(re.escape(word) for word in words)
        body = re.sub(pattern, lambda match: bold(match.group()), body, count=1)
    return body


def _fill(text: str, width: int, first: str, rest: str) -> str:
    # Dates, links and file names are never split: a line holding one may run past the width instead.
    return textwrap.fill(
        text, width, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False, break_long_words=False
    )


def set_up_stdout(*, utf8: bool) -> None:
    """JSON lines are UTF-8 (RFC 8259) whatever the locale; text that the locale's encoding cannot hold
    (a curly quote in an ISO-8859-1 or ASCII locale) is shown as "?" rather than failing the run."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(encoding="utf-8" if utf8 else sys.stdout.encoding, errors="replace")


def run(args: argparse.Namespace) -> int:
    """Run the command `args` names (its `run` default), turning its errors into a message and an exit status."""
    set_up_stdout(utf8=getattr(args, "json", False))
    try:
        return int(args.run(args))
    except UsageError as error:
        print(f"qa-bot: {error}", file=sys.stderr)
        return 1 if args.command == "index" else 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`qa-bot ask … | head`): stop quietly, as other command-line tools do.
        _discard_stdout()
        return 141
    except OutputError as error:
        _discard_stdout()
        hint = "free some space, or send the output elsewhere" if error.errno in _FULL else "check where it goes"
        print(f"qa-bot: could not write to standard output ({error}): {hint}.", file=sys.stderr)
        return 1


# A full disk, or a full quota.
_FULL = (errno.ENOSPC, errno.EDQUOT)


def _discard_stdout() -> None:
    # What is left in the output buffer would fail again when Python flushes it at exit.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
