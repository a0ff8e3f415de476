"""What the index file holds, and how a build's parts become its columns.

- postings: `indptr`, `indices`, `data` (BM25 weight of each term in each sentence), `idf`;
- vocabulary: the terms sorted by their UTF-8 bytes in one blob (`terms`, `term_offsets`);
  a term's id is its rank, found by binary search (`SortedTerms`);
- sentences: their text as one UTF-8 blob (`text`, `text_offsets`) and their term ids, a
  forward index (`tokens`, `token_offsets`), so re-ranking never tokenizes a stored sentence;
- articles: the first sentence of each (`article_starts`) and their fields, each field's values in
  one UTF-8 blob with offsets (`article_<field>`, `article_<field>_offsets`), read one value at a time;
- the article files' stamps, so a restart need not re-read unchanged files.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from index.articles.article import Skipped
from index.storage import store
from index.storage.bm25 import Bm25, Bm25Params
from index.storage.store import Column

ARTICLE_FIELDS = ("id", "title", "date", "url", "source", "digest")
# Sorting the vocabulary in runs of this many terms, merged lazily: one sorted() over a million
# terms would hold the GIL for a quarter of a second.
_SORT_RUN = 8_192


class SortedTerms(Mapping[str, int]):
    """The vocabulary as sorted UTF-8 terms laid end to end; a term's id is its rank."""

    def __init__(self, blob: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64]) -> None:
        self._blob = blob
        self._offsets = offsets
        self._bytes = np.ascontiguousarray(blob).data

    def _term(self, n: int) -> bytes:
        return bytes(self._bytes[int(self._offsets[n]) : int(self._offsets[n + 1])])

    def get_id(self, term: str) -> int | None:
        wanted = term.encode("utf-8", "surrogatepass")
        n = bisect.bisect_left(range(len(self)), wanted, key=self._term)
        return n if n < len(self) and self._term(n) == wanted else None

    def __getitem__(self, term: str) -> int:
        found = self.get_id(term) if isinstance(term, str) else None
        if found is None:
            raise KeyError(term)
        return found

    def __contains__(self, term: object) -> bool:
        return isinstance(term, str) and self.get_id(term) is not None

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __iter__(self) -> Iterator[str]:
        return (self._term(n).decode("utf-8") for n in range(len(self)))

    def release(self) -> None:
        self._bytes.release()


def sorted_vocabulary(vocabulary: Mapping[str, int]) -> tuple[list[bytes], npt.NDArray[np.int32]]:
    """The terms sorted by UTF-8 bytes, and each old id's new id (its rank)."""
    encoded = [term.encode("utf-8", "surrogatepass") for term in vocabulary]
    runs = [sorted(range(start, min(start + _SORT_RUN, len(encoded))), key=encoded.__getitem__)
            for start in range(0, len(encoded), _SORT_RUN)]  # fmt: skip
    order = list(heapq.merge(*runs, key=encoded.__getitem__))
    new_of_old = np.empty(len(encoded), dtype=np.int32)
    new_of_old[np.array(order, dtype=np.int64)] = np.arange(len(order), dtype=np.int32)
    return [encoded[n] for n in order], new_of_old


class TextColumn(Sequence[str | None]):
    """A column of optional strings laid end to end: a value is a byte 1 then its UTF-8; None is no bytes.

    Read one value at a time, so serving from the file makes no object per article until one is asked for.
    """

    def __init__(self, blob: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64]) -> None:
        self._bytes = np.ascontiguousarray(blob).data
        self._offsets = offsets

    @staticmethod
    def column(values: Sequence[str | None]) -> dict[str, Column]:
        """The blob and its offsets, to write as `name` and `name_offsets` (see `columns`)."""
        encoded = [b"" if v is None else b"\x01" + v.encode("utf-8", "surrogatepass") for v in values]
        return {
            "": Column.of(np.frombuffer(b"".join(encoded), dtype=np.uint8)),
            "_offsets": Column.of(_offsets([len(e) for e in encoded])),
        }

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, n: int) -> str | None: ...
    @overload
    def __getitem__(self, n: slice) -> Sequence[str | None]: ...
    def __getitem__(self, n: int | slice) -> str | Sequence[str | None] | None:
        if isinstance(n, slice):
            return [self[i] for i in range(*n.indices(len(self)))]
        start, end = int(self._offsets[n]), int(self._offsets[n + 1])
        return None if start == end else str(self._bytes[start + 1 : end], "utf-8", "surrogatepass")

    def __iter__(self) -> Iterator[str | None]:
        return iter(self.values())

    def values(self) -> list[str | None]:
        """Every value, read at once: a few ms at 20,000 articles, where one at a time took 15."""
        blob, offsets = bytes(self._bytes), self._offsets.tolist()
        return [
            blob[a + 1 : b].decode("utf-8", "surrogatepass") if b > a else None for a, b in itertools.pairwise(offsets)
        ]

    def release(self) -> None:
        """Let go of the file: every view of a map must go before it can be closed."""
        self._bytes.release()
        self._offsets = np.zeros(1, dtype=np.int64)


def _offsets(lengths: npt.NDArray[np.integer] | Sequence[int]) -> npt.NDArray[np.int64]:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


