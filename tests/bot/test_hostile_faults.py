"""Faults: failing rebuilds keep the old index serving, Discord failing on one reply costs that reply only,
/reload is refused without rights whatever the command's default permissions, and the token never leaks."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import discord
import pytest

import bot.index_holder
from bot.cli import main
from bot.config import load_settings
from bot.exts.moderation import NOT_ALLOWED
from bot.formatting import NOTHING_MATCHES, escape
from bot.launch import TOKEN_REJECTED
from index.storage.layout import Parts
from testkit.discord_harness import (
    EPHEMERAL,
    MANAGE_GUILD,
    MEMBER_ID,
    MOD_ROLE_ID,
    OTHER_ROLE_ID,
    SECOND_MEMBER_ID,
    FakeDiscord,
    Harness,
    command_data,
    interaction_payload,
    seeds_folder,
    settings_for,
)
from tests.discord_server import ask_over_sockets

REPO = Path(__file__).resolve().parent.parent.parent
TOKEN = "MTA1NjM0.GhXyZa.abcdefghijklmnopqrstuvwxyz0123456789AB"
# Any recognisable piece of it would be a leak too.
TOKEN_PIECES = (TOKEN, "MTA1NjM0", "GhXyZa", "abcdefghijklmnopqrstuvwxyz0123456789AB")
THIRD_MEMBER_ID = MEMBER_ID + 7
SEED_AND_SMALL = "4 articles, 45 sentences"  # the seed (33 sentences) and three small articles of four
ADMINISTRATOR = 1 << 3
EVERYTHING_BUT_MANAGE_SERVER = ((1 << 50) - 1) & ~MANAGE_GUILD & ~ADMINISTRATOR


@pytest.fixture
async def harness(monkeypatch: pytest.MonkeyPatch) -> Any:
    async with Harness(monkeypatch) as started:
        yield started


def record_text(record: logging.LogRecord) -> str:
    """A log record as a handler would write it, traceback included."""
    text = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        text += "".join(traceback.format_exception(record.exc_info[1]))
    return text


async def reload_content(harness: Harness, events: Any, **who: Any) -> str:
    payload = events.command("reload", **who)
    defer, report = await harness.fake.wait_interaction(payload, 2)
    assert defer.body == {"type": 5, "data": {"flags": EPHEMERAL}}
    return str(report.body["content"])


async def ask_embed(harness: Harness, events: Any, question: str, **who: Any) -> dict[str, Any]:
    payload = events.command("ask", {"question": question}, **who)
    _, answer = await harness.fake.wait_interaction(payload, 2)
    [embed] = answer.body["embeds"]
    return dict(embed)


# -- a rebuild that fails keeps the old index


async def test_a_rebuild_failing_halfway_keeps_the_old_index_serving(
    tmp_path: Path, harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    folder = seeds_folder(tmp_path)
    events = await harness.start(settings_for(folder))
    (folder / "volcano.txt").write_text("The volcano erupted over Reykjavik at dawn.\n", encoding="utf-8")
    read_before_failing: list[str] = []

    def fail_after_reading(parts: Parts, *args: object, **kwargs: object) -> None:
        # The articles are read and indexed; the failure comes as the new index file is laid out.
        read_before_failing.extend(str(article_id) for article_id in parts.fields["id"])
        raise RuntimeError("injected failure halfway through the build")

    monkeypatch.setattr("index.storage.build.lay_out", fail_after_reading)

    content = await reload_content(harness, events, permissions=MANAGE_GUILD)

    assert "volcano.txt" in read_before_failing  # the build did get halfway
    assert content == (
        f"Reload failed, so I kept the previous index ({SEED_AND_SMALL}). "
        "Reason: the rebuild failed (RuntimeError: injected failure halfway through the build)"
    )
    [logged] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert logged.getMessage() == f"Rebuilding the index from {folder} failed"
    assert isinstance(logged.exc_info and logged.exc_info[1], RuntimeError)
    # The old index answers; the half-read article is not in it.
    assert "four coups" in (await ask_embed(harness, events, "How many coups?"))["fields"][0]["value"]
    assert (await ask_embed(harness, events, "volcano Reykjavik"))["description"] == NOTHING_MATCHES


@pytest.mark.parametrize("emptied", ["files removed", "folder removed", "only bad files"])
async def test_a_rebuild_finding_no_article_keeps_the_old_index_serving(
    tmp_path: Path, harness: Harness, emptied: str
) -> None:
    folder = seeds_folder(tmp_path)
    events = await harness.start(settings_for(folder))
    shutil.rmtree(folder)
    if emptied == "files removed":
        folder.mkdir()
        reason = f"No usable article in {folder}: add .txt or .md files there."
    elif emptied == "folder removed":
        reason = f"The seeds folder {folder} does not exist: create it, or set SEEDS_DIR to your articles."
    else:
        folder.mkdir()
        (folder / "latin1.txt").write_bytes("Café".encode("latin-1"))
        (folder / "empty.txt").write_bytes(b"")
        reason = (
            f"No usable article in {folder}: add .txt or .md files there, or fix these 2 files:\n"
            "  empty.txt: no text to index (the file is empty or holds only headers)\n"
            "  latin1.txt: not UTF-8 text (bad byte at offset 3): save it as UTF-8"
        )

    content = await reload_content(harness, events, permissions=MANAGE_GUILD)

    assert content == f"Reload failed, so I kept the previous index ({SEED_AND_SMALL}). Reason: {escape(reason)}"
    assert "four coups" in (await ask_embed(harness, events, "How many coups?"))["fields"][0]["value"]


# -- Discord failing on one reply


class FakeAiohttpResponse:
    """What discord.HTTPException reads from an aiohttp response."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason


