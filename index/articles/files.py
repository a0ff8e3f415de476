"""Reading the files the project keeps beside its data (catalogs, markers, the quantised model) without waiting.

A path opened for reading blocks until a writer comes if someone put a FIFO there, and a device file can be
read forever. Each file is opened non-blocking and refused at once, as `NotRegularFile` (an OSError, so the
callers' handling of an unreadable file applies), unless it is a regular file.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class NotRegularFile(OSError):
    """A FIFO, socket, device or folder where a regular file was expected."""


def open_regular(path: Path) -> int:
    """A read-only descriptor of `path` once it is known to be a regular file (links are followed)."""
    # O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer; regular files ignore it.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(errno.EINVAL, "not a regular file (a pipe, socket, device or folder)", str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: Path) -> bytes:
    """The whole of a regular file; NotRegularFile for anything else, OSError when it cannot be read."""
    with os.fdopen(open_regular(path), "rb") as file:
        return file.read()
