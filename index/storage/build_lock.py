"""One build at a time per saved index, across processes: a file lock beside it (filelock).

Every process serving one seeds folder maps the same saved index. When several start (or reload) at
once, the first to take the lock builds and saves; the others wait for it, then find the saved index
current and map it instead of building their own. filelock takes the kernel's lock (flock on Linux and
macOS, LockFileEx on Windows), released when its holder exits, however it exits, so a killed build never
leaves the others waiting.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

log = logging.getLogger("index.build")


def lock_path(index_path: Path) -> Path:
    """`index-<key>.lock` beside `index-<key>.bin`."""
    return index_path.with_suffix(".lock")


@contextlib.contextmanager
def build_lock(index_path: Path) -> Iterator[None]:
    """Hold the build lock of the saved index at `index_path`, waiting for another holder to finish.

    Where no lock can be taken (an unwritable folder) the build goes ahead unlocked: at worst two
    processes build the same index.
    """
    path = lock_path(index_path)
    # One lock object per call, none shared between threads: two builds in one process exclude each other too.
    lock = FileLock(path, mode=0o644, thread_local=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(blocking=False)
        except Timeout:
            log.info("Another process is building the index %s; waiting for it, to map its result.", index_path)
            lock.acquire()
    except OSError as error:
        log.debug("No build lock at %s (%s); building unlocked.", path, error)
        yield
        return
    try:
        yield
    finally:
        lock.release()
