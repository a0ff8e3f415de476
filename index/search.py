"""The search index: articles, their sentences, BM25 over them, and hits with citations."""

from __future__ import annotations

import itertools
import math
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast, overload

import numpy as np
import numpy.typing as npt

from index import store
from index.answers import holds_answer_of, required_type, short_answer
from index.articles import Article, Skipped
from index.bm25 import DEFAULT_PARAMS, Bm25, Bm25Params
from index.build import Built, TermIds, build
from index.layout import ARTICLE_FIELDS, Parts, SortedTerms, TextColumn, check_shapes, lay_out
from index.passages import PASSAGE_TOKENS, count_tokens_each, passage_span
from index.progress import Progress
from index.rerank import (
    CONTEXT_SENTENCES,
    FEATURES,
    FloatArray,
    Query,
    Term,
    answer_type_evidence,
    proximity,
    rerank_scores,
)
from index.semantic import QuestionEncoder, SemanticStage, SemanticView, embedding_texts
from index.short_answers import trusted_short_answer
from index.text import printable, tokenize_question, words
from index.vectors import FloatArray as VectorArray
from index.vectors import VectorStore, article_key_of_blob

# A hit is confident when the sentence and its two neighbours hold at least this share
# of the question's IDF mass: a question whose rare words are absent is not answered.
# On SQuAD (docs/quality.md) 0.55 keeps 99.9% of questions asked of the unrelated seed article
# unconfident and makes 92.6% of right first answers confident.
CONFIDENT_COVERAGE = 0.55
_COVERAGE, _NEAR = FEATURES.index("coverage"), FEATURES.index("near")
# With sentence vectors, a hit is confident when its words are (CONFIDENT_COVERAGE) and its meaning is
# not far (cosine ≥ WORDS_COSINE), or when its meaning is near (cosine ≥ MEANING_COSINE) and a little of
# the question's rare words is there (MEANING_COVERAGE). Chosen on 2,500 questions of SQuAD's tune split
# (confident when right: 97.8%, against 88.2% by words alone) with the same questions asked of the seed
# article (99.8% not confident, as by words alone), and the seed questions of tests/data (34 of 37
# answerable confident, none of the 10 unanswerable); `qa-bot eval squad` reports both shares. A meaning nearer
# than SURE_COSINE is confident with no word in common (a paraphrase): no unanswerable question of those
# sets came that near (0.48 at most), and none of their answerable ones needed it.
WORDS_COSINE = 0.16
MEANING_COSINE = 0.35
MEANING_COVERAGE = 0.15
SURE_COSINE = 0.5
# A sentence found by meaning alone joins the candidates only this near the question: below it, a
# question about nothing in the articles ("zebra xylophone") still finds nothing.
NEAREST_COSINE = 0.2
# Hits per question unless the caller asks for another number (the CLI's -k, /ask's passages).
DEFAULT_HITS = 3
# BM25 candidates looked at before the final ranking.
CANDIDATES = 50
# Hostile questions stay cheap: a pasted article is read up to MAX_QUESTION_CHARS and
# searched with its first MAX_QUESTION_TOKENS tokens; k is capped at MAX_HITS.
MAX_QUESTION_CHARS = 8_000
MAX_QUESTION_TOKENS = 64
MAX_HITS = 100
# A follow-up question is searched with the previous question's words added at this share of
# their weight: its own words decide, the earlier topic breaks ties toward itself. Set before the
# dialogues of tests/data/dialogues.json were written; on them (second-turn R@1, context always
# used) 0.4 and 0.5 give 45/51, 0.2 and 0.3 give 44, 0.7 gives 40 and 1.0 gives 33.
CONTEXT_WEIGHT = 0.5


def is_confident(evidence: float, cosine: float | None) -> bool:
    """Whether a hit answers the question, from `evidence` (the share of the question's IDF mass in and
    around the sentence) and, when the sentence has a vector, its `cosine` to the question."""
    if cosine is None or math.isnan(cosine):
        return evidence >= CONFIDENT_COVERAGE - 1e-9
    by_words = evidence >= CONFIDENT_COVERAGE - 1e-9 and cosine >= WORDS_COSINE
    by_meaning = cosine >= MEANING_COSINE and evidence >= MEANING_COVERAGE - 1e-9
    return by_words or by_meaning or cosine >= SURE_COSINE


