"""Coverage the way news is written (index/ranking/coverage.py), on hand-made articles."""

from __future__ import annotations

import pytest

from index.articles.article import Article
from index.ranking.candidates import candidates
from index.ranking.features import FEATURES
from index.ranking.salience import salience
from index.serving.building import index_articles
from index.serving.search_index import SearchIndex

NIGER = (
    "Soldiers seize power in Niger",
    (
        "Soldiers detained the president of Niger on Wednesday.",
        "The vast arid country has had four coups since independence in 1960.",
        "The African regional bloc met on Thursday.",
        "The European Union called for his release.",
        "The coup was prompted by a row over the guard.",
    ),
)
OTHERS = [
    ("Floods in Spain", ("Heavy rain flooded Valencia on Tuesday.", "Rescuers reached the town by boat.")),
    ("Markets fall", ("Shares fell in London and Paris.", "Oil prices rose after the storm.")),
]


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    articles = [
        Article(f"{n}.txt", title, None, None, None, sentences, digest=str(n))
        for n, (title, sentences) in enumerate([NIGER, *OTHERS])
    ]
    return index_articles(articles)


def row(index: SearchIndex, question: str, sentence: str) -> dict[str, float]:
    found = candidates(index, None, question)
    texts = [index.sentence(int(d)) for d in found.docs]
    values = found.features[texts.index(sentence)]
    return dict(zip(FEATURES, values.tolist(), strict=True))


def test_the_title_covers_what_the_sentence_leaves_unsaid(index: SearchIndex) -> None:
    found = row(index, "How many coups has Niger had?", NIGER[1][1])
    assert found["coverage"] < 1.0  # the sentence says "the vast arid country", not Niger
    assert 0.0 < found["title"] < 1.0  # Niger's share, weighed by salience (coverage is by the archive's IDF)
    assert found["document"] == pytest.approx(1.0)
    assert found["rarest_missing"] == 0.0


def test_a_name_counts_only_as_a_whole(index: SearchIndex) -> None:
    # "African" and "Union" are both in the article, in different sentences: the African Union is not.
    found = row(index, "What did the African Union say?", NIGER[1][3])
    assert found["names_missing"] == 1.0
    assert found["names_missing_article"] == 1.0
    held = row(index, "What did the European Union say?", NIGER[1][3])
    assert held["names_missing"] == held["names_missing_article"] == 0.0


def test_a_name_elsewhere_in_the_article_is_missing_here_only(index: SearchIndex) -> None:
    found = row(index, "Did the Union detain the president on Wednesday?", NIGER[1][0])
    assert (found["names_missing"], found["names_missing_article"]) == (1.0, 0.0)  # "Union" is in sentence 4


def test_numbers_must_be_in_the_sentence_itself(index: SearchIndex) -> None:
    assert row(index, "How many coups were there by 1960?", NIGER[1][1])["numbers_missing"] == 0.0
    assert row(index, "How many coups were there by 1961?", NIGER[1][1])["numbers_missing"] == 1.0


def test_a_why_question_looks_for_a_cause(index: SearchIndex) -> None:
    assert row(index, "Why was there a coup?", NIGER[1][4])["reason_cue"] == 1.0
    assert row(index, "Why was there a coup?", NIGER[1][1])["reason_cue"] == 0.0
    assert row(index, "When was the coup?", NIGER[1][4])["reason_cue"] == 0.0


def test_a_word_no_article_holds_is_missing_at_its_full_weight(index: SearchIndex) -> None:
    # "uranium" is in no article: it weighs what English says of it, less than a name no article holds.
    sentences = index.sentence_count
    found = row(index, "Were the soldiers paid in uranium?", NIGER[1][0])
    assert found["rarest_missing"] == pytest.approx(salience("uranium", 0, sentences) / salience("", 0, sentences))
    assert row(index, "Were the soldiers paid by Tinubu?", NIGER[1][0])["rarest_missing"] == pytest.approx(1.0)
    assert 0.0 < found["document"] == found["around"] < 1.0  # the sentences either side do not hold it either
