"""One question per member per ASK_COOLDOWN_SECONDS, shared by /ask, mentions and DMs, and by every process
that shares STATE_DB's database; kept in this process's memory only while that database is unavailable."""

from __future__ import annotations

from bot.questionlog.service import Clock, LogUnavailable, QuestionLog
from bot.questionlog.store import Turn


class QuestionCooldowns:
    """The cooldowns in this process's memory, by the same rules as the shared ones (see store.TAKE_TURN)."""

    MAX_TRACKED = 10_000

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._windows: dict[int, tuple[float, int]] = {}  # user id: (when their window opened, refusals in it)

    def take(self, user_id: int, now: float) -> Turn:
        window = self._windows.get(user_id)
        if window is not None and not self._open(window[0], now):
            opened, refusals = window[0], window[1] + 1
            self._windows[user_id] = (opened, refusals)
            return Turn(min(self.seconds, self.seconds - (now - opened)), first_refusal=refusals == 1)
        if len(self._windows) >= self.MAX_TRACKED:
            self._windows = {u: w for u, w in self._windows.items() if not self._open(w[0], now)}
        self._windows[user_id] = (now, 0)
        return Turn(0.0)

    def _open(self, opened: float, now: float) -> bool:
        return now - opened >= self.seconds or now < opened - self.seconds


class SharedCooldowns:
    """The cooldowns in the shared state (the question log's database), else in memory."""

    def __init__(self, seconds: float, question_log: QuestionLog, clock: Clock) -> None:
        self.seconds = seconds
        self.question_log = question_log
        self.clock = clock
        self.local = QuestionCooldowns(seconds)

    async def take(self, user_id: int) -> Turn:
        """The member asks now: their turn (it counts), or how long to wait."""
        if self.seconds == 0:
            return Turn(0.0)
        if self.question_log.enabled:
            try:
                return await self.question_log.take_turn(user_id, self.seconds)
            except LogUnavailable:
                pass  # reported by the log itself; this process keeps the count meanwhile
        return self.local.take(user_id, self.clock())
