"""A seeds folder read safely: which files may be articles, and their bytes.

Whatever lands in the seeds folder, a build finishes: each file is indexed or skipped
with one reason, nothing outside the folder is ever opened, and memory stays bounded.
The folder is walked and every file opened through directory descriptors with
O_NOFOLLOW, so a path swapped for a link between listing and reading cannot lead out
of the folder; links are followed only to files that resolve inside it.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from index.articles.article import Skipped, UnusableArticle
from index.articles.text import UNSAFE_CHARS, clean_text, printable

logger = logging.getLogger("index.folder")

ARTICLE_SUFFIXES = (".txt", ".md")
# Limits. Past each, the file (or the rest of the folder) is skipped with the reason;
# together they bound what one build may read: MAX_TOTAL_BYTES of text at most.
MAX_ARTICLE_BYTES = 2_000_000  # a long news article is ~50 KB; 2 MB is a book
# All articles of one build: room for about 4M sentences. Serving 1M sentences (130 MB of text)
# took 0.56 GB of RSS in bench/speed.py, so this bounds the served index near 2.5 GB.
MAX_TOTAL_BYTES = 500_000_000
MAX_FILES = 200_000  # folder entries listed (files and folders); the walk stops there
MAX_DEPTH = 16  # nested folders; each folder is reopened from the top, so depth costs twice

# A file name is an article's id, shown in every citation: control or direction characters in it
# would reach terminals, logs and Discord (undecodable bytes arrive as lone surrogates).
_BAD_NAME_CHARS = UNSAFE_CHARS

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO must not wait for a writer; it is then refused as not a regular file.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _valid_name(name: str) -> bool:
    return not _BAD_NAME_CHARS.search(name)


def _is_article_name(name: str) -> bool:
    return name.lower().endswith(ARTICLE_SUFFIXES)


def descend(root_fd: int, folders: Sequence[str]) -> int:
    """A new descriptor of root/folders[0]/…, refusing a link at every step (OSError ELOOP or ENOTDIR)."""
    fd = os.dup(root_fd)
    for part in folders:
        try:
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
        finally:
            os.close(fd)
        fd = child
    return fd


def _open_beneath(root_fd: int, parts: Sequence[str]) -> int:
    """A descriptor of the file root/parts[0]/…/parts[-1], refusing a link at every step."""
    folder = descend(root_fd, parts[:-1])
    try:
        return os.open(parts[-1], _FILE_FLAGS, dir_fd=folder)
    finally:
        os.close(folder)


def _why(error: OSError) -> str:
    if error.errno == errno.ENOENT:
        return "disappeared while the folder was being read"
    if error.errno in (errno.ELOOP, errno.ENOTDIR):
        return "replaced by a link while the folder was being read, not followed"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied: let the bot's user read it"
    if error.errno == errno.ENXIO:
        return "not a regular file (a pipe, socket or device)"
    return f"unreadable ({error.strerror or error})"


@dataclass(frozen=True)
class _Candidate:
    id: str  # relative path with "/"
    link: bool


class _Listing:
    """Walks the seeds folder through directory descriptors, at most MAX_FILES entries."""

    def __init__(self, root_fd: int, skipped: list[Skipped], *, quiet: bool = False):
        self.root_fd = root_fd
        self.skipped = skipped
        self.quiet = quiet
        self.listed = 0
        self.full = False  # MAX_FILES entries were listed: the walk stops

    def candidates(self) -> list[_Candidate]:
        found: list[_Candidate] = []
        pending: list[tuple[str, ...]] = [()]
        while pending and not self.full:
            folder = pending.pop()
            try:
                subfolders = self._list(folder, found)
            except OSError as error:
                _skip(self.skipped, "/".join(folder) or ".", f"folder unreadable: {_why(error)}", self.quiet)
                continue
            pending.extend(reversed(subfolders))
        if self.full:
            _skip(
                self.skipped,
                ".",
                f"more than {MAX_FILES:,} files and folders: the rest of the folder was not read: "
                "keep fewer, larger articles",
                self.quiet,
            )
        found.sort(key=lambda candidate: candidate.id)
        return found

    def _list(self, folder: tuple[str, ...], found: list[_Candidate]) -> list[tuple[str, ...]]:
        fd = descend(self.root_fd, folder)
        try:
            entries = []
            with os.scandir(fd) as scan:
                for entry in scan:
                    if self.listed == MAX_FILES:
                        self.full = True
                        break
                    self.listed += 1
                    entries.append(entry)
        finally:
            os.close(fd)
        subfolders = []
        for entry in sorted(entries, key=lambda e: e.name):
            name, relative = entry.name, "/".join((*folder, entry.name))
            if name.startswith("."):
                continue  # hidden: .git, .DS_Store, editors' swap files
            if not _valid_name(name):
                _skip(
                    self.skipped,
                    relative,
                    "its name holds control characters or non-UTF-8 bytes: rename it",
                    self.quiet,
                )
            elif entry.is_symlink():
                found.append(_Candidate(relative, link=True))  # judged when read
            elif entry.is_dir(follow_symlinks=False):
                if len(folder) < MAX_DEPTH:
                    subfolders.append((*folder, name))
                else:
                    _skip(self.skipped, relative, f"folder nested more than {MAX_DEPTH} deep, not read", self.quiet)
            elif not _is_article_name(name):
                _skip(self.skipped, relative, "not an article: only .txt and .md files are read", self.quiet)
            else:
                found.append(_Candidate(relative, link=False))
        return subfolders


def _skip(skipped: list[Skipped], path: str, reason: str, quiet: bool = False) -> None:
    shown, reason = printable(path), clean_text(reason)
    if not quiet:
        logger.warning("Skipped %s: %s", shown, reason)
    skipped.append(Skipped(shown, reason))


def _link_target(root: Path, candidate: _Candidate) -> list[str]:
    """The parts of a link's target inside root; raises UnusableArticle for any other link."""
    try:
        target = (root / candidate.id).resolve(strict=True)
    except (OSError, RuntimeError):
        raise UnusableArticle("broken or looping link") from None
    if not target.is_relative_to(root):
        raise UnusableArticle("link to outside the seeds folder, not followed")
    if target == root or target.is_dir():
        raise UnusableArticle("link to a folder, not followed")
    if not _is_article_name(candidate.id):
        raise UnusableArticle("not an article: only .txt and .md files are read")
    return list(target.relative_to(root).parts)


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks, size = [], 0
    while size < limit and (chunk := os.read(fd, min(limit - size, 1 << 20))):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _too_large(size: int) -> UnusableArticle:
    return UnusableArticle(
        f"too large ({size:,} bytes; the limit is {MAX_ARTICLE_BYTES:,}): split it into smaller articles"
    )


