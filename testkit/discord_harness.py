"""An offline Discord for tests, driving discord.py's own code.

REST calls are captured at `discord.http.HTTPClient.request`, interaction traffic at
`discord.webhook.async_.AsyncWebhookAdapter.request`; events go in as raw gateway payloads through
`bot._connection.parsers[...]`, the table the websocket uses. Payloads are shaped as Discord sends them
(API v10). Internals as of discord.py 2.7 (pinned in pyproject.toml).

Each test module declares a `harness` fixture around `Harness` (see its docstring), importing it with
`from testkit.discord_harness import Harness`. `FakeDiscord.fail_paths` makes chosen webhook routes fail
with 404 Unknown interaction; `reject_token` makes login fail with 401. `tests/discord_server.py` is the
same fake Discord over real sockets.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import discord.http
import discord.webhook.async_
import pytest
from aiohttp import web

from bot.bot import QABot
from bot.config import Settings
from index import SearchIndex

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "seeds" / "000_eed0d9b0ce39977c.txt"

BOT_ID = 1_100_000_000_000_000_001
APP_ID = BOT_ID
APP_OWNER_ID = 1_100_000_000_000_000_002
GUILD_ID = 1_100_000_000_000_000_010
CHANNEL_ID = 1_100_000_000_000_000_011
MOD_ROLE_ID = 1_100_000_000_000_000_012
OTHER_ROLE_ID = 1_100_000_000_000_000_013
DM_CHANNEL_ID = 1_100_000_000_000_000_020
MEMBER_ID = 1_100_000_000_000_000_030
SECOND_MEMBER_ID = 1_100_000_000_000_000_031
BOT_ROLE_ID = 1_100_000_000_000_000_014
MANAGE_GUILD = 1 << 5
# What the bot needs to answer a mention in a new thread.
THREAD_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 35) | (1 << 38)  # view, send, create public threads, send in threads
EPHEMERAL = 64
# Every wait is bounded, so a broken bot fails a test instead of hanging it. The bound is a hang guard,
# not a speed limit: generous enough for a slow or busy machine.
WAIT_SECONDS = 120.0
# The names discord.py gives the tasks that run event handlers, slash commands and component callbacks.
HANDLER_TASKS = ("discord.py: ", "CommandTree-invoker", "discord-ui-view-dispatch-")
TIMESTAMP = "2026-01-01T00:00:00+00:00"


def user(user_id: int, name: str, *, is_bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": is_bot,
        "public_flags": 0,
    }


BOT_USER = user(BOT_ID, "qa-bot", is_bot=True)


def application() -> dict[str, Any]:
    return {
        "id": str(APP_ID),
        "name": "qa-bot",
        "icon": None,
        "description": "",
        "rpc_origins": [],
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": user(APP_OWNER_ID, "owner"),
        "verify_key": "0" * 64,
        "team": None,
        "flags": 0,
        "bot": BOT_USER,
    }


def text_channel(channel_id: int = CHANNEL_ID) -> dict[str, Any]:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(GUILD_ID),
        "name": "general",
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "rate_limit_per_user": 0,
        "last_message_id": None,
    }


def role(role_id: int, name: str, permissions: int = 0, position: int = 1) -> dict[str, Any]:
    return {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "hoist": False,
        "position": position,
        "permissions": str(permissions),
        "managed": False,
        "mentionable": True,
        "flags": 0,
    }


def member(user_id: int, *, roles: tuple[int, ...] = (), permissions: int = 0) -> dict[str, Any]:
    return {
        "user": user(user_id, f"member{user_id % 1000}"),
        "roles": [str(r) for r in roles],
        "joined_at": TIMESTAMP,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "permissions": str(permissions),
    }


def guild_create(bot_permissions: int = 0) -> dict[str, Any]:
    """The test server; `bot_permissions` are granted to the bot through a role of its own."""
    bot_member = {**member(BOT_ID, roles=(BOT_ROLE_ID,) if bot_permissions else ()), "user": BOT_USER}
    roles = [role(GUILD_ID, "@everyone", 0, 0), role(MOD_ROLE_ID, "Mods"), role(OTHER_ROLE_ID, "Fans")]
    if bot_permissions:
        roles.append(role(BOT_ROLE_ID, "qa-bot", bot_permissions, 2))
    return {
        "id": str(GUILD_ID),
        "name": "Test server",
        "icon": None,
        "owner_id": str(APP_OWNER_ID),
        "roles": roles,
        "channels": [text_channel()],
        "members": [bot_member],
        "member_count": 3,
        "large": False,
        "unavailable": False,
        "features": [],
        "emojis": [],
        "stickers": [],
        "threads": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "voice_states": [],
        "presences": [],
        "joined_at": TIMESTAMP,
        "premium_tier": 0,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "system_channel_flags": 0,
        "preferred_locale": "en-US",
    }


def message_payload(message_id: int, channel_id: int, author: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A message object as Discord sends it; `fields` (content, embeds, mentions, flags…) override the empty ones."""
    return {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "type": 0,
        "author": author,
        "content": "",
        "embeds": [],
        "components": [],
        "attachments": [],
        "mentions": [],
        "mention_roles": [],
        "mention_everyone": False,
        "pinned": False,
        "tts": False,
        "timestamp": TIMESTAMP,
        "edited_timestamp": None,
        "flags": 0,
        **fields,
    }


