"""Paths and small builders shared by the tests."""

from __future__ import annotations

import io
import os
import random
import signal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
SEED_FILE = SEEDS / "000_eed0d9b0ce39977c.txt"
SYLLABLES = ["ba", "ko", "ri", "tu", "me", "sa", "lo", "ni", "ve", "da", "pu", "ge"]


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


def write_corpus(folder: Path, articles: int, seed: int = 5) -> None:
    """Articles of Zipf-distributed made-up words, 10 to 40 sentences each."""
    rng = random.Random(seed)
    words = sorted({"".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(3000)})
    weights = [1 / (rank + 1) for rank in range(len(words))]
    folder.mkdir(parents=True, exist_ok=True)
    for a in range(articles):
        sentences = [
            " ".join(rng.choices(words, weights, k=rng.randint(6, 20))).capitalize() + "."
            for _ in range(rng.randint(10, 40))
        ]
        paragraphs = "\n\n".join(" ".join(sentences[p : p + 4]) for p in range(0, len(sentences), 4))
        (folder / f"article-{a:04d}.txt").write_text(f"title: Article {a}\ndate: 2024-03-01\n\n{paragraphs}\n")


def build_worker_killed(messages: Any, *args: Any) -> None:
    """Stands in for index.build_worker._work (pickled by name into the spawned process): dies, as by the OOM killer."""
    os.kill(os.getpid(), signal.SIGKILL)
