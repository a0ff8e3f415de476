"""Text handling shared by indexing and querying: sentences, normalisation, tokens.

Sentence boundaries come from blingfire (a finite-state splitter, about 100x faster
than pysbd on the seed with the same boundaries once quotations are re-joined), and
stems from PyStemmer (the Snowball English stemmer, compiled C).
"""

from __future__ import annotations

import ctypes
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from itertools import chain

import blingfire
import Stemmer

from index.articles.stopwords import QUESTION_WORDS, STOP_WORDS

# A sentence longer than this is cut into pieces at word boundaries, so a file with no
# punctuation cannot make one huge BM25 document or an unreadable passage.
# The saved index is reused while this and the other versions in storage/build.py's key hold: bump it with
# any change to what sentences or search terms come out of a text (splitting, normalising, stop words,
# stemming, the limits below), and pin the new output in tests/index/test_versions.py.
TOKENIZER_VERSION = 1
MAX_SENTENCE_CHARS = 1_000
# Longer "words" (a base64 blob, a run of letters) are cut to this many characters before
# stemming: they still match themselves, but cannot bloat the vocabulary or the stem cache.
MAX_TOKEN_CHARS = 64

# Curly and straight quotes must tokenize alike: "Niger's" and "Niger’s" are one word.
_QUOTE_MAP = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u02bc": "'",
        "\uff07": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201f": '"',
        "\u2033": '"',
    }
)
# Zero-width and directional marks carry no meaning for search but split or hide words.
_INVISIBLE = dict.fromkeys(
    [0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)
# A word is letters and digits, with inner apostrophes; "_" separates words. Matching
# `\w` after turning "_" into a space is the same as `[^\W_]` and twice as fast.
_WORD = re.compile(r"\w+(?:'\w+)*")
_SPACES = re.compile(r"\s+")
_OPEN_QUOTES = ("\u201c", "\u00ab")
_CLOSE_QUOTES = ("\u201d", "\u00bb")
# What must never be shown, from an article, a file name or a question: control characters
# (C0 and C1: ESC starts the terminal sequences that clear a screen or write a clipboard),
# line and paragraph separators (some readers end a line there), and Unicode's Bidi_Control
# characters, which reorder the text after them (a title could reverse its citation).
# Lone surrogates (undecodable bytes, JSON escapes) cannot be written as UTF-8.
CONTROL_CHARS = (*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)
BIDI_CONTROLS = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
UNSAFE_CHARS = re.compile("[" + "".join(f"\\u{c:04x}" for c in (*CONTROL_CHARS, *BIDI_CONTROLS)) + "\\ud800-\\udfff]")
# Controls become spaces (they often separate words); direction controls go (they sit inside words).
_CLEAN = dict.fromkeys(CONTROL_CHARS, " ") | dict.fromkeys(BIDI_CONTROLS)
_CLEAN_KEEPING_LINES = {c: v for c, v in _CLEAN.items() if c != 0x0A}
_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_text(text: str, *, keep_lines: bool = False) -> str:
    """`text` safe to show anywhere: control characters are spaces, direction controls are gone,
    lone surrogates are U+FFFD. With `keep_lines`, line feeds (\\n) stay."""
    return _SURROGATES.sub("\ufffd", text.translate(_CLEAN_KEEPING_LINES if keep_lines else _CLEAN))


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """ "1 sentence", "2 sentences", "1,024 files": a count with its noun agreeing."""
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


def printable(name: str) -> str:
    """`name` (a path) safe for one log or report line, what is unsafe in it escaped rather than lost,
    so that a moderator can still find the file: "\\x1b", "\\u202e", "\\udce9" (an undecodable byte)."""
    escaped = name.encode("utf-8", "backslashreplace").decode("utf-8")
    return UNSAFE_CHARS.sub(_escape_char, escaped)


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# PyStemmer's own cache (maxCacheSize) costs four times the stemming on a miss; `_stem`'s
# lru_cache does the caching instead.
_stemmer = Stemmer.Stemmer("english", 0)


def normalise(text: str) -> str:
    """Fold compatibility forms, quotes and invisible marks; lower-case."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    return text.translate(_QUOTE_MAP).lower()


def _stem(word: str) -> str:
    # Cut before the cache, so that neither the cache nor the vocabulary holds giant "words".
    return _stem_short(word[:MAX_TOKEN_CHARS])


@lru_cache(maxsize=200_000)
def _stem_short(word: str) -> str:
    return str(_stemmer.stemWord(word))


def _words_of_normalised(text: str) -> list[str]:
    return _WORD.findall(text.replace("_", " "))


def words(text: str) -> list[str]:
    """The normalised words of `text`, stop words included, unstemmed."""
    return _words_of_normalised(normalise(text))


def tokenize(text: str) -> list[str]:
    """Search tokens: normalised words without stop words, stemmed."""
    return [_stem(w) for w in words(text) if w not in STOP_WORDS]


# Each word's search token (None for a stop word), kept across calls: an archive's articles
# share most of their words, so a build looks most of them up here instead of filtering and
# stemming them article by article. Replaced by an empty one when full, so hostile text cannot
# grow it without bound (replaced, not cleared: a call in another thread keeps its own).
_token_of: dict[str, str | None] = {}
TOKEN_CACHE_WORDS = 200_000


def tokens_end_to_end(texts: Sequence[str]) -> tuple[list[str], list[int]]:
    """Every text's `tokenize` tokens laid end to end, and each text's token count.

    The same tokens as `[tokenize(t) for t in texts]`, several times faster on an
    article's sentences: one normalisation for all of them, and each distinct word
    filtered and stemmed once.
    """
    # Normalising is per character, so one call on the texts joined by line breaks is
    # the same as one call each (unless a text holds a line break itself).
    lines = normalise("\n".join(texts)).split("\n")
    if len(lines) != len(texts):
        lines = [normalise(t) for t in texts]
    per_text = [_words_of_normalised(line) for line in lines]
    flat = list(chain.from_iterable(per_text))
    global _token_of
    token_of = _token_of
    unseen = set(flat).difference(token_of)
    if len(token_of) + len(unseen) > TOKEN_CACHE_WORDS:
        token_of = _token_of = {}
        unseen = set(flat)
    for word in unseen:
        token_of[word] = None if word in STOP_WORDS else _stem(word)
    mapped = list(map(token_of.__getitem__, flat))
    tokens = [token for token in mapped if token is not None]
    counts = []
    start = 0
    for text_words in per_text:
        end = start + len(text_words)
        counts.append(end - start - mapped[start:end].count(None))
        start = end
    return tokens, counts


def tokenize_question(text: str) -> list[str]:
    """Search tokens of a question: also without the words that only shape a question."""
    return [_stem(w) for w in words(text) if w not in STOP_WORDS and w not in QUESTION_WORDS]


def _quote_balance(sentence: str) -> int:
    opened = sum(sentence.count(q) for q in _OPEN_QUOTES)
    closed = sum(sentence.count(q) for q in _CLOSE_QUOTES)
    return opened - closed


def _join_quotations(sentences: Iterable[str]) -> Iterator[str]:
    # blingfire ends a sentence at every full stop, even inside “quoted speech”;
    # a quotation is one unit for a reader, so a sentence left inside an open
    # quotation is joined to the next one. A quotation never closed stops being
    # joined once it reaches the sentence limit: no unbounded (or quadratic) join.
    pending: list[str] = []
    size = depth = 0
    for sentence in sentences:
        pending.append(sentence)
        size += len(sentence) + 1
        depth += _quote_balance(sentence)
        if depth <= 0 or size > MAX_SENTENCE_CHARS:
            yield " ".join(pending)
            pending, size, depth = [], 0, 0
    if pending:
        yield " ".join(pending)


def _cap_length(sentence: str) -> Iterator[str]:
    # Cut at the last space within the limit (mid-word only when there is none); works
    # with offsets, so a 5 MB run without punctuation costs linear time, not quadratic.
    start, end = 0, len(sentence)
    while end - start > MAX_SENTENCE_CHARS:
        cut = sentence.rfind(" ", start, start + MAX_SENTENCE_CHARS)
        if cut <= start:
            cut = start + MAX_SENTENCE_CHARS
        yield sentence[start:cut].rstrip()
        start = cut
        while start < end and sentence[start] == " ":
            start += 1
    if start < end:
        yield sentence[start:]


_buffers = threading.local()


def _text_to_sentences(text: str) -> str:
    """blingfire.text_to_sentences, reusing one output buffer per thread.

    blingfire's own wrapper makes a new ctypes buffer type for every call, which costs
    as much as the splitting itself on a paragraph.
    """
    data = text.encode("utf-8")
    buffer = getattr(_buffers, "buffer", None)
    if buffer is None or len(buffer) < 2 * len(data) + 1:
        buffer = ctypes.create_string_buffer(max(2 * len(data) + 1, 1 << 16))
        _buffers.buffer = buffer
    size = blingfire.blingfire.TextToSentences(
        ctypes.c_char_p(data), ctypes.c_int(len(data)), ctypes.byref(buffer), ctypes.c_int(len(buffer))
    )
    if size == -1 or size > len(buffer):
        return ""
    # Only the first `size` bytes are this call's: the rest of the reused buffer is stale.
    return ctypes.string_at(buffer, size).split(b"\0", 1)[0].decode("utf-8")


def split_sentences(text: str) -> list[str]:
    """Sentences of `text` as written (whitespace folded); paragraphs never merge."""
    text = clean_text(text, keep_lines=True)
    sentences: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())  # str.split's whitespace is re's \s: same as _SPACES, faster
        if not paragraph:
            continue
        pieces = (s.strip() for s in _text_to_sentences(paragraph).split("\n"))
        for sentence in _join_quotations(p for p in pieces if p):
            sentences.extend(_cap_length(sentence))
    return sentences
