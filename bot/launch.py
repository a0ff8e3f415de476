"""`qa-bot run`, `qa-bot sync` and `qa-bot check`: starting the Discord bot from a shell.

discord.py is imported inside the commands so that `qa-bot ask` does not pay for it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import signal
import sys
from typing import TYPE_CHECKING, Any

from bot.config import ConfigError, Settings, discord_id, load_settings
from index import UsageError, colour_allowed, counted, emit

if TYPE_CHECKING:
    from bot.bot import QABot

# discord.py's plain format (its setup_logging's, without colour).
PLAIN_LOG_FORMAT = logging.Formatter("[{asctime}] [{levelname:<8}] {name}: {message}", "%Y-%m-%d %H:%M:%S", style="{")

TOKEN_REJECTED = (
    "Discord rejected DISCORD_TOKEN: copy the bot token again from the Developer Portal (Bot → Reset Token) "
    "into .env or the environment."
)


def _settings(*, require_token: bool) -> Settings:
    try:
        return load_settings(require_token=require_token)
    except ConfigError as error:
        raise UsageError(str(error)) from None


def _setup_logging(settings: Settings) -> None:
    """Log lines on standard error, coloured only where colour_allowed (discord.py's own choice also colours
    a log file whenever /.dockerenv exists)."""
    import discord

    handler = logging.StreamHandler()
    formatter = discord.utils._ColourFormatter() if colour_allowed(handler.stream) else PLAIN_LOG_FORMAT
    discord.utils.setup_logging(handler=handler, formatter=formatter, level=settings.log_level_number, root=True)


async def _start(bot: QABot, token: str) -> None:
    from index import EmptyIndexError

    loop = asyncio.get_running_loop()
    # systemd stops services with SIGTERM: close the connection cleanly, as Ctrl-C does.
    loop.add_signal_handler(signal.SIGTERM, lambda: asyncio.ensure_future(bot.close()))
    try:
        async with bot:
            await bot.start(token)
    except EmptyIndexError as error:
        raise UsageError(str(error)) from None
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def _login_failures() -> tuple[type[Exception], ...]:
    import discord

    return (discord.LoginFailure,)


def _network_errors() -> tuple[type[Exception], ...]:
    import aiohttp

    return (aiohttp.ClientConnectionError, OSError)


def _unreachable(error: Exception) -> int:
    # Not a settings problem (exit status 1, not 2): a service manager may well retry later.
    print(
        f"qa-bot: could not reach Discord ({type(error).__name__}): check the network and try again.", file=sys.stderr
    )
    return 1


def cmd_run(args: argparse.Namespace) -> int:
    from bot.bot import create_bot

    settings = _settings(require_token=True)
    _setup_logging(settings)
    try:
        asyncio.run(_start(create_bot(settings), settings.require_token()))
    except _login_failures():
        raise UsageError(TOKEN_REJECTED) from None
    except _network_errors() as error:
        return _unreachable(error)
    return 0


async def _sync(settings: Settings, guild_id: int | None) -> int:
    import discord

    from bot.bot import create_bot

    async with create_bot(settings, load_index=False) as bot:
        await bot.login(settings.require_token())
        if guild_id is None:
            synced = await bot.tree.sync()
            where = "globally (servers and DMs; they can take a few minutes to appear)"
        else:
            guild = discord.Object(guild_id)
            bot.tree.copy_global_to(guild=guild)
            synced = await bot.tree.sync(guild=guild)
            where = f"to server {guild_id} (available there at once)"
    emit(f"Synced {counted(len(synced), 'command')} {where}: " + ", ".join(f"/{c.name}" for c in synced))
    return len(synced)


def cmd_sync(args: argparse.Namespace) -> int:
    settings = _settings(require_token=True)
    _setup_logging(settings)
    guild_id: int | None = None
    if args.guild == "dev":
        if settings.dev_guild_id is None:
            raise UsageError("--guild without an id uses DEV_GUILD_ID, which is not set: set it in .env or give an id.")
        guild_id = settings.dev_guild_id
    elif args.guild is not None:
        guild_id = discord_id(args.guild)
        if guild_id is None:
            raise UsageError(f"--guild takes a numeric server id (got {args.guild!r}).")
    import discord

    try:
        asyncio.run(_sync(settings, guild_id))
    except _login_failures():
        raise UsageError(TOKEN_REJECTED) from None
    except discord.Forbidden:
        where = f"server {guild_id}" if guild_id else "this application"
        raise UsageError(
            f"Discord refused to register the commands in {where}: invite the bot there with the "
            "applications.commands scope (see the README), then sync again."
        ) from None
    except _network_errors() as error:
        return _unreachable(error)
    return 0


async def command_payloads(bot: QABot) -> list[dict[str, Any]]:
    """Run the bot's setup without connecting; the commands as Discord would receive them."""
    await bot.setup_hook()
    return [command.to_dict(bot.tree) for command in bot.tree.get_commands()]


async def _check(settings: Settings) -> tuple[QABot, int, list[dict[str, Any]]]:
    from bot.bot import create_bot

    # A check leaves nothing behind: no question log is opened (or created).
    async with create_bot(dataclasses.replace(settings, state_db=None)) as bot:
        payloads = await command_payloads(bot)
        return bot, len(bot.extensions), payloads


def describe_command(payload: dict[str, Any]) -> str:
    options = " ".join(
        option["name"] if option.get("required") else f"[{option['name']}]" for option in payload.get("options", [])
    )
    contexts = {0: "server", 1: "bot DM", 2: "private channel"}
    where = ", ".join(contexts.get(c, str(c)) for c in payload.get("contexts") or [])
    permissions = payload.get("default_member_permissions")
    needs = f"; default permissions {permissions}" if permissions else ""
    return f"/{payload['name']} {options}".rstrip() + f" ({where}{needs}): {payload['description']}"


def cmd_check(args: argparse.Namespace) -> int:
    from index import EmptyIndexError

    settings = _settings(require_token=False)
    try:
        bot, extensions, payloads = asyncio.run(_check(settings))
    except EmptyIndexError as error:
        raise UsageError(str(error)) from None
    if args.json:
        emit(json.dumps(payloads, indent=2, ensure_ascii=False))
        return 0
    report = bot.holder.last_build
    emit(
        f"Indexed {counted(report.articles, 'article')}, {counted(report.sentences, 'sentence')} from "
        f"{settings.seeds_dir}; loaded {counted(extensions, 'extension')}; {counted(len(payloads), 'global command')} "
        "would be registered:"
    )
    for payload in payloads:
        emit("  " + describe_command(payload))
    return 0


def add_commands(commands: Any) -> None:
    """Add run, sync and check to the `qa-bot` sub-command parser."""
    run = commands.add_parser("run", help="start the Discord bot (DISCORD_TOKEN from the environment or .env)")
    run.set_defaults(run=cmd_run)

    sync = commands.add_parser("sync", help="register the slash commands with Discord, then exit")
    sync.add_argument(
        "--guild",
        nargs="?",
        const="dev",
        metavar="ID",
        help="sync to one server only, at once (without ID: DEV_GUILD_ID); default: globally",
    )
    sync.set_defaults(run=cmd_sync)

    check = commands.add_parser("check", help="build the index and the commands without connecting (for CI)")
    check.add_argument("--json", action="store_true", help="print the registration payloads as JSON")
    check.set_defaults(run=cmd_check)
