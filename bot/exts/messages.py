"""Questions by message: anything sent to the bot in a DM, and any server message that mentions it.

Discord sends the text of these two kinds of message without the privileged message-content intent.
"""

from __future__ import annotations

import functools
import logging
import re

import discord
from discord.ext import commands

from bot.bot import QABot
from bot.errors import APOLOGY, DELIVERY_ERRORS
from bot.formatting import cooldown_message

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
DEFAULT_PASSAGES = 3
EMPTY_QUESTION = "Ask me a question about the news articles, for example “Who is in charge?”. `/help` says more."


def question_text(message: discord.Message, bot_id: int) -> str:
    """The message's text without the mentions of the bot that made it a question."""
    return " ".join(re.sub(rf"<@!?{bot_id}>", " ", message.content).split())


class Messages(commands.Cog):
    def __init__(self, bot: QABot) -> None:
        self.bot = bot

    def _is_question(self, message: discord.Message, me: discord.ClientUser) -> bool:
        if message.author.bot or message.author.id == me.id:
            return False
        if isinstance(message.channel, discord.DMChannel):
            return True
        # A direct mention only: @everyone, @here and role mentions do not ask the bot anything.
        return any(user.id == me.id for user in message.mentions)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or not self._is_question(message, me):
            return
        question = question_text(message, me.id)
        try:
            if not question:
                await message.reply(EMPTY_QUESTION, mention_author=False, allowed_mentions=NONE)
                return
            wait = self.bot.cooldowns.retry_after(message.author.id)
            if wait:
                if self.bot.cooldowns.first_refusal(message.author.id):
                    await message.reply(cooldown_message(wait), mention_author=False, allowed_mentions=NONE)
                return
            send = functools.partial(message.reply, mention_author=False, allowed_mentions=NONE)
            guild_id = message.guild.id if message.guild else None
            await self.bot.send_answer(send, question, DEFAULT_PASSAGES, guild_id=guild_id)
        except discord.Forbidden:
            # A server that lets members mention the bot where it may not reply: a setting, not a bug.
            log.warning(
                "No permission to reply in channel %s: grant Send Messages and Read Message History", message.channel.id
            )
        except Exception:
            log.exception("Unexpected error answering a message question")
            try:
                await message.reply(APOLOGY, mention_author=False, allowed_mentions=NONE)
            except DELIVERY_ERRORS:
                log.warning("Could not send the apology either", exc_info=True)


async def setup(bot: QABot) -> None:
    await bot.add_cog(Messages(bot))