def message_object(message_id: int, channel_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """The message Discord returns for a message the bot sent."""
    return message_payload(
        message_id,
        channel_id,
        BOT_USER,
        content=body.get("content") or "",
        embeds=body.get("embeds") or [],
        components=body.get("components") or [],
        flags=body.get("flags") or 0,
    )


def thread_channel(thread_id: int, name: str, parent_id: int = CHANNEL_ID, owner_id: int = BOT_ID) -> dict[str, Any]:
    """A public thread as Discord sends it (in THREAD_CREATE, and in reply to creating one)."""
    return {
        "id": str(thread_id),
        "type": 11,
        "guild_id": str(GUILD_ID),
        "parent_id": str(parent_id),
        "owner_id": str(owner_id),
        "name": name,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": TIMESTAMP,
            "locked": False,
        },
    }


def attachment(attachment_id: int, filename: str, size: int, url: str, content_type: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": str(attachment_id),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
    }
    if content_type is not None:
        payload["content_type"] = content_type
    return payload


def command_data(command_id: int, name: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """`data` of a chat-input command interaction."""
    return {
        "id": str(command_id),
        "name": name,
        "type": 1,
        "options": [
            {"name": key, "type": _option_type(value), "value": value} for key, value in (options or {}).items()
        ],
    }


def interaction_payload(
    interaction_id: int,
    kind: int,
    data: dict[str, Any],
    *,
    in_dm: bool = False,
    user_id: int = MEMBER_ID,
    permissions: int = 0,
    roles: tuple[int, ...] = (),
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload: in the test server's channel, or in a DM with the bot."""
    payload: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(APP_ID),
        "type": kind,
        "token": f"interaction-token-{interaction_id}",
        "version": 1,
        "attachment_size_limit": 10 * 1024 * 1024,
        "data": data,
        "locale": "en-US",
        "app_permissions": str((1 << 51) - 1),
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(GUILD_ID)},
    }
    if in_dm:
        payload["user"] = user(user_id, "dm-user")
        payload["channel"] = {"id": str(DM_CHANNEL_ID), "type": 1, "recipients": [user(user_id, "dm-user")]}
        payload["channel_id"] = str(DM_CHANNEL_ID)
        payload["context"] = 1
    else:
        payload["guild_id"] = str(GUILD_ID)
        payload["guild_locale"] = "en-US"
        payload["channel"] = text_channel()
        payload["channel_id"] = str(CHANNEL_ID)
        payload["member"] = member(user_id, roles=roles, permissions=permissions)
        payload["context"] = 0
    if message is not None:
        payload["message"] = message
    return payload


