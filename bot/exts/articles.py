"""/article add, remove and show: moderators manage the articles from Discord (the rights of /reload).

The files are written by index.ingest, the code `qa-bot add` runs; the index then reloads as /reload does.
"""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import QABot
from bot.errors import DELIVERY_ERRORS, NotAllowed, UserFacingError
from bot.exts.moderation import ALREADY_RUNNING, can_reload
from bot.exts.questions import matching_choices, resolve_article
from bot.formatting import added_message, article_embed, removed_message
from bot.index_holder import ReloadInProgress, ReloadReport
from index import (
    Article,
    ArticleExists,
    FetchError,
    IngestError,
    add_article,
    add_page,
    check_upload,
    remove_article,
)

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
NOT_TEXT = "That attachment is not a text file: add a .txt, .md or .html file."
DOWNLOAD_FAILED = "I could not download the attachment from Discord: upload it again in a moment."
NOTHING_TO_ADD = "Attach the article as `file:`, or give the news page's link as `url:`."
NO_SUCH_ARTICLE = "I have no article by that name: pick one from the list as you type, or see /sources."
LAST_ARTICLE = "That is the only article: add another one first, so there is still something to answer from."
NOT_ALLOWED = (
    "Only members with the Manage Server permission or a moderator role, and the bot's owners, can manage articles."
)
# Content types Discord gives text uploads; None when it could not tell (the suffix then decides).
TEXT_TYPES = ("text/", "application/xhtml+xml")


def check_attachment(file: discord.Attachment) -> None:
    """Refuse before downloading: not text, not an accepted kind, or too large."""
    content_type = (file.content_type or "").lower()
    if content_type and not content_type.startswith(TEXT_TYPES):
        raise UserFacingError(NOT_TEXT)
    try:
        check_upload(file.filename, file.size)
    except IngestError as error:
        raise UserFacingError(str(error)) from None


async def can_manage_articles(interaction: discord.Interaction) -> bool:
    """The rights of /reload, checked by the bot itself (see moderation.can_reload)."""
    try:
        return await can_reload(interaction)
    except NotAllowed:
        raise NotAllowed(NOT_ALLOWED) from None


def exists_message(error: ArticleExists) -> str:
    return f"{error} Set `replace:True` to replace it, or give another `title:`."


@app_commands.default_permissions(manage_guild=True)
@app_commands.allowed_contexts(guilds=True, dms=True)
@app_commands.allowed_installs(guilds=True)
class ArticleCommands(commands.GroupCog, group_name="article", group_description="Add, remove or show articles"):
    def __init__(self, bot: QABot) -> None:
        self.bot = bot
        super().__init__()

    async def _reload(self) -> ReloadReport | None:
        """The reload report after a change to the folder; None when a reload was already running (the
        file is in place: that reload, or the next, picks it up)."""
        try:
            return await self.bot.reload_index()
        except ReloadInProgress:
            return None

    async def _resolve(self, value: str) -> Article:
        chosen = await asyncio.to_thread(resolve_article, self.bot.holder.index.articles, value)
        if chosen is None:
            raise UserFacingError(NO_SUCH_ARTICLE)
        return chosen

    async def _choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        # Off the event loop, as /ask's: a keystroke may read every title.
        return await asyncio.to_thread(matching_choices, self.bot.holder.index.articles, current)

    @app_commands.command(name="add")
    @app_commands.describe(
        file="The article: a .txt or .md file, or a news page saved as .html (up to 2 MB)",
        url="The news page's link, fetched when no file is attached; with a file, the file's link",
        title="Its title (default: from the file or page)",
        date="Its date, YYYY-MM-DD (default: from the file or page)",
        replace="Replace an article of the same title (default: no)",
    )
    @app_commands.check(can_manage_articles)
    async def add(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment | None = None,
        url: app_commands.Range[str, 1, 2000] | None = None,
        title: app_commands.Range[str, 1, 300] | None = None,
        date: app_commands.Range[str, 1, 40] | None = None,
        replace: bool = False,
    ) -> None:
        """Add an article from a file or a link and reload (moderators)."""
        if file is None and url is None:
            raise UserFacingError(NOTHING_TO_ADD)
        if file is not None:
            check_attachment(file)
        if self.bot.holder.reloading:
            raise UserFacingError(ALREADY_RUNNING)
        await interaction.response.defer(ephemeral=True, thinking=True)
        folder = self.bot.holder.folder
        try:
            if file is None:
                assert url is not None
                # Fetched and converted in a worker thread: the network and trafilatura never block the loop.
                policy = self.bot.settings.fetch_policy
                added = await asyncio.to_thread(
                    add_page, folder, url, policy=policy, title=title, date=date, replace=replace
                )
            else:
                try:
                    data = await file.read()
                except DELIVERY_ERRORS:
                    log.warning("Downloading attachment %s failed", file.id, exc_info=True)
                    raise UserFacingError(DOWNLOAD_FAILED) from None
                added = await asyncio.to_thread(
                    add_article, folder, file.filename, data, title=title, date=date, url=url, replace=replace
                )
        except ArticleExists as error:
            raise UserFacingError(exists_message(error)) from None
        except (IngestError, FetchError) as error:
            raise UserFacingError(str(error)) from None
        report = await self._reload()
        await interaction.followup.send(added_message(added, report), ephemeral=True, allowed_mentions=NONE)

    @app_commands.command(name="remove")
    @app_commands.describe(article="The article to remove (start typing its title)")
    @app_commands.check(can_manage_articles)
    async def remove(self, interaction: discord.Interaction, article: str) -> None:
        """Move an article out of the index into seeds/.removed and reload (moderators)."""
        chosen = await self._resolve(article)
        if self.bot.holder.index.article_count == 1:
            raise UserFacingError(LAST_ARTICLE)
        if self.bot.holder.reloading:
            raise UserFacingError(ALREADY_RUNNING)
        await interaction.response.defer(ephemeral=True, thinking=True)
        folder = self.bot.holder.folder
        try:
            moved = await asyncio.to_thread(remove_article, folder, chosen.id)
        except IngestError as error:
            raise UserFacingError(str(error)) from None
        report = await self._reload()
        where = moved.relative_to(folder).as_posix()
        await interaction.followup.send(removed_message(chosen, where, report), ephemeral=True, allowed_mentions=NONE)

    @app_commands.command(name="show")
    @app_commands.describe(article="The article to show (start typing its title)")
    @app_commands.check(can_manage_articles)
    async def show(self, interaction: discord.Interaction, article: str) -> None:
        """Show an article's metadata, file and first sentences (moderators)."""
        chosen = await self._resolve(article)
        await interaction.response.send_message(embed=article_embed(chosen), ephemeral=True, allowed_mentions=NONE)

    @remove.autocomplete("article")
    async def remove_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await self._choices(interaction, current)

    @show.autocomplete("article")
    async def show_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await self._choices(interaction, current)


async def setup(bot: QABot) -> None:
    await bot.add_cog(ArticleCommands(bot))
