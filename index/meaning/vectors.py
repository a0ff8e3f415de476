"""Stored sentence vectors: computed once per sentence, kept on disk as int8, reused across restarts and reloads.

A store is a folder per seeds folder and model, holding append-only files:
- `rows.i8`: one int8 row per sentence vector (a unit vector scaled so its largest component is ±127),
- `scales.f4`: each row's scale back to the unit vector,
- `parts.i4`: each row's partition (for the nearest-neighbour search, see `Partition`),
- `catalog.json`: which rows hold which article's sentences, keyed by a hash of the article's title and
  sentences, what is embedded (so an unchanged article keeps its vectors whatever else changes, and an
  edited one is embedded anew), and the partition's centroids' file, if trained.
Over 400 lines on purpose: the store's files, their catalog, compaction and the partition change together
(one on-disk format), and splitting them would put one format's rules in several modules.

Rows of an article that was edited or removed stay in the files until they outnumber the rows still in use:
then `compact` copies the live rows into files of a new generation (`rows.1.i8`, …), replaces the catalog,
which names the generation, and deletes the old files. Readers that mapped the old files keep them until
they let go (the kernel frees unlinked files then); files of a generation no catalog names, left by a crash,
are deleted the next time a writer opens the store.
Rows are appended and flushed before the catalog that names them is replaced (a temporary file renamed
over it), so a crash costs at most the rows of the last batch: they are cut off the next time the store
opens. Writers hold an exclusive lock on the folder's `lock` file, so two processes (the bot and a
`qa-bot ask` on the same archive) take turns. Readers map the files read-only; nothing here unpickles
or runs anything read from disk.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from index.articles.files import read_regular

log = logging.getLogger("index.vectors")

FORMAT_VERSION = 1
Int8Matrix = npt.NDArray[np.int8]
FloatArray = npt.NDArray[np.float32]
RowArray = npt.NDArray[np.int64]

# Up to this many rows, a question's nearest sentences are found by comparing it with every row (16,000
# int8 rows took about 1 ms here); past it, with the rows of the few partitions nearest the question.
# bench/semantic.py measures whole answers at 10k, 100k and 1M sentences.
EXACT_ROWS = 40_000
# Partitions probed per question, at least, and as a share of all partitions.
MIN_PROBES = 16
PROBE_SHARE = 0.03
# The store is compacted when the rows of edited or removed articles outnumber the live ones, and are
# at least this many (rewriting a small store to save little would cost more than it saves).
COMPACT_MIN_ROWS = 10_000
_DATA_FILES = ("rows.i8", "scales.f4", "parts.i4")
# Another model's vectors beside these (an upgrade changed the model) are deleted once these are complete
# and those were last written this long ago: a process of the older version still running (a rolling
# upgrade, another checkout sharing the cache) keeps its own meanwhile.
STALE_MODEL_SECONDS = 86_400
# Rows a partition is trained on (a sample, for speed), and k-means rounds.
TRAIN_SAMPLE = 40_000
TRAIN_ROUNDS = 8


def article_key_of_blob(text: bytes | memoryview, lengths: npt.NDArray[np.integer], title: str) -> str:
    """What an article's vectors are stored under: its title, its sentences' UTF-8 laid end to end, and
    each one's length in bytes (what is embedded: semantic.embedding_texts). Changes when the title or any
    sentence does (or where one ends), and nothing else."""
    digest = hashlib.sha256(title.encode("utf-8", "surrogatepass") + b"\0")
    digest.update(text)
    digest.update(np.asarray(lengths, dtype="<i8").tobytes())
    return digest.hexdigest()[:32]


def article_key(title: str, sentences: Sequence[str]) -> str:
    """`article_key_of_blob` of sentences given as strings."""
    encoded = [s.encode("utf-8", "surrogatepass") for s in sentences]
    return article_key_of_blob(b"".join(encoded), np.array([len(e) for e in encoded], dtype=np.int64), title)


def quantise(vectors: npt.NDArray[np.floating[Any]]) -> tuple[Int8Matrix, FloatArray]:
    """int8 rows and per-row scales: row * scale is the vector, to within half a step of 1/127 of its peak."""
    peaks = np.abs(vectors).max(axis=1) if len(vectors) else np.empty(0, dtype=np.float32)
    scales = np.where(peaks > 0, peaks / 127.0, 1.0).astype(np.float32)
    rows = np.clip(np.rint(vectors / scales[:, None]), -127, 127).astype(np.int8)
    return rows, scales


def dot_rows(rows: Int8Matrix, query: Int8Matrix) -> npt.NDArray[np.int32]:
    """Each int8 row's dot product with an int8 query, summed in int32.

    einsum casts in small buffers: ten times faster than converting the rows to float first (measured).
    """
    result: npt.NDArray[np.int32] = np.einsum("ij,j->i", rows, query, dtype=np.int32)
    return result


@dataclass(frozen=True)
class Partition:
    """A coarse partition of the rows (an inverted file): k-means centroids and each row's nearest one.

    A question is compared with every centroid, then with the rows of the nearest few partitions only.
    """

    centroids: FloatArray  # (partitions, dimension), unit vectors
    starts: RowArray  # CSR over `members`: partition p's rows are members[starts[p]:starts[p + 1]]
    members: RowArray

    @classmethod
    def of(cls, centroids: FloatArray, parts: npt.NDArray[np.int32]) -> Partition:
        members = np.argsort(parts, kind="stable").astype(np.int64)
        counts = np.bincount(parts[parts >= 0], minlength=len(centroids))
        starts = np.zeros(len(centroids) + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        skipped = int((parts < 0).sum())  # rows not yet assigned sort first: leave them out
        return cls(centroids, starts, members[skipped:])

    def probe(self, question: FloatArray) -> RowArray:
        """The rows of the partitions nearest `question`."""
        count = len(self.centroids)
        probes = min(count, max(MIN_PROBES, int(np.ceil(count * PROBE_SHARE))))
        nearest = np.argpartition(-(self.centroids @ question), probes - 1)[:probes]
        return np.concatenate([self.members[self.starts[p] : self.starts[p + 1]] for p in nearest])


def train_centroids(sample: FloatArray, count: int, seed: int = 0) -> FloatArray:
    """Spherical k-means on `sample` (unit rows): `count` unit centroids."""
    rng = np.random.default_rng(seed)
    centroids = sample[rng.choice(len(sample), size=count, replace=False)].copy()
    for _ in range(TRAIN_ROUNDS):
        nearest = np.argmax(sample @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, nearest, sample)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        empty = norms[:, 0] == 0
        centroids = np.where(empty[:, None], centroids, sums / np.maximum(norms, 1e-12)).astype(np.float32)
    return centroids


def nearest_centroids(rows: Int8Matrix, scales: FloatArray, centroids: FloatArray) -> npt.NDArray[np.int32]:
    """Each row's nearest centroid, a block of rows at a time."""
    found = np.empty(len(rows), dtype=np.int32)
    for start in range(0, len(rows), 8192):
        block = rows[start : start + 8192].astype(np.float32) * scales[start : start + 8192, None]
        found[start : start + 8192] = np.argmax(block @ centroids.T, axis=1)
    return found


