"""Control characters and direction controls never reach a terminal, a JSON line, a log line or Discord,
whatever the articles' headers, titles, urls and file names and whatever the questions hold; `qa-bot ask --json`
writes one valid UTF-8 JSON line per question whatever the input bytes and the locale."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tests.hypothesis_profile  # noqa: F401  (loads the suite's hypothesis settings)
from bot.cli import main
from bot.formatting import answer_embed, choice_name, reload_message, sources_embed
from bot.index_holder import ArticleChanges, ReloadReport
from index import Answer, Article, Hit, Skipped, load_articles, parse_article
from index.articles.text import clean_text
from tests.helpers import REPO, SEEDS, write_articles

# Each test runs the command line in a subprocess, under several locales.
pytestmark = pytest.mark.slow

# What must never be shown (defined here independently of the code under test): C0 and C1 controls, line and
# paragraph separators, Unicode's Bidi_Control characters, and lone surrogates.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# The same, but line ends are allowed (between an embed's lines, between output lines).
UNSAFE_IN_LINES = re.compile(UNSAFE.pattern.replace("\x00-\x1f", "\x00-\x09\x0b-\x1f"))

ESC_URL = "https://example.com/\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J"
HOSTILE_ARTICLE = (
    f"Title: Coups \x1b[2J\u202eevil\u202c in \u2066Niger\u2069\u200f\n"
    f"Date: 2023-07-27\x1b[31m\u2028\n"
    f"Url: {ESC_URL}\n"
    "Source: \x9b31mWire\u0085\n"
    "\n"
    "Niger has had four coups \u202esince\u202c independence \x1b]0;owned\x07 from France.\n"
)


def hostile_seeds(folder: Path) -> Path:
    return write_articles(folder, {"coups.txt": HOSTILE_ARTICLE, "evil\u202egnp.txt": "Floods hit the delta."})


def test_an_articles_headers_lose_their_control_characters_and_a_url_with_them_is_dropped() -> None:
    article = parse_article("coups.txt", HOSTILE_ARTICLE.encode())
    assert article.title == "Coups [2Jevil in Niger"
    assert article.date == "2023-07-27 [31m"
    assert article.url is None
    assert article.source == "31mWire"
    assert article.sentences == ("Niger has had four coups since independence ]0;owned from France.",)


def test_a_url_with_a_direction_control_is_dropped() -> None:
    for url in ("https://example.com/\u202egnp.exe", "https://example.com/a\u200eb", "https://e.com/\x7f"):
        assert parse_article("a.txt", f"url: {url}\n\nText.".encode()).url is None


def test_a_file_name_with_a_direction_control_is_skipped_and_logged_escaped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="index"):
        found, skipped = load_articles(hostile_seeds(tmp_path))
    assert [a.id for a in found] == ["coups.txt"]
    assert skipped == [Skipped("evil\\u202egnp.txt", "its name holds control characters or non-UTF-8 bytes: rename it")]
    assert [r.getMessage() for r in caplog.records] == [
        "Skipped evil\\u202egnp.txt: its name holds control characters or non-UTF-8 bytes: rename it"
    ]


def test_the_cli_shows_no_control_character_from_articles_file_names_or_questions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds = hostile_seeds(tmp_path / "seeds")
    question = "How many \x1b[2Jcoups\u202e in\u2028 Niger?\x85"
    assert main(["ask", "--seeds", str(seeds), "--no-cache", "-k", "1", question]) == 0
    text = capsys.readouterr().out
    assert main(["ask", "--seeds", str(seeds), "--no-cache", "-k", "1", "--json", question]) == 0
    line = capsys.readouterr().out
    assert main(["index", "--seeds", str(seeds), "--no-cache"]) == 0
    report = capsys.readouterr().out
    for shown in (text, line, report):
        assert not UNSAFE_IN_LINES.search(shown)
    assert text.splitlines()[0] == "Q: How many  [2Jcoups in  Niger? "
    assert text.splitlines()[-1] == "    — Coups [2Jevil in Niger · 31mWire · 2023-07-27 [31m · sentence 1 · coups.txt"
    document = json.loads(line)
    assert document["question"] == "How many  [2Jcoups in  Niger? "
    assert document["answers"][0]["url"] is None
    assert "  evil\\u202egnp.txt: its name holds control characters or non-UTF-8 bytes: rename it" in report


def test_a_seeds_path_with_control_characters_is_shown_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "gone\x1b[2J\u202e"
    assert main(["ask", "--seeds", str(missing), "x"]) == 2
    err = capsys.readouterr().err
    assert not UNSAFE_IN_LINES.search(err)
    assert err.startswith(f"qa-bot: The seeds folder {tmp_path}/gone\\x1b[2J\\u202e does not exist")


HIT = Hit(
    article="a\u202e.txt",
    title="Coups \u202eevil\u202c \x1b(B",
    date="2023\u2066-07\u2069",
    url=ESC_URL,
    sentence=3,
    text="Four \u202ecoups\u202c.",
    passage="Before. Four \u202ecoups\u202c. After\x1b.",
    score=1.0,
    confident=True,
    offset=len("Before. "),
)


def strings(message: Any) -> list[str]:
    """Every string in a message payload."""
    if isinstance(message, str):
        return [message]
    if isinstance(message, dict):
        return [s for value in message.values() for s in strings(value)]
    if isinstance(message, list | tuple):
        return [s for value in message for s in strings(value)]
    return []


def test_discord_replies_show_no_control_character() -> None:
    embed = answer_embed(Answer("How many \u202ecoups\x1b[2J?", (HIT,), short_answer="four\u200f"))
    sources = sources_embed([parse_article("coups.txt", HOSTILE_ARTICLE.encode())], 0)
    report = ReloadReport(
        ArticleChanges(("new\u202e.txt",), (), ()), 1, 1, (Skipped("x\u2066.txt", "bad\x1b[2J"),), 0.5, None
    )
    shown = [*strings(embed.to_dict()), *strings(sources.to_dict()), reload_message(report)]
    assert [s for s in shown if UNSAFE_IN_LINES.search(s)] == []
    assert embed.fields[0].name == "1. Coups evil  (B"
    assert embed.fields[0].value.splitlines()[-1] == "— 2023-07 · sentence 3"  # the url with ESC is not a link


@given(st.text())
def test_clean_text_leaves_nothing_unsafe_and_changes_nothing_else(text: str) -> None:
    cleaned = clean_text(text)
    assert not UNSAFE.search(cleaned)
    assert not UNSAFE_IN_LINES.search(clean_text(text, keep_lines=True))
    if not UNSAFE.search(text):
        assert cleaned == text


@given(title=st.text(min_size=1), date=st.one_of(st.none(), st.text()))
def test_an_autocomplete_choice_shows_no_control_character(title: str, date: str | None) -> None:
    article = Article("a.txt", title, date, None, None, ("Body text.",), digest="")
    assert not UNSAFE.search(choice_name(article))


# -- the command line in a subprocess, under each locale


@pytest.fixture(scope="module")
def latin1_locale(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An ISO-8859-1 locale, compiled into a temporary folder (no system change) when the machine has none."""
    listed = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.split()
    for name in listed:
        if name.lower().replace("-", "").endswith(("iso88591", "iso8859-1")):
            return {"LC_ALL": name}
    localedef = shutil.which("localedef")
    if localedef is None:
        pytest.skip("no ISO-8859-1 locale and no localedef to make one")
    folder = tmp_path_factory.mktemp("locales")
    made = subprocess.run(
        [localedef, "-i", "en_US", "-f", "ISO-8859-1", str(folder / "en_US.ISO-8859-1")], capture_output=True
    )
    if made.returncode not in (0, 1):  # 1: made, with warnings
        pytest.skip(f"localedef could not make an ISO-8859-1 locale: {made.stderr!r}")
    return {"LC_ALL": "en_US.ISO-8859-1", "LOCPATH": str(folder)}