@dataclass
class Parts:
    """A build's output before it is laid out: article fields, sentences and their term ids, chunk by chunk."""

    fields: dict[str, list[str | None]] = field(default_factory=lambda: {name: [] for name in ARTICLE_FIELDS})
    sentence_counts: list[int] = field(default_factory=list)
    text: list[npt.NDArray[np.uint8]] = field(default_factory=list)
    text_lengths: list[npt.NDArray[np.int64]] = field(default_factory=list)
    vocabulary: dict[str, int] = field(default_factory=dict)
    term_ids: list[npt.NDArray[np.int32]] = field(default_factory=list)  # ids of `vocabulary`
    token_counts: list[npt.NDArray[np.int32]] = field(default_factory=list)  # terms per sentence
    budget_tokens: list[npt.NDArray[np.uint16]] = field(default_factory=list)  # index.passages.count_tokens_each

    @property
    def article_count(self) -> int:
        return len(self.sentence_counts)

    def add_article(self, values: Sequence[str | None], sentences: int) -> None:
        for name, value in zip(ARTICLE_FIELDS, values, strict=True):
            self.fields[name].append(value)
        self.sentence_counts.append(sentences)

    def add_text(self, sentences: Sequence[str], budget_tokens: npt.NDArray[np.uint16]) -> None:
        encoded = [s.encode("utf-8", "surrogatepass") for s in sentences]
        self.text.append(np.frombuffer(b"".join(encoded), dtype=np.uint8))
        self.text_lengths.append(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)))
        self.budget_tokens.append(budget_tokens)


def lay_out(
    parts: Parts,
    params: Bm25Params,
    *,
    key: str,
    skipped: Sequence[Skipped] = (),
    stamps: store.Stamps | None = None,
) -> tuple[dict[str, Any], dict[str, Column]]:
    """The file's directory numbers and its columns."""
    terms, new_of_old = sorted_vocabulary(parts.vocabulary)
    term_ids = [new_of_old[ids] for ids in parts.term_ids]  # one chunk at a time: each call is short
    tokens = np.concatenate(term_ids) if term_ids else np.empty(0, dtype=np.int32)
    counts = np.concatenate(parts.token_counts) if parts.token_counts else np.empty(0, dtype=np.int32)
    term_blob = np.frombuffer(b"".join(terms), dtype=np.uint8)
    term_offsets = _offsets([len(t) for t in terms])
    bm25 = Bm25.from_term_ids(SortedTerms(term_blob, term_offsets), tokens, counts, params)
    text_lengths = np.concatenate(parts.text_lengths) if parts.text_lengths else np.empty(0, dtype=np.int64)
    budget_tokens = Column.joined(parts.budget_tokens, np.uint16)
    if (
        len(text_lengths) != bm25.doc_count
        or sum(parts.sentence_counts) != bm25.doc_count
        or budget_tokens.shape != (bm25.doc_count,)
    ):
        raise ValueError("sentences and token counts disagree")
    meta = {
        "key": key,
        "articles": parts.article_count,
        "doc_count": bm25.doc_count,
        "token_count": bm25.token_count,
        "skipped": [[s.path, s.reason] for s in skipped],
        "taken_ns": stamps.taken_ns if stamps else 0,
    }
    columns: dict[str, Column] = {
        **store.stamp_columns(stamps or store.Stamps({}, 0)),
        **{
            f"article_{name}{suffix}": column
            for name in ARTICLE_FIELDS
            for suffix, column in TextColumn.column(parts.fields[name]).items()
        },
        "article_starts": Column.of(_offsets(parts.sentence_counts)),
        "terms": Column.of(term_blob),
        "term_offsets": Column.of(term_offsets),
        "idf": Column.of(bm25.idf),
        "indptr": Column.of(bm25.indptr),
        "indices": Column.of(bm25.indices),
        "data": Column.of(bm25.data),
        "text": Column.joined(parts.text, np.uint8),
        "text_offsets": Column.of(_offsets(text_lengths)),
        "tokens": Column.of(tokens),
        "token_offsets": Column.of(_offsets(counts)),
        "budget_tokens": budget_tokens,
    }
    return meta, columns


def check_shapes(file: store.IndexFile) -> None:
    """The arrays fit together (checksums say a file is as written; this, that it was written whole and right)."""
    meta = file.meta
    docs, terms = int(meta["doc_count"]), len(file["term_offsets"]) - 1
    sizes = {
        "idf": terms,
        "indptr": terms + 1,
        "text_offsets": docs + 1,
        "token_offsets": docs + 1,
        "budget_tokens": docs,
        "article_starts": int(meta["articles"]) + 1,
        "data": len(file["indices"]),
        **{f"article_{name}_offsets": int(meta["articles"]) + 1 for name in ARTICLE_FIELDS},
    }
    for name, size in sizes.items():
        if len(file[name]) != size:
            raise store.DamagedIndex(f"{name} has {len(file[name])} entries, not {size}")
    ends = {
        "indptr": len(file["indices"]),
        "text_offsets": len(file["text"]),
        "token_offsets": len(file["tokens"]),
        "article_starts": docs,
        "term_offsets": len(file["terms"]),
        **{f"article_{name}_offsets": len(file[f"article_{name}"]) for name in ARTICLE_FIELDS},
    }
    for name, end in ends.items():
        offsets = file[name]
        if int(offsets[0]) != 0 or int(offsets[-1]) != end or bool(np.any(offsets[1:] < offsets[:-1])):
            raise store.DamagedIndex(f"{name} is not a run of offsets ending at {end}")
    for name, bound in (("indices", docs), ("tokens", terms)):
        values = file[name]
        if len(values) and (int(values.min()) < 0 or int(values.max()) >= bound):
            raise store.DamagedIndex(f"{name} out of range")
