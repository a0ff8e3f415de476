"""Helpful / Not helpful buttons under every answer, working across restarts for VOTING_DAYS days.

The buttons are discord.py dynamic items: the answer's id, a signature and the vote are in the custom id
(`feedback:<answer id>:<signature>:up|down`), so a restarted bot knows what a press means without any stored
view. The signature (a keyed hash of the answer id and the server, with a key kept in the state database)
proves that this bot made the button for that answer in that server: a custom id anyone else made (a
forged id, another server's answer, a button from before the log was deleted) is refused with one private
sentence, and nothing is written.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Protocol, cast

import discord

from bot.errors import APOLOGY, DELIVERY_ERRORS
from bot.questionlog.service import VOTING_DAYS, LogUnavailable, QuestionLog
from bot.questionlog.store import VoteOutcome

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
# Any custom id of this family reaches the callback, so a malformed one gets a reply too (a custom id that
# discord.py matched to no item would leave the member with "This interaction failed").
TEMPLATE = r"feedback:(?P<rest>.*)"
CUSTOM_ID = re.compile(r"(?P<answer_id>[1-9][0-9]{0,18}):(?P<signature>[A-Za-z0-9_-]{16}):(?P<vote>up|down)")
LABELS = {True: "Helpful", False: "Not helpful"}
REPLIES = {
    VoteOutcome.RECORDED: "Thanks for your feedback: you marked this answer {label}.",
    VoteOutcome.CHANGED: "Thanks: your vote on this answer is now {label}.",
    VoteOutcome.UNCHANGED: "You had already marked this answer {label}: thanks.",
    VoteOutcome.EXPIRED: (
        f"Voting on this answer closed {VOTING_DAYS} days after it was given: ask again to rate a fresh answer."
    ),
    VoteOutcome.NOT_OURS: (
        "Sorry, I can't count this vote: the button is not one I made for an answer here; "
        "ask me again to rate a fresh answer."
    ),
}
UNAVAILABLE = "I couldn't record your vote: the question log is unavailable right now. Please try again later."


class Voting(Protocol):
    """What a button needs of the client that registered it (bot.bot.QABot): where votes go."""

    question_log: QuestionLog


def custom_id(answer_id: int, signature: str, helpful: bool) -> str:
    return f"feedback:{answer_id}:{signature}:{'up' if helpful else 'down'}"


class FeedbackButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=TEMPLATE):
    def __init__(self, answer_id: int, signature: str, helpful: bool) -> None:
        super().__init__(
            discord.ui.Button(
                label=LABELS[helpful],
                emoji="👍" if helpful else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=custom_id(answer_id, signature, helpful),
            )
        )
        self.answer_id = answer_id
        self.signature = signature
        self.helpful = helpful

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any
    ) -> FeedbackButton:
        parsed = CUSTOM_ID.fullmatch(match["rest"])
        if parsed is None:  # not a button of this bot's making: the callback refuses it
            return cls(0, "", helpful=True)
        return cls(int(parsed["answer_id"]), parsed["signature"], parsed["vote"] == "up")

    async def callback(self, interaction: discord.Interaction) -> None:
        bot = cast(Voting, interaction.client)
        try:
            outcome = VoteOutcome.NOT_OURS
            if self.signature:
                outcome = await bot.question_log.vote(
                    self.answer_id, self.signature, interaction.guild_id or 0, interaction.user.id, self.helpful
                )
            message = REPLIES[outcome].format(label=LABELS[self.helpful].lower())
        except LogUnavailable:
            message = UNAVAILABLE
        except Exception:
            log.exception("Unexpected error recording a vote")
            message = APOLOGY
        try:
            await interaction.response.send_message(message, ephemeral=True, allowed_mentions=NONE)
        except DELIVERY_ERRORS:
            log.warning("Could not thank a voter (the interaction may have expired)", exc_info=True)


def feedback_view(answer_id: int, signature: str) -> discord.ui.View:
    """The two buttons for one answer. Fully dynamic: discord.py keeps nothing per message for it."""
    view = discord.ui.View(timeout=None)
    view.add_item(FeedbackButton(answer_id, signature, True))
    view.add_item(FeedbackButton(answer_id, signature, False))
    return view
