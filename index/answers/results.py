"""What a question gets: typed results, the engine's output to the bot and the command line."""

from __future__ import annotations

from dataclasses import dataclass

# Hits per question unless the caller asks for another number (the CLI's -k, /ask's passages).
DEFAULT_HITS = 3
# k is capped at MAX_HITS, however many a caller asks for.
MAX_HITS = 100


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
    confident: bool  # `confidence` is high enough to answer (index/ranking/confidence.py)
    offset: int  # where `text` starts in `passage` (the same words may occur earlier in it)
    source: str | None = None  # the publisher or site, when the article names it
    first: int = 0  # the passage's first sentence (1-based): `passage` is sentences first … first + len(shown) - 1
    shown: tuple[str, ...] = ()  # the passage's sentences, `passage` being them joined by spaces
    confidence: float = 0.0  # the probability that the sentence answers the question


@dataclass(frozen=True)
class Answer:
    """What a question gets: its hits, best first, and a short answer when one is found."""

    question: str
    hits: tuple[Hit, ...]
    short_answer: str | None = None

    @property
    def confident(self) -> bool:
        return bool(self.hits) and self.hits[0].confident
