"""The index file: every array the index serves from, in one file mapped read-only.

Layout: a magic string, the directory's length and SHA-256, the directory (JSON: the
format version, a few numbers, and each array's name, dtype, shape, offset and xxh3-128
checksum), then the arrays' raw bytes, each aligned to 64 bytes. Serving maps the file
and views the arrays in place (`np.frombuffer` over the map): nothing is read into
memory or unpickled, only plain numeric dtypes are accepted, and a start costs the same
at any size. The OS page cache holds the pages once for every process that maps the file.

Over 400 lines on purpose: writing, naming, locking and checking the one file format belong together.

Integrity: the directory's SHA-256 and the arrays' bounds are checked at every open;
every array's checksum is computed from the bytes as they are written, and checked over
the mapped file once per process before it serves from the file (the writer included,
so a short write or a file swapped under it is caught). A file that fails any check is
never trusted: it is rebuilt. The file is written to a temporary name and renamed into
place; temporary files left by a killed build are removed by the next save.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import mmap
import os
import re
import stat
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import platformdirs
import xxhash

log = logging.getLogger("index.store")

FORMAT_VERSION = 6
CACHE_ENV = "INDEX_CACHE_DIR"
MAGIC = b"QABOTMAP"
_ALIGN = 64
_MAX_DIRECTORY = 1_000_000
# Only these dtypes can be in the file: plain numbers, never objects.
_DTYPES = {np.dtype(t).str: np.dtype(t) for t in ("<f8", "<i8", "<i4", "<u2", "|u1")}
# Hashing in steps: each step is one C call, short enough for other threads to run between.
_HASH_STEP = 8 << 20
# The saved file is `index-<16 hex>.bin`; its temporary files `.index-<16 hex>.bin.<8 chars>.tmp`
# (tempfile.mkstemp's). Only names of this shape are ever removed as stale.
_TEMPORARY = re.compile(r"\.index-[0-9a-f]{16}\.bin\.[A-Za-z0-9_]{8}\.tmp")

Array = npt.NDArray[Any]


class DamagedIndex(ValueError):
    """The file is not one this code wrote, or was changed since."""


@dataclass(frozen=True)
class Stamps:
    """Each article file's (inode, size, mtime_ns, ctime_ns, sha256) when it was read, and when that was."""

    files: dict[str, tuple[int, int, int, int, str]]
    taken_ns: int


def cache_folder(configured: Path | None = None) -> Path:
    """`configured`, else $INDEX_CACHE_DIR, else the user's cache folder (e.g. ~/.cache/qa-bot)."""
    if configured is not None:
        return configured
    return Path(os.environ.get(CACHE_ENV) or platformdirs.user_cache_path("qa-bot"))


def index_file(cache: Path, seeds: Path) -> Path:
    """One file per seeds folder, so two bots on two folders never evict each other."""
    # os.fsencode: a path that is not valid UTF-8 (bytes kept as surrogate escapes) still has its bytes.
    name = hashlib.sha256(os.fsencode(seeds.resolve())).hexdigest()[:16]
    return cache / f"index-{name}.bin"


# ---------------------------------------------------------------- writing


@dataclass
class Column:
    """An array to write, given as parts laid end to end (no copy joins them)."""

    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    parts: list[Array] = field(default_factory=list)

    @classmethod
    def of(cls, array: Array) -> Column:
        return cls(array.dtype, array.shape, [array])

    @classmethod
    def joined(cls, parts: Iterable[Array], dtype: npt.DTypeLike) -> Column:
        kept = [np.ascontiguousarray(p, dtype=dtype).reshape(-1) for p in parts]
        return cls(np.dtype(dtype), (sum(len(p) for p in kept),), kept)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize


def blob(text: str) -> Column:
    return Column.of(np.frombuffer(text.encode("utf-8"), dtype=np.uint8))


def json_column(value: Any) -> Column:
    return blob(json.dumps(value, ensure_ascii=False))


def _bytes_of(array: Array) -> memoryview:
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8).data


def _steps(view: memoryview) -> Iterator[memoryview]:
    for start in range(0, len(view), _HASH_STEP):
        yield view[start : start + _HASH_STEP]


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN


def _directory(meta: Mapping[str, Any], entries: list[dict[str, Any]]) -> bytes:
    return json.dumps({"format": FORMAT_VERSION, "meta": meta, "arrays": entries}, ensure_ascii=False).encode()