def _question_terms(question: str) -> list[str]:
    return tokenize_question(question[:MAX_QUESTION_CHARS])[:MAX_QUESTION_TOKENS]


def weighted_terms(question: str, context: str | None, weight: float = CONTEXT_WEIGHT) -> dict[str, float]:
    """The question's search terms (weight 1), then the context's terms it lacks (at `weight`), in order."""
    terms = dict.fromkeys(_question_terms(question), 1.0)
    for term in _question_terms(context or ""):
        terms.setdefault(term, weight)
    return terms


@dataclass(frozen=True)
class Hit:
    """One answer: a sentence, its passage, and where it comes from."""

    article: str
    title: str
    date: str | None
    url: str | None
    sentence: int  # 1-based, within the article
    text: str
    passage: str  # the sentence with its neighbours, up to the passage budget
    score: float
    confident: bool
    offset: int  # where `text` starts in `passage` (the same words may occur earlier in it)
    source: str | None = None  # the publisher or site, when the article names it
    first: int = 0  # the passage's first sentence (1-based): `passage` is sentences first … first + len(shown) - 1
    shown: tuple[str, ...] = ()  # the passage's sentences, `passage` being them joined by spaces


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
    cache_file: Path | None = None  # where the index is saved (None: not asked to save it)
    not_saved: str | None = None  # why the index could not be saved at `cache_file` (served from a temporary file)


class EmptyIndexError(ValueError):
    """Nothing could be indexed; the message says what to do."""


@dataclass(frozen=True)
class Candidates:
    """BM25's best sentences for a question (ranked by raw BM25), with their re-ranking features."""

    query: Query
    docs: npt.NDArray[np.int64]
    bm25: npt.NDArray[np.float64]
    features: npt.NDArray[np.float64]  # one row per candidate, columns in rerank.FEATURES order
    # With a context: each candidate's evidence for the question's own words alone (see `search`).
    own_evidence: npt.NDArray[np.float64] | None = None
    # With the semantic stage: each candidate's cosine to the question (NaN: no vector yet), else None.
    cosines: npt.NDArray[np.float32] | None = None


# Neighbour offsets, nearest first, before and after alternating (rerank.CONTEXT_SENTENCES on each side).
_AROUND = np.array([sign * step for step in range(1, CONTEXT_SENTENCES + 1) for sign in (-1, 1)], dtype=np.int64)


def _coverage(present: npt.NDArray[np.bool_], weights: FloatArray, mass: float) -> FloatArray:
    """rerank.coverage for every row: the IDF of the present terms summed in question order, over the mass.

    A running sum adds in order, as Python's sum() does (adding 0.0 for an absent term changes nothing),
    so the figures are the same to the last bit.
    """
    if not mass or not present.shape[1]:
        return np.zeros(len(present), dtype=np.float64)
    summed: FloatArray = np.cumsum(present * weights, axis=1)[:, -1] / mass
    return summed


class ClosedIndex(RuntimeError):
    """The index was closed (replaced by a reload and no longer read): nothing can be read from it."""


class Sentences(Sequence[str]):
    """An article's sentences, read from the index file when asked for (decoded each time)."""

    __slots__ = ("_count", "_first", "_index")

    def __init__(self, index: SearchIndex, first: int, count: int) -> None:
        self._index, self._first, self._count = index, first, count

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, n: int) -> str: ...
    @overload
    def __getitem__(self, n: slice) -> Sequence[str]: ...
    def __getitem__(self, n: int | slice) -> str | Sequence[str]:
        if isinstance(n, slice):
            return tuple(self[i] for i in range(*n.indices(self._count)))
        if n < 0:
            n += self._count
        if not 0 <= n < self._count:
            raise IndexError("sentence out of range")
        return self._index.sentence(self._first + n)

    def budget_tokens(self) -> npt.NDArray[np.uint16]:
        """Each sentence's cost in the passage budget, as stored (a copy: it outlives the index's map)."""
        return self._index.budget_tokens(self._first, self._count)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(other) == self._count and all(a == b for a, b in zip(self, other, strict=True))

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Sentences({self._count} from {self._first})"


