"""The sparse BM25 engine against rank-bm25's BM25Okapi, the reference."""

from __future__ import annotations

import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

import index.storage.bm25
from index import Article, index_articles
from index.articles.text import tokenize
from index.storage.bm25 import DEFAULT_PARAMS, TIE_DECIMALS, Bm25

P = DEFAULT_PARAMS


def zipf_articles(seed: int, articles: int, vocabulary: int = 400) -> list[Article]:
    """Articles of sentence-length documents over a Zipf-distributed vocabulary."""
    rng = random.Random(seed)
    words = [f"w{n}x" for n in range(vocabulary)]
    weights = [1 / (rank + 1) for rank in range(vocabulary)]
    made = []
    for a in range(articles):
        sentences = tuple(
            " ".join(rng.choices(words, weights, k=rng.randint(3, 14))).capitalize() + "."
            for _ in range(rng.randint(1, 30))
        )
        made.append(Article(f"a{a:03d}.txt", f"Article {a}", None, None, None, sentences, f"{a:064x}"))
    return made


def reference_top(scores: np.ndarray, touched: np.ndarray, k: int) -> list[int]:
    """rank-bm25 has no top-k: best score first, ties (to TIE_DECIMALS) in document order."""
    return touched[np.lexsort((touched, -np.round(scores[touched], TIE_DECIMALS)))][:k].tolist()


@pytest.fixture(scope="module")
def corpus() -> tuple[Bm25, BM25Okapi, list[list[str]]]:
    articles = zipf_articles(seed=7, articles=60)
    documents = [tokenize(s) for a in articles for s in a.sentences]
    index = index_articles(articles)
    return index.bm25, BM25Okapi(documents, k1=P.k1, b=P.b, epsilon=P.epsilon), documents


def queries(seed: int, count: int) -> list[list[str]]:
    rng = random.Random(seed)
    terms = [f"w{n}x" for n in range(420)]  # the last 20 are in no article
    weights = [1 / (rank + 1) ** 0.7 for rank in range(420)]
    return [rng.choices(terms, weights, k=rng.randint(1, 6)) for _ in range(count)]


def test_scores_equal_rank_bm25_on_a_multi_article_corpus(corpus: tuple[Bm25, BM25Okapi, list[list[str]]]) -> None:
    bm25, reference, documents = corpus
    assert bm25.doc_count == len(documents) > 500
    for query in queries(seed=1, count=300):
        assert np.abs(bm25.scores(query) - reference.get_scores(query)).max() < 1e-6


@pytest.mark.parametrize("k", [1, 3, 10, 40])
def test_top_k_equals_rank_bm25_ties_included(corpus: tuple[Bm25, BM25Okapi, list[list[str]]], k: int) -> None:
    bm25, reference, documents = corpus
    vocabularies = [set(d) for d in documents]
    compared = 0
    for query in queries(seed=2 + k, count=300):
        scores = reference.get_scores(query)
        touched = np.flatnonzero([not terms.isdisjoint(query) for terms in vocabularies])
        found = bm25.top(query, k)
        assert found.docs.tolist() == reference_top(scores, touched, k)
        assert np.abs(found.scores - scores[found.docs]).max(initial=0) < 1e-6
        compared += len(touched) > k
    assert compared > 100  # most questions touch more sentences than k


@pytest.mark.parametrize("k", [1, 5, 40])
def test_top_k_within_a_range_of_documents_is_the_whole_indexs_ranking_cut_to_it(
    corpus: tuple[Bm25, BM25Okapi, list[list[str]]], k: int
) -> None:
    """One article's sentences (`within`) are scored with the whole index's IDF, as rank-bm25 scores them."""
    bm25, reference, documents = corpus
    vocabularies = [set(d) for d in documents]
    rng = random.Random(k)
    for query in queries(seed=20 + k, count=200):
        first = rng.randrange(len(documents))
        end = min(len(documents), first + rng.randint(0, 40))
        scores = reference.get_scores(query)
        touched = np.array([n for n in range(first, end) if not vocabularies[n].isdisjoint(query)], dtype=np.int64)
        found = bm25.top(query, k, within=(first, end))
        assert found.docs.tolist() == reference_top(scores, touched, k)
        assert np.abs(found.scores - scores[found.docs]).max(initial=0) < 1e-6


def test_negative_idf_is_floored_like_rank_bm25() -> None:
    # "common" is in 4 of 5 documents: its raw IDF is negative, so both use epsilon * mean IDF.
    documents = [["common", "a"], ["common", "b"], ["common", "c"], ["common", "d"], ["e"]]
    bm25 = Bm25.from_tokens(documents)
    reference = BM25Okapi(documents, k1=P.k1, b=P.b, epsilon=P.epsilon)
    raw = {t: np.log(5 - n + 0.5) - np.log(n + 0.5) for t, n in {"common": 4, "a": 1, "e": 1}.items()}
    assert raw["common"] < 0
    floor = P.epsilon * np.mean([raw["common"], *[raw["a"]] * 5])  # six terms: common, a, b, c, d, e
    assert bm25.idf[bm25.vocabulary["common"]] == pytest.approx(floor, abs=1e-12)
    assert reference.idf["common"] == pytest.approx(floor, abs=1e-12)
    assert np.abs(bm25.scores(["common"]) - reference.get_scores(["common"])).max() < 1e-9
    assert bm25.top(["common"], 5).docs.tolist() == [0, 1, 2, 3]


def test_a_repeated_query_word_counts_each_time() -> None:
    documents = [["coup", "niger"], ["coup"], ["niger", "niger", "army"], ["army"]]
    bm25 = Bm25.from_tokens(documents)
    reference = BM25Okapi(documents, k1=P.k1, b=P.b, epsilon=P.epsilon)
    once, twice = bm25.scores(["niger"]), bm25.scores(["niger", "niger"])
    assert np.allclose(twice, 2 * once)
    assert np.abs(twice - reference.get_scores(["niger", "niger"])).max() < 1e-9
    assert np.allclose(
        bm25.top(["niger", "army", "niger"], 3).scores, reference.get_scores(["niger", "army", "niger"])[[2, 0, 3]]
    )


def test_unknown_words_score_nothing() -> None:
    bm25 = Bm25.from_tokens([["coup"], ["army"]])
    assert len(bm25.top(["zebra"], 3).docs) == 0
    assert bm25.scores(["zebra"]).tolist() == [0.0, 0.0]
    assert bm25.top(["zebra", "army", "okapi"], 3).docs.tolist() == [1]
    assert len(bm25.top([], 3).docs) == 0
    assert len(bm25.top(["army"], 0).docs) == 0


def test_ties_come_in_document_order_whatever_k() -> None:
    # 30 identical sentences and one better one: the threshold logic must keep the lowest ids.
    documents = [["alpha", "beta", "pad"]] * 30 + [["alpha", "beta"]] + [["gamma"]] * 40
    bm25 = Bm25.from_tokens(documents)
    assert bm25.top(["beta", "alpha"], 4).docs.tolist() == [30, 0, 1, 2]
    assert bm25.top(["alpha"], 3).docs.tolist() == [30, 0, 1]
    assert bm25.top(["beta", "alpha", "gamma"], 31).docs.tolist()[:3] == [30, 0, 1]


def test_rounding_noise_does_not_reorder_ties() -> None:
    # a, b and c have the same IDF and the same length norm in documents 0-2: the three
    # scores are equal, but summed in query order they differ in the last bit.
    documents = [["a"] + ["b"] * 2 + ["c"] * 4, ["a"] * 4 + ["b"] * 2 + ["c"], ["a"] * 2 + ["b"] * 4 + ["c"]]
    bm25 = Bm25.from_tokens(documents + [["d"] * 7] * 6)
    raw = bm25.scores(["b", "c", "a"])
    assert raw[2] > raw[0] == raw[1]  # the noise this test is about
    assert raw[2] - raw[0] < 1e-12
    assert bm25.top(["b", "c", "a"], 3).docs.tolist() == [0, 1, 2]
    assert bm25.top(["b", "c", "a"], 1).docs.tolist() == [0]


def test_top_is_thread_safe() -> None:
    from concurrent.futures import ThreadPoolExecutor

    articles = zipf_articles(seed=3, articles=40)
    bm25 = index_articles(articles).bm25
    asked = queries(seed=9, count=200)
    expected = [bm25.top(q, 5).docs.tolist() for q in asked]
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda q: bm25.top(q, 5).docs.tolist(), asked * 3))
    assert found == expected * 3


def test_questions_asked_in_turn_from_many_threads_share_one_accumulator() -> None:
    """One accumulator is a float per sentence (7.6 MB at 950,000): not one per thread that ever asked."""
    import threading

    bm25 = index_articles(zipf_articles(seed=4, articles=10)).bm25
    for question in queries(seed=5, count=6):  # each in a thread of its own, one after the other
        asker = threading.Thread(target=bm25.top, args=(question, 5))
        asker.start()
        asker.join()
    assert bm25.accumulators == 1
    fresh = index_articles(zipf_articles(seed=4, articles=10)).bm25
    asked = queries(seed=6, count=6)
    assert [bm25.top(q, 5).docs.tolist() for q in asked] == [fresh.top(q, 5).docs.tolist() for q in asked]


def test_each_tokens_document_is_found_in_slices_as_np_repeat_finds_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index.storage.bm25, "REPEAT_SLICE", 3)
    for lengths in ([], [0], [4], [2, 0, 3], [0, 0, 1, 5, 0, 2, 2, 7], [3] * 10):
        sizes = np.array(lengths, dtype=np.int64)
        expected = np.repeat(np.arange(len(sizes)), sizes)
        assert index.storage.bm25._document_of_each_token(sizes).tolist() == expected.tolist()
