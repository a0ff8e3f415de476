"""The saved index: plain NumPy arrays in one file, so a restart skips the build.

The file is a magic string, a JSON directory of the arrays (name, dtype, shape), the
SHA-256 of the directory and the arrays, then the arrays' raw bytes, read straight into
NumPy arrays. Loading can never run code (no pickle, no np.load: only numeric dtypes are
accepted). The file is written to a temporary name and renamed into place (a crash never
leaves half a file under the real name), and the SHA-256 tells a truncated or altered
file, which is then rebuilt rather than trusted. The file is keyed by the content of every
article, the BM25 parameters and the code that builds it: any change means a rebuild.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import platformdirs

from index.articles import Article, Skipped
from index.bm25 import Bm25

log = logging.getLogger("index.store")

FORMAT_VERSION = 3
CACHE_ENV = "INDEX_CACHE_DIR"
_VOCABULARY_STEP = 20_000
# Article's fields in order, except `sentences` (stored as text, with a count per article).
_ARTICLE_TEXTS = ("id", "title", "date", "url", "source", "digest")
_STAMP_ARRAYS = ("header", "stamp_paths", "stamp_digests", "stamp_numbers")
_ARRAYS = (
    *_STAMP_ARRAYS,
    *(f"article_{name}" for name in _ARTICLE_TEXTS),
    "article_sentences",
    "vocabulary",
    "idf",
    "indptr",
    "indices",
    "data",
    "sentences",
    "sentence_bytes",
)


@dataclass(frozen=True)
class Stamps:
    """Each article file's (inode, size, mtime_ns, ctime_ns, sha256) when it was read, and when that was."""

    files: dict[str, tuple[int, int, int, int, str]]
    taken_ns: int


@dataclass(frozen=True)
class SavedIndex:
    """What a saved file holds: the parsed articles, the files skipped while parsing, the BM25 postings."""

    key: str
    articles: tuple[Article, ...]
    skipped: tuple[Skipped, ...]
    bm25: Bm25
    stamps: Stamps = Stamps({}, 0)


def cache_folder(configured: Path | None = None) -> Path:
    """`configured`, else $INDEX_CACHE_DIR, else the user's cache folder (e.g. ~/.cache/qa-bot)."""
    if configured is not None:
        return configured
    return Path(os.environ.get(CACHE_ENV) or platformdirs.user_cache_path("qa-bot"))


def index_file(cache: Path, seeds: Path) -> Path:
    """One file per seeds folder, so two bots on two folders never evict each other."""
    name = hashlib.sha256(str(seeds.resolve()).encode()).hexdigest()[:16]
    return cache / f"index-{name}.bin"


def _blob(text: str) -> npt.NDArray[np.uint8]:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def to_arrays(saved: SavedIndex) -> dict[str, npt.NDArray[Any]]:
    articles = saved.articles
    sentence_blobs = ["\n".join(a.sentences).encode("utf-8") for a in articles]
    # Sentences are stored one per line: a line break inside one would shift every later one.
    if sum(b.count(b"\n") for b in sentence_blobs) != sum(max(len(a.sentences) - 1, 0) for a in articles):
        raise ValueError("a sentence holds a line break; the index cannot be saved")
    sentence_bytes = np.zeros(len(articles) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in sentence_blobs], out=sentence_bytes[1:])
    header = {
        "format": FORMAT_VERSION,
        "key": saved.key,
        "doc_count": saved.bm25.doc_count,
        "token_count": saved.bm25.token_count,
        "skipped": [[s.path, s.reason] for s in saved.skipped],
        "taken_ns": saved.stamps.taken_ns,
    }
    stamps = saved.stamps.files
    # Every builder numbers terms in insertion order, so the keys are already in id order.
    vocabulary = list(saved.bm25.vocabulary)
    ids = np.fromiter(saved.bm25.vocabulary.values(), dtype=np.int64, count=len(vocabulary))
    if not np.array_equal(ids, np.arange(len(vocabulary))):
        raise ValueError("the vocabulary is not numbered in order")
    arrays: dict[str, npt.NDArray[Any]] = {
        "header": _blob(json.dumps(header, ensure_ascii=False)),
        # Per-article fields column by column, each its own array: encoding or decoding one JSON
        # document of them all holds the GIL for 70 ms at a million sentences (measured), and a
        # list per article would be 20,000 more objects for the garbage collector to walk.
        **{
            f"article_{name}": _blob(json.dumps([getattr(a, name) for a in articles], ensure_ascii=False))
            for name in _ARTICLE_TEXTS
        },
        "article_sentences": np.array([len(a.sentences) for a in articles], dtype=np.int64),
        "stamp_paths": _blob(json.dumps(list(stamps), ensure_ascii=False)),
        "stamp_digests": _blob(json.dumps([stamp[4] for stamp in stamps.values()])),
        "stamp_numbers": np.array([stamp[:4] for stamp in stamps.values()], dtype=np.int64).reshape(-1, 4),
        "vocabulary": _blob("\n".join(vocabulary)),
        "idf": saved.bm25.idf,
        "indptr": saved.bm25.indptr,
        "indices": saved.bm25.indices,
        "data": saved.bm25.data,
        "sentences": np.frombuffer(b"".join(sentence_blobs), dtype=np.uint8),
        "sentence_bytes": sentence_bytes,
    }
    return arrays