def _read(root: Path, root_fd: int, candidate: _Candidate, budget: int) -> bytes:
    parts = _link_target(root, candidate) if candidate.link else candidate.id.split("/")
    try:
        fd = _open_beneath(root_fd, parts)
    except OSError as error:
        raise UnusableArticle(_why(error)) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise UnusableArticle("link to a folder, not followed")
        if not stat.S_ISREG(info.st_mode):
            raise UnusableArticle("not a regular file (a pipe, socket or device)")
        if info.st_size > MAX_ARTICLE_BYTES:
            raise _too_large(info.st_size)
        if info.st_size > budget:
            raise UnusableArticle(
                f"over the limit of {MAX_TOTAL_BYTES:,} bytes for all articles together: keep fewer articles"
            )
        data = _read_at_most(fd, MAX_ARTICLE_BYTES + 1)  # the file may have grown since fstat
    except OSError as error:
        raise UnusableArticle(_why(error)) from None
    finally:
        os.close(fd)
    if len(data) > MAX_ARTICLE_BYTES:
        raise _too_large(len(data))
    return data


def without_line_ends(data: bytes) -> bytes:
    """The file's bytes as a duplicate is compared: no byte-order mark, every line end a "\\n"."""
    return data.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n").replace(b"\r", b"\n")


def duplicate_key(data: bytes) -> str:
    """Equal for the same file saved with other line ends or a byte-order mark: such a copy is a duplicate.
    The same text under another title or url (another outlet's copy) differs in its header, so it is not."""
    return hashlib.sha256(without_line_ends(data)).hexdigest()


def record_skip(skipped: list[Skipped], path: str, reason: str) -> None:
    """Note a file that is not indexed, and log it: one line, one reason."""
    _skip(skipped, path, reason)


UNEXPECTED = "unexpected error while reading it (logged): please report it"


class SeedsFolder:
    """A seeds folder opened for reading under the safety rules: nothing outside it is opened,
    links are followed only to files inside it, and all reads together stay under MAX_TOTAL_BYTES.
    Every file not indexed is recorded in `skipped` (and logged) with one reason.

    Use as a context manager: it holds a descriptor of the folder while it is read. `quiet`: skipped files are
    recorded but not logged (a look at the folder that is not a build, such as `ingest`'s check for a copy).
    """

    def __init__(self, folder: Path, *, quiet: bool = False):
        self.root = folder.resolve(strict=True)
        self.quiet = quiet
        self.skipped: list[Skipped] = []
        self._used = 0
        self._links: set[str] = set()
        self._fd: int | None = None

    def __enter__(self) -> SeedsFolder:
        try:
            self._fd = os.open(self.root, _DIR_FLAGS)
        except OSError as error:
            _skip(self.skipped, ".", f"folder unreadable: {_why(error)}", self.quiet)
        return self

    def __exit__(self, *_: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def candidates(self) -> list[str]:
        """The ids of the files that may be articles, in id order."""
        if self._fd is None:
            return []
        found = _Listing(self._fd, self.skipped, quiet=self.quiet).candidates()
        self._links = {c.id for c in found if c.link}
        return [c.id for c in found]

    def count(self, size: int) -> None:
        """Count a file known unchanged and not read again against the total limit."""
        self._used += size

    def read(self, article_id: str) -> bytes | None:
        """The bytes of a candidate, or None when it may not or cannot be read (then it is skipped)."""
        if self._fd is None:
            return None
        candidate = _Candidate(article_id, link=article_id in self._links)
        try:
            data = _read(self.root, self._fd, candidate, MAX_TOTAL_BYTES - self._used)
        except UnusableArticle as error:
            _skip(self.skipped, article_id, str(error), self.quiet)
            return None
        self._used += len(data)
        return data

    def size(self, article_id: str) -> int | None:
        """A candidate's size in bytes, by the same safe path as `read`; None when it cannot be opened."""
        if self._fd is None:
            return None
        candidate = _Candidate(article_id, link=article_id in self._links)
        try:
            fd = _open_beneath(
                self._fd, _link_target(self.root, candidate) if candidate.link else article_id.split("/")
            )
        except (OSError, UnusableArticle):
            return None
        try:
            return os.fstat(fd).st_size
        finally:
            os.close(fd)
