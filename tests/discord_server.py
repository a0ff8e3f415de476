"""A small fake Discord over real sockets on 127.0.0.1: REST under /api/v10 and a websocket gateway.

An unmodified `bot.start()` logs in, connects, identifies and receives READY, GUILD_CREATE and whatever
the test queues with `send_event`. discord.py is pointed here through `Route.BASE` and
`DiscordWebSocket.DEFAULT_GATEWAY`.

Sharded like Discord: the bot (an AutoShardedBot) without a shard count asks `GET /gateway/bot` for the
recommended count and the gateway URL; every shard opens its own websocket and identifies with
`shard: [id, count]`; its READY carries the same pair and lists only the servers on that shard,
`(guild_id >> 22) % count`. `send_event` sends on the socket of the shard an event belongs to:
a server's events on its shard, everything else (DMs) on shard 0.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord.gateway
import discord.http
import pytest
import yarl
from aiohttp import WSMsgType, web

from testkit.discord_harness import (
    APP_ID,
    BOT_USER,
    CHANNEL_ID,
    application,
    command_data,
    guild_create,
    interaction_payload,
    message_object,
    seeds_folder,
    settings_for,
)


@dataclass
class Request:
    method: str
    path: str
    body: Any
    agent: str = ""  # the User-Agent header


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a server's events on."""
    return (guild_id >> 22) % shard_count


@dataclass
class FakeDiscordServer:
    requests: list[Request] = field(default_factory=list)
    gateway_received: list[dict[str, Any]] = field(default_factory=list)
    identified: asyncio.Event = field(default_factory=asyncio.Event)
    guilds: list[dict[str, Any]] = field(default_factory=lambda: [guild_create()])  # GUILD_CREATE payloads
    recommended_shards: int = 1  # what GET /gateway/bot answers
    gateway_down: bool = False  # the gateway refuses every connection (503), as when Discord cannot be reached
    gateway_refused: int = 0  # connections refused so far
    identifies: list[tuple[int, int]] = field(default_factory=list)  # (shard id, shard count), in order
    identified_by: list[str] = field(default_factory=list)  # each identify's User-Agent, in the same order
    _shards: dict[int, web.WebSocketResponse] = field(default_factory=dict)  # the latest socket of each shard
    _shard_count: int = 1
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _sequence: int = 0
    _next_id: int = 1_300_000_000_000_000_000
    _runner: web.AppRunner | None = None
    port: int = 0

    async def start(self, monkeypatch: pytest.MonkeyPatch | None = None) -> None:
        """Listen; with `monkeypatch`, point this process's discord.py here (children get `base_url`)."""
        app = web.Application()
        app.router.add_get("/", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        if monkeypatch is None:
            return
        monkeypatch.setattr(discord.http.Route, "BASE", f"http://127.0.0.1:{self.port}/api/v10")
        monkeypatch.setattr(
            discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(f"ws://127.0.0.1:{self.port}/")
        )

    async def stop(self) -> None:
        for socket in self._sockets:
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # -- REST

    @staticmethod
    def _json(data: Any) -> web.Response:
        # Exactly application/json: discord.py does not parse "application/json; charset=utf-8" as JSON.
        return web.Response(body=json.dumps(data).encode(), headers={"Content-Type": "application/json"})

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        raw = await request.read()
        body = json.loads(raw) if raw and request.content_type == "application/json" else None
        self.requests.append(Request(request.method, path, body, request.headers.get("User-Agent", "")))
        if path == "/users/@me":
            return self._json(BOT_USER)
        if path == "/oauth2/applications/@me":
            return self._json(application())
        if path == "/gateway/bot":
            limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
            url = f"ws://127.0.0.1:{self.port}/"
            return self._json({"url": url, "shards": self.recommended_shards, "session_start_limit": limit})
        if path.startswith("/interactions/") and path.endswith("/callback"):
            message_id = self.new_id()
            data = (body or {}).get("data") or {}
            return self._json(
                {
                    "interaction": {"id": path.split("/")[2], "type": 2, "response_message_id": str(message_id)},
                    "resource": {"type": body["type"], "message": message_object(message_id, CHANNEL_ID, data)},
                }
            )
        if path.startswith("/webhooks/") or path.startswith("/channels/"):
            return self._json(message_object(self.new_id(), CHANNEL_ID, body or {}))
        return self._json({})

    # -- gateway

    async def _send(self, socket: web.WebSocketResponse, event: str, data: dict[str, Any]) -> None:
        self._sequence += 1
        await socket.send_str(json.dumps({"op": 0, "t": event, "s": self._sequence, "d": data}))

    async def send_event(self, event: str, data: dict[str, Any]) -> None:
        """On the shard Discord would use: the server's (`guild_id`), else shard 0."""
        guild_id = data.get("guild_id")
        shard = shard_of(int(guild_id), self._shard_count) if guild_id else 0
        await self._send(self._shards.get(shard, self._sockets[-1]), event, data)

    def shard_for(self, guild_id: int) -> int:
        return shard_of(guild_id, self._shard_count)

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        if self.gateway_down:
            self.gateway_refused += 1
            return web.Response(status=503)
        socket = web.WebSocketResponse()
        agent = request.headers.get("User-Agent", "")
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 45_000}}))
        async for frame in socket:
            if frame.type is not WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            self.gateway_received.append(message)
            if message["op"] == 1:
                await socket.send_str(json.dumps({"op": 11}))
            elif message["op"] == 2:
                shard_id, shard_count = message["d"].get("shard", [0, 1])
                self.identifies.append((shard_id, shard_count))
                self.identified_by.append(agent)
                self._shards[shard_id], self._shard_count = socket, shard_count
                mine = [g for g in self.guilds if shard_of(int(g["id"]), shard_count) == shard_id]
                await self._send(
                    socket,
                    "READY",
                    {
                        "v": 10,
                        "user": BOT_USER,
                        "shard": [shard_id, shard_count],
                        "guilds": [{"id": g["id"], "unavailable": True} for g in mine],
                        "session_id": "fake-session",
                        "resume_gateway_url": f"ws://127.0.0.1:{self.port}/",
                        "application": {"id": str(APP_ID), "flags": 0},
                        "private_channels": [],
                        "relationships": [],
                    },
                )
                for guild in mine:
                    await self._send(socket, "GUILD_CREATE", guild)
                self.identified.set()
        return socket


