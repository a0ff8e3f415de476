"""`qa-bot run` pointed at the fake Discord of tests/discord_server.py on FAKE_DISCORD_PORT (tests/bot/test_cluster.py
runs it as `python -m tests.shard_child`: as a script, its folder would shadow the index and bot packages).

Every request it makes (REST, gateway, interaction webhooks) has a User-Agent ending with " pid/<pid>",
so the fake server can tell which process sent what.
"""

import os
import sys

import aiohttp
import discord.gateway
import discord.http
import yarl

from bot.cli import main
from bot.identify_gate import IdentifyGate

port = os.environ["FAKE_DISCORD_PORT"]
discord.http.Route.BASE = f"http://127.0.0.1:{port}/api/v10"
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"ws://127.0.0.1:{port}/")
_init = discord.http.HTTPClient.__init__
_session_init = aiohttp.ClientSession.__init__


def _tagged_session(self, *args, **kwargs):  # type: ignore[no-untyped-def]
    # Interaction responses go through the session without discord.py's User-Agent: tag its default.
    kwargs.setdefault("headers", {"User-Agent": f"aiohttp pid/{os.getpid()}"})
    _session_init(self, *args, **kwargs)


def _tagged_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
    _init(self, *args, **kwargs)
    self.user_agent += f" pid/{os.getpid()}"


async def _no_identify_wait(self, shard_id, *, initial=False):  # type: ignore[no-untyped-def]
    """IDENTIFYs 5 s apart are Discord's rate (the gate's job, tested in test_identify_gate.py); the fake has none."""


discord.http.HTTPClient.__init__ = _tagged_init  # type: ignore[method-assign]
aiohttp.ClientSession.__init__ = _tagged_session  # type: ignore[method-assign]
IdentifyGate.take_turn = _no_identify_wait  # type: ignore[method-assign]
IdentifyGate.before_identify = _no_identify_wait  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main(["run"]))
