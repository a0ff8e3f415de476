"""Hostile questions and arbitrary text: the core never raises and stays within its limits."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tests.hypothesis_profile  # noqa: F401  (loads the suite's hypothesis settings)
from index import SearchIndex, build_index
from index.answers.results import MAX_HITS
from index.articles.text import (
    MAX_SENTENCE_CHARS,
    MAX_TOKEN_CHARS,
    normalise,
    split_sentences,
    tokenize,
    tokenize_question,
)
from index.ranking.question import MAX_QUESTION_CHARS, MAX_QUESTION_TOKENS
from index.storage.passages import count_tokens, count_tokens_each, passage_span

SEEDS = Path(__file__).parent.parent.parent / "seeds"

# Any code point, lone surrogates included (JSON from Discord can carry them), weighted towards
# the characters text handling is most likely to trip on.
TRICKY = "  \n\n\t\r.!?;:,'\"“”«»‘’()[]`*_~@#<>&/\\-–—…0123456789aAeéİıßﬁ\u200b\u200d\u202e\u2066\ufeff\x00\x1b\x85"
any_char = st.characters(exclude_categories=())
texts = st.text(st.one_of(any_char, st.sampled_from(TRICKY)), max_size=400)
long_texts = st.text(st.one_of(any_char, st.sampled_from(TRICKY)), min_size=900, max_size=3_000)


@pytest.fixture(scope="module")
def seed_index() -> SearchIndex:
    index, _ = build_index(SEEDS)
    return index


def _plain(question: str, seed_index: SearchIndex) -> list[tuple[str, int]]:
    return [(h.article, h.sentence) for h in seed_index.search(question, 3)]


@pytest.mark.parametrize(
    "question",
    ["", " ", "\n\t \u3000", "the of and is it", "who what when where why how", "🤔🇳🇪🔥", "\u200b\u200d\ufeff"],
)
def test_questions_without_searchable_words_get_no_hits(question: str, seed_index: SearchIndex) -> None:
    answer = seed_index.ask(question)
    assert answer.hits == ()
    assert not answer.confident


@pytest.mark.parametrize(
    "dressed",
    [
        "@everyone Who is in charge of Niger?",
        "<@&1234567890> Who is in charge of Niger? <@!42>",
        "```\nWho is in charge of Niger?\n```",
        "**Who** is _in charge_ of `Niger`?",
        "Who is in cha\u200brge of Ni\u200dger?",
        "\u202eWho is in charge of Niger?\u202c",
        "🤔 Who is in charge of Niger? 🇳🇪",
        "WHO IS IN CHARGE OF NIGER???",
    ],
)
def test_dressed_up_questions_find_what_the_plain_question_finds(dressed: str, seed_index: SearchIndex) -> None:
    plain = _plain("Who is in charge of Niger?", seed_index)
    assert plain  # the seed answers it
    assert _plain(dressed, seed_index) == plain


def test_user_and_role_ids_add_only_digits_to_the_question(seed_index: SearchIndex) -> None:
    assert tokenize_question("<@&1234567890> <@!42> <#99>") == ["1234567890", "42", "99"]


def test_questions_in_other_scripts_and_urls_do_not_raise(seed_index: SearchIndex) -> None:
    assert seed_index.search("Кто руководит Нигером?") == []
    assert seed_index.search("谁在负责尼日尔？") == []
    hits = seed_index.search("https://example.com/news/niger-coup?ref=bazoum#top")
    assert hits and all("Niger" in h.passage or "Bazoum" in h.passage or "coup" in h.passage for h in hits)


def test_a_6000_character_question_costs_a_bounded_amount_of_work(
    seed_index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    import index.ranking.question
    from index.storage.bm25 import Bm25

    read: list[int] = []  # characters tokenized, per call
    searched: list[int] = []  # terms looked up in the postings, per call
    real_tokenize, real_top = index.ranking.question.tokenize_question, Bm25.top

    def counting_tokenize(text: str) -> list[str]:
        read.append(len(text))
        return real_tokenize(text)

    def counting_top(self: Bm25, tokens: list[str], k: int, *rest: object):  # type: ignore[no-untyped-def]
        searched.append(len(tokens))
        return real_top(self, tokens, k, *rest)

    monkeypatch.setattr(index.ranking.question, "tokenize_question", counting_tokenize)
    monkeypatch.setattr(Bm25, "top", counting_top)
    question = ("Who took President Bazoum captive in the coup in Niger and why did France object? " * 80)[:6_000]
    hits = seed_index.search(question, 5)
    assert read and max(read) <= MAX_QUESTION_CHARS
    assert searched == [MAX_QUESTION_TOKENS]  # the question's first tokens only, looked up once
    assert 1 <= len(hits) <= 5
    # A pasted article is searched by its first tokens only: the same hits as its start.
    assert [(h.article, h.sentence) for h in hits] == [
        (h.article, h.sentence) for h in seed_index.search(question * 3, 5)
    ]


def test_k_is_capped(seed_index: SearchIndex) -> None:
    assert len(seed_index.search("Niger coup France president army", 10**9)) <= MAX_HITS
    assert seed_index.search("Niger", -5) == []


@given(texts)
def test_tokenizers_accept_any_text(text: str) -> None:
    for tokens in (tokenize(text), tokenize_question(text)):
        assert all(isinstance(t, str) and 0 < len(t) <= MAX_TOKEN_CHARS for t in tokens)
    assert set(tokenize_question(text)) <= set(tokenize(text))
    normalised = normalise(text)
    assert "\u200b" not in normalised and "\u202e" not in normalised


# Unicode's Bidi_Control characters.
DIRECTION_CONTROLS = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@pytest.mark.slow
@given(st.one_of(texts, long_texts))
def test_sentences_of_any_text_are_clean_bounded_and_lose_nothing(text: str) -> None:
    sentences = split_sentences(text)
    for sentence in sentences:
        assert 0 < len(sentence) <= MAX_SENTENCE_CHARS
        assert sentence == sentence.strip()
        assert not any(unicodedata.category(c) in ("Cc", "Cs") or c in DIRECTION_CONTROLS for c in sentence)
        sentence.encode("utf-8")  # what blingfire, logs and Discord need
    # No visible character is dropped or invented (controls become spaces, surrogates U+FFFD,
    # direction controls are dropped: they would reorder what follows them on screen).
    visible = "".join(
        "\ufffd" if unicodedata.category(c) == "Cs" else c
        for c in text
        if not c.isspace() and unicodedata.category(c) != "Cc" and c not in DIRECTION_CONTROLS
    )
    assert "".join(s.replace(" ", "") for s in sentences) == visible.replace(" ", "")


@given(st.lists(st.text(any_char, min_size=1, max_size=200), min_size=1, max_size=8), st.data())
def test_passage_span_holds_the_sentence_within_budget(sentences: list[str], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(sentences) - 1))
    budget = data.draw(st.integers(0, 300))
    costs = [count_tokens(s) for s in sentences]
    assert count_tokens_each(sentences).tolist() == costs
    start, end = passage_span(costs, index, budget)
    assert 0 <= start <= index < end <= len(sentences)
    if end - start > 1:
        assert sum(costs[start:end]) <= budget


@given(texts, st.integers(-3, 40))
def test_search_accepts_any_question(seed_index: SearchIndex, question: str, k: int) -> None:
    hits = seed_index.search(question, k)
    assert len(hits) <= max(0, min(k, MAX_HITS))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    for hit in hits:
        article = next(a for a in seed_index.articles if a.id == hit.article)
        assert article.sentences[hit.sentence - 1] == hit.text
        assert hit.text in hit.passage