def environment_for(locale: dict[str, str]) -> dict[str, str]:
    """This environment in `locale`, without any variable that would choose the encodings for Python."""
    chosen = ("LC_", "LANG", "PYTHONIOENCODING", "PYTHONUTF8", "PYTHONCOERCECLOCALE")
    return {k: v for k, v in os.environ.items() if not k.startswith(chosen)} | locale | {"SEEDS_DIR": str(SEEDS)}


def run_cli(args: list[bytes], stdin: bytes, locale: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable.encode(), b"-m", b"bot", b"ask", b"--json", b"--no-cache", b"-k", b"1", *args],
        input=stdin,
        capture_output=True,
        cwd=REPO,
        env=environment_for(locale),
        timeout=120,
    )


# "C (ASCII)": the C locale with Python's UTF-8 coercion turned off, so that its streams are ASCII.
LOCALES = ["C", "C (ASCII)", "C.UTF-8", "latin-1"]
JUNK_LINES = (
    b"How many coups?\n"
    b"\xff\xfe junk \xc3\n"
    b"\n"
    b"caf\xc3\xa9 \x1b[2J \xe2\x80\xae reversed\r\n"
    b"line\xe2\x80\xa8separator \xc2\x85 next line\n"
    b"Who is in charge?"
)
EXPECTED_QUESTIONS = [
    "How many coups?",
    "\ufffd\ufffd junk \ufffd",
    "café  [2J  reversed",
    "line separator   next line",
    "Who is in charge?",
]


