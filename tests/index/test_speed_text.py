"""The build's batch tokenizer gives exactly the tokens of `tokenize`, sentence by sentence."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import index.articles.text
from index.articles.text import normalise, tokenize, tokens_end_to_end, words

SEED = Path(__file__).resolve().parent.parent.parent / "seeds" / "000_eed0d9b0ce39977c.txt"
# Letters that fold, join or split words: underscores, apostrophes, final sigma, dotted I,
# combining accents, full-width digits, zero-width marks, line breaks, and stop words.
TRICKY = st.text(alphabet="ab_'’ ΣσςİI\u0301é1２\u200b-.\t\nthe", max_size=12)


def expected(texts: list[str]) -> tuple[list[str], list[int]]:
    per_text = [tokenize(t) for t in texts]
    return [t for tokens in per_text for t in tokens], [len(tokens) for tokens in per_text]


def test_the_seed_sentences_tokenize_alike() -> None:
    sentences = SEED.read_text(encoding="utf-8").split(".")
    assert tokens_end_to_end(sentences) == expected(sentences)
    assert sum(tokens_end_to_end(sentences)[1]) > 300


@given(st.lists(TRICKY, max_size=5))
def test_any_texts_tokenize_alike(texts: list[str]) -> None:
    assert tokens_end_to_end(texts) == expected(texts)


@given(TRICKY)
def test_words_split_at_underscores_as_before(text: str) -> None:
    assert words(text) == re.findall(r"[^\W_]+(?:'[^\W_]+)*", normalise(text))


@given(st.text(alphabet='ab .!?“”"’MrSt\u00e9\u4e2d', max_size=400))
def test_the_buffered_splitter_equals_blingfire(text: str) -> None:
    import blingfire

    from index.articles.text import _text_to_sentences

    assert _text_to_sentences(text) == blingfire.text_to_sentences(text)


def test_a_long_paragraph_after_a_short_one_is_split_alike() -> None:
    import blingfire

    from index.articles.text import _text_to_sentences

    long = "Mr. Smith went home. “It is late. Very late,” he said. Done! " * 3000
    for text in ("Short one. Two.", long, "Tiny.", long[:5000], "x"):
        assert _text_to_sentences(text) == blingfire.text_to_sentences(text)


def test_the_word_cache_is_emptied_when_full_and_answers_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index.articles.text, "TOKEN_CACHE_WORDS", 5)
    monkeypatch.setattr(index.articles.text, "_token_of", {})
    first, second = ["Alpha beta", "the gamma"], ["Delta running", "delta zeta"]
    assert tokens_end_to_end(first) == expected(first) == (["alpha", "beta", "gamma"], [2, 1])
    assert set(index.articles.text._token_of) == {"alpha", "beta", "the", "gamma"}
    assert tokens_end_to_end(second) == expected(second) == (["delta", "run", "delta", "zeta"], [2, 2])
    assert set(index.articles.text._token_of) == {"delta", "running", "zeta"}  # 4 + 3 > 5: emptied first
