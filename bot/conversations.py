"""Who asked what last, where: the context of follow-up questions in DMs and threads."""

from __future__ import annotations

import time
from dataclasses import dataclass

FOLLOW_UP_SECONDS = 600.0  # a question older than this is not context any more
CONTEXT_CHARS = 500  # a chain of follow-ups carries at most this much of the earlier questions


@dataclass(frozen=True)
class Turn:
    question: str  # as asked: the reply names it
    context: str  # what the next question is searched with: this question, and its own context if it had one
    at: float


class Conversations:
    """Each person's last question in each DM or thread, for FOLLOW_UP_SECONDS; bounded in size."""

    MAX_TRACKED = 10_000

    def __init__(self, seconds: float = FOLLOW_UP_SECONDS) -> None:
        self.seconds = seconds
        self._last: dict[tuple[int, int], Turn] = {}

    def previous(self, user_id: int, channel_id: int, now: float | None = None) -> Turn | None:
        now = time.monotonic() if now is None else now
        turn = self._last.get((user_id, channel_id))
        return turn if turn is not None and now - turn.at <= self.seconds else None

    def remember(
        self, user_id: int, channel_id: int, question: str, followed: Turn | None, now: float | None = None
    ) -> None:
        """Note `question`; `followed` is the turn it was answered as a follow-up of (None: it stood alone)."""
        now = time.monotonic() if now is None else now
        if len(self._last) >= self.MAX_TRACKED:
            self._last = {key: t for key, t in self._last.items() if now - t.at <= self.seconds}
            if len(self._last) >= self.MAX_TRACKED:
                self._last.clear()
        context = question if followed is None else f"{question} {followed.context}"[:CONTEXT_CHARS]
        self._last[(user_id, channel_id)] = Turn(question, context, now)
