"""BM25 scoring on a sparse term-by-sentence matrix.

The scores are exactly rank-bm25's BM25Okapi (same IDF, same floor for negative IDFs,
a repeated query word counted each time), but the per-posting weights are computed
once at build time, so a question costs only the postings of its own terms instead
of a Python walk over every sentence. The formulas are the functions below, each with
its source; Kamphuis et al., "Which BM25 Do You Mean? A Large-Scale Reproducibility
Study of Scoring Variants" (ECIR 2020), compares this variant with the others.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]


@dataclass(frozen=True)
class Bm25Params:
    """k1 and b tuned for sentence-length documents (Lucene's defaults; measured on SQuAD)."""

    k1: float = 0.9
    b: float = 0.4
    epsilon: float = 0.25  # rank-bm25's floor for negative IDFs, as a share of the mean IDF


# Bump with any change to the weights a build stores (the BM25 formula, IDF, length norm): the saved index is
# keyed by it (storage/build.py; tests/index/test_versions.py). The parameters are in the key themselves.
BM25_VERSION = 1
DEFAULT_PARAMS = Bm25Params()
# Scores equal to this many decimals are ties, ranked by document number.
TIE_DECIMALS = 9


@dataclass(frozen=True)
class ScoredDocs:
    """The best documents sharing a term with the query, best first; ties in document order."""

    docs: IntArray
    scores: FloatArray


def okapi_idf(doc_count: int, doc_freq: IntArray, epsilon: float) -> FloatArray:
    """Each term's IDF: log((N - n + 0.5) / (n + 0.5)) for a term in n of N documents (Robertson and
    Spärck Jones' weight, as in Okapi BM25); a negative IDF (a term in over half the documents) is
    raised to `epsilon` times the mean IDF. Source: rank-bm25 0.2.2, BM25Okapi._calc_idf, whose
    operations are kept in the same order so that equal inputs round alike."""
    idf = cast(FloatArray, np.log(doc_count - doc_freq + 0.5) - np.log(doc_freq + 0.5))
    if len(idf):
        idf[idf < 0] = epsilon * idf.mean()
    return idf


def length_norm(lengths: npt.NDArray[np.integer], avgdl: float, params: Bm25Params) -> FloatArray:
    """k1 * (1 - b + b * |d| / avgdl) for each document d: how much a long document's term counts are
    discounted (b = 0: not at all). Source: Robertson and Zaragoza, "The Probabilistic Relevance
    Framework: BM25 and Beyond" (2009), the BM25 formula; rank-bm25 0.2.2, BM25Okapi.get_scores."""
    return cast(FloatArray, params.k1 * (1 - params.b + params.b * lengths / (avgdl or 1.0)))


def term_score(idf: FloatArray, freq: FloatArray, norm: FloatArray, k1: float) -> FloatArray:
    """One (term, document) pair's share of the score: idf * tf * (k1 + 1) / (tf + norm), the term
    frequency saturating at k1 + 1. Source: as `length_norm`, in rank-bm25's order of operations."""
    score: FloatArray = idf * (freq * (k1 + 1) / (freq + norm))
    return score


# np.repeat holds the GIL for its whole run (160 ms for 20 million tokens, measured):
# done this many documents at a time, other threads get their turn between slices.
REPEAT_SLICE = 65_536


def _document_of_each_token(lengths: npt.NDArray[np.integer]) -> IntArray:
    """Each token's document number, for documents of `lengths` tokens laid end to end."""
    ends = np.cumsum(lengths)
    numbers = np.empty(int(ends[-1]) if len(ends) else 0, dtype=np.int64)
    for first in range(0, len(lengths), REPEAT_SLICE):
        last = min(first + REPEAT_SLICE, len(lengths))
        start = int(ends[first - 1]) if first else 0
        numbers[start : int(ends[last - 1])] = np.repeat(np.arange(first, last, dtype=np.int64), lengths[first:last])
    return numbers


def _empty() -> ScoredDocs:
    return ScoredDocs(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64))


