import math
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index import (
    ClosedIndex,
    EmptyIndexError,
    UnknownArticle,
    VectorStore,
    build_index,
    index_articles,
    parse_article,
)
from index.articles.text import tokenize_question
from index.storage.passages import count_tokens, count_tokens_each, passage_span
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


def test_one_articles_search_is_the_whole_indexs_limited_to_its_sentences(corpus: Path) -> None:
    index, _ = build_index(corpus)
    question = "When did the river burst its banks?"
    [best] = index.search(question, 1)
    assert index.search(question, 1, article="floods.txt") == [best]  # the same hit: score, confidence, passage
    # "rain" is in floods.txt and harvest.txt: within harvest.txt its BM25 weight is the whole archive's
    # (an index of that article alone would give it another IDF, and another confidence).
    found = index.candidates("Was the rain too late for the wheat?", article="harvest.txt")
    assert index.article_sentences("harvest.txt") == (10, 13)
    assert found.docs.tolist() == [11]
    terms = tokenize_question("Was the rain too late for the wheat?")
    assert found.bm25.tolist() == index.bm25.scores(terms)[[11]].tolist()
    hits = index.search("Was the rain too late for the wheat?", 3, article="harvest.txt")
    assert [(h.article, h.sentence, h.confident) for h in hits] == [("harvest.txt", 2, True)]
    assert index.search("bridge cables", 3, article="harvest.txt") == []  # its words are in other articles only
    with pytest.raises(UnknownArticle):
        index.ask(question, 1, article="gone.txt")


def test_a_closed_index_raises_instead_of_answering_nothing(corpus: Path) -> None:
    index, _ = build_index(corpus, use_cache=False)
    article = index.articles[0]
    index.close()
    index.close()  # closing again does nothing
    assert index.closed
    for read in (
        lambda: index.ask("When did the river burst its banks?"),
        lambda: index.search("river", 1),
        lambda: index.search("river", 1, article="floods.txt"),
        lambda: index.articles,
        lambda: index.article_digests(),
        lambda: index.sentence(0),
        lambda: article.sentences[0],
    ):
        with pytest.raises(ClosedIndex):
            read()


def test_sentence_vectors_are_attached_once(tmp_path: Path) -> None:
    index = index_articles([parse_article("a.txt", b"One sentence here. Another one there.")])
    store = VectorStore(tmp_path / "vectors", "test-model", 4)
    stage = index.attach_vectors(store, lambda texts: np.zeros((len(texts), 4), dtype=np.float32))
    assert index.semantic is stage
    with pytest.raises(RuntimeError, match="attached to this index already"):
        index.attach_vectors(store, lambda texts: np.zeros((len(texts), 4), dtype=np.float32))
    assert index.semantic is stage


def test_the_articles_are_made_once_when_many_threads_ask_at_once(corpus: Path) -> None:
    index, _ = build_index(corpus, use_cache=False)
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda _: index.articles, range(32)))
    assert all(articles is made[0] for articles in made)
    assert [a.id for a in made[0]] == ["bridge.md", "election.txt", "floods.txt", "harvest.txt"]


def test_bm25_ranks_by_hand_checkable_scores_and_only_sentences_sharing_a_term(corpus: Path) -> None:
    index, _ = build_index(corpus)
    found = index.bm25.top(tokenize_question("bridge cables"), 5)
    # 13 sentences: "cabl" is in one (IDF ln(12.5/1.5)), "bridg" in three (IDF ln(10.5/3.5)); the three
    # bridge sentences of four tokens tie and keep their order, the five-token one comes after them.
    # Sentences are numbered in article order (bridge.md 0-2, election.txt 3-5, floods.txt 6-9); 58 tokens.
    assert index.bm25.token_count == 58
    assert found.docs.tolist() == [1, 0, 2, 9]
    cable, bridge = math.log(12.5 / 1.5), math.log(10.5 / 3.5)
    assert found.scores[0] == pytest.approx(cable * 1.9 / (1 + 0.9 * (0.6 + 0.4 * 4 / (58 / 13))))
    assert found.scores[3] == pytest.approx(bridge * 1.9 / (1 + 0.9 * (0.6 + 0.4 * 5 / (58 / 13))))
    hits = index.search("bridge cables", k=5)
    assert (hits[0].article, hits[0].sentence) == ("bridge.md", 2)
    assert sorted((h.article, h.sentence) for h in hits) == [
        ("bridge.md", 1),
        ("bridge.md", 2),
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
    costs = [count_tokens(s) for s in sentences]
    cost = costs[0]
    assert costs == [cost] * 4
    assert passage_span(costs, 2, budget=cost) == (2, 3)
    assert passage_span(costs, 2, budget=2 * cost) == (1, 3)
    assert passage_span(costs, 2, budget=3 * cost) == (1, 4)
    assert passage_span(costs, 0, budget=3 * cost) == (0, 3)
    # The matched sentence is whole even when it alone is over budget.
    assert passage_span(costs, 1, budget=1) == (1, 2)


def test_the_index_stores_each_sentences_tiktoken_count(tmp_path: Path) -> None:
    index, report = build_index(SEEDS, cache_dir=tmp_path)
    [article] = index.articles
    stored = index.budget_tokens(0, report.sentences).tolist()
    assert len(stored) == len(article.sentences) == report.sentences > 20
    assert stored == [count_tokens(s) for s in article.sentences]
    assert count_tokens_each(list(article.sentences)).tolist() == stored
    # An index of one article, as `/ask article:` makes, takes the counts from the file; one of parsed text counts them.
    for sentences in (article.sentences, tuple(article.sentences)):
        one = index_articles([replace(article, sentences=sentences)])
        assert one.budget_tokens(0, one.sentence_count).tolist() == stored


def test_answering_in_a_fresh_process_never_loads_tiktoken(tmp_path: Path) -> None:
    index, _ = build_index(SEEDS, cache_dir=tmp_path)  # saves the index the fresh process maps
    expected = index.search("How many coups?", k=1)[0].passage
    script = (
        "import sys\n"
        "from dataclasses import replace\n"
        "from pathlib import Path\n"
        "from index import build_index, index_articles\n"
        f"index, report = build_index(Path({str(SEEDS)!r}), cache_dir=Path({str(tmp_path)!r}))\n"
        "whole = index.search('How many coups?', k=1)[0].passage\n"
        "one = index_articles(index.articles).search('How many coups?', k=1)[0].passage\n"
        "print(report.from_cache, whole == one, 'tiktoken' in sys.modules)\n"
        "print(whole)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout == f"True True False\n{expected}\n"


def test_a_hit_knows_where_its_sentence_sits_in_its_passage(tmp_path: Path) -> None:
    # The third sentence repeats the first: its passage holds its words twice, and the hit points at its own.
    seeds = write_articles(tmp_path, {"a.txt": "Prices rose. Wages fell in March. Prices rose."})
    index, _ = build_index(seeds, use_cache=False)
    hits = {hit.sentence: hit for hit in index.search("Prices rose", 3)}
    assert sorted(hits) == [1, 3]
    for hit in hits.values():
        assert hit.passage == "Prices rose. Wages fell in March. Prices rose."
    assert (hits[1].offset, hits[3].offset) == (0, len("Prices rose. Wages fell in March. "))


def test_an_empty_or_missing_folder_is_an_error_that_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(EmptyIndexError, match=r"does not exist: create it, or set SEEDS_DIR"):
        build_index(tmp_path / "missing")
    with pytest.raises(EmptyIndexError, match=r"No usable article in .*: add \.txt or \.md files there"):
        build_index(tmp_path)