class SearchIndex:
    """An immutable, thread-safe index, served from its file's arrays in place.

    Nothing per sentence is a Python object until it is part of an answer: the postings, the
    vocabulary, the sentences' text and term ids are views of the mapped file. `close()` unmaps
    it; the bot does so once no question reads it any more (see bot.index_holder).
    """

    def __init__(self, file: store.IndexFile, passage_tokens: int = PASSAGE_TOKENS) -> None:
        self.passage_tokens = passage_tokens
        self._file = file
        meta = file.meta
        self._terms = SortedTerms(file["terms"], file["term_offsets"])
        self.bm25 = Bm25(
            self._terms,
            file["idf"],
            file["indptr"],
            file["indices"],
            file["data"],
            int(meta["doc_count"]),
            int(meta["token_count"]),
        )
        self._starts: npt.NDArray[np.int64] = file["article_starts"]
        self._text, self._text_offsets = file["text"], file["text_offsets"]
        self._text_view = memoryview(np.ascontiguousarray(self._text).data)
        self._tokens, self._token_offsets = file["tokens"], file["token_offsets"]
        self._budget_tokens: npt.NDArray[np.uint16] = file["budget_tokens"]
        self.skipped = tuple(Skipped(str(path), str(reason)) for path, reason in meta.get("skipped", []))
        self.key = str(meta.get("key", ""))
        self._articles: tuple[Article, ...] | None = None
        self._fields: dict[str, TextColumn] = {}
        # Sentence vectors and the question encoder (index/semantic.py), once attached; None: words only.
        self.semantic: SemanticStage | None = None
        check_shapes(file)

    @classmethod
    def open(cls, path: Path) -> SearchIndex:
        """Map the index file at `path`, check it, and serve from it. Raises OSError or store.DamagedIndex."""
        file = store.open_file(path)
        try:
            file.verify()
            check_shapes(file)
            return cls(file)
        except BaseException:
            file.close()
            raise

    def close(self) -> None:
        """Unmap the file; the index cannot be read afterwards (its Article objects' sentences neither)."""
        # Every view of the map goes first: a map with views left cannot be closed.
        self._terms.release()
        self._text_view.release()
        for column in self._fields.values():
            column.release()
        empty_f, empty_i = np.empty(0, dtype=np.float64), np.zeros(1, dtype=np.int64)
        self._terms = SortedTerms(np.empty(0, dtype=np.uint8), empty_i)
        self.bm25 = Bm25(self._terms, empty_f, empty_i, np.empty(0, dtype=np.int32), empty_f, 0, 0)
        self._starts = self._text_offsets = self._token_offsets = empty_i
        self._text, self._tokens = np.empty(0, dtype=np.uint8), np.empty(0, dtype=np.int32)
        self._budget_tokens = np.empty(0, dtype=np.uint16)
        # Each Article's sentences refer back to the index: dropping the articles breaks that cycle, so they
        # are freed with the index, not by a later full garbage-collector pass.
        self._articles, self._fields = None, {}
        self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed

    # ------------------------------------------------------------ articles and sentences

    def _field(self, name: str) -> TextColumn:
        values = self._fields.get(name)
        if values is None:
            values = TextColumn(self._file[f"article_{name}"], self._file[f"article_{name}_offsets"])
            self._fields[name] = values
        return values

    def _strings(self, name: str) -> Sequence[str]:
        # id, title and digest: every article has one (only date, url and source may be missing).
        return cast(Sequence[str], self._field(name))

    @property
    def articles(self) -> tuple[Article, ...]:
        """Every article (made on first use: one object per article, the sentences read when asked for)."""
        if self._articles is None:
            if self.closed:
                raise ClosedIndex("the index was closed")
            columns = [self._field(name).values() for name in ARTICLE_FIELDS]
            starts = self._starts.tolist()
            self._articles = tuple(
                Article(
                    article_id, title, date, url, source, Sentences(self, starts[n], starts[n + 1] - starts[n]), digest
                )
                for n, (article_id, title, date, url, source, digest) in enumerate(zip(*columns, strict=True))
            )
        return self._articles

    def article_digests(self) -> dict[str, str]:
        """Each article's id and the SHA-256 of its file, from the file's columns (no Article objects)."""
        if self.closed:
            raise ClosedIndex("the index was closed")
        ids, digests = (cast(list[str], self._field(name).values()) for name in ("id", "digest"))  # never None
        return dict(zip(ids, digests, strict=True))

    @property
    def article_count(self) -> int:
        return len(self._starts) - 1

    @property
    def sentence_count(self) -> int:
        return self.bm25.doc_count

    def sentence(self, doc: int) -> str:
        """Sentence `doc`'s text (documents are numbered across articles, from 0)."""
        if self.closed:
            raise ClosedIndex("the index was closed")
        offsets = self._text_offsets
        return str(self._text_view[offsets[doc] : offsets[doc + 1]], "utf-8")

    def budget_tokens(self, first: int, count: int) -> npt.NDArray[np.uint16]:
        """The stored passage-budget costs of sentences first to first + count - 1, copied out of the map."""
        if self.closed:
            raise ClosedIndex("the index was closed")
        return self._budget_tokens[first : first + count].copy()

    def _term_ids(self, doc: int) -> list[int]:
        ids: list[int] = self._tokens[int(self._token_offsets[doc]) : int(self._token_offsets[doc + 1])].tolist()
        return ids

    def _article_of(self, docs: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        found: npt.NDArray[np.int64] = np.searchsorted(self._starts, docs, side="right") - 1
        return found

    def article_keys(self) -> list[str]:
        """What each article's sentence vectors are stored under (vectors.article_key_of_blob of its title
        and sentences): read from the file's text in place, one hash per article, no string per sentence."""
        starts, offsets, titles = self._starts.tolist(), self._text_offsets, self._strings("title")
        keys = []
        for n, (first, end) in enumerate(itertools.pairwise(starts)):
            bounds = offsets[first : end + 1]
            text = self._text_view[int(bounds[0]) : int(bounds[-1])]
            keys.append(article_key_of_blob(text, np.diff(bounds), titles[n]))
        return keys

    def embedding_texts(self, article: int) -> list[str]:
        """What is embedded for each sentence of article number `article` (semantic.embedding_texts)."""
        found = self.articles[article]
        return embedding_texts(found.title, found.sentences)

    def attach_vectors(
        self, store: VectorStore, embed_questions: Callable[[Sequence[str]], VectorArray]
    ) -> SemanticStage:
        """Use the sentence vectors in `store` (as far as they are filled in; see semantic.fill) and
        `embed_questions` for questions. Returns the stage, which `fill` completes."""
        sizes = np.diff(self._starts).tolist()
        stage = SemanticStage(self.article_keys(), sizes, store, QuestionEncoder(embed_questions))
        self.semantic = stage
        return stage

    # ------------------------------------------------------------ questions

    def _unknown_idf(self) -> float:
        # A word found nowhere weighs as much as the rarest possible word.
        return math.log((self.bm25.doc_count + 0.5) / 0.5)

    def _idf(self, term: str) -> float:
        row = self.bm25.vocabulary.get(term)
        return float(self.bm25.idf[row]) if row is not None else self._unknown_idf()

    def query(self, question: str, context: str | None = None, context_weight: float = CONTEXT_WEIGHT) -> Query:
        """The question as the re-ranker reads it, with every term's IDF here.

        With a `context` (the previous question of a follow-up), its terms join at `context_weight`
        times their IDF, and its words count as named by the question (an answer does not repeat them).
        """
        question = question[:MAX_QUESTION_CHARS]
        if context is None:
            idf: dict[Term, float] = {t: self._idf(t) for t in _question_terms(question)}
            return Query.of(question, idf)
        weights = weighted_terms(question, context, context_weight)
        weighted: dict[Term, float] = {t: w * self._idf(t) for t, w in weights.items()}
        query = Query.of(question, weighted)
        return replace(query, asked_words=query.asked_words | frozenset(words(context[:MAX_QUESTION_CHARS])))

    def _by_id(self, query: Query) -> Query:
        # The same query over term ids, as the forward index stores sentences; a term found nowhere
        # gets a negative stand-in that no sentence holds (it still counts in the IDF mass).
        ids: list[Term] = []
        for n, term in enumerate(query.terms):
            found = self._terms.get_id(term) if isinstance(term, str) else None
            ids.append(found if found is not None else -1 - n)
        idf = {new: query.idf[old] for new, old in zip(ids, query.terms, strict=True)}
        return replace(query, terms=tuple(ids), idf=idf)

    def features(self, query: Query, docs: npt.NDArray[np.int64], bm25: npt.NDArray[np.float64]) -> FloatArray:
        """Each candidate's re-ranking features (rows in `docs` order, columns in rerank.FEATURES order).

        The same features as `rerank.feature_row`, computed from the stored term ids for all candidates
        at once: which question terms each candidate, its neighbours and its article's lead hold.
        """
        n = len(docs)
        rows = np.zeros((n, len(FEATURES)), dtype=np.float64)
        if not n:
            return rows
        by_id = self._by_id(query)
        terms = np.array(by_id.terms, dtype=np.int64)  # term ids; a term found nowhere has a negative stand-in
        weights = np.array([by_id.idf[t] for t in by_id.terms], dtype=np.float64)
        firsts = self._starts[self._article_of(docs)]
        ends = self._starts[self._article_of(docs) + 1]
        at = docs - firsts
        # Neighbours nearest first, before and after alternating; "near" is the first two that exist.
        around = at[:, None] + _AROUND[None, :]
        exists = (around >= 0) & (around < (ends - firsts)[:, None])
        near = exists & (np.cumsum(exists, axis=1) <= 2)
        neighbours = np.where(exists, firsts[:, None] + around, docs[:, None])
        previous = np.where(at > 0, docs - 1, docs)
        holds, row_of = self._terms_held(np.concatenate((docs, previous, firsts, neighbours.reshape(-1))), terms)
        own = holds[row_of[:n]]
        absent = ~own
        before = holds[row_of[n : 2 * n]] & (at > 0)[:, None] & absent
        lead = holds[row_of[2 * n : 3 * n]] & absent
        context = holds[row_of[3 * n :]].reshape(n, len(_AROUND), -1)
        near_terms = (context & near[:, :, None]).any(axis=1) & absent
        around_terms = (context & exists[:, :, None]).any(axis=1) & absent
        best = float(bm25.max())
        rows[:, 0] = bm25 / best if best > 0 else 0.0
        for column, present in ((1, own), (2, before), (3, near_terms), (4, around_terms), (5, lead)):
            rows[:, column] = _coverage(present, weights, by_id.mass)
        # Proximity needs positions: read only for candidates holding both words of a neighbouring pair.
        if len(by_id.terms) > 1:
            pairs = (own[:, :-1] & own[:, 1:]).any(axis=1)
            for row in np.flatnonzero(pairs).tolist():
                rows[row, 6] = proximity(by_id, self._term_ids(int(docs[row])))
        if query.kind is not None:  # the text is read only when an answer type is sought in it
            for row, doc in enumerate(docs.tolist()):
                rows[row, 7:9] = answer_type_evidence(by_id, self.sentence(doc), ())
        return rows

    def _terms_held(
        self, docs: npt.NDArray[np.int64], terms: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
        """Which of the question's terms (columns, in question order) each distinct doc holds, and each doc's row."""
        unique, row_of = np.unique(docs, return_inverse=True)
        holds = np.zeros((len(unique), len(terms)), dtype=bool)
        starts, stops = self._token_offsets[unique], self._token_offsets[unique + 1]
        lengths = stops - starts
        total = int(lengths.sum())
        if total and len(terms):
            # Every token of these docs laid end to end, with the row it belongs to.
            shift = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
            tokens = self._tokens[np.arange(total, dtype=np.int64) + shift]
            rows = np.repeat(np.arange(len(unique)), lengths)
            order = np.argsort(terms, kind="stable")
            place = np.searchsorted(terms[order], tokens).clip(0, len(terms) - 1)
            found = terms[order][place] == tokens
            holds[rows[found], order[place[found]]] = True
        return holds, row_of.reshape(-1)

    def candidates(
        self,
        question: str,
        at_least: int = CANDIDATES,
        context: str | None = None,
        context_weight: float = CONTEXT_WEIGHT,
        *,
        lexical: bool = False,
    ) -> Candidates:
        """BM25's best CANDIDATES (or `at_least`) sentences for `question`, with their re-ranking features.

        A `context` adds the previous question's terms at `context_weight` (see `query`). With the
        semantic stage (unless `lexical`), the question's nearest sentences by vector join them, and
        each candidate gets the semantic features (rerank.SEMANTIC_FEATURES).
        """
        query = self.query(question, context, context_weight)
        wanted = max(at_least, CANDIDATES)
        if context is None:
            terms, weights = _question_terms(question), None
        else:
            weighted = weighted_terms(question, context, context_weight)
            terms, weights = list(weighted), list(weighted.values())
        found = self.bm25.top(terms, wanted, weights)
        docs, scores = found.docs, found.scores
        stage = None if lexical else self.semantic
        view = stage.view if stage is not None else None
        vector = stage.encode(question[:MAX_QUESTION_CHARS]) if stage is not None and view and view.ready else None
        cosines = None
        if vector is not None and view is not None:
            nearest, near = view.nearest(vector, wanted)
            extra = nearest[~np.isin(nearest, docs) & (near >= NEAREST_COSINE)]
            if len(extra):  # found by meaning alone: their BM25 scores (often 0) still count
                docs = np.concatenate([docs, extra])
                scores = np.concatenate([scores, self.bm25.scores_of(terms, extra, weights)])
            cosines = view.cosines(vector, docs)
        features = self.features(query, docs, scores)
        if cosines is not None and vector is not None and view is not None and len(docs):
            semantic = self._semantic_features(view, vector, docs, cosines, features[:, _COVERAGE])
            features = np.hstack([features, semantic])
        evidence = None
        if context is not None:  # the question's own words alone: how much of them each candidate holds
            alone = self.features(self.query(question), docs, scores)
            evidence = alone[:, _COVERAGE] + alone[:, _NEAR]
        return Candidates(query, docs, scores, features, evidence, cosines)

    def _semantic_features(
        self,
        view: SemanticView,
        vector: VectorArray,
        docs: npt.NDArray[np.int64],
        own: npt.NDArray[np.float32],
        coverage: FloatArray,
    ) -> FloatArray:
        """The columns of rerank.SEMANTIC_FEATURES after FEATURES, relative to the best candidate's
        (`coverage`: each candidate's share of the question's IDF mass)."""
        articles = self._article_of(docs)
        first_of, last_of = self._starts[articles], self._starts[articles + 1] - 1
        before, after = np.maximum(docs - 1, first_of), np.minimum(docs + 1, last_of)
        around = view.cosines(vector, np.concatenate([before, after])).reshape(2, len(docs))
        fallback = float(np.nanmin(own)) if np.isfinite(own).any() else 0.0
        own = np.where(np.isfinite(own), own, fallback)  # no vector yet: ranked as the weakest candidate
        # An article's first (or last) sentence has no neighbour before (after): it stands in for it.
        around = np.where(np.isfinite(around), around, own)
        near = np.maximum(around[0], around[1])
        context = (around[0] + own + around[1]) / 3
        unmatched = 1.0 - float(coverage.max()) if len(coverage) else 1.0
        columns = [own - own.max(), near - near.max(), context - context.max(), (own - own.max()) * unmatched]
        return np.column_stack(columns).astype(np.float64)

    def ask(
        self,
        question: str,
        k: int = DEFAULT_HITS,
        context: str | None = None,
        context_weight: float = CONTEXT_WEIGHT,
        *,
        lexical: bool = False,
    ) -> Answer:
        """Answer `question`: the k best hits and, when one is found, a short answer.

        `context`, the previous question of a follow-up ("Who condemned it?" after "What happened in
        Niger?"), is searched too, its words at `context_weight`; without it the answer is unchanged.
        """
        meaning = not lexical and self.semantic is not None and self.semantic.view.ready > 0
        # One hit more than asked when the sentence vectors are used: the lead of the first over the
        # second decides whether a short answer is trusted.
        ranked = self.search(question, max(k, 2) if meaning else k, context, context_weight, lexical=lexical)
        hits = tuple(ranked[:k])
        short = None
        if hits and hits[0].confident:
            if meaning:
                lead = ranked[0].score - ranked[1].score if len(ranked) > 1 else math.inf
                short = trusted_short_answer(question, hits[0].text, lead)
            else:
                short = short_answer(question, hits[0].text)
            if short and context and set(words(short)) <= set(words(context)):
                short = None  # what the previous question named ("him") is not the answer
        return Answer(question, hits, short)

    def search(
        self,
        question: str,
        k: int = DEFAULT_HITS,
        context: str | None = None,
        context_weight: float = CONTEXT_WEIGHT,
        *,
        lexical: bool = False,
    ) -> list[Hit]:
        """The k best sentences for `question` (sharing a term with it or its `context`, or near it in
        meaning), best first. `lexical` ranks by words alone, as without sentence vectors."""
        k = min(max(k, 0), MAX_HITS)
        found = self.candidates(question, k, context, context_weight, lexical=lexical)
        # With vectors, a sentence that lacks an answer of the asked kind (no number for "what is the
        # population…") is not confident, however near its words and meaning: it is about something else.
        required = required_type(question) if found.cosines is not None else None
        scores = rerank_scores(found.features)
        order = np.lexsort((found.docs, -scores))[:k]
        if not len(order):
            return []
        docs = found.docs[order]
        articles = self._article_of(docs).tolist()
        firsts = self._starts[articles].tolist()
        ids, titles, dates, urls = self._strings("id"), self._strings("title"), self._field("date"), self._field("url")
        sources = self._field("source")
        hits = []
        for position, doc, article, first in zip(order.tolist(), docs.tolist(), articles, firsts, strict=True):
            count = int(self._starts[article + 1]) - first
            sentences = Sentences(self, first, count)
            at = doc - first
            costs: list[int] = self._budget_tokens[first : first + count].tolist()
            start, end = passage_span(costs, at, self.passage_tokens)
            evidence = found.features[position, _COVERAGE] + found.features[position, _NEAR]
            if found.own_evidence is not None:
                # A follow-up is confident when its own words are found, or they and the context together.
                evidence = max(evidence, found.own_evidence[position])
            shown = tuple(sentences[start:end])
            text = shown[at - start]
            cosine = None if found.cosines is None else float(found.cosines[position])
            confident = is_confident(float(evidence), cosine)
            if confident and required is not None and not holds_answer_of(text, required):
                confident = False
            hits.append(
                Hit(
                    article=ids[article],
                    title=titles[article],
                    date=dates[article],
                    url=urls[article],
                    sentence=at + 1,
                    text=text,
                    passage=" ".join(shown),
                    score=float(scores[position]),
                    confident=confident,
                    offset=sum(len(sentence) + 1 for sentence in shown[: at - start]),
                    source=sources[article],
                    first=start + 1,
                    shown=shown,
                )
            )
        return hits


def index_articles(articles: Sequence[Article], params: Bm25Params = DEFAULT_PARAMS) -> SearchIndex:
    """Index already-parsed articles, in memory (the same layout as the file)."""
    parts = Parts()
    terms = TermIds()
    for article in articles:
        parts.add_article((article.id, article.title, article.date, article.url, article.source, article.digest),
                          len(article.sentences))  # fmt: skip
        sentences = article.sentences
        # An article served from an index file has its counts there: asking about one article then loads no tokenizer.
        costs = sentences.budget_tokens() if isinstance(sentences, Sentences) else count_tokens_each(sentences)
        parts.add_text(sentences, costs)
        terms.add(article.sentences)
    ids, counts = terms.arrays()
    parts.vocabulary, parts.term_ids, parts.token_counts = terms.vocabulary, [ids], [counts]
    meta, columns = lay_out(parts, params, key="")
    return SearchIndex(store.in_memory(meta, columns))


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


def load_articles(folder: Path) -> tuple[list[Article], list[Skipped]]:
    """Every usable article under `folder`, its sentences in memory, and every file skipped with why.

    The build's own reading, parsing and deduplication (in this process, nothing saved), for callers
    that want articles rather than an index: the dialogue benchmark, and tests.
    """
    built = build(folder, cache=None, workers=1, progress=lambda stage, done, total: None)
    if built.file is None:
        return [], list(built.skipped)
    index = SearchIndex(built.file)
    try:
        return [replace(a, sentences=tuple(a.sentences)) for a in index.articles], list(built.skipped)
    finally:
        index.close()


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
    cache = saved_index_path(folder, cache_dir, use_cache)
    built = build(folder, params, cache=cache, workers=workers, progress=progress)
    return serve(folder, built, cache, started)


def saved_index_path(folder: Path, cache_dir: Path | None, use_cache: bool) -> Path | None:
    """Where the index of `folder` is saved (None: not saved). Raises EmptyIndexError for a missing folder."""
    _check_folder(folder)
    return store.index_file(store.cache_folder(cache_dir), folder) if use_cache else None


def serve(folder: Path, built: Built, cache: Path | None, started: float) -> tuple[SearchIndex, BuildReport]:
    """The index of a build, and its report. Raises EmptyIndexError when no article was usable."""
    if built.file is None:
        raise EmptyIndexError(_nothing_usable(folder, built.skipped))
    index = SearchIndex(built.file)
    report = BuildReport(
        articles=index.article_count,
        sentences=index.sentence_count,
        tokens=index.bm25.token_count,
        skipped=built.skipped,
        seconds=time.perf_counter() - started,
        from_cache=built.from_cache,
        cache_file=cache,
        not_saved=built.not_saved,
    )
    return index, report
