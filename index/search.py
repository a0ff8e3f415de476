"""The search index: articles, their sentences, BM25 over them, and hits with citations."""

from __future__ import annotations

import math
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from index import store
from index.answers import short_answer
from index.articles import Article, Skipped
from index.bm25 import DEFAULT_PARAMS, Bm25, Bm25Params
from index.build import TermIds, build
from index.passages import PASSAGE_TOKENS, passage_span
from index.progress import Progress
from index.rerank import CONTEXT_SENTENCES, FEATURES, Query, feature_row, rerank_scores
from index.text import printable, tokenize, tokenize_question

# A hit is confident when the sentence and its two neighbours hold at least this share
# of the question's IDF mass: a question whose rare words are absent is not answered.
# On SQuAD (see README) 0.55 keeps 99.9% of questions asked of the unrelated seed article
# unconfident and makes 92.6% of right first answers confident.
CONFIDENT_COVERAGE = 0.55
_COVERAGE, _NEAR = FEATURES.index("coverage"), FEATURES.index("near")
# BM25 candidates looked at before the final ranking.
CANDIDATES = 50
# Hostile questions stay cheap: a pasted article is read up to MAX_QUESTION_CHARS and
# searched with its first MAX_QUESTION_TOKENS tokens; k is capped at MAX_HITS.
MAX_QUESTION_CHARS = 8_000
MAX_QUESTION_TOKENS = 64
MAX_HITS = 100


def _question_terms(question: str) -> list[str]:
    return tokenize_question(question[:MAX_QUESTION_CHARS])[:MAX_QUESTION_TOKENS]


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
    from_cache: bool = False  # reloaded from the saved index, not built
    cache_file: Path | None = None  # where the index is saved (None: not saved)


class EmptyIndexError(ValueError):
    """Nothing could be indexed; the message says what to do."""


@dataclass(frozen=True)
class Candidates:
    """BM25's best sentences for a question (ranked by raw BM25), with their re-ranking features."""

    query: Query
    docs: npt.NDArray[np.int64]
    bm25: npt.NDArray[np.float64]
    features: npt.NDArray[np.float64]  # one row per candidate, columns in rerank.FEATURES order


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

    def _idf(self, term: str) -> float:
        row = self.bm25.vocabulary.get(term)
        return float(self.bm25.idf[row]) if row is not None else self._unknown_idf()

    def query(self, question: str) -> Query:
        """The question as the re-ranker reads it, with every term's IDF here."""
        question = question[:MAX_QUESTION_CHARS]
        return Query.of(question, {t: self._idf(t) for t in _question_terms(question)})

    def candidates(self, question: str, at_least: int = CANDIDATES) -> Candidates:
        """BM25's best CANDIDATES (or `at_least`) sentences for `question`, with their re-ranking features."""
        query = self.query(question)
        found = self.bm25.top(_question_terms(question), max(at_least, CANDIDATES))
        best = float(found.scores[0]) if len(found.scores) else 0.0
        tokens: dict[int, list[str]] = {}  # each sentence read once per question, by index number

        def tokens_of(sentences: tuple[str, ...], first: int, n: int) -> list[str]:
            if first + n not in tokens:
                tokens[first + n] = tokenize(sentences[n])
            return tokens[first + n]

        rows = []
        for doc, score in zip(found.docs.tolist(), found.scores.tolist(), strict=True):
            where = self._locate(doc)
            sentences, first, at = self.articles[where.article].sentences, doc - where.sentence, where.sentence
            around = [n for step in range(1, CONTEXT_SENTENCES + 1) for n in (at - step, at + step)]
            neighbours = [tokens_of(sentences, first, n) for n in around if 0 <= n < len(sentences)]
            previous = tokens_of(sentences, first, at - 1) if at > 0 else []
            own, lead = tokens_of(sentences, first, at), tokens_of(sentences, first, 0)
            rows.append(feature_row(query, sentences[at], own, previous, neighbours, lead, score, best))
        features = np.array(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))
        return Candidates(query, found.docs, found.scores, features)

    def ask(self, question: str, k: int = 3) -> Answer:
        """Answer `question`: the k best hits and, when one is found, a short answer."""
        hits = tuple(self.search(question, k))
        short = None
        if hits and hits[0].confident:
            short = short_answer(question, hits[0].text)
        return Answer(question, hits, short)

    def search(self, question: str, k: int = 3) -> list[Hit]:
        """The k best sentences sharing a term with `question`, best first."""
        k = min(max(k, 0), MAX_HITS)
        found = self.candidates(question, k)
        scores = rerank_scores(found.features)
        order = np.lexsort((found.docs, -scores))[:k]
        hits = []
        for position in order.tolist():
            doc, score = int(found.docs[position]), float(scores[position])
            where = self._locate(doc)
            article = self.articles[where.article]
            text = article.sentences[where.sentence]
            start, end = passage_span(article.sentences, where.sentence, self.passage_tokens)
            evidence = found.features[position, _COVERAGE] + found.features[position, _NEAR]
            confident = bool(evidence >= CONFIDENT_COVERAGE - 1e-9)
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
    terms = TermIds()
    for article in articles:
        terms.add(article.sentences)
    return SearchIndex(tuple(articles), Bm25.from_term_ids(terms.vocabulary, *terms.arrays(), params))


