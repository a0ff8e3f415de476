"""The index file as read when serving: its articles, sentences and stored term ids, in place.

Nothing per sentence is a Python object until it is asked for: the postings, the vocabulary, the
sentences' text and term ids are views of the mapped file. The ranking reads candidates' term ids
here (index/ranking/), the answers their text and passage costs (index/answers/).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Self, cast, overload

import numpy as np
import numpy.typing as npt

from index.articles.article import Article, Skipped
from index.storage import store
from index.storage.bm25 import Bm25
from index.storage.layout import ARTICLE_FIELDS, SortedTerms, TextColumn, check_shapes
from index.storage.passages import PASSAGE_TOKENS


class ClosedIndex(RuntimeError):
    """The index was closed (replaced by a reload and no longer read): nothing can be read from it."""


class UnknownArticle(KeyError):
    """No article of the index has this id (it may have been removed by a reload)."""


class Sentences(Sequence[str]):
    """An article's sentences, read from the index file when asked for (decoded each time)."""

    __slots__ = ("_count", "_first", "_index")

    def __init__(self, index: StoredIndex, first: int, count: int) -> None:
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


class StoredIndex:
    """An index file's contents, served from its arrays in place; thread-safe for reading.

    `close()` unmaps the file; the bot does so once no question reads it any more (see bot.index_holder).
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
        # The articles' fields, each a view of its column (nothing is read until a value is asked for).
        self._fields = {
            name: TextColumn(file[f"article_{name}"], file[f"article_{name}_offsets"]) for name in ARTICLE_FIELDS
        }
        # Made on first use, once, under this lock (a question and /sources may ask at the same time):
        # an Article object per article, and each article id's number.
        self._lazy = threading.Lock()
        self._articles: tuple[Article, ...] | None = None
        self._numbers: dict[str, int] | None = None  # article id → its number (`article_sentences`)
        check_shapes(file)

    @classmethod
    def open(cls, path: Path) -> Self:
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
        """Unmap the file. Anything read from the index afterwards raises ClosedIndex (its Article objects'
        sentences too); closing again does nothing."""
        if self.closed:
            return
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
        with self._lazy:
            self._articles, self._fields, self._numbers = None, {}, None
        self._file.close()

    def check_open(self) -> None:
        """Raises ClosedIndex once the index is closed: a closed index answers nothing, rather than wrongly."""
        if self.closed:
            raise ClosedIndex("the index was closed")

    @property
    def closed(self) -> bool:
        return self._file.closed

    # ------------------------------------------------------------ articles and sentences

    def field(self, name: str) -> TextColumn:
        """One of the articles' fields (ARTICLE_FIELDS), a value per article, read in place."""
        self.check_open()
        return self._fields[name]

    def strings(self, name: str) -> Sequence[str]:
        """A field every article has: id, title and digest (only date, url and source may be missing)."""
        return cast(Sequence[str], self.field(name))

    @property
    def articles(self) -> tuple[Article, ...]:
        """Every article (made on first use: one object per article, the sentences read when asked for)."""
        with self._lazy:
            self.check_open()
            if self._articles is None:
                columns = [self._fields[name].values() for name in ARTICLE_FIELDS]
                starts = self._starts.tolist()
                self._articles = tuple(
                    Article(
                        article_id,
                        title,
                        date,
                        url,
                        source,
                        Sentences(self, starts[n], starts[n + 1] - starts[n]),
                        digest,
                    )
                    for n, (article_id, title, date, url, source, digest) in enumerate(zip(*columns, strict=True))
                )
            return self._articles

    def article_digests(self) -> dict[str, str]:
        """Each article's id and the SHA-256 of its file, from the file's columns (no Article objects)."""
        self.check_open()
        ids, digests = (cast(list[str], self.field(name).values()) for name in ("id", "digest"))  # never None
        return dict(zip(ids, digests, strict=True))

    @property
    def article_count(self) -> int:
        return len(self._starts) - 1

    @property
    def sentence_count(self) -> int:
        return self.bm25.doc_count

    @property
    def starts(self) -> npt.NDArray[np.int64]:
        """Each article's first sentence (documents are numbered across articles, from 0), then the count."""
        return self._starts

    def sentence(self, doc: int) -> str:
        """Sentence `doc`'s text (documents are numbered across articles, from 0)."""
        self.check_open()
        offsets = self._text_offsets
        return str(self._text_view[offsets[doc] : offsets[doc + 1]], "utf-8")

    def budget_tokens(self, first: int, count: int) -> npt.NDArray[np.uint16]:
        """The stored passage-budget costs of sentences first to first + count - 1, copied out of the map."""
        self.check_open()
        return self._budget_tokens[first : first + count].copy()

    def budget_costs(self, first: int, count: int) -> list[int]:
        """As `budget_tokens`, as a list, read in place (for one passage)."""
        costs: list[int] = self._budget_tokens[first : first + count].tolist()
        return costs

    def term_ids(self, doc: int) -> list[int]:
        """Sentence `doc`'s term ids, in order (the forward index)."""
        ids: list[int] = self._tokens[int(self._token_offsets[doc]) : int(self._token_offsets[doc + 1])].tolist()
        return ids

    def article_of(self, docs: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The article number of each sentence in `docs`."""
        found: npt.NDArray[np.int64] = np.searchsorted(self._starts, docs, side="right") - 1
        return found

    def text_blob(self, first: int, end: int) -> tuple[memoryview, npt.NDArray[np.int64]]:
        """Sentences first to end - 1 as one UTF-8 blob read in place, and each one's length in it."""
        bounds = self._text_offsets[first : end + 1]
        return self._text_view[int(bounds[0]) : int(bounds[-1])], np.diff(bounds)

    def terms_held(
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

    def article_sentences(self, article_id: str) -> tuple[int, int]:
        """The first sentence of the article whose id is `article_id`, and the one after its last
        (documents are numbered across articles). Raises UnknownArticle."""
        with self._lazy:
            self.check_open()
            if self._numbers is None:
                self._numbers = {article: n for n, article in enumerate(self.strings("id"))}
            number = self._numbers.get(article_id)
        if number is None:
            raise UnknownArticle(article_id)
        return int(self._starts[number]), int(self._starts[number + 1])

    def term_id(self, term: str) -> int | None:
        """A term's id in the vocabulary, or None when no sentence holds it."""
        return self._terms.get_id(term)
