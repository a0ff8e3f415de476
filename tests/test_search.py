from pathlib import Path

import pytest

from index import EmptyIndexError, build_index
from index.passages import count_tokens, passage_span
from tests.helpers import SEEDS, write_articles

ARTICLES = {
    "floods.txt": (
        "title: Floods in the valley\ndate: 2024-03-02\nurl: https://example.com/floods\n\n"
        "Heavy rain fell on the valley for three days. The river burst its banks on Tuesday. "
        "About 2,000 people left their homes. Volunteers filled sandbags near the bridge."
    ),
    "election.txt": (
        "title: Mayor re-elected\ndate: 2024-05-10\n\n"
        "The mayor won a second term with 61% of the vote. Turnout was the lowest in twenty years. "
        "Her rival conceded before midnight."
    ),
    "bridge.md": (
        "Bridge reopens\n\nThe old bridge reopened after repairs. Engineers replaced the steel cables. "
        "Traffic on the bridge is limited to cars."
    ),
    "harvest.txt": (
        "Farmers expect a small harvest. Rain came too late for the wheat. Prices of bread may rise in the autumn."
    ),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_articles(tmp_path_factory.mktemp("seeds"), ARTICLES)


def test_the_best_sentence_comes_first_with_its_citation(corpus: Path) -> None:
    index, report = build_index(corpus)
    assert (report.articles, report.sentences, report.skipped) == (4, 13, ())
    [hit] = index.search("When did the river burst its banks?", k=1)
    assert (hit.article, hit.title, hit.date, hit.url, hit.sentence) == (
        "floods.txt",
        "Floods in the valley",
        "2024-03-02",
        "https://example.com/floods",
        2,
    )
    assert hit.text == "The river burst its banks on Tuesday."
    assert hit.confident


def test_hits_are_ranked_by_score_and_only_share_a_term(corpus: Path) -> None:
    index, _ = build_index(corpus)
    hits = index.search("bridge cables", k=5)
    # 13 sentences: "cabl" is in one (IDF ln(12.5/1.5)), "bridg" in three (IDF ln(10.5/3.5)); the three
    # bridge sentences of four tokens tie and keep their order, the five-token one comes after them.
    assert [(h.article, h.sentence) for h in hits] == [
        ("bridge.md", 2),
        ("bridge.md", 1),
        ("bridge.md", 3),
        ("floods.txt", 4),
    ]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert index.search("quantum chromodynamics", k=5) == []


def test_a_question_about_nothing_in_the_articles_is_not_confident() -> None:
    index, _ = build_index(SEEDS)
    hits = index.search("What is the capital of Australia?", k=3)
    assert hits, "'capital' is in the seed, so there is a weak match"
    assert not any(h.confident for h in hits)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who is in charge?", "It is not clear at the moment who is really in charge of Niger."),
        ("Who condemned it?", "The US and France, the former colonial power, both have military bases"),
        ("How many coups?", "The vast arid country on the edge of the Sahara desert"),
    ],
)
def test_the_three_specified_questions_find_their_sentence_first(question: str, expected: str) -> None:
    index, _ = build_index(SEEDS)
    best = index.search(question, k=3)[0]
    assert best.text.startswith(expected)
    assert best.confident
    assert best.text in best.passage


def test_a_passage_grows_around_the_sentence_within_the_budget() -> None:
    sentences = ["One two three.", "Four five six.", "Seven eight nine.", "Ten eleven twelve."]
    cost = count_tokens(sentences[0])
    assert [count_tokens(s) for s in sentences] == [cost] * 4
    assert passage_span(sentences, 2, budget=cost) == (2, 3)
    assert passage_span(sentences, 2, budget=2 * cost) == (1, 3)
    assert passage_span(sentences, 2, budget=3 * cost) == (1, 4)
    assert passage_span(sentences, 0, budget=3 * cost) == (0, 3)
    # The matched sentence is whole even when it alone is over budget.
    assert passage_span(sentences, 1, budget=1) == (1, 2)


def test_an_empty_or_missing_folder_is_an_error_that_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(EmptyIndexError, match=r"does not exist: create it, or set SEEDS_DIR"):
        build_index(tmp_path / "missing")
    with pytest.raises(EmptyIndexError, match=r"No usable article in .*: add \.txt or \.md files there"):
        build_index(tmp_path)