def save(path: Path, saved: SavedIndex) -> None:
    """Write atomically: a temporary file in the same folder, flushed, then renamed over `path`."""
    arrays = to_arrays(saved)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            _write(file, arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class DamagedIndex(ValueError):
    """The saved file is not one this code wrote, or was changed since."""


MAGIC = b"QABOTIDX"
# Only these dtypes can be in the file: plain numbers, never objects.
_DTYPES = {np.dtype(t).str: np.dtype(t) for t in ("<f8", "<i8", "<i4", "|u1")}
_MAX_DIRECTORY = 1_000_000


def _bytes_of(array: npt.NDArray[Any]) -> memoryview:
    return np.ascontiguousarray(array).data.cast("B")


def _write(file: BinaryIO, arrays: dict[str, npt.NDArray[Any]]) -> None:
    entries = [{"name": name, "dtype": a.dtype.str, "shape": list(a.shape)} for name, a in arrays.items()]
    directory = json.dumps({"format": FORMAT_VERSION, "arrays": entries}).encode()
    digest = hashlib.sha256(directory)
    for array in arrays.values():
        digest.update(_bytes_of(array))
    file.write(MAGIC + len(directory).to_bytes(8, "little") + directory + digest.digest())
    for array in arrays.values():
        file.write(_bytes_of(array))


def _read(path: Path, only: Collection[str] = ()) -> dict[str, npt.NDArray[Any]]:
    """Every array in the file, checked against the SHA-256; or, unchecked, only the arrays named in `only`."""
    size = path.stat().st_size
    with path.open("rb") as file:
        if file.read(len(MAGIC)) != MAGIC:
            raise DamagedIndex("not a saved index")
        length = int.from_bytes(file.read(8), "little")
        if length > _MAX_DIRECTORY:
            raise DamagedIndex("directory too large")
        directory = file.read(length)
        expected = file.read(32)
        entries = json.loads(directory)["arrays"]
        shapes = [(str(e["name"]), _DTYPES[e["dtype"]], tuple(int(n) for n in e["shape"])) for e in entries]
        needed = sum(int(np.prod(shape)) * dtype.itemsize for _, dtype, shape in shapes)
        if needed != size - file.tell():  # checked before allocating: a bad directory cannot exhaust memory
            raise DamagedIndex(f"{size - file.tell():,} bytes of arrays where the directory says {needed:,}")
        digest = hashlib.sha256(directory)
        arrays: dict[str, npt.NDArray[Any]] = {}
        for name, dtype, shape in shapes:
            if only and name not in only:
                file.seek(int(np.prod(shape)) * dtype.itemsize, os.SEEK_CUR)
                continue
            array = np.empty(shape, dtype=dtype)
            view = _bytes_of(array)
            if file.readinto(view) != len(view):
                raise DamagedIndex("truncated")
            digest.update(view)
            arrays[name] = array
    if set(arrays) != set(only or _ARRAYS):
        raise DamagedIndex(f"unexpected arrays {sorted(arrays)}")
    if not only and digest.digest() != expected:
        raise DamagedIndex("checksum mismatch")
    return arrays


def _text(blob: npt.NDArray[np.uint8], start: int, end: int) -> str:
    return str(blob.data[start:end], "utf-8")


def _json(blob: npt.NDArray[np.uint8]) -> Any:
    return json.loads(_text(blob, 0, len(blob)))


def from_arrays(arrays: dict[str, npt.NDArray[Any]], key: str) -> SavedIndex | None:
    header = _json(arrays["header"])
    if header.get("format") != FORMAT_VERSION or header.get("key") != key:
        return None
    blob, bounds = arrays["sentences"], arrays["sentence_bytes"].tolist()
    texts = [_json(arrays[f"article_{name}"]) for name in _ARTICLE_TEXTS]
    fields = zip(*texts, arrays["article_sentences"].tolist(), strict=True)
    articles = []
    for n, (article_id, title, date, url, source, digest, count) in enumerate(fields):
        sentences = tuple(_text(blob, bounds[n], bounds[n + 1]).split("\n")) if count else ()
        if len(sentences) != count:
            raise DamagedIndex(f"article {article_id} has {len(sentences)} sentences, not {count}")
        articles.append(Article(article_id, title, date, url, source, sentences, digest))
    if sum(len(a.sentences) for a in articles) != header["doc_count"]:
        raise DamagedIndex("sentence count and document count disagree")
    terms = _text(arrays["vocabulary"], 0, len(arrays["vocabulary"])).split("\n") if len(arrays["vocabulary"]) else []
    if len(terms) != len(arrays["idf"]) or len(arrays["indptr"]) != len(terms) + 1:
        raise DamagedIndex("vocabulary and postings disagree")
    vocabulary: dict[str, int] = {}
    for start in range(0, len(terms), _VOCABULARY_STEP):  # in steps: one huge C call would hold the GIL
        vocabulary.update(zip(terms[start : start + _VOCABULARY_STEP], range(start, len(terms)), strict=False))
    bm25 = Bm25(
        vocabulary,
        arrays["idf"],
        arrays["indptr"],
        arrays["indices"],
        arrays["data"],
        int(header["doc_count"]),
        int(header["token_count"]),
    )
    skipped = tuple(Skipped(path, reason) for path, reason in header["skipped"])
    return SavedIndex(key, tuple(articles), skipped, bm25, _stamps(header, arrays))


def _stamps(header: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> Stamps:
    numbers = arrays["stamp_numbers"]
    columns = (numbers[:, column].tolist() for column in range(4))  # no list per file: see to_arrays
    rows = zip(_json(arrays["stamp_paths"]), *columns, _json(arrays["stamp_digests"]), strict=True)
    files = {str(path): (int(a), int(b), int(c), int(d), str(digest)) for path, a, b, c, d, digest in rows}
    return Stamps(files, int(header["taken_ns"]))


def load_stamps(path: Path) -> Stamps | None:
    """The file stamps recorded in the saved index, read alone (the whole file is checked when loaded)."""
    try:
        arrays = _read(path, only=_STAMP_ARRAYS)
        return _stamps(_json(arrays["header"]), arrays)
    except Exception:  # missing or damaged: every file is read
        return None


def load(path: Path, key: str) -> SavedIndex | None:
    """The index saved at `path` for `key`; None when missing, stale or damaged (then it is rebuilt)."""
    if not path.exists():
        return None
    try:
        saved = from_arrays(_read(path), key)
    except Exception as error:  # any failure to read means: do not trust it, rebuild
        log.warning("The saved index %s is damaged (%s); rebuilding it.", path, error)
        return None
    if saved is None:
        log.info("The saved index %s is out of date (articles or code changed); rebuilding it.", path)
    return saved