class Bm25:
    """An immutable BM25 index over token lists; documents are numbered from 0.

    The postings are CSR arrays: term t's documents are `indices[indptr[t]:indptr[t+1]]`
    (ascending) and `data` holds each (term, document) pair's BM25 contribution.
    """

    def __init__(
        self,
        vocabulary: Mapping[str, int],
        idf: FloatArray,
        indptr: IntArray,
        indices: Int32Array,
        data: FloatArray,
        doc_count: int,
        token_count: int,
    ):
        self.vocabulary = vocabulary
        self.idf = idf
        self.indptr = indptr
        self.indices = indices
        self.data = data
        self.doc_count = doc_count
        self.token_count = token_count
        # Score accumulators (one float64 per document: 7.6 MB at 950,000 sentences), kept all zeros between
        # questions, since clearing only the touched entries is far cheaper than a fresh array per question.
        # A question borrows one and gives it back, so a process holds as many as questions it answers at
        # once, not one per thread that ever answered (the bot's threads come and go in asyncio's pool).
        self._idle: list[FloatArray] = []
        self._idle_lock = threading.Lock()

    @classmethod
    def from_tokens(cls, documents: Sequence[Sequence[str]], params: Bm25Params = DEFAULT_PARAMS) -> Bm25:
        vocabulary: dict[str, int] = {}
        term_ids: list[int] = []
        lengths = np.fromiter((len(doc) for doc in documents), dtype=np.int64, count=len(documents))
        for doc in documents:
            term_ids.extend(vocabulary.setdefault(token, len(vocabulary)) for token in doc)
        return cls.from_term_ids(vocabulary, np.asarray(term_ids, dtype=np.int64), lengths, params)

    @classmethod
    def from_term_ids(
        cls,
        vocabulary: Mapping[str, int],
        term_ids: npt.NDArray[np.integer],
        lengths: npt.NDArray[np.integer],
        params: Bm25Params = DEFAULT_PARAMS,
    ) -> Bm25:
        """Build from every document's term ids laid end to end, and each document's length.

        Only vectorised NumPy runs here, in calls that release the GIL or are short
        (measured at a million documents), so a build in a worker thread leaves an
        event loop free to run.
        """
        doc_count = len(lengths)
        terms = len(vocabulary)
        lengths = lengths.astype(np.int64, copy=False)
        # One int64 key per token, term-major then document: sorting groups each term's
        # postings in document order, and equal neighbours are that term's frequency.
        keys = _document_of_each_token(lengths)
        keys += term_ids.astype(np.int64) * max(doc_count, 1)
        keys.sort()
        first = np.empty(len(keys), dtype=bool)
        first[:1] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        del first
        freq = np.diff(np.append(starts, len(keys))).astype(np.float64)
        pairs = keys[starts]
        del keys, starts
        term_of_entry, doc_of_entry = np.divmod(pairs, max(doc_count, 1))
        del pairs
        doc_freq = np.bincount(term_of_entry, minlength=terms)
        indptr = np.zeros(terms + 1, dtype=np.int64)
        np.cumsum(doc_freq, out=indptr[1:])
        idf = okapi_idf(doc_count, doc_freq, params.epsilon)
        avgdl = lengths.sum() / doc_count if doc_count else 1.0
        norm = length_norm(lengths, avgdl, params)
        data = term_score(idf[term_of_entry], freq, norm[doc_of_entry], params.k1)
        return cls(vocabulary, idf, indptr, doc_of_entry.astype(np.int32), data, doc_count, int(lengths.sum()))

    def _rows(self, tokens: Sequence[str]) -> list[int]:
        get = self.vocabulary.get
        return [row for row in map(get, tokens) if row is not None]

    def scores(self, tokens: Sequence[str]) -> FloatArray:
        """Every document's score, as rank-bm25's `get_scores` returns them."""
        total = np.zeros(self.doc_count, dtype=np.float64)
        for row in self._rows(tokens):
            span = slice(self.indptr[row], self.indptr[row + 1])
            total[self.indices[span]] += self.data[span]  # a row's documents are distinct
        return total

    def scores_of(
        self, tokens: Sequence[str], docs: npt.NDArray[np.integer], weights: Sequence[float] | None = None
    ) -> FloatArray:
        """The scores of the given documents only (as `top` would give them): each query term's postings
        are searched for them (a row's documents are sorted), so the cost does not grow with the archive."""
        total = np.zeros(len(docs), dtype=np.float64)
        if not len(docs):
            return total
        for n, token in enumerate(tokens):
            row = self.vocabulary.get(token)
            if row is None:
                continue
            postings = self.indices[self.indptr[row] : self.indptr[row + 1]]
            at = np.minimum(np.searchsorted(postings, docs), len(postings) - 1)
            found = postings[at] == docs
            weight = 1.0 if weights is None else weights[n]
            total[found] += self.data[self.indptr[row] + at[found]] * weight
        return total

    @contextlib.contextmanager
    def _accumulator(self) -> Iterator[FloatArray]:
        """An all-zeros accumulator to borrow; the borrower zeroes what it touched before giving it back."""
        with self._idle_lock:
            acc = self._idle.pop() if self._idle else None
        if acc is None:
            acc = np.zeros(self.doc_count, dtype=np.float64)
        try:
            yield acc
        finally:
            with self._idle_lock:
                self._idle.append(acc)

    @property
    def accumulators(self) -> int:
        """How many accumulators this index has made (all idle between questions)."""
        return len(self._idle)

    def _span(self, row: int, within: tuple[int, int] | None) -> slice:
        """Term `row`'s postings, or only those of documents first to end - 1 (`within`): a row's documents
        are sorted, so two binary searches find them."""
        start, stop = int(self.indptr[row]), int(self.indptr[row + 1])
        if within is None:
            return slice(start, stop)
        postings = self.indices[start:stop]
        first, end = np.searchsorted(postings, within).tolist()
        return slice(start + first, start + end)

    def top(
        self,
        tokens: Sequence[str],
        k: int,
        weights: Sequence[float] | None = None,
        within: tuple[int, int] | None = None,
    ) -> ScoredDocs:
        """The k best documents that share at least one term with `tokens`.

        `weights` (one per token; default all 1) scales each token's contribution: a follow-up
        question's context words count less than its own. `within` (first, end) keeps documents
        first to end - 1 only (one article's sentences), scored as in the whole index. Costs the
        length of the query terms' postings, never a pass over every document.
        """
        if weights is None:
            rows, factors = self._rows(tokens), None
        else:
            known = [(self.vocabulary[t], w) for t, w in zip(tokens, weights, strict=True) if t in self.vocabulary]
            rows, factors = [r for r, _ in known], [w for _, w in known]
        if not rows or k <= 0:
            return _empty()
        distinct = list(dict.fromkeys(rows))
        spans = [self._span(r, within) for r in distinct]
        span_of = dict(zip(distinct, spans, strict=True))
        with self._accumulator() as acc:
            try:
                for n, row in enumerate(rows):  # a repeated query word counts each time, as in rank-bm25
                    span = span_of[row]
                    if factors is None:
                        acc[self.indices[span]] += self.data[span]
                    else:
                        acc[self.indices[span]] += self.data[span] * factors[n]
                docs = self.indices[spans[0]] if len(spans) == 1 else np.concatenate([self.indices[s] for s in spans])
                totals = acc[docs]
            finally:
                for span in spans:
                    acc[self.indices[span]] = 0.0
        # Scores that differ only by rounding (the same terms summed in another order) are
        # ties: ranking on scores rounded to TIE_DECIMALS orders every tie by document.
        ranks = np.round(totals, TIE_DECIMALS)
        # `docs` lists a document once per query term it holds. The top k*terms entries
        # hold at least k distinct documents, so the k-th best distinct rank found among
        # them is the exact threshold; everything at or above it (ties included) competes.
        enough = k * len(distinct)
        if len(docs) > enough:
            best = np.argpartition(-ranks, enough - 1)[:enough]
            _, where = np.unique(docs[best], return_index=True)
            found = np.sort(ranks[best][where])[::-1]
            keep = ranks >= found[min(k, len(found)) - 1]
            docs, totals, ranks = docs[keep], totals[keep], ranks[keep]
        unique_docs, where = np.unique(docs, return_index=True)
        order = np.lexsort((unique_docs, -ranks[where]))[:k]
        return ScoredDocs(unique_docs[order].astype(np.int64), totals[where][order])
