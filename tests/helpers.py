"""Paths and small builders shared by the tests."""

from __future__ import annotations

import io
import os
import signal
from pathlib import Path
from typing import Any

from testkit.corpus import write_corpus

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
SEED_FILE = SEEDS / "000_eed0d9b0ce39977c.txt"
__all__ = ["REPO", "SEEDS", "SEED_FILE", "build_worker_killed", "write_articles", "write_corpus"]


class Terminal(io.StringIO):
    """A text stream that says it is a terminal, for what colours, wraps or draws bars only there."""

    def isatty(self) -> bool:
        return True


def write_articles(folder: Path, articles: dict[str, str]) -> Path:
    """Write `{relative path: text}` under `folder` and return it."""
    for name, text in articles.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def build_worker_killed(messages: Any, *args: Any) -> None:
    """Stands in for index.serving.build_worker._work (pickled by name into the spawned process): dies, as by
    the OOM killer."""
    os.kill(os.getpid(), signal.SIGKILL)