def write(file: BinaryIO, meta: Mapping[str, Any], columns: Mapping[str, Column]) -> None:
    """Write the arrays after a directory that records each one's checksum (computed as it is written)."""
    entries: list[dict[str, Any]] = [
        {"name": name, "dtype": c.dtype.str, "shape": list(c.shape), "offset": 0, "xxh3": "0" * 32}
        for name, c in columns.items()
    ]
    # Offsets depend on the directory's length, and that on the offsets' digits: settle them in a few rounds.
    for _ in range(4):
        start = _aligned(len(MAGIC) + 8 + 32 + len(_directory(meta, entries)))
        for entry, column in zip(entries, columns.values(), strict=True):
            entry["offset"] = start
            start = _aligned(start + column.nbytes)
    length = len(_directory(meta, entries))
    for entry, column in zip(entries, columns.values(), strict=True):
        file.seek(entry["offset"])
        digest = xxhash.xxh3_128()
        for part in column.parts:
            for step in _steps(_bytes_of(part)):
                digest.update(step)
                file.write(step)
        entry["xxh3"] = digest.hexdigest()
    end = max((e["offset"] + c.nbytes for e, c in zip(entries, columns.values(), strict=True)), default=0)
    file.truncate(max(end, _aligned(len(MAGIC) + 8 + 32 + length)))
    directory = _directory(meta, entries)
    if len(directory) != length:  # the checksums are fixed-width hex: the length cannot change
        raise AssertionError("directory length changed")
    file.seek(0)
    file.write(MAGIC + length.to_bytes(8, "little") + hashlib.sha256(directory).digest() + directory)


def remove_stale_temporaries(folder: Path) -> list[str]:
    """Remove temporary files of our own naming that no running build is writing; the names removed.

    A build holds an exclusive lock on its temporary file until it renames it, so a file that can
    be locked was left by a build that was killed.
    """
    removed: list[str] = []
    try:
        names = [entry.name for entry in os.scandir(folder) if _TEMPORARY.fullmatch(entry.name)]
    except OSError:
        return removed
    for name in names:
        path = folder / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode) or not _try_lock(fd):
                continue
            path.unlink()
            removed.append(name)
        except OSError:
            continue
        finally:
            os.close(fd)
    if removed:
        log.info("Removed %d temporary file(s) left by an interrupted build in %s.", len(removed), folder)
    return removed


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # no advisory locks (Windows): never remove what may be in use
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def save(path: Path, meta: Mapping[str, Any], columns: Mapping[str, Column]) -> None:
    """Write atomically: a temporary file in the same folder, locked while written, flushed, renamed over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w+b") as file:
            _try_lock(file.fileno())
            write(file, meta, columns)
            file.flush()
            os.fsync(file.fileno())
            os.replace(temporary, path)  # still locked: a cleaner never takes it for a stale one
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_temporary(meta: Mapping[str, Any], columns: Mapping[str, Column], folder: Path | None = None) -> IndexFile:
    """Write to a temporary file, map it, and delete the file: the mapping keeps it until it is closed.

    With `folder` (a folder its caller removes), the file is kept there, for another process to map.
    """
    handle, temporary = tempfile.mkstemp(prefix="qa-bot-index-", suffix=".bin", dir=folder)
    try:
        with os.fdopen(handle, "w+b") as file:
            write(file, meta, columns)
            file.flush()
        return open_file(Path(temporary))
    finally:
        if folder is None:
            with contextlib.suppress(OSError):  # on Windows a mapped file cannot be deleted: left to the OS
                Path(temporary).unlink()


def in_memory(meta: Mapping[str, Any], columns: Mapping[str, Column]) -> IndexFile:
    """The same file, in memory (small indexes built for one question, tests)."""

    class _Buffer:
        def __init__(self) -> None:
            self.data = bytearray()
            self.at = 0

        def seek(self, at: int) -> None:
            self.at = at

        def write(self, data: bytes | memoryview) -> None:
            end = self.at + len(data)
            if end > len(self.data):
                self.data.extend(bytes(end - len(self.data)))
            self.data[self.at : end] = data
            self.at = end

        def truncate(self, size: int) -> None:
            if size > len(self.data):
                self.data.extend(bytes(size - len(self.data)))

    buffer = _Buffer()
    write(buffer, meta, columns)  # type: ignore[arg-type]
    return IndexFile(bytes(buffer.data), "memory")


# ---------------------------------------------------------------- reading

# Files this process has checked array by array, by (device, inode, size, mtime, ctime): any write
# changes the ctime, so a file checked once needs no second pass while it is unchanged.
_verified: set[tuple[int, ...]] = set()
_verified_lock = threading.Lock()


class IndexFile:
    """A file's arrays, viewed in place. Close it when nothing reads it any more."""

    def __init__(self, buffer: mmap.mmap | bytes, name: str, identity: tuple[int, ...] | None = None) -> None:
        self.name = name
        self._buffer: mmap.mmap | bytes | None = buffer
        self.identity = identity
        view = memoryview(buffer)
        try:
            if len(view) < len(MAGIC) + 40 or view[: len(MAGIC)] != MAGIC:
                raise DamagedIndex("not an index file")
            length = int.from_bytes(view[len(MAGIC) : len(MAGIC) + 8], "little")
            if length > _MAX_DIRECTORY or len(MAGIC) + 40 + length > len(view):
                raise DamagedIndex("directory out of bounds")
            expected = bytes(view[len(MAGIC) + 8 : len(MAGIC) + 40])
            directory = bytes(view[len(MAGIC) + 40 : len(MAGIC) + 40 + length])
        finally:
            view.release()
        if hashlib.sha256(directory).digest() != expected:
            raise DamagedIndex("directory checksum mismatch")
        parsed = json.loads(directory)
        if parsed.get("format") != FORMAT_VERSION:
            raise DamagedIndex(f"format {parsed.get('format')}, not {FORMAT_VERSION}")
        self.meta: dict[str, Any] = parsed["meta"]
        self.arrays: dict[str, Array] = {}
        self._checksums: dict[str, str] = {}
        for entry in parsed["arrays"]:
            dtype = _DTYPES.get(entry["dtype"])
            if dtype is None:
                raise DamagedIndex(f"dtype {entry['dtype']!r} is not allowed")
            shape = tuple(int(n) for n in entry["shape"])
            count, offset = int(np.prod(shape)), int(entry["offset"])
            if min(shape, default=0) < 0 or offset < 0 or offset + count * dtype.itemsize > len(buffer):
                raise DamagedIndex(f"array {entry['name']} out of bounds")
            array = np.frombuffer(buffer, dtype=dtype, count=count, offset=offset).reshape(shape)
            self.arrays[str(entry["name"])] = array
            self._checksums[str(entry["name"])] = str(entry["xxh3"])

    def __getitem__(self, name: str) -> Array:
        try:
            return self.arrays[name]
        except KeyError:
            raise DamagedIndex(f"no array {name!r}") from None

    @property
    def closed(self) -> bool:
        return self._buffer is None

    def verify(self) -> None:
        """Check every array against its checksum (once per process for an unchanged file)."""
        if self.identity is not None:
            with _verified_lock:
                if self.identity in _verified:
                    return
        for name, array in self.arrays.items():
            digest = xxhash.xxh3_128()
            for step in _steps(_bytes_of(array)):
                digest.update(step)
            if digest.hexdigest() != self._checksums[name]:
                raise DamagedIndex(f"checksum mismatch in {name}")
        if self.identity is not None:
            with _verified_lock:
                _verified.add(self.identity)

    def close(self) -> None:
        """Unmap the file. Every array viewed from it must be released first (the index's `close` does it)."""
        buffer, self._buffer = self._buffer, None
        self.arrays = {}
        if isinstance(buffer, mmap.mmap):
            try:
                buffer.close()
            except BufferError:  # a view is still alive somewhere: the map goes when it does
                log.warning("An index map was still viewed when closed; it is freed with its last view.")