@dataclass
class Call:
    """One request the bot made."""

    kind: str  # "rest" (HTTPClient) or "webhook" (interaction responses and followups)
    method: str
    path: str  # the route template, e.g. /interactions/{webhook_id}/{webhook_token}/callback
    url: str
    body: Any
    at: float  # loop time when it was made
    reply: Any = None  # what the fake answered
    files: list[tuple[str, bytes]] = field(default_factory=list)  # attachments: (file name, bytes)

    @property
    def is_callback(self) -> bool:
        return self.path.endswith("/callback")


@dataclass
class FakeDiscord:
    """Records every request and answers each the way Discord would."""

    calls: list[Call] = field(default_factory=list)
    fail_paths: set[str] = field(default_factory=set)
    reject_token: bool = False
    forbidden_paths: set[str] = field(default_factory=set)  # REST routes that answer 403 Missing Access
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_200_000_000_000_000_000))

    def next_id(self) -> int:
        return next(self._ids)

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    async def rest(self, route: discord.http.Route, *, files: Any = None, form: Any = None, **kwargs: Any) -> Any:
        call = Call("rest", route.method, route.path, route.url, kwargs.get("json"), self._now())
        self.calls.append(call)
        call.reply = self._rest_reply(route, call.body)
        return call.reply

    def _rest_reply(self, route: discord.http.Route, body: Any) -> Any:
        if route.path in self.forbidden_paths or route.url in self.forbidden_paths:
            raise discord.Forbidden(_FakeResponse(403), {"code": 50001, "message": "Missing Access"})
        if route.path == "/users/@me" and self.reject_token:
            raise discord.HTTPException(_FakeResponse(401), {"code": 0, "message": "401: Unauthorized"})
        if route.path == "/users/@me" and route.method == "GET":
            return BOT_USER
        if route.path == "/oauth2/applications/@me":
            return application()
        if route.path == "/channels/{channel_id}/messages" and route.method == "POST":
            return message_object(self.next_id(), int(route.channel_id or 0), body or {})
        if route.path.startswith("/applications/") and route.path.endswith("/commands") and route.method == "PUT":
            return [{**c, "id": str(self.next_id()), "application_id": str(APP_ID), "version": "1"} for c in body]
        if route.path == "/channels/{channel_id}/messages/{message_id}/threads" and route.method == "POST":
            return thread_channel(self.next_id(), body["name"], parent_id=int(route.channel_id or 0))
        if route.path == "/users/@me/channels":
            return {"id": str(DM_CHANNEL_ID), "type": 1, "recipients": [user(int(body["recipient_id"]), "someone")]}
        return {}

    async def webhook(
        self, route: discord.http.Route, session: Any, *, payload: Any = None, multipart: Any = None, **kwargs: Any
    ) -> Any:
        if payload is None and multipart:  # with attachments the message's JSON is a form field
            payload = json.loads(next(part["value"] for part in multipart if part["name"] == "payload_json"))
        call = Call("webhook", route.method, route.path, route.url, payload, self._now())
        for attached in kwargs.get("files") or ():
            attached.reset()
            call.files.append((attached.filename, attached.fp.read()))
        self.calls.append(call)
        call.reply = self._webhook_reply(route, payload)
        return call.reply

    def _webhook_reply(self, route: discord.http.Route, payload: Any) -> Any:
        if route.path in self.fail_paths:
            raise discord.NotFound(_FakeResponse(404), {"code": 10062, "message": "Unknown interaction"})
        if route.path.endswith("/callback"):
            message_id = self.next_id()
            data = (payload or {}).get("data") or {}
            return {
                "interaction": {
                    "id": str(route.webhook_id),
                    "type": 2,
                    "response_message_id": str(message_id),
                    "response_message_loading": payload.get("type") == 5,
                    "response_message_ephemeral": bool(data.get("flags", 0) & EPHEMERAL),
                },
                "resource": {"type": payload.get("type"), "message": message_object(message_id, CHANNEL_ID, data)},
            }
        return message_object(self.next_id(), CHANNEL_ID, payload or {})

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        fake = self

        async def rest(http: discord.http.HTTPClient, route: discord.http.Route, **kwargs: Any) -> Any:
            return await fake.rest(route, **kwargs)

        async def webhook(adapter: Any, route: discord.http.Route, session: Any, **kwargs: Any) -> Any:
            return await fake.webhook(route, session, **kwargs)

        monkeypatch.setattr(discord.http.HTTPClient, "request", rest)
        monkeypatch.setattr(discord.webhook.async_.AsyncWebhookAdapter, "request", webhook)

    # -- reading what the bot sent

    def of(self, kind: str | None = None, path_end: str = "") -> list[Call]:
        return [c for c in self.calls if (kind is None or c.kind == kind) and c.path.endswith(path_end)]

    def for_interaction(self, payload: dict[str, Any]) -> list[Call]:
        """Callback and followups of one interaction (its id or its token is in the URL)."""
        token = payload["token"]
        return [c for c in self.calls if c.kind == "webhook" and (f"/{payload['id']}/" in c.url or token in c.url)]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out after {timeout} s; calls so far: {self.describe()}")
            await asyncio.sleep(0.005)

    async def settled(self) -> None:
        """Wait until every event handler, command and component callback the bot started has finished.

        After this, nothing more can be sent for the events dispatched so far: a check that no extra
        request came is then a real check, not a guess at how long one would take to show up.
        """

        def busy() -> list[asyncio.Task[Any]]:
            current = asyncio.current_task()
            return [
                task
                for task in asyncio.all_tasks()
                if task is not current and not task.done() and task.get_name().startswith(HANDLER_TASKS)
            ]

        await self.wait_for(lambda: not busy())

    async def wait_interaction(self, payload: dict[str, Any], count: int = 1) -> list[Call]:
        await self.wait_for(lambda: len(self.for_interaction(payload)) >= count)
        await self.settled()  # any unexpected extra request has been made by now
        return self.for_interaction(payload)

    def describe(self) -> str:
        return "; ".join(f"{c.kind} {c.method} {c.path}" for c in self.calls)