@dataclass(frozen=True)
class VectorSnapshot:
    """The store as it was when taken: rows mapped read-only, and the catalog naming them."""

    rows: Int8Matrix
    scales: FloatArray
    articles: dict[str, tuple[int, int]]  # article key -> (first row, row count)
    partition: Partition | None = None

    @property
    def row_count(self) -> int:
        return len(self.scales)


def empty_catalog(model: str = "") -> dict[str, Any]:
    return {"format": FORMAT_VERSION, "model": model, "rows": 0, "articles": {}, "centroids": None}


@dataclass
class VectorStore:
    """The vectors of one seeds folder for one model, in `folder` (created when first written)."""

    folder: Path
    model: str  # the model's identity: vectors of another model are never mixed in
    dimension: int
    _catalog: dict[str, Any] = field(default_factory=empty_catalog, init=False, repr=False)

    def _file(self, name: str, generation: int | None = None) -> Path:
        """A data file of the given generation (by default the catalog's); generation 0 has no number."""
        if generation is None:
            generation = int(self._catalog.get("generation") or 0)
        stem, ext = name.split(".")
        return self.folder / (name if generation == 0 else f"{stem}.{generation}.{ext}")

    @property
    def _rows(self) -> Path:
        return self._file("rows.i8")

    @property
    def _scales(self) -> Path:
        return self._file("scales.f4")

    @property
    def _parts(self) -> Path:
        return self._file("parts.i4")

    def _stray_files(self) -> list[Path]:
        """Data files of generations the catalog does not name (left by a compaction a crash cut short)."""
        current = {self._file(name) for name in _DATA_FILES}
        found = [p for name in _DATA_FILES for p in self.folder.glob(f"{name.split('.')[0]}*.{name.split('.')[1]}")]
        return [p for p in found if p not in current]

    @property
    def _catalog_file(self) -> Path:
        return self.folder / "catalog.json"

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Exclusive use of the store across processes; re-reads the catalog another process may have changed."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._load_catalog(repair=True)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _load_catalog(self, *, repair: bool) -> None:
        try:
            catalog = checked_catalog(json.loads(read_regular(self._catalog_file).decode("utf-8")), self.model)
            rows = catalog["rows"]
            sizes = (rows * self.dimension, rows * 4, rows * 4)
            generation = catalog["generation"]
            paths = [self._file(name, generation) for name in _DATA_FILES]
            actual = [p.stat().st_size if p.exists() else 0 for p in paths]
            if any(a < s for a, s in zip(actual, sizes, strict=True)):
                raise ValueError("files shorter than the catalog says")
            self._catalog = catalog
            if repair and actual != list(sizes):  # rows of a batch whose catalog was never written
                for path, size in zip((self._rows, self._scales, self._parts), sizes, strict=True):
                    os.truncate(path, size)
            if repair:
                for path in self._stray_files():
                    path.unlink(missing_ok=True)
        except FileNotFoundError:
            self._catalog = empty_catalog(self.model)
        except (OSError, ValueError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            why = error.strerror if isinstance(error, OSError) and error.strerror else error
            log.warning("The stored vectors in %s are unusable (%s); they will be computed again.", self.folder, why)
            self._catalog = empty_catalog(self.model)
            if repair:
                for path in (*self._stray_files(), *(self._file(n) for n in _DATA_FILES), self._catalog_file):
                    path.unlink(missing_ok=True)
                (self.folder / "centroids.f4").unlink(missing_ok=True)

    def snapshot(self) -> VectorSnapshot:
        """The rows stored so far, mapped read-only (cheap: nothing is read until used)."""
        for _ in range(3):
            try:
                return self._snapshot()
            except FileNotFoundError:  # a compaction replaced the files between the catalog and the map
                continue
        return self._snapshot()

    def _snapshot(self) -> VectorSnapshot:
        self._load_catalog(repair=False)
        rows = int(self._catalog["rows"])
        articles = {key: (int(first), int(count)) for key, (first, count) in self._catalog["articles"].items()}
        if rows == 0:
            empty = np.zeros((0, self.dimension), dtype=np.int8)
            return VectorSnapshot(empty, np.zeros(0, dtype=np.float32), articles)
        matrix = np.memmap(self._rows, dtype=np.int8, mode="r", shape=(rows, self.dimension))
        scales = np.memmap(self._scales, dtype=np.float32, mode="r", shape=(rows,))
        partition = None
        if self._catalog.get("centroids"):
            count = int(self._catalog["centroids"])
            centroids = _read_array(self.folder / "centroids.f4", np.float32)
            if len(centroids) == count * self.dimension:
                parts = _read_array(self._parts, np.int32, rows)
                partition = Partition.of(centroids.reshape(count, self.dimension), parts)
        return VectorSnapshot(np.asarray(matrix), np.asarray(scales), articles, partition)

    def known(self, key: str) -> bool:
        return key in self._catalog["articles"]

    def append(self, batch: Sequence[tuple[str, FloatArray]]) -> None:
        """Store each article's vectors (call inside `writing()`); articles already stored are skipped."""
        fresh = [(key, vectors) for key, vectors in batch if key not in self._catalog["articles"]]
        if not fresh:
            return
        rows, scales = quantise(np.concatenate([vectors for _, vectors in fresh]))
        centroids = self._centroids()
        parts = (
            nearest_centroids(rows, scales, centroids) if centroids is not None else np.full(len(rows), -1, np.int32)
        )
        for path, array in ((self._rows, rows), (self._scales, scales), (self._parts, parts)):
            with path.open("ab") as file:
                file.write(array.tobytes())
                file.flush()
                os.fsync(file.fileno())
        first = int(self._catalog["rows"])
        for key, vectors in fresh:
            self._catalog["articles"][key] = [first, len(vectors)]
            first += len(vectors)
        self._catalog["rows"] = first
        self._save_catalog()

    def compact(self, live: Collection[str], min_rows: int | None = None) -> int:
        """Drop the rows of articles not in `live` when they outnumber the live rows and are at least
        `min_rows` (default COMPACT_MIN_ROWS; call inside `writing()`); returns how many rows were dropped."""
        min_rows = COMPACT_MIN_ROWS if min_rows is None else min_rows
        articles: dict[str, list[int]] = self._catalog["articles"]
        kept = sorted(((first, count, key) for key, (first, count) in articles.items() if key in live))
        total = int(self._catalog["rows"])
        live_rows = sum(count for _, count, _ in kept)
        if total - live_rows < max(min_rows, 1) or total - live_rows <= live_rows:
            return 0
        old = self.snapshot()
        parts = _read_array(self._parts, np.int32, total)
        generation = int(self._catalog.get("generation") or 0) + 1
        targets = [self._file(name, generation) for name in _DATA_FILES]
        moved: dict[str, list[int]] = {}
        position = 0
        with contextlib.ExitStack() as stack:
            files = [stack.enter_context(path.open("wb")) for path in targets]
            for first, count, key in kept:  # in row order: the copy reads each file once, front to back
                arrays: tuple[npt.NDArray[Any], ...] = (old.rows, old.scales, parts)
                for file, array in zip(files, arrays, strict=True):
                    file.write(array[first : first + count].tobytes())
                moved[key] = [position, count]
                position += count
            for file in files:
                file.flush()
                os.fsync(file.fileno())
        replaced = [self._file(name) for name in _DATA_FILES]
        self._catalog = {**self._catalog, "generation": generation, "rows": live_rows, "articles": moved}
        self._save_catalog()  # the switch: from here on, readers map the new generation
        for path in replaced:
            path.unlink(missing_ok=True)
        return total - live_rows

    def _centroids(self) -> FloatArray | None:
        count = self._catalog.get("centroids")
        if not count:
            return None
        centroids = _read_array(self.folder / "centroids.f4", np.float32)
        return centroids.reshape(int(count), self.dimension) if len(centroids) == count * self.dimension else None

    def needs_partition(self) -> bool:
        """True when there are enough rows to search by partition and none is trained, or it was trained
        on less than half of the rows (the centroids would no longer fit the archive)."""
        rows = int(self._catalog["rows"])
        trained = int(self._catalog.get("trained_rows") or 0)
        return rows > EXACT_ROWS and rows > 2 * trained

    def train_partition(self, seed: int = 0) -> None:
        """(Re)train the centroids on a sample of the rows and assign every row (call inside `writing()`)."""
        snapshot = self.snapshot()
        total = snapshot.row_count
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(total, size=min(total, TRAIN_SAMPLE), replace=False))
        sample = snapshot.rows[chosen].astype(np.float32) * snapshot.scales[chosen, None]
        count = max(1, int(np.sqrt(total)))
        centroids = train_centroids(sample, count, seed)
        parts = nearest_centroids(snapshot.rows, snapshot.scales, centroids)
        _replace(self.folder / "centroids.f4", centroids.tobytes())
        _replace(self._parts, parts.tobytes())
        self._catalog["centroids"] = count
        self._catalog["trained_rows"] = total
        self._save_catalog()

    def _save_catalog(self) -> None:
        _replace(self._catalog_file, json.dumps(self._catalog).encode("utf-8"))