def _locale(name: str, latin1: dict[str, str]) -> dict[str, str]:
    if name == "C (ASCII)":
        return {"LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"}
    return latin1 if name == "latin-1" else {"LC_ALL": name}


def json_lines(out: bytes) -> list[dict[str, Any]]:
    text = out.decode("utf-8")  # strict: any invalid byte fails the test
    assert not re.search("[\u2028\u2029\u0085]", text)  # escaped, so that no reader splits a line there
    return [json.loads(line) for line in text.split("\n")[:-1]]


@pytest.mark.parametrize("locale", LOCALES)
def test_every_standard_input_line_gets_one_valid_json_line_in_any_locale(
    locale: str, latin1_locale: dict[str, str]
) -> None:
    done = run_cli([], JUNK_LINES, _locale(locale, latin1_locale))
    assert (done.returncode, done.stderr) == (0, b"")
    answers = json_lines(done.stdout)
    assert [a["question"] for a in answers] == EXPECTED_QUESTIONS
    assert answers[0]["short_answer"] == "four"
    assert answers[-1]["answers"][0]["text"] == "It is not clear at the moment who is really in charge of Niger."


@pytest.mark.parametrize("locale", LOCALES)
def test_a_question_argument_of_invalid_bytes_gets_a_valid_json_line_in_any_locale(
    locale: str, latin1_locale: dict[str, str]
) -> None:
    done = run_cli([b"How many coups? \xff\xfe\x1b[2J"], b"", _locale(locale, latin1_locale))
    assert (done.returncode, done.stderr) == (0, b"")
    [answer] = json_lines(done.stdout)
    # Invalid bytes are U+FFFD, or (in an ISO-8859-1 locale, where every byte is a letter) the letters ÿþ.
    assert answer["question"] in ("How many coups? \ufffd\ufffd [2J", "How many coups? ÿþ [2J")
    assert "four coups" in answer["answers"][0]["text"]


@pytest.mark.parametrize("locale", LOCALES)
def test_human_output_never_fails_on_the_locale(locale: str, latin1_locale: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--no-cache", "-k", "1", "Who is in charge?"],
        capture_output=True,
        cwd=REPO,
        env=environment_for(_locale(locale, latin1_locale)),
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout.startswith(b"Q: Who is in charge?\n")
