"""/stats: what this server asked and how it rated the answers (moderators), and the log's daily pruning."""

from __future__ import annotations

import asyncio
import io
import logging

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.bot import QABot
from bot.errors import NotAllowed
from bot.exts.moderation import is_moderator
from bot.formatting import FIELD_VALUE_LIMIT, INFO_COLOUR, escape, shorten
from bot.questionlog.chart import render_chart
from bot.questionlog.report import DEFAULT_DAYS, MAX_DAYS, coverage_note, period, questions_line, votes_line
from bot.questionlog.service import LogUnavailable
from bot.questionlog.store import Stats

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
CHART_FILE = "stats.png"
QUESTION_SHOWN_CHARS = 90
NOT_ALLOWED = (
    "Only members with the Manage Server permission or a moderator role, and the bot's owners, can use /stats."
)


async def can_see_stats(interaction: discord.Interaction) -> bool:
    if await is_moderator(interaction):
        return True
    raise NotAllowed(NOT_ALLOWED)


def unavailable_message(reason: str) -> str:
    return shorten(
        f"The question log is unavailable ({escape(reason)}), so there are no statistics to show. "
        "Answers are not affected; the bot's log says more.",
        2000,
    )


def stats_embed(stats: Stats, where: str, keep_days: int, problem: str | None) -> discord.Embed:
    lines = [questions_line(stats), votes_line(stats)]
    if problem:
        lines.append(f"⚠ The question log is unavailable now ({escape(problem)}): new questions are not recorded.")
    embed = discord.Embed(
        title=f"Questions in {where}, {period(len(stats.days))}",
        description=shorten("\n".join(lines), 4000),
        colour=INFO_COLOUR,
    )
    if keep_days:
        listed = "\n".join(
            f"{rank}. {escape(shorten(' '.join(question.split()), QUESTION_SHOWN_CHARS))} — ×{asked}"
            for rank, (question, asked) in enumerate(stats.unanswered, 1)
        )
        embed.add_field(
            name="Most asked without a confident answer",
            value=shorten(listed, FIELD_VALUE_LIMIT) or "None: every question got a confident answer.",
            inline=False,
        )
    embed.set_image(url=f"attachment://{CHART_FILE}")
    note = coverage_note(len(stats.days), keep_days)
    embed.set_footer(text="Days are UTC." + (f" {note}" if note else ""))
    return embed


class StatsCog(commands.Cog):
    def __init__(self, bot: QABot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        if self.bot.question_log.enabled:
            self.prune_daily.start()

    async def cog_unload(self) -> None:
        self.prune_daily.cancel()

    @tasks.loop(hours=24)
    async def prune_daily(self) -> None:
        """At start and then daily: forget questions past QUESTION_LOG_DAYS and votes past their week."""
        try:
            removed = await self.bot.question_log.prune()
        except LogUnavailable:
            return  # reported by the log itself
        if removed:
            log.info("Pruned %d old rows from the question log", removed)

    @app_commands.command(name="stats")
    @app_commands.describe(days=f"How many days to look back, today included (1 to {MAX_DAYS}, default {DEFAULT_DAYS})")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.allowed_contexts(guilds=True, dms=True)
    @app_commands.allowed_installs(guilds=True)
    @app_commands.check(can_see_stats)
    async def stats(
        self, interaction: discord.Interaction, days: app_commands.Range[int, 1, MAX_DAYS] = DEFAULT_DAYS
    ) -> None:
        """What members asked here, and how they rated the answers (moderators)."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        question_log = self.bot.question_log
        # A server's moderators see that server only; in a DM (owners only) the bot's DMs.
        where = "this server" if interaction.guild_id else "direct messages"
        try:
            stats = await question_log.stats(days, [interaction.guild_id or 0])
        except LogUnavailable as error:
            await interaction.followup.send(unavailable_message(str(error)), ephemeral=True, allowed_mentions=NONE)
            return
        chart = await asyncio.to_thread(render_chart, stats, f"Questions in {where}, {period(days)}")
        await interaction.followup.send(
            embed=stats_embed(stats, where, question_log.keep_days, question_log.problem),
            file=discord.File(io.BytesIO(chart), CHART_FILE),
            ephemeral=True,
            allowed_mentions=NONE,
        )


async def setup(bot: QABot) -> None:
    await bot.add_cog(StatsCog(bot))
