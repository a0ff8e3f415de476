"""Progress of a long build: a bar on a terminal, log lines everywhere else."""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm

log = logging.getLogger("index.build")


class Progress(Protocol):
    """Told how far a stage is: `done` of `total` of the stage's unit (UNITS)."""

    def __call__(self, stage: str, done: int, total: int) -> None: ...


@dataclass(frozen=True)
class Unit:
    """What a stage counts: shown after each count ("3 of 3 files"); bytes are shown in kB and MB."""

    name: str
    in_bytes: bool = False

    def done_of(self, done: int, total: int) -> str:
        """ "12 of 30 files", "1.2 MB of 6.4 MB" """
        if self.in_bytes:
            return f"{_bytes(done)} of {_bytes(total)}"
        return f"{done:,} of {total:,} {self.name}"


def _bytes(count: int) -> str:
    return f"{count / 1e6:,.1f} MB" if count >= 100_000 else f"{count / 1e3:,.1f} kB"


UNITS = {"reading": Unit("files"), "indexing": Unit("bytes", in_bytes=True), "embedding": Unit("sentences")}


def unit_of(stage: str) -> Unit:
    return UNITS.get(stage, Unit("items"))


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
        self.logger.info("%s: %.0f%% (%s)", stage, share, unit_of(stage).done_of(done, total))


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

            unit = unit_of(stage)
            # Bytes scaled ("6.44k/6.44kB", "3.1MB/s"); counts whole and named ("3/3 files"): tqdm's scaling
            # would show them as "3.00", and its rate of counts with two decimals.
            rate = ", {rate_fmt}" if unit.in_bytes else ""
            bar = tqdm(
                total=total,
                desc=stage,
                file=self.stream,
                leave=True,
                unit="B" if unit.in_bytes else f" {unit.name}",
                unit_scale=unit.in_bytes,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}{unit} [{elapsed}<{remaining}"
                + rate
                + "]",
            )
            self._bars[stage] = bar
        bar.update(done - bar.n)
        if done >= total:
            bar.close()


def terminal_or_log(stream: TextIO = sys.stderr) -> Progress:
    """A bar when `stream` is a terminal, else log lines."""
    return BarProgress(stream) if stream.isatty() else LogProgress()
