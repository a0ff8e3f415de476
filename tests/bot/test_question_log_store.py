"""The shared state's database, SQLite and PostgreSQL alike: schema migrations, what is written, retention,
the counts /stats reads, and the cooldowns."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.config import ConfigError, PostgresURL, default_state_db, load_settings
from bot.questionlog import schema
from bot.questionlog.database import SQLiteDatabase, StateDatabase, connect
from bot.questionlog.schema import LATEST, MIGRATIONS, SchemaTooNew, migrate, open_database
from bot.questionlog.service import answer_id_at, answer_time
from bot.questionlog.store import (
    DAY_SECONDS,
    AnswerRecord,
    DayCounts,
    LogStore,
    Turn,
    VoteOutcome,
    day_of,
    grouping_key,
)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC).timestamp()
GUILD, OTHER_GUILD, DM = 111, 222, 0
MEMBER, OTHER_MEMBER = 1_100_000_000_000_000_030, 1_100_000_000_000_000_031
SEQUENCE = itertools.count()


def record(store: LogStore, question: str, *, at: float = NOW, guild: int = GUILD, confident: bool = True) -> int:
    answer_id = answer_id_at(at, next(SEQUENCE))
    store.record(
        AnswerRecord(
            answer_id=answer_id,
            asked_at=at,
            guild_id=guild,
            question=question,
            confident=confident,
            article="seed.txt" if confident else None,
            sentence=33 if confident else None,
            latency_ms=12.5,
        )
    )
    return answer_id


@pytest.fixture
def store(state_location):
    db = open_database(state_location)
    yield LogStore(db, keep_days=30)
    db.close()


def columns(db: StateDatabase) -> dict[str, list[tuple[str, str, bool]]]:
    """Each table's columns: name, declared type, NOT NULL (the version's own table left out)."""
    if isinstance(db, SQLiteDatabase):
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: [(c[1], c[2], bool(c[3])) for c in db.execute(f"PRAGMA table_info({t})")] for t in tables}
    found: dict[str, list[tuple[str, str, bool]]] = {}
    for table, column, kind, nullable in db.execute(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name <> 'qa_bot_schema'"
        " ORDER BY table_name, ordinal_position"
    ):
        found.setdefault(table, []).append((column, kind, nullable == "NO"))
    return found


def table_exists(db: StateDatabase, name: str) -> bool:
    if isinstance(db, SQLiteDatabase):
        return db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = ?", (name,)).fetchone() == (1,)
    return db.execute("SELECT to_regclass(?)", (name,)).fetchone() != (None,)


def test_a_new_sqlite_database_is_created_in_wal_mode_at_the_latest_version(tmp_path):
    path = tmp_path / "deep" / "folder" / "state.sqlite3"
    db = open_database(path)
    assert path.is_file()
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert db.version() == LATEST
    db.close()


def test_a_postgresql_connection_commits_without_waiting_for_the_disk(postgres_state):
    db = open_database(postgres_state)
    assert db.execute("SHOW synchronous_commit").fetchone() == ("off",)  # as SQLite's synchronous = NORMAL
    assert db.version() == LATEST
    db.close()


def test_the_schema_is_the_same_tables_and_columns_in_both_databases(state_location):
    db = open_database(state_location)
    found = columns(db)
    db.close()
    assert {table: [name for name, _, _ in cols] for table, cols in found.items()} == {
        "answers": [
            "id",
            "asked_at",
            "guild_id",
            "question",
            "normalised",
            "confident",
            "article",
            "sentence",
            "latency_ms",
        ],
        "cooldowns": ["member", "asked_at", "refusals"],
        "daily_counts": ["day", "guild_id", "questions", "confident", "helpful", "not_helpful"],
        "meta": ["key", "value"],
        "votes": ["answer_id", "voter", "helpful"],
        "feeds": [
            "url",
            "title",
            "added_at",
            "next_poll_at",
            "lease_owner",
            "lease_until",
            "etag",
            "last_modified",
            "backlog",
            "polled_at",
            "status",
            "failures",
            "articles",
        ],
        "feed_items": [
            "feed_url",
            "link",
            "version",
            "state",
            "article",
            "digest",
            "attempts",
            "reason",
            "seen_at",
        ],
        "feed_generation": ["name", "generation"],
    }
    if isinstance(state_location, PostgresURL):  # 64-bit ids (Discord's snowflakes), double-precision times
        kinds = {(table, name): kind for table, cols in found.items() for name, kind, _ in cols}
        assert kinds["answers", "id"] == kinds["answers", "guild_id"] == "bigint"
        assert kinds["answers", "asked_at"] == kinds["cooldowns", "asked_at"] == "double precision"
        assert kinds["meta", "value"] == kinds["votes", "voter"] == kinds["cooldowns", "member"] == "bytea"
        assert kinds["feeds", "next_poll_at"] == kinds["feeds", "lease_until"] == "double precision"
        assert kinds["feed_generation", "generation"] == "bigint"


@pytest.mark.parametrize("start", range(LATEST))
def test_every_earlier_version_migrates_to_the_latest_schema_keeping_its_rows(new_state, start):
    fresh = open_database(new_state("fresh"))
    old = connect(new_state("old"))
    migrate(old, target=start)
    assert old.version() == start
    if start >= 1:  # a question logged by that version
        old.execute(
            "INSERT INTO answers VALUES (7, ?, ?, 'How many coups?', 'how many coups', 1, 'seed.txt', 33, 9.5)",
            (NOW, GUILD),
        )
        old.execute(
            "INSERT INTO daily_counts (day, guild_id, questions, confident) VALUES ('2026-03-10', ?, 1, 1)", (GUILD,)
        )

    assert migrate(old) == start
    assert old.version() == LATEST
    assert columns(old) == columns(fresh)
    if start >= 1:
        assert old.execute("SELECT id, question, confident, article, sentence FROM answers").fetchall() == [
            (7, "How many coups?", 1, "seed.txt", 33)
        ]
        migrated = LogStore(old, 30)
        assert migrated.stats(NOW, 1, [GUILD]).days == (DayCounts(date(2026, 3, 10), 1, 1, 0, 0),)
        assert migrated.vote(7, date(2026, 3, 10), GUILD, MEMBER, True) is VoteOutcome.RECORDED
    old.close()
    fresh.close()


def test_a_database_from_a_newer_qa_bot_is_refused_and_left_alone(state_location):
    db = open_database(state_location)
    db.set_version(LATEST + 1)
    db.close()
    with pytest.raises(SchemaTooNew, match=f"schema version {LATEST + 1}, newer than this qa-bot knows"):
        open_database(state_location)
    db = connect(state_location)
    assert db.version() == LATEST + 1
    db.close()


def test_a_failed_migration_leaves_the_previous_version(state_location, monkeypatch):
    def broken(db: StateDatabase) -> None:
        db.execute("CREATE TABLE half_done (x INTEGER)")
        raise OSError("disk I/O error")

    monkeypatch.setattr(schema, "MIGRATIONS", (*MIGRATIONS[:-1], broken))
    db = connect(state_location)
    with pytest.raises(OSError, match="disk I/O error"):
        migrate(db)
    assert db.version() == LATEST - 1
    assert not table_exists(db, "half_done")
    assert table_exists(db, "votes")  # the versions before it stand
    db.close()


def test_processes_starting_together_migrate_once(new_state):
    location = new_state("shared")
    first, second = connect(location), connect(location)
    assert migrate(first) == 0
    assert migrate(second) == LATEST  # read again under the lock: nothing left to run
    assert second.version() == LATEST
    first.close()
    second.close()


def test_answer_ids_carry_their_time_to_the_millisecond():
    first, second = answer_id_at(NOW, 1), answer_id_at(NOW, 2)
    assert first != second
    assert answer_time(first) == answer_time(second) == NOW
    assert answer_time(answer_id_at(NOW + 0.25, 5)) == NOW + 0.25


def test_a_logged_answer_keeps_what_the_issue_lists(store):
    answer_id = record(store, "How many coups?")
    row = store.db.execute("SELECT * FROM answers").fetchone()
    assert row == (answer_id, NOW, GUILD, "How many coups?", "how many coups", 1, "seed.txt", 33, 12.5)
    assert store.db.execute("SELECT * FROM daily_counts").fetchall() == [("2026-03-10", GUILD, 1, 1, 0, 0)]


def test_questions_group_by_their_words_whatever_case_quotes_and_punctuation():
    assert grouping_key("Who’s  in CHARGE??") == grouping_key("who's in charge") == "who s in charge"
    assert grouping_key("?!") == "?!"


def test_stats_count_each_day_and_list_the_most_asked_unanswered_questions(store):
    yesterday = NOW - DAY_SECONDS
    record(store, "How many coups?")
    record(store, "Who is in charge?", at=yesterday)
    record(store, "Which volunteers painted the lighthouse purple?", confident=False)
    record(store, "which volunteers painted the lighthouse PURPLE", confident=False, at=yesterday)
    record(store, "Zebras?", confident=False)
    record(store, "Zebras?", confident=False, guild=OTHER_GUILD)  # another server
    record(store, "Zebras?", confident=False, guild=DM)
    record(store, "Too old?", confident=False, at=NOW - 3 * DAY_SECONDS)  # before the window

    stats = store.stats(NOW, 2, [GUILD])
    assert stats.days == (DayCounts(date(2026, 3, 9), 2, 1), DayCounts(date(2026, 3, 10), 3, 1))
    assert (stats.questions, stats.confident, stats.confident_share) == (5, 2, 0.4)
    assert stats.unanswered == (("Which volunteers painted the lighthouse purple?", 2), ("Zebras?", 1))

    assert store.stats(NOW, 1, [DM]).questions == 1
    assert store.stats(NOW, 1, None).unanswered == (
        ("Zebras?", 3),
        ("Which volunteers painted the lighthouse purple?", 1),
    )
    assert [d.questions for d in store.stats(NOW, 4, [GUILD]).days] == [1, 0, 2, 3]


def test_pruning_forgets_questions_past_the_retention_but_keeps_their_counts(store):
    record(store, "Asked 31 days ago?", at=NOW - 31 * DAY_SECONDS)
    record(store, "Asked 29 days ago?", at=NOW - 29 * DAY_SECONDS)
    record(store, "Asked 91 days ago?", at=NOW - 91 * DAY_SECONDS)
    assert store.prune(NOW) == 3  # two questions, and the count of 91 days ago (past what /stats shows)

    assert [r[0] for r in store.db.execute("SELECT question FROM answers")] == ["Asked 29 days ago?"]
    assert store.stats(NOW, 90, [GUILD]).questions == 2
    assert store.prune(NOW) == 0


def test_zero_days_keeps_counts_and_no_question(state_location, tmp_path):
    db = open_database(state_location)
    store = LogStore(db, keep_days=0)
    record(store, "A secret question?", confident=False)
    assert db.execute("SELECT COUNT(*) FROM answers").fetchone() == (0,)
    stats = store.stats(NOW, 1, [GUILD])
    assert (stats.questions, stats.confident, stats.unanswered) == (1, 0, ())
    db.close()
    if isinstance(state_location, Path):
        data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("state.sqlite3"))
        assert b"secret" not in data


def test_one_vote_per_person_per_answer_a_new_one_replacing_it(store):
    first, second = record(store, "How many coups?"), record(store, "Zebras?", confident=False)
    today = day_of(NOW)
    assert store.vote(first, today, GUILD, MEMBER, True) is VoteOutcome.RECORDED
    assert store.vote(first, today, GUILD, MEMBER, True) is VoteOutcome.UNCHANGED
    assert store.vote(first, today, GUILD, OTHER_MEMBER, False) is VoteOutcome.RECORDED
    assert store.vote(first, today, GUILD, OTHER_MEMBER, True) is VoteOutcome.CHANGED
    assert store.vote(second, today, GUILD, MEMBER, False) is VoteOutcome.RECORDED

    stats = store.stats(NOW, 1, [GUILD])
    assert (stats.helpful, stats.not_helpful, stats.helpful_rate) == (2, 1, 2 / 3)
    assert store.db.execute("SELECT COUNT(*) FROM votes").fetchone() == (3,)


def test_votes_are_forgotten_once_voting_has_closed_and_their_counts_kept(store):
    old = record(store, "Asked 9 days ago?", at=NOW - 9 * DAY_SECONDS)
    recent = record(store, "Asked today?")
    store.vote(old, day_of(NOW - 9 * DAY_SECONDS), GUILD, MEMBER, True)
    store.vote(recent, day_of(NOW), GUILD, MEMBER, False)
    assert store.prune(NOW, votes_before=answer_id_at(NOW - 8 * DAY_SECONDS, 0)) == 1
    assert store.db.execute("SELECT answer_id FROM votes").fetchall() == [(recent,)]
    stats = store.stats(NOW, 10, [GUILD])
    assert (stats.helpful, stats.not_helpful) == (1, 1)


def test_voters_are_a_keyed_hash_and_each_database_has_its_own_key(new_state, store):
    other = LogStore(open_database(new_state("other")), 30)
    assert len(store.voter(MEMBER)) == 16
    assert store.voter(MEMBER) != store.voter(OTHER_MEMBER)
    assert store.voter(MEMBER) != other.voter(MEMBER)
    other.db.close()


def test_settings_for_the_question_log():
    default = load_settings({}, require_token=False)
    assert (default.state_db, default.question_log_days) == (default_state_db(), 30)
    assert default_state_db().name == "state.sqlite3"
    chosen = load_settings({"STATE_DB": " ~/qa/state.db ", "QUESTION_LOG_DAYS": "0"}, require_token=False)
    assert (chosen.state_db, chosen.question_log_days) == (Path.home() / "qa" / "state.db", 0)
    assert load_settings({"STATE_DB": "OFF"}, require_token=False).state_db is None
    url = "postgresql://qa:s3cret@db.example:5433/qa?sslmode=require"
    postgres = load_settings({"STATE_DB": url}, require_token=False).state_db
    assert isinstance(postgres, PostgresURL) and postgres.reveal() == url
    assert str(postgres) == "postgresql://qa@db.example:5433/qa"  # as logs and messages show it: no password
    assert "s3cret" not in repr(load_settings({"STATE_DB": url}, require_token=False))


def test_a_state_db_url_of_another_database_is_refused_in_one_line():
    with pytest.raises(ConfigError) as raised:
        load_settings({"STATE_DB": "mysql://qa:pw@db/qa"}, require_token=False)
    assert str(raised.value) == (
        "STATE_DB must be a file path (SQLite), a postgresql:// URL or off (got a mysql:// URL); fix it in .env."
    )


@pytest.mark.parametrize("days", ["x", "-1", "3651", "1.5", "٣"])
def test_question_log_days_must_be_whole_days(days):
    with pytest.raises(
        ConfigError, match=rf"^QUESTION_LOG_DAYS must be a whole number of days from 0 to 3650 \(got '{days}'\)"
    ):
        load_settings({"QUESTION_LOG_DAYS": days}, require_token=False)


def test_cooldowns_count_per_member_and_only_the_first_refusal_says_wait(store):
    # The same rules as the in-memory cooldowns' test (tests/bot/test_messages.py), in the shared store.
    assert store.take_turn(MEMBER, 100.0, 10.0) == Turn(0.0)
    assert store.take_turn(MEMBER, 104.0, 10.0) == Turn(6.0, first_refusal=True)
    assert store.take_turn(OTHER_MEMBER, 104.0, 10.0) == Turn(0.0)
    assert store.take_turn(MEMBER, 105.0, 10.0) == Turn(5.0, first_refusal=False)
    assert store.take_turn(MEMBER, 110.0, 10.0) == Turn(0.0)  # a new window
    assert store.take_turn(MEMBER, 111.0, 10.0) == Turn(9.0, first_refusal=True)
    assert store.take_turn(MEMBER, 95.0, 10.0) == Turn(0.0)  # the clock set back past the window
    assert store.take_turn(MEMBER, 96.0, 10.0) == Turn(9.0, first_refusal=True)


def test_a_cooldown_taken_through_one_connection_holds_for_another(state_location):
    first, second = (LogStore(open_database(state_location), 30) for _ in range(2))
    assert first.take_turn(MEMBER, 100.0, 60.0) == Turn(0.0)
    assert second.take_turn(MEMBER, 130.0, 60.0) == Turn(30.0, first_refusal=True)
    assert first.take_turn(MEMBER, 131.0, 60.0) == Turn(29.0, first_refusal=False)
    assert second.take_turn(MEMBER, 160.0, 60.0) == Turn(0.0)
    first.db.close()
    second.db.close()


def test_pruning_forgets_cooldowns_past_the_longest_window(store):
    store.take_turn(MEMBER, NOW - 3601, 5.0)
    store.take_turn(OTHER_MEMBER, NOW - 3599, 5.0)
    assert store.prune(NOW) == 1
    assert store.take_turn(OTHER_MEMBER, NOW - 3597, 5.0) == Turn(3.0, first_refusal=True)  # still its window
