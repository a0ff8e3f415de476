"""/reload: moderators rebuild the index from the seeds folder without restarting the bot."""

from __future__ import annotations

from typing import cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import QABot
from bot.errors import NotAllowed
from bot.formatting import reload_message
from bot.index_holder import ReloadInProgress

NONE = discord.AllowedMentions.none()
NOT_ALLOWED = (
    "Only members with the Manage Server permission or a moderator role, and the bot's owners, can use /reload."
)
ALREADY_RUNNING = "A reload is already running: its report will appear where it was asked for; try again after it."


async def is_moderator(interaction: discord.Interaction) -> bool:
    """Owners anywhere; in a server, Manage Server or a role in MODERATOR_ROLE_IDS.

    Checked here and not only through default_permissions, which a server's admins can change.
    """
    bot = cast(QABot, interaction.client)
    if await bot.is_owner(interaction.user):
        return True
    member = interaction.user
    if interaction.guild is not None and isinstance(member, discord.Member):
        if interaction.permissions.manage_guild:
            return True
        if any(member.get_role(role_id) for role_id in bot.settings.moderator_role_ids):
            return True
    return False


async def can_reload(interaction: discord.Interaction) -> bool:
    if await is_moderator(interaction):
        return True
    raise NotAllowed(NOT_ALLOWED)


class Moderation(commands.Cog):
    def __init__(self, bot: QABot) -> None:
        self.bot = bot

    @app_commands.command(name="reload")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.allowed_contexts(guilds=True, dms=True)
    @app_commands.allowed_installs(guilds=True)
    @app_commands.check(can_reload)
    async def reload(self, interaction: discord.Interaction) -> None:
        """Re-read the articles folder and say what changed (moderators)."""
        holder = self.bot.holder
        if holder.reloading:
            await interaction.response.send_message(ALREADY_RUNNING, ephemeral=True, allowed_mentions=NONE)
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            report = await self.bot.reload_index()
        except ReloadInProgress:
            await interaction.followup.send(ALREADY_RUNNING, ephemeral=True, allowed_mentions=NONE)
            return
        await interaction.followup.send(reload_message(report), ephemeral=True, allowed_mentions=NONE)


async def setup(bot: QABot) -> None:
    await bot.add_cog(Moderation(bot))
