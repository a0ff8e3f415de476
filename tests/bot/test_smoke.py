"""Smoke test over real sockets: an unmodified bot.start() against a fake Discord on 127.0.0.1."""

from __future__ import annotations

import logging

from tests.discord_server import ask_over_sockets

BOUND_SECONDS = 15.0
TOKEN = "MTEx.smoke-test-secret.token"


async def test_login_ready_and_one_ask_round_trip_over_sockets(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)  # everything discord.py and the bot log, to check the token is not there
    server, ask = await ask_over_sockets(tmp_path, monkeypatch, TOKEN, "How many coups?", BOUND_SECONDS)

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
    [followup] = [r for r in server.requests if r.method == "POST" and r.path.startswith("/webhooks/")]
    assert followup.path == f"/webhooks/{ask['application_id']}/{ask['token']}"
    assert followup.body["allowed_mentions"] == {"parse": []}
    [embed] = followup.body["embeds"]
    assert embed["title"] == "How many coups?"
    assert "four coups" in embed["fields"][0]["value"]
