"""Writes index/ranking/data/english_frequency.tsv.gz from wordfreq's English word frequencies.

    python bench/make_word_frequency.py --write

wordfreq (https://pypi.org/project/wordfreq/, by Robyn Speer; code Apache-2.0, data CC BY-SA 4.0) gives each
word's frequency on the Zipf scale (log10 of its uses per billion words). The table keeps the WORDS most
frequent English words as the search terms the tokenizer makes of them (a stem keeps its most frequent
word's figure), one "stem<TAB>zipf" line each, sorted by stem: the prior that index/ranking/salience.py
smooths an archive's word counts toward. It is derived from wordfreq's data and shares its licence.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

from index.articles.stopwords import STOP_WORDS
from index.articles.text import normalise, stem_of

TARGET = Path(__file__).resolve().parent.parent / "index" / "ranking" / "data" / "english_frequency.tsv.gz"
WORDS = 60_000


def stem_frequencies() -> dict[str, float]:
    import wordfreq

    found: dict[str, float] = {}
    for word in wordfreq.top_n_list("en", WORDS):
        word = normalise(word)
        if not word.isalpha() or word in STOP_WORDS:
            continue
        stem = stem_of(word)
        found[stem] = max(found.get(stem, 0.0), wordfreq.zipf_frequency(word, "en"))
    return found


def table_bytes(found: dict[str, float]) -> bytes:
    text = "".join(f"{stem}\t{zipf:.2f}\n" for stem, zipf in sorted(found.items()))
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {TARGET}")
    found = stem_frequencies()
    data = table_bytes(found)
    if parser.parse_args().write:
        TARGET.write_bytes(data)
    print(f"{len(found):,} stems, {len(data):,} bytes compressed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
