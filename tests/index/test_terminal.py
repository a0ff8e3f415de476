"""The command line's terminal conventions: colour only where wanted, lines as wide as the terminal, a prompt
when a person types the questions, counts that agree with their nouns, and usage errors that say what to do."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from index import Answer, Hit
from index.articles.text import counted
from index.shell.terminal import TEXT_WIDTH, answer_text, bold, colour_allowed, text_width
from tests.helpers import REPO, SEEDS, Terminal


def answer(passage: str) -> Answer:
    hit = Hit(
        article="a.txt",
        title="Harbour reopens after the storm",
        date="2024-03-02",
        url="https://example.com/harbour",
        sentence=1,
        text=passage,
        passage=passage,
        score=1.0,
        confident=True,
        offset=0,
    )
    return Answer("When did the harbour reopen?", (hit,), "Monday")


def test_bold_is_an_escape_code_on_a_terminal_only_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(sys, "stdout", Terminal())
    assert bold("four") == "\033[1mfour\033[0m"
    monkeypatch.setenv("NO_COLOR", "1")
    assert bold("four") == "four"
    assert not colour_allowed(Terminal())
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert bold("four") == "four"
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert bold("four") == "four"


def test_answers_wrap_to_a_narrow_terminal_and_at_most_100_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    passage = "The harbour reopened on Monday after a week of repairs, and the boats came back. " * 3
    monkeypatch.setattr(sys, "stdout", Terminal())
    monkeypatch.setattr("shutil.get_terminal_size", lambda fallback: os.terminal_size((60, 20)))
    assert text_width() == 60
    lines = answer_text(answer(passage), text_width()).splitlines()
    assert "\033[1m" in lines[1]  # the matched sentence in bold, on a terminal
    lines = [re.sub(r"\033\[[0-9;]*m", "", line) for line in lines]  # the width a reader sees
    assert 55 <= max(len(line) for line in lines) <= 60
    assert lines[-2:] == [
        "    — Harbour reopens after the storm · 2024-03-02 ·",
        "      sentence 1 · a.txt · https://example.com/harbour",
    ]
    monkeypatch.setattr("shutil.get_terminal_size", lambda fallback: os.terminal_size((200, 50)))
    assert text_width() == TEXT_WIDTH
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # a pipe: the same width whatever the terminal
    assert text_width() == TEXT_WIDTH


def test_counts_agree_with_their_nouns() -> None:
    assert [counted(n, "sentence") for n in (0, 1, 2, 1024)] == [
        "0 sentences",
        "1 sentence",
        "2 sentences",
        "1,024 sentences",
    ]
    assert counted(1, "global command") == "1 global command"


def test_ask_with_no_question_on_a_terminal_prompts_until_ctrl_d(tmp_path: Path) -> None:
    controller, terminal = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "ask", "--lexical", "--no-cache", "-k", "1", "--seeds", str(SEEDS)],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        text=True,
    )
    os.close(terminal)
    os.write(controller, b"How many coups?\n\x04")  # a question, then Ctrl-D at the start of a line
    out, err = process.communicate()
    os.close(controller)
    assert process.returncode == 0, err
    assert err == "Ask a question and press Enter; Ctrl-D to finish.\n? ? \n"
    assert out.startswith("Q: How many coups?\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["eval", "squad", "{missing}"],
            "qa-bot: {missing} is not a file: give the path of SQuAD v1.1 dev (dev-v1.1.json, from "
            "https://rajpurkar.github.io/SQuAD-explorer/; JSON, gzip-compressed or not)\n",
        ),
        (
            ["index", "--seeds", "{missing}"],
            "qa-bot: The seeds folder {missing} does not exist: check --seeds, or create it.\n",
        ),
    ],
)
def test_usage_errors_name_what_to_fix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str
) -> None:
    missing = str(tmp_path / "missing")
    main([a.format(missing=missing) for a in argv])
    assert capsys.readouterr().err == message.format(missing=missing)


@pytest.mark.slow
def test_eval_dialogues_measures_with_sentence_vectors_unless_lexical(capsys: pytest.CaptureFixture[str]) -> None:
    dialogues = str(REPO / "tests" / "data" / "dialogues.json")

    def first_table(*options: str) -> list[str]:
        assert main(["eval", "dialogues", dialogues, "--seeds", str(SEEDS), *options]) == 0
        return capsys.readouterr().out.split("\n\n")[0].splitlines()[3:5]

    # The README's follow-up row, words and meaning / words only: alone → in a conversation.
    assert first_table() == [
        "| alone (no context) | 0.765 (39/51) |",
        "| in a conversation, as the bot does (followed up on 48 of 51) | 0.941 (48/51) |",
    ]
    assert first_table("--lexical") == [
        "| alone (no context) | 0.725 (37/51) |",
        "| in a conversation, as the bot does (followed up on 48 of 51) | 0.882 (45/51) |",
    ]