FAILURES: dict[str, Callable[[], BaseException]] = {
    "500": lambda: discord.DiscordServerError(
        FakeAiohttpResponse(500, "Internal Server Error"), {"code": 0, "message": "500: Internal Server Error"}
    ),
    "429": lambda: discord.HTTPException(
        FakeAiohttpResponse(429, "Too Many Requests"),
        {"code": 0, "message": "You are being rate limited.", "retry_after": 0.5, "global": False},
    ),
    "timeout": asyncio.TimeoutError,
}


def fail_requests_of(fake: FakeDiscord, marker: str, stage: str, failure: Callable[[], BaseException]) -> list[Any]:
    """Make every request whose URL holds `marker` (at `stage`) fail; returns the failed routes."""
    failed: list[Any] = []
    real_webhook, real_rest = fake.webhook, fake.rest

    def hit(route: discord.http.Route) -> bool:
        stages = {
            "callback": route.path.endswith("/callback"),
            "followup": route.path.startswith("/webhooks/"),
            "message": route.path == "/channels/{channel_id}/messages",
        }
        return marker in route.url and stages[stage]

    async def webhook(route: discord.http.Route, session: Any, **kwargs: Any) -> Any:
        if hit(route):
            failed.append(route)
            raise failure()
        return await real_webhook(route, session, **kwargs)

    async def rest(route: discord.http.Route, **kwargs: Any) -> Any:
        if hit(route):
            failed.append(route)
            raise failure()
        return await real_rest(route, **kwargs)

    fake.webhook = webhook  # type: ignore[method-assign]
    fake.rest = rest  # type: ignore[method-assign]
    return failed


