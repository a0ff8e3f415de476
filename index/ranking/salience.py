"""How much a question's word matters: its rarity in the archive, smoothed toward its rarity in English.

Coverage (how much of the question a passage holds) weighs each word by how rare it is: a rare word names
what the question is about, a common one barely narrows it. An archive's own counts say that well once it is
large, but a small one says it badly: asked of one article, every word the article lacks ("become", "anyone")
looks as rare as a name it lacks ("Tinubu"). So a word's share of sentences is smoothed toward its share in
English text (wordfreq's frequencies, index/ranking/data/english_frequency.tsv.gz) as if PRIOR_SENTENCES
sentences of English had been read too: a word's weight is minus the log of that share. In an archive of a
million sentences the archive decides; in one article, English does.
"""

from __future__ import annotations

import gzip
import math
from functools import cache
from importlib import resources

# How many sentences of ordinary English the archive's counts are blended with.
PRIOR_SENTENCES = 2_000
# Words a sentence holds, about: turns a word's frequency into its chance of being in a sentence.
SENTENCE_WORDS = 20
# A word outside the table (a name, a rare word) counts as this rare (Zipf 1: once in 100 million words).
RAREST_ZIPF = 1.0


@cache
def english_zipf() -> dict[str, float]:
    """Each search term's frequency in English on the Zipf scale (log10 of uses per billion words)."""
    data = resources.files("index.ranking").joinpath("data/english_frequency.tsv.gz").read_bytes()
    table = {}
    for line in gzip.decompress(data).decode("utf-8").splitlines():
        term, zipf = line.split("\t")
        table[term] = float(zipf)
    return table


def salience(term: str, sentences_holding: int, sentences: int) -> float:
    """The weight of search term `term` found in `sentences_holding` of an archive's `sentences`."""
    zipf = english_zipf().get(term, RAREST_ZIPF)
    in_english = min(1.0, SENTENCE_WORDS * 10 ** (zipf - 9))
    share = (sentences_holding + PRIOR_SENTENCES * in_english) / (sentences + PRIOR_SENTENCES)
    return -math.log(share)