async def ask_over_sockets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token: str, question: str, bound: float = 15.0
) -> tuple[FakeDiscordServer, dict[str, Any]]:
    """Start this fake Discord and an unmodified `bot.start(token)`, send one /ask once READY, wait for
    its followup, then shut both down. Returns the server (every request and gateway message recorded)
    and the interaction payload that was sent."""
    from bot.bot import QABot

    server = FakeDiscordServer()
    await server.start(monkeypatch)
    # guild_ready_timeout: READY is followed by the only GUILD_CREATE at once; no need to wait 2 s for more.
    client = QABot(settings_for(seeds_folder(tmp_path)), guild_ready_timeout=0.1)
    ready = asyncio.Event()

    async def on_ready() -> None:
        ready.set()

    client.add_listener(on_ready)
    running = asyncio.create_task(client.start(token))
    try:
        await asyncio.wait_for(ready.wait(), bound)
        ask = interaction_payload(server.new_id(), 2, command_data(server.new_id(), "ask", {"question": question}))
        await server.send_event("INTERACTION_CREATE", ask)

        async def answered() -> None:
            while not [r for r in server.requests if r.method == "POST" and r.path.startswith("/webhooks/")]:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(answered(), bound)
    finally:
        await asyncio.wait_for(client.close(), bound)
        await asyncio.wait_for(running, bound)
        await server.stop()
    return server, ask