# Skipped files named when a folder has no usable article; the rest are counted.
SKIPPED_SHOWN = 10


def _check_folder(folder: Path) -> None:
    shown = printable(str(folder))
    try:
        is_folder = stat.S_ISDIR(folder.stat().st_mode)
    except FileNotFoundError:
        raise EmptyIndexError(
            f"The seeds folder {shown} does not exist: create it, or set SEEDS_DIR to your articles."
        ) from None
    except OSError as error:
        raise EmptyIndexError(f"The seeds folder {shown} cannot be read ({error.strerror or error}).") from None
    if not is_folder:
        raise EmptyIndexError(
            f"The seeds folder {shown} is a file, not a folder: give the folder that holds the articles."
        )


def _nothing_usable(folder: Path, skipped: Sequence[Skipped]) -> str:
    message = f"No usable article in {printable(str(folder))}: add .txt or .md files there"
    if not skipped:
        return message + "."
    these = f"these {len(skipped):,} files" if len(skipped) > 1 else "this file"
    lines = [f"{message}, or fix {these}:"]
    lines.extend(f"  {s.path}: {s.reason}" for s in skipped[:SKIPPED_SHOWN])
    if len(skipped) > SKIPPED_SHOWN:
        lines.append(f"  … and {len(skipped) - SKIPPED_SHOWN:,} more.")
    return "\n".join(lines)


def build_index(
    folder: Path,
    params: Bm25Params = DEFAULT_PARAMS,
    *,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    workers: int | None = None,
    progress: Progress | None = None,
) -> tuple[SearchIndex, BuildReport]:
    """Read every article under `folder` and index it, or reload the saved index if no article changed.

    The saved index lives in `cache_dir`, else $INDEX_CACHE_DIR, else the user's cache folder;
    `use_cache=False` neither reads nor writes it. `workers` processes parse the articles
    (default: one per core for big folders, none for small ones). `progress` is told how far
    each stage is (default: log lines). Safe to run in a worker thread while an event loop runs.

    Raises EmptyIndexError when the folder is missing or holds no usable article.
    """
    started = time.perf_counter()
    _check_folder(folder)
    cache = store.index_file(store.cache_folder(cache_dir), folder) if use_cache else None
    built = build(folder, params, cache=cache, workers=workers, progress=progress)
    if not built.articles:
        raise EmptyIndexError(_nothing_usable(folder, built.skipped))
    index = SearchIndex(built.articles, built.bm25)
    report = BuildReport(
        articles=len(built.articles),
        sentences=index.sentence_count,
        tokens=index.bm25.token_count,
        skipped=built.skipped,
        seconds=time.perf_counter() - started,
        from_cache=built.from_cache,
        cache_file=cache,
    )
    return index, report
