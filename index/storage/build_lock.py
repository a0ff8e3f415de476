"""One build at a time per saved index, across processes: an advisory lock on a file beside it.

Every process serving one seeds folder maps the same saved index. When several start (or reload) at
once, the first to take the lock builds and saves; the others wait for it, then find the saved index
current and map it instead of building their own. The lock is the kernel's (flock): it is released
when its holder exits, however it exits, so a killed build never leaves the others waiting.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("index.build")


def lock_path(index_path: Path) -> Path:
    """`index-<key>.lock` beside `index-<key>.bin`."""
    return index_path.with_suffix(".lock")


@contextlib.contextmanager
def build_lock(index_path: Path) -> Iterator[None]:
    """Hold the build lock of the saved index at `index_path`, waiting for another holder to finish.

    Where no lock can be taken (an unwritable folder, a system without flock) the build goes ahead
    unlocked, as it did before: at worst two processes build the same index.
    """
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    path = lock_path(index_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as error:
        log.debug("No build lock at %s (%s); building unlocked.", path, error)
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("Another process is building the index %s; waiting for it, to map its result.", index_path)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
