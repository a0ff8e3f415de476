"""Passages to show for an answer's hits: two hits whose passages share a sentence are shown as one.

The demo's "Who is in charge?" found two sentences a few apart in one article, and their passages shared
4 of 5 sentences: shown twice, the reader read the same text twice and saw one passage fewer. Here such
hits become one passage (the union of their sentences, both marked), and the room it frees goes to the
next hit that is not already shown. Pure: formatting the marks (bold in Discord, plain on a terminal) is
the caller's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from index.answers.results import MAX_HITS, Hit


def hits_for(passages: int) -> int:
    """How many hits to ask for so that `passages` distinct passages are usually found after merging."""
    return min(MAX_HITS, 2 * passages + 2)


@dataclass(frozen=True)
class Passage:
    """Consecutive sentences of one article, shown once, with the hits found in them (best first)."""

    hits: tuple[Hit, ...]
    first: int  # the first sentence's number in the article (1-based)
    sentences: tuple[str, ...]
    marks: tuple[tuple[int, int], ...]  # [start, end) of each hit's sentence in `text`, in reading order

    @property
    def best(self) -> Hit:
        return self.hits[0]

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    @property
    def marked(self) -> tuple[int, ...]:
        """The hits' sentence numbers, in reading order."""
        return tuple(sorted({hit.sentence for hit in self.hits}))

    @property
    def last(self) -> int:
        return self.first + len(self.sentences) - 1


def _marks(hits: Sequence[Hit], first: int, sentences: Sequence[str]) -> tuple[tuple[int, int], ...]:
    starts, at = [], 0
    for sentence in sentences:
        starts.append(at)
        at += len(sentence) + 1
    numbers = sorted({hit.sentence for hit in hits})
    return tuple((starts[n - first], starts[n - first] + len(sentences[n - first])) for n in numbers)


def own_passage(hit: Hit) -> Passage:
    """The hit's own passage."""
    if hit.shown:
        return Passage((hit,), hit.first, hit.shown, _marks((hit,), hit.first, hit.shown))
    # A hit made without its passage's sentences (by hand, in a test): its passage as one block, its
    # sentence marked where `offset` says (if it is there), never merged with another.
    end = hit.offset + len(hit.text)
    found = hit.offset >= 0 and hit.passage[hit.offset : end] == hit.text
    return Passage((hit,), hit.sentence, (hit.passage,), ((hit.offset, end),) if found else ())


def _overlaps(passage: Passage, other: Passage) -> bool:
    return (
        passage.best.article == other.best.article
        and bool(passage.best.shown and other.best.shown)
        and passage.first <= other.last
        and other.first <= passage.last
    )


def _union(passage: Passage, other: Passage) -> Passage:
    first = min(passage.first, other.first)
    last = max(passage.last, other.last)
    sentences = []
    for n in range(first, last + 1):
        source = passage if passage.first <= n <= passage.last else other
        sentences.append(source.sentences[n - source.first])
    hits = passage.hits + other.hits
    return Passage(hits, first, tuple(sentences), _marks(hits, first, sentences))


def merge_overlapping(hits: Sequence[Hit], limit: int) -> list[Passage]:
    """At most `limit` passages for `hits` (best first): a hit whose passage shares a sentence with a
    passage already kept joins it; the next hit that does not fills the place it would have taken.

    A marked sentence always lies inside its passage, since each hit's passage holds its own sentence.
    """
    kept: list[Passage] = []
    for hit in hits:
        candidate = own_passage(hit)
        joined = next((n for n, passage in enumerate(kept) if _overlaps(passage, candidate)), None)
        if joined is None:
            if len(kept) == limit:
                break
            kept.append(candidate)
            continue
        merged = _union(kept[joined], candidate)
        # The union may now reach a later passage of the same article: take that in too.
        for n in range(len(kept) - 1, joined, -1):
            if _overlaps(merged, kept[n]):
                merged = _union(merged, kept.pop(n))
        kept[joined] = merged
    return kept