MAX_ROWS = 1 << 40  # far past any archive (MAX_TOTAL_BYTES holds about 4M sentences)


def checked_catalog(value: Any, model: str) -> dict[str, Any]:
    """A decoded catalog.json, once every field has the shape and the bounds this module relies on; ValueError
    saying what is wrong otherwise (it was written by another version, damaged, or by hand)."""

    def whole(number: Any, what: str, low: int = 0, high: int = MAX_ROWS) -> int:
        if not isinstance(number, int) or isinstance(number, bool) or not low <= number <= high:
            raise ValueError(f"{what} is not a whole number from {low} to {high}")
        return number

    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    if value.get("format") != FORMAT_VERSION or value.get("model") != model:
        raise ValueError("another model or format")
    rows = whole(value.get("rows"), "rows")
    articles = value.get("articles")
    if not isinstance(articles, dict):
        raise ValueError("articles is not an object")
    for key, entry in articles.items():
        if not isinstance(entry, list) or len(entry) != 2:
            raise ValueError(f"the entry of article {key[:32]!r} is not [first row, row count]")
        first = whole(entry[0], "an article's first row", 0, rows)
        whole(entry[1], "an article's row count", 0, rows - first)
    return {
        **value,
        "rows": rows,
        "generation": whole(value.get("generation") or 0, "generation", 0, 1 << 31),
        "centroids": whole(value.get("centroids") or 0, "centroids", 0, max(rows, 1)) or None,
        "trained_rows": whole(value.get("trained_rows") or 0, "trained_rows"),
    }


def _read_array(path: Path, dtype: type[np.generic], count: int = -1) -> npt.NDArray[Any]:
    """The first `count` items (all: -1) of a file of raw `dtype` values; a FIFO in its place is refused."""
    data = read_regular(path)
    items = len(data) // np.dtype(dtype).itemsize
    return np.frombuffer(data, dtype=dtype, count=items if count < 0 else min(count, items))


def _replace(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically: a temporary file in the same folder, flushed, renamed over it."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def remove_other_models(folder: Path, older_than: float = STALE_MODEL_SECONDS, now: float | None = None) -> list[Path]:
    """Delete the vector stores of other models beside `folder` whose files were last written over
    `older_than` seconds ago and that no writer holds; returns the folders deleted."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    if not folder.parent.is_dir():
        return removed
    for other in sorted(folder.parent.iterdir()):
        if other == folder or other.is_symlink() or not (other / "catalog.json").exists():
            continue
        try:
            if now - max(p.stat().st_mtime for p in other.iterdir()) < older_than:
                continue
            fd = os.open(other / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # a process of another version is writing there
                    continue
                shutil.rmtree(other)
                removed.append(other)
            finally:
                os.close(fd)
        except OSError as error:
            log.warning("Could not delete the stored vectors of another model in %s (%s).", other, error)
    return removed