def _open_regular(path: Path) -> int:
    # Non-blocking: opening a FIFO for reading would wait for a writer forever.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise DamagedIndex("not a regular file")
    return fd


def open_file(path: Path) -> IndexFile:
    """Map `path` read-only and check its directory; raises OSError or DamagedIndex."""
    fd = _open_regular(path)
    try:
        status = os.fstat(fd)
        if status.st_size == 0:
            raise DamagedIndex("empty file")
        buffer = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    finally:
        os.close(fd)
    identity = (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)
    try:
        return IndexFile(buffer, str(path), identity)
    except BaseException:
        buffer.close()
        raise


# ---------------------------------------------------------------- columns of text


def json_of(array: Array) -> Any:
    return json.loads(bytes(array).decode("utf-8")) if len(array) else None


def stamp_columns(stamps: Stamps) -> dict[str, Column]:
    files = stamps.files
    return {
        "stamp_paths": json_column(list(files)),
        "stamp_digests": json_column([stamp[4] for stamp in files.values()]),
        "stamp_numbers": Column.of(np.array([s[:4] for s in files.values()], dtype=np.int64).reshape(-1, 4)),
    }


def stamps_of(file: IndexFile) -> Stamps:
    numbers = file["stamp_numbers"]
    columns = (numbers[:, column].tolist() for column in range(4))
    rows = zip(json_of(file["stamp_paths"]) or [], *columns, json_of(file["stamp_digests"]) or [], strict=True)
    files = {str(path): (int(a), int(b), int(c), int(d), str(digest)) for path, a, b, c, d, digest in rows}
    return Stamps(files, int(file.meta.get("taken_ns", 0)))


def load_stamps(path: Path) -> Stamps | None:
    """The file stamps recorded in the saved index (the whole file is checked before it serves)."""
    try:
        file = open_file(path)
    except Exception:  # missing or damaged: every article file is read
        return None
    try:
        return stamps_of(file)
    except Exception:
        return None
    finally:
        file.close()
