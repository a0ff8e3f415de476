"""/feed add, list and remove: moderators choose the news feeds the bot follows (the rights of /article).

The feed list lives in the shared state (STATE_DB), so every process and machine of the bot sees the same
feeds; the poller (bot/feeds/poller.py) polls them. Adding a feed fetches it once, in a worker thread, to
check that it is a feed, then wakes the poller, which adds its newest articles at once.
"""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import QABot
from bot.errors import UserFacingError
from bot.exts.articles import can_manage_articles
from bot.feeds.poll import inspect_feed
from bot.feeds.store import FeedExists, FeedRow
from bot.formatting import CHOICE_NAME_LIMIT, CHOICES_LIMIT, escape, feed_added_message, feeds_embed, shorten
from bot.questionlog.database import DATABASE_ERRORS
from index import FeedError, FetchError, check_url

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
NO_STATE = "Feeds are kept in the shared state, which is off (STATE_DB=off): set STATE_DB to follow feeds."
STATE_UNAVAILABLE = (
    "The shared state (STATE_DB) cannot be reached just now, so feeds cannot be changed: try again later."
)
ALREADY_FOLLOWED = "I already follow that feed: see /feed list."
NOT_FOLLOWED = "I don't follow that feed: pick one from the list as you type, or see /feed list."


@app_commands.default_permissions(manage_guild=True)
@app_commands.allowed_contexts(guilds=True, dms=True)
@app_commands.allowed_installs(guilds=True)
class FeedCommands(commands.GroupCog, group_name="feed", group_description="Follow news feeds"):
    def __init__(self, bot: QABot) -> None:
        self.bot = bot
        super().__init__()

    async def _feeds(self) -> list[FeedRow]:
        poller = self.bot.feed_poller
        if poller is None or not poller.enabled:
            raise UserFacingError(NO_STATE)
        try:
            return await poller.call(lambda store: store.feeds())
        except DATABASE_ERRORS:
            log.warning("Reading the feeds failed", exc_info=True)
            raise UserFacingError(STATE_UNAVAILABLE) from None

    @app_commands.command(name="add")
    @app_commands.describe(url="The feed's address (RSS or Atom), e.g. https://example.com/rss.xml")
    @app_commands.check(can_manage_articles)
    async def add(self, interaction: discord.Interaction, url: app_commands.Range[str, 1, 2000]) -> None:
        """Follow a news feed: its new articles are added as they appear (moderators)."""
        poller = self.bot.feed_poller
        if poller is None or not poller.enabled:
            raise UserFacingError(NO_STATE)
        try:
            url = check_url(url)
        except FetchError as error:
            raise UserFacingError(str(error)) from None
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            feed = await asyncio.to_thread(inspect_feed, url, self.bot.settings.fetch_policy)
        except (FetchError, FeedError) as error:
            raise UserFacingError(str(error)) from None
        now = poller.clock()
        try:
            await poller.call(lambda store: store.add(url, feed.title, now))
        except FeedExists:
            raise UserFacingError(ALREADY_FOLLOWED) from None
        except DATABASE_ERRORS:
            log.warning("Adding a feed failed", exc_info=True)
            raise UserFacingError(STATE_UNAVAILABLE) from None
        poller.wake()
        settings = self.bot.settings
        message = feed_added_message(
            feed.title, url, len(feed.entries), settings.feed_max_new, settings.feed_poll_minutes
        )
        await interaction.followup.send(message, ephemeral=True, allowed_mentions=NONE)

    @app_commands.command(name="list")
    @app_commands.check(can_manage_articles)
    async def list_feeds(self, interaction: discord.Interaction) -> None:
        """The feeds followed, what they brought and how their last poll went (moderators)."""
        feeds = await self._feeds()
        await interaction.response.send_message(embed=feeds_embed(feeds), ephemeral=True, allowed_mentions=NONE)

    @app_commands.command(name="remove")
    @app_commands.describe(feed="The feed to stop following (start typing its title or address)")
    @app_commands.check(can_manage_articles)
    async def remove(self, interaction: discord.Interaction, feed: str) -> None:
        """Stop following a feed; the articles it brought stay (moderators)."""
        poller = self.bot.feed_poller
        feeds = await self._feeds()
        # A choice's value holds 100 characters: a longer address is matched by its start.
        chosen = next((f for f in feeds if f.url == feed or (len(feed) == 100 and f.url.startswith(feed))), None)
        chosen = chosen or next((f for f in feeds if f.title and f.title.casefold() == feed.casefold()), None)
        if chosen is None or poller is None:
            raise UserFacingError(NOT_FOLLOWED)
        try:
            removed = await poller.call(lambda store: store.remove(chosen.url))
        except DATABASE_ERRORS:
            log.warning("Removing a feed failed", exc_info=True)
            raise UserFacingError(STATE_UNAVAILABLE) from None
        if removed is None:
            raise UserFacingError(NOT_FOLLOWED)
        name = f"“{escape(removed.title)}”" if removed.title else escape(removed.url)
        message = (
            f"Stopped following {name}. The {removed.articles:,} article{'' if removed.articles == 1 else 's'} "
            "it brought stay: remove them with /article remove."
        )
        await interaction.response.send_message(message, ephemeral=True, allowed_mentions=NONE)

    @remove.autocomplete("feed")
    async def feed_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        try:
            feeds = await self._feeds()
        except UserFacingError:
            return []
        wanted = current.casefold()
        return [
            app_commands.Choice(name=shorten(f.title or f.url, CHOICE_NAME_LIMIT), value=f.url[:100])
            for f in feeds
            if wanted in (f.title or "").casefold() or wanted in f.url.casefold()
        ][:CHOICES_LIMIT]


async def setup(bot: QABot) -> None:
    await bot.add_cog(FeedCommands(bot))
