"""Generated article folders, for tests and benchmarks that need many articles of made-up words."""

from __future__ import annotations

import random
from pathlib import Path

SYLLABLES = ["ba", "ko", "ri", "tu", "me", "sa", "lo", "ni", "ve", "da", "pu", "ge"]


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
