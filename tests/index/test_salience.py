"""A word's weight: its rarity in the archive, smoothed toward English (index/ranking/salience.py)."""

from __future__ import annotations

import math

import pytest

from index.articles.text import tokenize
from index.ranking.salience import PRIOR_SENTENCES, english_zipf, salience


def test_in_a_small_archive_english_says_which_missing_words_matter() -> None:
    # Asked of one 33-sentence article that holds none of them: "become" is common English, "uranium" is
    # not, and a name wordfreq does not know is as rare as a word can be.
    become, uranium, tinubu = (salience(term, 0, 33) for term in ("becom", "uranium", "tinubu"))
    assert become < uranium < tinubu
    assert tinubu == pytest.approx(-math.log(PRIOR_SENTENCES * 20 * 10**-8 / (33 + PRIOR_SENTENCES)))


def test_in_a_large_archive_the_archive_decides() -> None:
    # 1,000 of 10 million sentences: the English prior moves the weight by less than 0.01.
    assert salience("coup", 1_000, 10_000_000) == pytest.approx(math.log(10_000), abs=0.01)
    assert salience("becom", 1_000, 10_000_000) == pytest.approx(math.log(10_000), abs=0.05)


def test_the_table_holds_search_terms_as_the_tokenizer_makes_them() -> None:
    table = english_zipf()
    assert len(table) > 30_000
    assert table["becom"] == 5.4 and table["peopl"] == 6.25
    assert tokenize("Russians") == ["russia"] and "russia" in table and "russian" not in table
    assert all(tokenize(word)[0] in table for word in ("became", "killed", "independence", "Nigeriens", "elections"))
