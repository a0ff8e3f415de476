"""BM25 scoring on a sparse term-by-sentence matrix.

The scores are exactly rank-bm25's BM25Okapi (same IDF, same floor for negative IDFs,
a repeated query word counted each time), but the per-posting weights are computed
once at build time, so a question costs only the postings of its own terms instead
of a Python walk over every sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Bm25Params:
    """k1 and b tuned for sentence-length documents (Lucene's defaults; measured on SQuAD)."""

    k1: float = 0.9
    b: float = 0.4
    epsilon: float = 0.25  # rank-bm25's floor for negative IDFs, as a share of the mean IDF


DEFAULT_PARAMS = Bm25Params()


@dataclass(frozen=True)
class ScoredDocs:
    """Documents with a positive score, best first; ties in document order."""

    docs: IntArray
    scores: FloatArray


class Bm25:
    """An immutable BM25 index over token lists; documents are numbered from 0."""

    def __init__(
        self, vocabulary: dict[str, int], idf: FloatArray, weights: sparse.csr_array, doc_count: int, token_count: int
    ):
        self.vocabulary = vocabulary
        self.idf = idf
        self.weights = weights  # terms x documents, each entry that term's BM25 contribution
        self.doc_count = doc_count
        self.token_count = token_count

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
        cls, vocabulary: dict[str, int], term_ids: IntArray, lengths: IntArray, params: Bm25Params = DEFAULT_PARAMS
    ) -> Bm25:
        """Build from every document's term ids laid end to end, and each document's length."""
        doc_count = len(lengths)
        doc_ids = np.repeat(np.arange(doc_count, dtype=np.int64), lengths)
        ones = np.ones(len(term_ids), dtype=np.float64)
        # Duplicate (term, doc) pairs are summed by the conversion: that is the term frequency.
        tf = sparse.coo_array((ones, (term_ids, doc_ids)), shape=(len(vocabulary), doc_count)).tocsr()
        tf.sum_duplicates()
        doc_freq = np.diff(tf.indptr)
        idf = np.log(doc_count - doc_freq + 0.5) - np.log(doc_freq + 0.5)
        if len(idf):
            floor = params.epsilon * idf.mean()
            idf = np.where(idf < 0, floor, idf)
        avgdl = lengths.sum() / doc_count if doc_count else 1.0
        norm = params.k1 * (1 - params.b + params.b * lengths / (avgdl or 1.0))
        term_of_entry = np.repeat(np.arange(len(vocabulary)), doc_freq)
        freq = tf.data
        tf.data = idf[term_of_entry] * freq * (params.k1 + 1) / (freq + norm[tf.indices])
        return cls(vocabulary, idf, tf, doc_count, int(lengths.sum()))

    def _postings(self, tokens: Sequence[str]) -> tuple[IntArray, FloatArray]:
        indptr, indices, data = self.weights.indptr, self.weights.indices, self.weights.data
        rows = [self.vocabulary[t] for t in tokens if t in self.vocabulary]
        if not rows:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        docs = np.concatenate([indices[indptr[r] : indptr[r + 1]] for r in rows])
        weights = np.concatenate([data[indptr[r] : indptr[r + 1]] for r in rows])
        return docs.astype(np.int64, copy=False), weights

    def scores(self, tokens: Sequence[str]) -> FloatArray:
        """Every document's score, as rank-bm25's `get_scores` returns them."""
        docs, weights = self._postings(tokens)
        return np.bincount(docs, weights=weights, minlength=self.doc_count).astype(np.float64)

    def top(self, tokens: Sequence[str], k: int) -> ScoredDocs:
        """The k best documents that share at least one term with `tokens`."""
        docs, weights = self._postings(tokens)
        if not len(docs) or k <= 0:
            return ScoredDocs(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64))
        # Sum only the documents that were touched: far fewer than all of them.
        touched, inverse = np.unique(docs, return_inverse=True)
        totals: FloatArray = np.bincount(inverse, weights=weights).astype(np.float64)
        if len(touched) > k:
            keep = np.argpartition(-totals, k - 1)[:k]
            touched, totals = touched[keep], totals[keep]
        order = np.lexsort((touched, -totals))
        return ScoredDocs(touched[order], totals[order])
