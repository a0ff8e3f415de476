"""Paths and small builders shared by the tests."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
SEED_FILE = SEEDS / "000_eed0d9b0ce39977c.txt"


def write_articles(folder: Path, articles: dict[str, str]) -> Path:
    """Write `{relative path: text}` under `folder` and return it."""
    for name, text in articles.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder
