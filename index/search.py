"""The search index: articles, their sentences, BM25 over them, and hits with citations."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from index.articles import Article, Skipped, load_articles
from index.bm25 import DEFAULT_PARAMS, Bm25, Bm25Params
from index.passages import PASSAGE_TOKENS, passage_span
from index.text import tokenize, tokenize_question

# A hit is confident when the sentence holds at least this share of the question's
# IDF mass: a question whose rare words are absent from the articles is not answered.
CONFIDENT_COVERAGE = 0.6
# BM25 candidates looked at before the final ranking.
CANDIDATES = 50
# Hostile questions stay cheap: a pasted article is read up to MAX_QUESTION_CHARS and
# searched with its first MAX_QUESTION_TOKENS tokens; k is capped at MAX_HITS.
MAX_QUESTION_CHARS = 8_000
MAX_QUESTION_TOKENS = 64
MAX_HITS = 25


@dataclass(frozen=True)
class Hit:
    """One answer: a sentence, its passage, and where it comes from."""

    article: str
    title: str
    date: str | None
    url: str | None
    sentence: int  # 1-based, within the article
    text: str
    passage: str
    score: float
    confident: bool


@dataclass(frozen=True)
class Answer:
    """What a question gets: its hits, best first, and a short answer when one is found."""

    question: str
    hits: tuple[Hit, ...]
    short_answer: str | None = None

    @property
    def confident(self) -> bool:
        return bool(self.hits) and self.hits[0].confident


@dataclass(frozen=True)
class BuildReport:
    """What a build indexed and what it skipped."""

    articles: int
    sentences: int
    tokens: int
    skipped: tuple[Skipped, ...]
    seconds: float


class EmptyIndexError(ValueError):
    """Nothing could be indexed; the message says what to do."""


@dataclass(frozen=True)
class _Location:
    article: int
    sentence: int  # 0-based


@dataclass
class SearchIndex:
    """An immutable, thread-safe index over articles' sentences."""

    articles: tuple[Article, ...]
    bm25: Bm25
    passage_tokens: int = PASSAGE_TOKENS
    _starts: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        sizes = [len(a.sentences) for a in self.articles]
        self._starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)

    @property
    def sentence_count(self) -> int:
        return int(self._starts[-1])

    def _locate(self, doc: int) -> _Location:
        article = int(np.searchsorted(self._starts, doc, side="right")) - 1
        return _Location(article, doc - int(self._starts[article]))

    def _unknown_idf(self) -> float:
        # A word found nowhere weighs as much as the rarest possible word.
        return math.log((self.bm25.doc_count + 0.5) / 0.5)

    def _coverage(self, query: set[str], sentence_tokens: set[str]) -> float:
        def weight(term: str) -> float:
            row = self.bm25.vocabulary.get(term)
            return float(self.bm25.idf[row]) if row is not None else self._unknown_idf()

        total = sum(weight(t) for t in query)
        return sum(weight(t) for t in query & sentence_tokens) / total if total else 0.0

    def ask(self, question: str, k: int = 3) -> Answer:
        """Answer `question`: the k best hits and, when one is found, a short answer."""
        return Answer(question, tuple(self.search(question, k)))

    def search(self, question: str, k: int = 3) -> list[Hit]:
        """The k best sentences sharing a term with `question`, best first."""
        tokens = tokenize_question(question[:MAX_QUESTION_CHARS])[:MAX_QUESTION_TOKENS]
        found = self.bm25.top(tokens, min(max(k, 0), MAX_HITS))
        query = set(tokens)
        hits = []
        for doc, score in zip(found.docs.tolist(), found.scores.tolist(), strict=True):
            where = self._locate(doc)
            article = self.articles[where.article]
            text = article.sentences[where.sentence]
            start, end = passage_span(article.sentences, where.sentence, self.passage_tokens)
            confident = self._coverage(query, set(tokenize(text))) >= CONFIDENT_COVERAGE
            hits.append(
                Hit(
                    article=article.id,
                    title=article.title,
                    date=article.date,
                    url=article.url,
                    sentence=where.sentence + 1,
                    text=text,
                    passage=" ".join(article.sentences[start:end]),
                    score=score,
                    confident=confident,
                )
            )
        return hits


def index_articles(articles: Sequence[Article], params: Bm25Params = DEFAULT_PARAMS) -> SearchIndex:
    """Index already-parsed articles."""
    documents = [tokenize(s) for a in articles for s in a.sentences]
    return SearchIndex(tuple(articles), Bm25.from_tokens(documents, params))


def build_index(folder: Path, params: Bm25Params = DEFAULT_PARAMS) -> tuple[SearchIndex, BuildReport]:
    """Read every article under `folder` and index it.

    Raises EmptyIndexError when the folder is missing or holds no usable article.
    """
    started = time.perf_counter()
    if not folder.is_dir():
        raise EmptyIndexError(
            f"The seeds folder {folder} does not exist: create it, or set SEEDS_DIR to your articles."
        )
    articles, skipped = load_articles(folder)
    if not articles:
        raise EmptyIndexError(f"No usable article in {folder}: add .txt or .md files there (skipped: {len(skipped)}).")
    index = index_articles(articles, params)
    report = BuildReport(
        articles=len(articles),
        sentences=index.sentence_count,
        tokens=index.bm25.token_count,
        skipped=tuple(skipped),
        seconds=time.perf_counter() - started,
    )
    return index, report
