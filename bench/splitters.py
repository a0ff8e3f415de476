"""Sentence splitters compared on one article: sentence count, agreement and speed.

    python bench/splitters.py seeds/000_eed0d9b0ce39977c.txt [--repeat 2000]

Compares the project's splitter (blingfire, quotations re-joined) with pysbd and syntok
on the article's paragraphs, then times each on the article repeated --repeat times.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import pysbd
import syntok.segmenter as syntok

from index.articles.text import split_sentences


def _pysbd() -> Callable[[str], list[str]]:
    segmenter = pysbd.Segmenter(language="en", clean=False)
    return lambda text: [s.strip() for p in text.split("\n\n") for s in segmenter.segment(p) if s.strip()]


def _syntok(text: str) -> list[str]:
    return [
        "".join(token.spacing + token.value for token in sentence).strip()
        for paragraph in syntok.process(text)
        for sentence in paragraph
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("article", type=Path)
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    text = args.article.read_text(encoding="utf-8")
    ours = set(split_sentences(text))
    splitters = {"project (blingfire + quotes)": split_sentences, "pysbd": _pysbd(), "syntok": _syntok}
    print(f"{'splitter':<30} {'sentences':>9} {'same as project':>15} {'MB/s':>8}")
    for name, split in splitters.items():
        found = split(text)
        same = sum(1 for s in found if s in ours)
        # pysbd is slow: it is timed on a hundredth of the text, which is enough for a rate.
        copies = max(args.repeat // 100, 1) if name == "pysbd" else args.repeat
        big = "\n\n".join([text] * copies)
        started = time.perf_counter()
        split(big)
        seconds = time.perf_counter() - started
        print(f"{name:<30} {len(found):>9} {same:>15} {len(big.encode()) / seconds / 1e6:>8.2f}")


if __name__ == "__main__":
    main()
