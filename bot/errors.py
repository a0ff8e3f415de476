"""Errors a user can act on, and the one place that turns any command error into a reply."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import discord
from discord import app_commands

from bot.formatting import cooldown_message

log = logging.getLogger(__name__)

# What sending a reply can raise when Discord refuses it (4xx, 5xx, 429), times out or cannot be reached.
DELIVERY_ERRORS = (discord.HTTPException, asyncio.TimeoutError, aiohttp.ClientError)

APOLOGY = "Sorry, something went wrong on my side while answering that. It has been logged; please try again later."


class UserFacingError(app_commands.AppCommandError):
    """An expected error: its message, one sentence saying what to do, is shown to the user as is."""


class NotAllowed(app_commands.CheckFailure):
    """The user may not run this command; the message names what is needed."""


class OnCooldown(app_commands.CheckFailure):
    """The user asked again too soon."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(cooldown_message(retry_after))
        self.retry_after = retry_after


def user_message(error: Exception) -> str | None:
    """The message for an expected error; None for an unexpected one (a bug, or Discord failing)."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, UserFacingError | NotAllowed | OnCooldown):
        return str(error)
    if isinstance(error, app_commands.CommandOnCooldown):
        return cooldown_message(error.retry_after)
    if isinstance(error, app_commands.TransformerError):
        return f"I could not read {error.value!r} as {error.type.name.lower()}: check that option and try again."
    if isinstance(error, app_commands.CommandNotFound):
        return "I don't know that command any more: it may have been removed; type / to see the current ones."
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use this command here."
    return None


async def reply_ephemeral(interaction: discord.Interaction, message: str) -> None:
    """Reply privately whether or not the interaction was already answered (or deferred)."""
    if interaction.type is discord.InteractionType.autocomplete:
        return  # autocomplete can only answer with choices
    if interaction.response.is_done():
        await interaction.followup.send(message, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())
    else:
        await interaction.response.send_message(
            message, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )


class QATree(app_commands.CommandTree):
    """The command tree, with the bot's single error handler."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        message = user_message(error)
        if message is None:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error("Unexpected error in /%s", command, exc_info=error)
            message = APOLOGY
        try:
            await reply_ephemeral(interaction, message)
        except DELIVERY_ERRORS:
            log.warning("Could not tell the user about an error (the interaction may have expired)", exc_info=True)
