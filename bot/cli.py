"""The `qa-bot` command line: ask questions and build the index from a shell."""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

from bot.launch import add_commands as add_bot_commands
from index import Answer, BuildReport, EmptyIndexError, Hit, SearchIndex, build_index


class UsageError(Exception):
    """A mistake the user can fix; the message says how."""


def seeds_folder(value: str | None) -> Path:
    return Path(value or os.environ.get("SEEDS_DIR") or "seeds")


def citation(hit: Hit) -> str:
    parts = [hit.title, hit.date or "undated", f"sentence {hit.sentence}", hit.article]
    if hit.url:
        parts.append(hit.url)
    return " · ".join(parts)


def answer_json(answer: Answer) -> str:
    answers = [
        {
            "rank": rank,
            "score": round(hit.score, 6),
            "confident": hit.confident,
            "article": hit.article,
            "title": hit.title,
            "date": hit.date,
            "url": hit.url,
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
    return json.dumps(document, ensure_ascii=False)


def answer_text(answer: Answer) -> str:
    lines = [f"Q: {answer.question}"]
    if not answer.confident:
        lines.append("   No confident answer in the articles." + (" Closest passages:" if answer.hits else ""))
    elif answer.short_answer:
        lines.append(f"   Answer: {answer.short_answer}")
    for rank, hit in enumerate(answer.hits, start=1):
        weak = "" if hit.confident else " (weak match)"
        body = textwrap.fill(hit.passage, width=100, initial_indent=f"{rank:>2}. ", subsequent_indent="    ")
        lines.append(body + weak)
        lines.append(f"    — {citation(hit)}")
    return "\n".join(lines)


def _questions(given: Sequence[str]) -> Iterable[str]:
    if given:
        for question in given:
            if not question.strip():
                raise UsageError('the question is empty: ask something, for example qa-bot ask "Who is in charge?"')
            yield question
        return
    # One question per line of standard input; blank lines are skipped.
    for line in sys.stdin:
        if line.strip():
            yield line.strip()


def _load(folder: Path) -> tuple[SearchIndex, BuildReport]:
    try:
        return build_index(folder)
    except EmptyIndexError as error:
        raise UsageError(str(error)) from None


def cmd_ask(args: argparse.Namespace) -> int:
    if args.k < 1:
        raise UsageError(f"-k must be at least 1 (got {args.k})")
    if any(not q.strip() for q in args.question):
        list(_questions(args.question))  # raises the usage error before the index is built
    index, _ = _load(seeds_folder(args.seeds))
    for n, question in enumerate(_questions(args.question)):
        answer = index.ask(question, args.k)
        if args.json:
            print(answer_json(answer), flush=True)
        else:
            print(("\n" if n else "") + answer_text(answer), flush=True)
    return 0


def report_text(folder: Path, report: BuildReport) -> str:
    lines = [
        f"Indexed {report.articles:,} article(s) from {folder}: "
        f"{report.sentences:,} sentences, {report.tokens:,} tokens, in {report.seconds:.2f} s."
    ]
    if report.skipped:
        lines.append(f"Skipped {len(report.skipped):,} file(s):")
        lines.extend(f"  {s.path}: {s.reason}" for s in report.skipped)
    return "\n".join(lines)


def cmd_index(args: argparse.Namespace) -> int:
    folder = seeds_folder(args.seeds)
    _, report = _load(folder)
    print(report_text(folder, report))
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="qa-bot", description="Answer questions from news articles.")
    commands = root.add_subparsers(dest="command", required=True)

    ask = commands.add_parser("ask", help="answer questions from the articles")
    ask.add_argument("--seeds", help="articles folder (default: $SEEDS_DIR, else ./seeds)")
    ask.add_argument("-k", type=int, default=3, help="passages per question (default: 3)")
    ask.add_argument("--json", action="store_true", help="one JSON object per question, one per line")
    ask.add_argument("question", nargs="*", help="questions; with none, one per line of standard input")
    ask.set_defaults(run=cmd_ask)

    build = commands.add_parser("index", help="build the index and report what was indexed")
    build.add_argument("--seeds", help="articles folder (default: $SEEDS_DIR, else ./seeds)")
    build.set_defaults(run=cmd_index)
    add_bot_commands(commands)  # run, sync and check: the Discord bot
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except UsageError as error:
        print(f"qa-bot: {error}", file=sys.stderr)
        return 1 if args.command == "index" else 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`qa-bot ask … | head`): stop quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
