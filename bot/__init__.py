"""The Discord bot (`create_bot`) and the `qa-bot` command line.

discord.py is imported only when the bot is asked for, so `qa-bot ask` starts quickly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.bot import QABot, create_bot

__all__ = ["QABot", "create_bot"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from bot import bot as module

        return getattr(module, name)
    raise AttributeError(f"module 'bot' has no attribute {name!r}")