@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("stage", ["callback", "followup"])
async def test_discord_failing_on_one_ask_reply_is_logged_and_others_are_served(
    tmp_path: Path, harness: Harness, caplog: pytest.LogCaptureFixture, failure: str, stage: str
) -> None:
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    doomed = interaction_payload(harness.fake.next_id(), 2, command_data(1, "ask", {"question": "How many coups?"}))
    failed = fail_requests_of(
        harness.fake, doomed["token"] if stage == "followup" else doomed["id"], stage, FAILURES[failure]
    )

    events.dispatch("INTERACTION_CREATE", doomed)
    others = [
        events.command("ask", {"question": "Who condemned the coup?"}, user_id=SECOND_MEMBER_ID),
        events.command("ask", {"question": "Who is in charge?"}, in_dm=True, user_id=THIRD_MEMBER_ID),
    ]
    for payload in others:
        defer, answer = await harness.fake.wait_interaction(payload, 2)
        assert defer.body == {"type": 5}
        assert answer.body["embeds"][0]["fields"]
    await harness.fake.wait_for(lambda: len(failed) >= 2)  # the reply, then the apology
    await harness.fake.settled()

    [unexpected] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert unexpected.getMessage() == "Unexpected error in /ask"
    assert isinstance(unexpected.exc_info and unexpected.exc_info[1], discord.app_commands.CommandInvokeError)
    assert type(unexpected.exc_info[1].original) is type(FAILURES[failure]())  # type: ignore[index, union-attr]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "Could not tell the user about an error (the interaction may have expired)"
    ]
    # The same user is served again at once.
    embed = await ask_embed(harness, events, "How many coups?")
    assert "four coups" in embed["fields"][0]["value"]


