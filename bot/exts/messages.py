"""Questions by message: anything sent to the bot in a DM, and any server message that mentions it.

Discord sends the text of these two kinds of message without the privileged message-content intent;
with it (MESSAGE_CONTENT=true), every message in a thread the bot started is a question too. In DMs and
threads the same person's previous question is the context of a follow-up. A mention in a channel is
answered in a new thread named after the question when ANSWER_IN_THREAD is on and the bot may create one.
"""

from __future__ import annotations

import functools
import logging
import re

import discord
from discord.ext import commands

from bot.bot import QABot
from bot.errors import APOLOGY, DELIVERY_ERRORS
from bot.formatting import THREAD_NAME_LIMIT, cooldown_message, shorten
from index import DEFAULT_HITS

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
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
        if any(user.id == me.id for user in message.mentions):
            return True
        return self._own_thread(message, me) and self.bot.settings.message_content and bool(message.content.strip())

    @staticmethod
    def _own_thread(message: discord.Message, me: discord.ClientUser) -> bool:
        return isinstance(message.channel, discord.Thread) and message.channel.owner_id == me.id

    def _may_open_thread(self, message: discord.Message) -> bool:
        channel, guild = message.channel, message.guild
        if not self.bot.settings.answer_in_thread or not isinstance(channel, discord.TextChannel) or guild is None:
            return False
        allowed = channel.permissions_for(guild.me)
        return allowed.create_public_threads and allowed.send_messages_in_threads

    async def _answer(self, message: discord.Message, question: str) -> None:
        """Reply in the DM or thread (a follow-up when it leans on the previous question), or in a new thread."""
        channel, author = message.channel, message.author.id
        guild_id = message.guild.id if message.guild else None
        as_reply = functools.partial(message.reply, mention_author=False, allowed_mentions=NONE)
        if isinstance(channel, discord.DMChannel | discord.Thread):
            previous = self.bot.conversations.previous(author, channel.id)
            reply = await self.bot.answer_follow_up(question, DEFAULT_HITS, previous)
            await self.bot.send_answer(as_reply, reply, guild_id=guild_id)
            self.bot.conversations.remember(author, channel.id, question, previous if reply.followed_up else None)
            return
        reply = await self.bot.answer(question, DEFAULT_HITS)
        if self._may_open_thread(message):
            try:
                thread = await message.create_thread(name=shorten(question, THREAD_NAME_LIMIT))
            except discord.HTTPException:
                log.warning("Could not open a thread in channel %s; answering inline", channel.id, exc_info=True)
            else:
                await self.bot.send_answer(
                    functools.partial(thread.send, allowed_mentions=NONE), reply, guild_id=guild_id
                )
                self.bot.conversations.remember(author, thread.id, question, None)
                return
        await self.bot.send_answer(as_reply, reply, guild_id=guild_id)

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
            turn = await self.bot.cooldowns.take(message.author.id)
            if not turn.allowed:
                if turn.first_refusal:
                    await message.reply(cooldown_message(turn.retry_after), mention_author=False, allowed_mentions=NONE)
                return
            await self._answer(message, question)
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
