"""Progress of a long build: a bar on a terminal, log lines everywhere else."""

from __future__ import annotations

import logging
import sys
import time
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm

log = logging.getLogger("index.build")


class Progress(Protocol):
    """Told how far a stage is: `done` of `total` units (files or bytes)."""

    def __call__(self, stage: str, done: int, total: int) -> None: ...


class LogProgress:
    """A log line when a stage starts, at most one every `every` seconds, and one when it ends."""

    def __init__(self, every: float = 2.0, logger: logging.Logger = log):
        self.every = every
        self.logger = logger
        self._last: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        finished = done >= total
        last = self._last.get(stage)
        if not finished and last is not None and now - last < self.every:
            return
        self._last[stage] = now
        share = 100 * done / total if total else 100.0
        self.logger.info("%s: %.0f%% (%s of %s)", stage, share, f"{done:,}", f"{total:,}")


class BarProgress:
    """A tqdm bar per stage on `stream`, closed when the stage ends."""

    def __init__(self, stream: TextIO = sys.stderr):
        self.stream = stream
        self._bars: dict[str, tqdm] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        bar = self._bars.get(stage)
        if bar is None:
            # Imported here: only a terminal shows a bar, and a serving process would hold tqdm (3 MB) for nothing.
            from tqdm import tqdm

            bar = tqdm(total=total, desc=stage, file=self.stream, unit_scale=True, leave=True)
            self._bars[stage] = bar
        bar.update(done - bar.n)
        if done >= total:
            bar.close()


def terminal_or_log(stream: TextIO = sys.stderr) -> Progress:
    """A bar when `stream` is a terminal, else log lines."""
    return BarProgress(stream) if stream.isatty() else LogProgress()