@pytest.mark.parametrize("failure", sorted(FAILURES))
async def test_discord_failing_on_one_message_reply_is_logged_and_others_are_served(
    tmp_path: Path, harness: Harness, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    events = await harness.start(settings_for(seeds_folder(tmp_path)))
    failed = fail_requests_of(harness.fake, "/channels/", "message", FAILURES[failure])
    events.message("How many coups?", in_dm=True)
    await harness.fake.wait_for(lambda: len(failed) >= 2)  # the answer, then the apology
    harness.fake.rest = type(harness.fake).rest.__get__(harness.fake)  # type: ignore[method-assign]

    events.message("Who condemned the coup?", in_dm=True, author_id=SECOND_MEMBER_ID)
    [reply] = await harness.fake.wait_for(lambda: harness.fake.of("rest", "/messages"))
    assert reply.body["embeds"][0]["fields"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "Unexpected error answering a message question",
        "Could not send the apology either",
    ]
    assert caplog.records[0].exc_info is not None


# -- /reload rights come from the interaction, not from the command's default permissions


@pytest.mark.parametrize(
    "who",
    [
        {"permissions": 0},
        {"permissions": EVERYTHING_BUT_MANAGE_SERVER, "roles": (OTHER_ROLE_ID,)},
        {"in_dm": True},
    ],
    ids=["no permissions", "every permission but Manage Server", "DM from a non-owner"],
)
async def test_reload_is_refused_without_rights_even_when_the_default_permissions_were_opened(
    tmp_path: Path, harness: Harness, monkeypatch: pytest.MonkeyPatch, who: dict[str, Any]
) -> None:
    # A server admin who opened /reload to everyone makes Discord deliver these interactions;
    # only the member's own permissions and roles in each interaction may decide.
    events = await harness.start(settings_for(seeds_folder(tmp_path), owner_ids=frozenset({MEMBER_ID + 99})))
    events.guild_create()
    rebuilt: list[bool] = []
    monkeypatch.setattr(bot.index_holder, "build_index", lambda *args, **kwargs: rebuilt.append(True))

    [refusal] = await harness.fake.wait_interaction(events.command("reload", **who))

    assert refusal.body == {
        "type": 4,
        "data": {"tts": False, "content": NOT_ALLOWED, "flags": EPHEMERAL, "allowed_mentions": {"parse": []}},
    }
    assert rebuilt == []
    # And a moderator role in the same interaction shape is enough (the check is not simply closed).
    moderator = {**who, "roles": (MOD_ROLE_ID,)} if not who.get("in_dm") else {"roles": (MOD_ROLE_ID,)}
    payload = events.command("reload", **moderator)
    defer, _ = await harness.fake.wait_interaction(payload, 2)
    assert defer.body == {"type": 5, "data": {"flags": EPHEMERAL}}
    assert rebuilt == [True]


# -- the token


def test_settings_never_show_the_token() -> None:
    settings = load_settings({"DISCORD_TOKEN": TOKEN})
    assert settings.require_token() == TOKEN
    for shown in (repr(settings), str(settings), repr(settings.token), f"{settings.token}"):
        assert not any(piece in shown for piece in TOKEN_PIECES)


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """`qa-bot run` configures the root logger; put it back for the other tests."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_rejected_token_never_reaches_the_output_the_logs_or_a_traceback(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    restored_logging: None,
) -> None:
    fake = FakeDiscord(reject_token=True)
    fake.install(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("SEEDS_DIR", str(seeds_folder(tmp_path)))
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    caplog.set_level(logging.DEBUG)

    assert main(["run"]) == 2

    out, err = capsys.readouterr()
    assert err.endswith(f"qa-bot: {TOKEN_REJECTED}\n")
    assert "Traceback" not in err
    assert [(c.method, c.path) for c in fake.calls] == [("GET", "/users/@me")]  # the login was tried
    everything = out + err + "".join(record_text(r) for r in caplog.records)
    assert not any(piece in everything for piece in TOKEN_PIECES)


async def test_the_token_never_reaches_a_log_a_reply_or_a_request_body_over_sockets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # discord.py logs every request and gateway event at DEBUG
    server, _ = await ask_over_sockets(tmp_path, monkeypatch, TOKEN, "How many coups?")

    identify = next(m for m in server.gateway_received if m["op"] == 2)
    assert identify["d"]["token"] == TOKEN  # it was used where it belongs, and only there
    logs = "".join(record_text(r) for r in caplog.records)
    assert not any(piece in logs for piece in TOKEN_PIECES)
    sent = "".join(repr(r.body) for r in server.requests)
    assert "four coups" in sent
    assert not any(piece in sent for piece in TOKEN_PIECES)


def test_dotenv_is_git_ignored_and_its_example_is_not() -> None:
    ignored = [line.strip() for line in (REPO / ".gitignore").read_text().splitlines()]
    assert ".env" in ignored or "/.env" in ignored
    if (REPO / ".git").exists() and shutil.which("git"):
        check = ["git", "-C", str(REPO), "check-ignore", "-q"]
        assert subprocess.run([*check, ".env"]).returncode == 0
        assert subprocess.run([*check, ".env.example"]).returncode == 1


# -- the command line


@pytest.mark.slow
def test_a_reader_that_goes_away_stops_qa_bot_ask_quietly() -> None:
    questions = "".join(f"Who is in charge? {n}\n" for n in range(500)).encode()
    command = [sys.executable, "-m", "bot", "ask", "--seeds", str(REPO / "seeds")]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None
        process.stdin.write(questions)
        process.stdin.close()
        assert process.stdout.read(20).startswith(b"Q: Who is in charge?")
        process.stdout.close()  # like `| head`
        error = process.stderr.read()
        assert process.wait(timeout=60) == 141
    assert error == b""


async def test_the_reload_reply_gives_each_skipped_file_its_reason(tmp_path: Path, harness: Harness) -> None:
    folder = seeds_folder(tmp_path)
    events = await harness.start(settings_for(folder))
    (folder / "latin1.txt").write_bytes("Café crème".encode("latin-1"))
    (folder / "blob.txt").write_bytes(bytes(range(256)))
    (folder / "out_link.txt").symlink_to(REPO / "README.md")
    os.mkfifo(folder / "pipe.txt")

    content = await reload_content(harness, events, permissions=MANAGE_GUILD)

    assert content.split("\n")[-1] == (
        "Skipped (4): blob.txt (binary file, not text); "
        "latin1.txt (not UTF-8 text (bad byte at offset 3): save it as UTF-8); "
        "out\\_link.txt (link to outside the seeds folder, not followed); "
        "pipe.txt (not a regular file (a pipe, socket or device))"
    )
