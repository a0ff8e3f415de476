"""Smoke test over real sockets: an unmodified bot.start() against a fake Discord on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging

from bot.bot import QABot
from tests.discord_harness import command_data, interaction_payload, seeds_folder, settings_for
from tests.discord_server import FakeDiscordServer

BOUND_SECONDS = 15.0
TOKEN = "MTEx.smoke-test-secret.token"


async def test_login_ready_and_one_ask_round_trip_over_sockets(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)  # everything discord.py and the bot log, to check the token is not there
    server = FakeDiscordServer()
    await server.start(monkeypatch)
    # guild_ready_timeout: READY is followed by the only GUILD_CREATE at once; no need to wait 2 s for more.
    client = QABot(settings_for(seeds_folder(tmp_path)), guild_ready_timeout=0.1)
    ready = asyncio.Event()

    async def on_ready() -> None:
        ready.set()

    client.add_listener(on_ready)
    running = asyncio.create_task(client.start(TOKEN))
    try:
        await asyncio.wait_for(ready.wait(), BOUND_SECONDS)
        ask = interaction_payload(
            server.new_id(), 2, command_data(server.new_id(), "ask", {"question": "How many coups?"})
        )
        await server.send_event("INTERACTION_CREATE", ask)

        def followups():
            return [r for r in server.requests if r.method == "POST" and r.path.startswith("/webhooks/")]

        async def answered() -> None:
            while not followups():
                await asyncio.sleep(0.01)

        await asyncio.wait_for(answered(), BOUND_SECONDS)
    finally:
        await asyncio.wait_for(client.close(), BOUND_SECONDS)
        await asyncio.wait_for(running, BOUND_SECONDS)
        await server.stop()

    assert [(r.method, r.path) for r in server.requests[:2]] == [
        ("GET", "/users/@me"),
        ("GET", "/oauth2/applications/@me"),
    ]
    identify = next(m for m in server.gateway_received if m["op"] == 2)
    assert identify["d"]["token"] == TOKEN
    assert TOKEN not in caplog.text
    assert "has connected to Gateway" in caplog.text  # the log was captured
    assert identify["d"]["intents"] & (1 << 15) == 0  # no message-content intent
    callback = next(r for r in server.requests if r.path.endswith("/callback"))
    assert callback.path == f"/interactions/{ask['id']}/{ask['token']}/callback"
    assert callback.body == {"type": 5}
    [followup] = followups()
    assert followup.path == f"/webhooks/{ask['application_id']}/{ask['token']}"
    assert followup.body["allowed_mentions"] == {"parse": []}
    [embed] = followup.body["embeds"]
    assert embed["title"] == "How many coups?"
    assert "four coups" in embed["fields"][0]["value"]
