"""`qa-bot stats`: the question log's numbers from a shell, reading the bot's database."""

from __future__ import annotations

import itertools
import re
import time

import pytest

from bot.cli import main
from bot.questionlog.schema import open_database
from bot.questionlog.service import answer_id_at
from bot.questionlog.store import AnswerRecord, LogStore, day_of
from tests.bot.test_stats import png_size

GUILD, OTHER = 111, 222
SEQUENCE = itertools.count()


@pytest.fixture
def state_db(tmp_path, monkeypatch):
    path = tmp_path / "state.sqlite3"
    monkeypatch.setenv("STATE_DB", str(path))
    monkeypatch.setenv("QUESTION_LOG_DAYS", "30")
    return path


def fill(path) -> None:
    now = time.time()
    store = LogStore(open_database(path), 30)
    for seconds, (question, confident, guild) in enumerate(
        [
            ("How many coups?", True, GUILD),
            ("Zebras?", False, GUILD),
            ("zebras", False, GUILD),
            ("Who painted it?", False, OTHER),
            ("Zebras?", False, 0),
        ]
    ):
        asked_at = now - 60 + seconds  # in this order
        answer_id = answer_id_at(asked_at, next(SEQUENCE))
        store.record(AnswerRecord(answer_id, asked_at, guild, question, confident, None, None, 5.0))
        if guild == GUILD:
            store.vote(answer_id, day_of(asked_at), guild, 42, confident)
    store.db.close()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(["stats", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_stats_for_one_server_with_a_chart(state_db, tmp_path, capsys):
    fill(state_db)
    chart = tmp_path / "chart.png"
    status, out, err = run(capsys, "--days", "7", "--guild", str(GUILD), "--chart", str(chart))
    assert (status, err) == (0, "")
    header, *rest = out.splitlines()
    assert re.fullmatch(
        rf"Questions in server {GUILD}, the last 7 days \(\d{{4}}-\d\d-\d\d to \d{{4}}-\d\d-\d\d, UTC days\):", header
    )
    assert rest == [
        "  3 questions, 33% answered confidently (1).",
        "  1 helpful and 2 not helpful votes: helpful rate 33%.",
        "Most asked without a confident answer:",
        "     2×  zebras",
        f"Chart: {chart}",
    ]
    assert png_size(chart.read_bytes()) == (800, 400)


def test_stats_everywhere_and_for_direct_messages(state_db, capsys):
    fill(state_db)
    status, out, _ = run(capsys)
    assert status == 0
    assert out.splitlines()[1:4] == [
        "  5 questions, 20% answered confidently (1).",
        "  1 helpful and 2 not helpful votes: helpful rate 33%.",
        "Most asked without a confident answer:",
    ]
    assert out.splitlines()[4:] == ["     3×  Zebras?", "     1×  Who painted it?"]
    status, out, _ = run(capsys, "--guild", "dm", "--days", "1")
    assert out.splitlines()[0].startswith("Questions in direct messages, today (")
    assert out.splitlines()[1] == "  1 question, 0% answered confidently (0)."


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        ((), {}, "qa-bot: there is no question log at {db}: the bot creates it when it starts; set STATE_DB"),
        ((), {"STATE_DB": "off"}, "qa-bot: the question log is turned off (STATE_DB=off): there is nothing to show."),
        (("--days", "91"), {}, "qa-bot: --days must be from 1 to 90 (got 91)."),
        (("--guild", "abc"), {}, "qa-bot: --guild takes a numeric server id, or dm (got 'abc')."),
        # Past what a 64-bit id holds (an OverflowError in the database, before).
        (("--guild", "9" * 23), {}, f"qa-bot: --guild takes a numeric server id, or dm (got '{'9' * 23}')."),
        (("--guild", str(2**63)), {}, f"qa-bot: --guild takes a numeric server id, or dm (got '{2**63}')."),
        ((), {"QUESTION_LOG_DAYS": "-1"}, "qa-bot: QUESTION_LOG_DAYS must be a whole number of days from 0 to 3650"),
    ],
)
def test_stats_mistakes_are_one_line_saying_what_to_do(state_db, monkeypatch, capsys, argv, environ, message):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    status, out, err = run(capsys, *argv)
    assert (status, out) == (2, "")
    assert err.startswith(message.format(db=state_db))
    assert not state_db.exists()  # never created by a look


def test_stats_on_a_corrupt_file_says_so(state_db, capsys):
    state_db.write_bytes(b"garbage " * 100)
    status, _, err = run(capsys)
    assert status == 2
    assert err == f"qa-bot: could not read the question log at {state_db} (DatabaseError: file is not a database).\n"