class _FakeResponse:
    def __init__(self, status: int) -> None:
        self.status = status
        self.reason = {401: "Unauthorized", 403: "Forbidden"}.get(status, "Not Found")


@dataclass
class Events:
    """Raw gateway payloads, fed to discord.py's parsers."""

    bot: QABot
    fake: FakeDiscord

    def dispatch(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.bot._connection.parsers[event](payload)
        return payload

    def guild_create(self, bot_permissions: int = 0) -> dict[str, Any]:
        return self.dispatch("GUILD_CREATE", guild_create(bot_permissions))

    def thread_create(self, thread: dict[str, Any]) -> dict[str, Any]:
        """THREAD_CREATE, as Discord sends it once a thread exists (discord.py caches threads from it)."""
        return self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})

    def interaction(self, kind: int, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Dispatch an INTERACTION_CREATE; keyword arguments as in `interaction_payload`."""
        return self.dispatch("INTERACTION_CREATE", interaction_payload(self.fake.next_id(), kind, data, **kwargs))

    def command(self, name: str, options: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        assert self.bot.tree.get_command(name) is not None, f"no /{name} command"
        return self.interaction(2, command_data(self.fake.next_id(), name, options), **kwargs)

    def autocomplete(self, name: str, options: dict[str, Any], focused: str, **kwargs: Any) -> dict[str, Any]:
        data = {
            "id": str(self.fake.next_id()),
            "name": name,
            "type": 1,
            "options": [
                {
                    "name": key,
                    "type": _option_type(value),
                    "value": value,
                    **({"focused": True} if key == focused else {}),
                }
                for key, value in options.items()
            ],
        }
        return self.interaction(4, data, **kwargs)

    def subcommand(
        self,
        group: str,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        attachments: dict[str, dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """`/group name option:value …`; `attachments` maps attachment options to attachment payloads."""
        assert self.bot.tree.get_command(group) is not None, f"no /{group} command"
        inner = [{"name": k, "type": _option_type(v), "value": v} for k, v in (options or {}).items()]
        inner += [{"name": k, "type": 11, "value": a["id"]} for k, a in (attachments or {}).items()]
        data: dict[str, Any] = {
            "id": str(self.fake.next_id()),
            "name": group,
            "type": 1,
            "options": [{"name": name, "type": 1, "options": inner}],
        }
        if attachments:
            data["resolved"] = {"attachments": {a["id"]: a for a in attachments.values()}}
        return self.interaction(2, data, **kwargs)

    def subcommand_autocomplete(
        self, group: str, name: str, options: dict[str, Any], focused: str, **kwargs: Any
    ) -> dict[str, Any]:
        inner = [
            {"name": k, "type": _option_type(v), "value": v, **({"focused": True} if k == focused else {})}
            for k, v in options.items()
        ]
        data = {
            "id": str(self.fake.next_id()),
            "name": group,
            "type": 1,
            "options": [{"name": name, "type": 1, "options": inner}],
        }
        return self.interaction(4, data, **kwargs)

    def button(self, custom_id: str, message: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return self.interaction(3, {"custom_id": custom_id, "component_type": 2}, message=message, **kwargs)

    def message(
        self,
        content: str,
        *,
        in_dm: bool,
        mentions: tuple[dict[str, Any], ...] = (),
        author_id: int = MEMBER_ID,
        author: dict[str, Any] | None = None,
        channel_id: int | None = None,
    ) -> dict[str, Any]:
        """A MESSAGE_CREATE in the DM, the server's channel, or (`channel_id`) a thread of the server."""
        payload = message_payload(
            self.fake.next_id(),
            channel_id or (DM_CHANNEL_ID if in_dm else CHANNEL_ID),
            author or user(author_id, "asker"),
            content=content,
            mentions=list(mentions),
        )
        if not in_dm:
            payload["guild_id"] = str(GUILD_ID)
            payload["member"] = {k: v for k, v in member(author_id).items() if k != "user"}
        return self.dispatch("MESSAGE_CREATE", payload)


def _option_type(value: Any) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    return 3


def seeds_folder(root: Path, extra: dict[str, str] | None = None) -> Path:
    """A seeds folder: the repo's seed plus small articles named by file."""
    folder = root / "seeds"
    folder.mkdir()
    shutil.copy(SEED, folder / SEED.name)
    for name, text in (extra or SMALL_ARTICLES).items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


SMALL_ARTICLES = {
    "harbour.txt": (
        "title: Harbour reopens after the storm\ndate: 2024-03-02\nurl: https://example.com/harbour\n\n"
        "The harbour reopened on Monday after a week of repairs. Fishing boats returned to the quay at dawn. "
        "The mayor thanked the volunteers who cleared the wreckage. Insurance claims are still being assessed."
    ),
    "library.txt": (
        "title: Town library extends its hours\ndate: 2024-04-10\n\n"
        "The town library will open on Sundays from next month. Volunteers will staff the reading room. "
        "The council approved the budget for new shelves. Children's story time moves to Saturday mornings."
    ),
    "orchard.md": (
        "title: Orchard harvest breaks a record\ndate: 2024-09-21\n\n"
        "Growers picked more apples this autumn than in any year on record. A warm spring helped the blossoms. "
        "Cider makers expect a busy winter. Prices at the market fell slightly."
    ),
}


def break_the_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every question from now on raises, as a bug in the index would (after start-up's warm-up question)."""

    def broken(self: SearchIndex, question: str, k: int = 3, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("index exploded")

    monkeypatch.setattr(SearchIndex, "ask", broken)


def settings_for(folder: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "token": None,
        "seeds_dir": folder,
        "moderator_role_ids": frozenset({MOD_ROLE_ID}),
        "owner_ids": frozenset(),
        "cooldown_seconds": 0.0,
        # Words only by default: the semantic stage is tested in tests/bot/test_semantic.py, and
        # loading the model in every bot would only slow the other tests down.
        "semantic": False,
        "state_db": folder.parent / "state.sqlite3",
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class FakeCdn:
    """Discord's attachment host, on 127.0.0.1: discord.py's own `Attachment.read` downloads from it.

    `serve` registers a file (and the HTTP status to answer with) and returns its attachment payload.
    """

    files: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    downloads: list[str] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _base: str = ""

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/attachments/{tail:.*}", self._download)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._base = f"http://127.0.0.1:{port}"

    async def _download(self, request: web.Request) -> web.Response:
        self.downloads.append(request.path)
        status, data = self.files.get(request.path, (404, b"not found"))
        return web.Response(status=status, body=data)

    async def serve(
        self, attachment_id: int, filename: str, data: bytes, content_type: str | None = "text/plain", status: int = 200
    ) -> dict[str, Any]:
        if self._runner is None:
            await self._start()
        path = f"/attachments/{attachment_id}/{filename}"
        self.files[path] = (status, data)
        return attachment(attachment_id, filename, len(data), self._base + path, content_type)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class Harness:
    """The fake Discord installed for one test, and the bots it started; closes them at the end.

    In a test module:

        @pytest.fixture
        async def harness(monkeypatch):
            async with Harness(monkeypatch) as started:
                yield started
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.fake = FakeDiscord()
        self.fake.install(monkeypatch)
        self.cdn = FakeCdn()
        self.bots: list[QABot] = []

    async def start(self, settings: Settings, **options: Any) -> Events:
        """A bot logged in (for real, against the fake) with its index built; events go through `.dispatch`.

        `options` go to QABot (e.g. `clock=`)."""
        bot = QABot(settings, **options)
        self.bots.append(bot)
        await asyncio.wait_for(bot.login("fake-token"), WAIT_SECONDS)
        return Events(bot, self.fake)

    async def __aenter__(self) -> Harness:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for bot in self.bots:
            await asyncio.wait_for(bot.close(), WAIT_SECONDS)
        await self.cdn.stop()


EMBED_LIMITS = {"title": 256, "description": 4096, "fields": 25, "field name": 256, "field value": 1024, "footer": 2048}


def limit_violations(message: dict[str, Any]) -> list[str]:
    """Every Discord size limit a message body (as sent) breaks; empty when it is within them all."""
    problems = []
    if len(message.get("content") or "") > 2000:
        problems.append("content over 2,000")
    embeds = message.get("embeds") or []
    if len(embeds) > 10:
        problems.append("over 10 embeds")
    total = 0
    for embed in embeds:
        title, description = embed.get("title") or "", embed.get("description") or ""
        footer = (embed.get("footer") or {}).get("text") or ""
        fields = embed.get("fields") or []
        problems += [
            f"{k} too long"
            for k, v in (("title", title), ("description", description), ("footer", footer))
            if len(v) > EMBED_LIMITS[k]
        ]
        if len(fields) > EMBED_LIMITS["fields"]:
            problems.append("over 25 fields")
        for field_ in fields:
            if len(field_["name"]) > EMBED_LIMITS["field name"] or not field_["name"].strip():
                problems.append("bad field name")
            if len(field_["value"]) > EMBED_LIMITS["field value"] or not field_["value"].strip():
                problems.append("bad field value")
        total += len(title) + len(description) + len(footer) + sum(len(f["name"]) + len(f["value"]) for f in fields)
    if total > 6000:
        problems.append(f"embeds total {total} over 6,000")
    return problems
