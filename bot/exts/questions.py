"""/ask, /sources and /help."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.bot import QABot
from bot.config import MAX_PASSAGES, QUESTION_CHARS
from bot.errors import OnCooldown, UserFacingError
from bot.formatting import CHOICES_LIMIT, choice_name, help_embed, page_count, sources_embed
from index import DEFAULT_HITS, Article

NONE = discord.AllowedMentions.none()
# Autocomplete values are at most 100 characters; longer article ids go by their digest instead.
CHOICE_VALUE_LIMIT = 100
DIGEST_PREFIX = "sha256:"
SOURCES_TIMEOUT_SECONDS = 300


def choice_value(article: Article) -> str:
    return article.id if len(article.id) <= CHOICE_VALUE_LIMIT else DIGEST_PREFIX + article.digest[:32]


def resolve_article(articles: Sequence[Article], value: str) -> Article | None:
    """The article an `article:` option names: an autocomplete value, or a title or id typed by hand."""
    wanted = value.strip()
    if wanted.startswith(DIGEST_PREFIX):
        return next((a for a in articles if a.digest.startswith(wanted.removeprefix(DIGEST_PREFIX))), None)
    folded = wanted.casefold()
    return next((a for a in articles if a.id == wanted), None) or next(
        (a for a in articles if folded in (a.id.casefold(), a.title.casefold())), None
    )


def matching_choices(articles: Sequence[Article], typed: str) -> list[app_commands.Choice[str]]:
    """The first CHOICES_LIMIT articles whose title or id holds what was typed (any case)."""
    wanted = typed.strip().casefold()
    choices = []
    for article in articles:
        if wanted in article.title.casefold() or wanted in article.id.casefold():
            choices.append(app_commands.Choice(name=choice_name(article), value=choice_value(article)))
            if len(choices) == CHOICES_LIMIT:
                break
    return choices


async def spend_cooldown(interaction: discord.Interaction) -> None:
    """One question per user per ASK_COOLDOWN_SECONDS: counts this one, or raises OnCooldown.

    Called once the question is known to be searchable, not as a command check: a typo in an
    option must not cost the member their question.
    """
    bot = cast(QABot, interaction.client)
    turn = await bot.cooldowns.take(interaction.user.id)
    if not turn.allowed:
        raise OnCooldown(turn.retry_after)


class SourcesView(discord.ui.View):
    """Previous/next buttons over the article list as it was when /sources ran."""

    def __init__(self, articles: Sequence[Article], owner_id: int, vectors: tuple[int, int] | None = None) -> None:
        super().__init__(timeout=SOURCES_TIMEOUT_SECONDS)
        self.articles = tuple(articles)
        self.vectors = vectors
        self.owner_id = owner_id
        self.page = 0
        self.pages = page_count(len(self.articles))
        self._sync_buttons()

    def embed(self) -> discord.Embed:
        return sources_embed(self.articles, self.page, vectors=self.vectors)

    def _sync_buttons(self) -> None:
        self.previous_page.disabled = self.page == 0
        self.next_page.disabled = self.page >= self.pages - 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message(
                "These buttons belong to whoever ran /sources: run /sources yourself to browse.",
                ephemeral=True,
                allowed_mentions=NONE,
            )
            return False
        return True

    async def _show(self, interaction: discord.Interaction, page: int) -> None:
        self.page = min(max(page, 0), self.pages - 1)
        self._sync_buttons()
        await interaction.response.edit_message(embed=self.embed(), view=self, allowed_mentions=NONE)

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous_page(self, interaction: discord.Interaction, button: discord.ui.Button[SourcesView]) -> None:
        await self._show(interaction, self.page - 1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next_page(self, interaction: discord.Interaction, button: discord.ui.Button[SourcesView]) -> None:
        await self._show(interaction, self.page + 1)


class Questions(commands.Cog):
    def __init__(self, bot: QABot) -> None:
        self.bot = bot

    @app_commands.command(name="ask")
    @app_commands.describe(
        question="What you want to know about the news articles",
        passages=f"How many passages to show (1 to {MAX_PASSAGES}, default {DEFAULT_HITS})",
        article="Search only this article (start typing its title)",
    )
    @app_commands.allowed_contexts(guilds=True, dms=True)
    @app_commands.allowed_installs(guilds=True)
    async def ask(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, QUESTION_CHARS],
        passages: app_commands.Range[int, 1, MAX_PASSAGES] = DEFAULT_HITS,
        article: str | None = None,
    ) -> None:
        """Answer a question with cited passages from the articles."""
        if not question.strip():
            raise UserFacingError(
                "Your question is empty: type a question after /ask, for example “Who is in charge?”."
            )
        chosen = None
        if article:
            chosen = await asyncio.to_thread(resolve_article, self.bot.holder.index.articles, article)
            if chosen is None:
                raise UserFacingError(
                    "I have no article by that name: pick one from the list as you type, or see /sources."
                )
        await spend_cooldown(interaction)
        await interaction.response.defer(thinking=True)
        reply = await self.bot.answer(question, passages, chosen)
        send = functools.partial(interaction.followup.send, allowed_mentions=NONE)
        await self.bot.send_answer(send, reply, guild_id=interaction.guild_id)

    @ask.autocomplete("article")
    async def article_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        # A keystroke that few titles match reads every title (17 ms at 50,000 articles, measured): not on the loop.
        return await asyncio.to_thread(matching_choices, self.bot.holder.index.articles, current)

    @app_commands.command(name="sources")
    @app_commands.allowed_contexts(guilds=True, dms=True)
    @app_commands.allowed_installs(guilds=True)
    async def sources(self, interaction: discord.Interaction) -> None:
        """List the articles I answer from."""
        holder = self.bot.holder
        progress = holder.vectors.progress() if holder.vectors is not None else None
        view = SourcesView(await holder.articles(), interaction.user.id, progress)
        if view.pages == 1:
            await interaction.response.send_message(embed=view.embed(), ephemeral=True, allowed_mentions=NONE)
            return
        await interaction.response.send_message(embed=view.embed(), view=view, ephemeral=True, allowed_mentions=NONE)

    @app_commands.command(name="help")
    @app_commands.allowed_contexts(guilds=True, dms=True)
    @app_commands.allowed_installs(guilds=True)
    async def help(self, interaction: discord.Interaction) -> None:
        """What I do and how to ask me."""
        embed = help_embed(self.bot.settings.cooldown_seconds)
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NONE)


async def setup(bot: QABot) -> None:
    await bot.add_cog(Questions(bot))
