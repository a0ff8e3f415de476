"""Articles on disk: reading a seeds folder safely and parsing each file's metadata.

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
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from index.text import UNSAFE_CHARS, clean_text, printable, split_sentences

logger = logging.getLogger(__name__)

ARTICLE_SUFFIXES = (".txt", ".md")
# Limits. Past each, the file (or the rest of the folder) is skipped with the reason;
# together they bound what one build may read: MAX_TOTAL_BYTES of text at most.
MAX_ARTICLE_BYTES = 2_000_000  # a long news article is ~50 KB; 2 MB is a book
# All articles of one build: room for about 4M sentences. Serving 1M sentences (130 MB of text)
# took 0.56 GB of RSS in bench/speed.py, so this bounds the served index near 2.5 GB.
MAX_TOTAL_BYTES = 500_000_000
MAX_FILES = 200_000  # folder entries listed (files and folders); the walk stops there
MAX_DEPTH = 16  # nested folders; each folder is reopened from the top, so depth costs twice
MAX_HEADER_CHARS = 300  # a longer title, date or source is cut at a word boundary, with "…"
MAX_URL_CHARS = 2_000
TITLE_CHARS = 80
# YAML front matter is a few hundred characters; a longer block is not parsed (nor indexed).
MAX_FRONT_MATTER_CHARS = 16_384

# Front matter: a first line "---", then YAML, then a line "---" (or "...", YAML's document end).
_FRONT_MATTER_START = re.compile(r"---[ \t]*\n")
_FRONT_MATTER_END = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)
_METADATA = ("title", "date", "url", "source")
# libyaml's parser (in PyYAML's wheels): 15 times faster than PyYAML's Python one (1 MB/s), and it
# refuses nesting deeper than 1,000 levels; the Python one would raise RecursionError instead.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_YAML_NULL = "tag:yaml.org,2002:null"
_HEADER = re.compile(r"^(title|date|url|source)[ \t]*:(.*)$", re.IGNORECASE)
# The seed's own format: " date 2023-07-27 " before the first word.
_LEADING_DATE = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\s+", re.IGNORECASE)
# …and a byte count glued to the final full stop: "…attempted coups.4872".
_TRAILING_COUNT = re.compile(r"(?<=[.!?\"”’)])(\d{1,12})\s*$")
_SENTENCE_END = (".", "!", "?", ":", ";", ",")
# Discord (and browsers) accept only http(s) links; anything else is dropped from the citation.
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
# A file name is an article's id, shown in every citation: control or direction characters in it
# would reach terminals, logs and Discord (undecodable bytes arrive as lone surrogates).
_BAD_NAME_CHARS = UNSAFE_CHARS

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO must not wait for a writer; it is then refused as not a regular file.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


# Slots: no per-article dict (unpickling from a worker would make one), so an article is one object
# for the garbage collector, whose full passes hold the GIL while a large archive builds.
@dataclass(frozen=True, slots=True, weakref_slot=True)
class Article:
    """One article: its id is its path relative to the seeds folder, with `/`."""

    id: str
    title: str
    date: str | None
    url: str | None
    source: str | None
    sentences: Sequence[str]  # a tuple when parsed; a view of the index file when served from one
    digest: str  # sha256 of the file's bytes: tells a changed article on reload


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why, in words a moderator can act on."""

    path: str
    reason: str


class UnusableArticle(ValueError):
    """The file cannot be indexed; the message says why."""


def _headers(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    fields: dict[str, str] = {}
    for n, line in enumerate(lines):
        if not line.strip():
            return (fields, lines[n + 1 :]) if fields else ({}, lines)
        match = _HEADER.match(line)
        if not match:
            break
        fields[match.group(1).lower()] = match.group(2).strip()
    return {}, lines


def _split_front_matter(text: str) -> tuple[str, str] | None:
    """(the YAML block, the text after it), or None when `text` does not start with front matter."""
    start = _FRONT_MATTER_START.match(text)
    end = _FRONT_MATTER_END.search(text, start.end()) if start else None
    if not start or not end:
        return None  # no closing line: not front matter (Jekyll's rule too), the text is read as written
    return text[start.end() : end.start()], text[end.end() :]


def _front_matter_fields(block: str) -> tuple[dict[str, str], list[str]]:
    """The metadata in a YAML block, and what was wrong with it (one line each, for the log).

    The block is composed, not loaded: nothing is constructed but the scalars read, so an alias is
    never expanded ("billion laughs") and a value keeps the text it was written as ("No" stays
    "No", "1.10" stays "1.10"); only a value YAML reads as a date is rewritten, in ISO form.
    """
    if len(block) > MAX_FRONT_MATTER_CHARS:
        return {}, [f"{len(block):,} characters, over the limit of {MAX_FRONT_MATTER_CHARS:,}: ignored"]
    try:
        root = yaml.compose(block, Loader=_YAML_LOADER)
    except yaml.reader.ReaderError:  # for text, raised only for a control character
        return {}, ["not valid YAML (it holds a control character): ignored"]
    except yaml.MarkedYAMLError as error:
        where = f" at line {error.problem_mark.line + 2}" if error.problem_mark else ""
        return {}, [f"not valid YAML ({error.problem}{where}): ignored"]
    except yaml.YAMLError as error:
        return {}, [f"not valid YAML ({' '.join(str(error).split())[:200]}): ignored"]
    except RecursionError:
        return {}, ["nested too deeply: ignored"]
    if root is None:
        return {}, []
    if not isinstance(root, yaml.MappingNode):
        return {}, ["not a list of name: value fields: ignored"]
    fields: dict[str, str] = {}
    problems: list[str] = []
    for key, value in root.value:
        name = key.value.lower() if isinstance(key, yaml.ScalarNode) else None
        if name not in _METADATA or name in fields:
            continue
        if not isinstance(value, yaml.ScalarNode):
            kind = "list" if isinstance(value, yaml.SequenceNode) else "mapping"
            problems.append(f"{name} is a {kind}, not text: ignored")
        elif value.tag != _YAML_NULL:
            fields[name] = _scalar_text(value)
    return fields, problems


def _scalar_text(node: yaml.ScalarNode) -> str:
    if node.tag == _YAML_TIMESTAMP:
        try:
            moment = yaml.SafeLoader("").construct_yaml_timestamp(node)
        except ValueError:  # "2023-13-45" looks like a date but is not one
            return str(node.value)
        return moment.isoformat()
    return str(node.value)


def _headline(lines: list[str]) -> tuple[str | None, list[str]]:
    # A news export often starts with a short headline line, then a blank line.
    if len(lines) >= 3 and lines[0].strip() and not lines[1].strip():
        first = lines[0].strip()
        if len(first) <= 150 and len(first.split()) <= 20 and not first.endswith(_SENTENCE_END):
            return " ".join(clean_text(first.lstrip("#")).split()), lines[2:]
    return None, lines


def _short(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit - 1)
    return text[: cut if cut > 0 else limit - 1].rstrip(" ,;:–—-") + "…"


def _header(fields: dict[str, str], name: str) -> str | None:
    # Header values go through the same cleaning as sentences (controls, spaces).
    value = " ".join(split_sentences(fields.get(name, "")))
    return _short(value, MAX_HEADER_CHARS) if value else None


def _clean_url(value: str | None) -> str | None:
    # A link is shown as written or not at all: one with a control character is dropped, not repaired.
    if value and len(value) <= MAX_URL_CHARS and _URL.fullmatch(value) and not UNSAFE_CHARS.search(value):
        return value
    return None


def parse_article(article_id: str, data: bytes) -> Article:
    """Parse one file's bytes. Raises UnusableArticle with the reason it cannot be used;
    logs what was wrong with its metadata (which is then ignored)."""
    article, problems = read_article(article_id, data)
    for problem in problems:
        log_metadata_problem(article_id, problem)
    return article


def log_metadata_problem(article_id: str, problem: str) -> None:
    logger.warning("Front matter of %s: %s", printable(article_id), clean_text(problem))


def read_article(article_id: str, data: bytes) -> tuple[Article, list[str]]:
    """Parse one file's bytes: the article, and what was wrong with its front matter (one line each).
    Raises UnusableArticle with the reason it cannot be used."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnusableArticle("UTF-16 text: save it as UTF-8")
    if b"\x00" in data[:8192]:
        raise UnusableArticle("binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnusableArticle(f"not UTF-8 text (bad byte at offset {error.start}): save it as UTF-8") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    problems: list[str] = []
    if front_matter := _split_front_matter(text):
        fields, problems = _front_matter_fields(front_matter[0])
        lines = front_matter[1].split("\n")
    else:
        fields, lines = _headers(text.split("\n"))
    headline, lines = (None, lines) if "title" in fields else _headline(lines)
    body = "\n".join(lines)
    if "date" not in fields and (match := _LEADING_DATE.match(body)):
        fields["date"] = match.group(1)
        body = body[match.end() :]
    if (match := _TRAILING_COUNT.search(body)) and match.group(1) in (
        str(len(data)),
        str(len(data) - len(match.group(1))),
    ):
        body = body[: match.start()]
    sentences = tuple(split_sentences(body))
    if not sentences:
        raise UnusableArticle("no text to index (the file is empty or holds only headers)")
    article = Article(
        id=article_id,
        title=_header(fields, "title") or headline or _short(sentences[0], TITLE_CHARS),
        date=_header(fields, "date"),
        url=_clean_url(fields.get("url")),
        source=_header(fields, "source"),
        sentences=sentences,
        digest=hashlib.sha256(data).hexdigest(),
    )
    return article, problems


def _valid_name(name: str) -> bool:
    return not _BAD_NAME_CHARS.search(name)


def _is_article_name(name: str) -> bool:
    return name.lower().endswith(ARTICLE_SUFFIXES)


def _descend(root_fd: int, folders: Sequence[str]) -> int:
    """A new descriptor of root/folders[0]/…, refusing a link at every step."""
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
    folder = _descend(root_fd, parts[:-1])
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

    def __init__(self, root_fd: int, skipped: list[Skipped]):
        self.root_fd = root_fd
        self.skipped = skipped
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
                _skip(self.skipped, "/".join(folder) or ".", f"folder unreadable: {_why(error)}")
                continue
            pending.extend(reversed(subfolders))
        if self.full:
            _skip(
                self.skipped,
                ".",
                f"more than {MAX_FILES:,} files and folders: the rest of the folder was not read: "
                "keep fewer, larger articles",
            )
        found.sort(key=lambda candidate: candidate.id)
        return found

    def _list(self, folder: tuple[str, ...], found: list[_Candidate]) -> list[tuple[str, ...]]:
        fd = _descend(self.root_fd, folder)
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
                _skip(self.skipped, relative, "its name holds control characters or non-UTF-8 bytes: rename it")
            elif entry.is_symlink():
                found.append(_Candidate(relative, link=True))  # judged when read
            elif entry.is_dir(follow_symlinks=False):
                if len(folder) < MAX_DEPTH:
                    subfolders.append((*folder, name))
                else:
                    _skip(self.skipped, relative, f"folder nested more than {MAX_DEPTH} deep, not read")
            elif not _is_article_name(name):
                _skip(self.skipped, relative, "not an article: only .txt and .md files are read")
            else:
                found.append(_Candidate(relative, link=False))
        return subfolders


def _skip(skipped: list[Skipped], path: str, reason: str) -> None:
    shown, reason = printable(path), clean_text(reason)
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


def duplicate_key(data: bytes) -> str:
    """Equal for the same file saved with other line ends or a byte-order mark: such a copy is a duplicate.
    The same text under another title or url (another outlet's copy) differs in its header, so it is not."""
    text = data.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return hashlib.sha256(text).hexdigest()


def record_skip(skipped: list[Skipped], path: str, reason: str) -> None:
    """Note a file that is not indexed, and log it: one line, one reason."""
    _skip(skipped, path, reason)


UNEXPECTED = "unexpected error while reading it (logged): please report it"


class SeedsFolder:
    """A seeds folder opened for reading under the safety rules: nothing outside it is opened,
    links are followed only to files inside it, and all reads together stay under MAX_TOTAL_BYTES.
    Every file not indexed is recorded in `skipped` (and logged) with one reason.

    Use as a context manager: it holds a descriptor of the folder while it is read.
    """

    def __init__(self, folder: Path):
        self.root = folder.resolve(strict=True)
        self.skipped: list[Skipped] = []
        self._used = 0
        self._links: set[str] = set()
        self._fd: int | None = None

    def __enter__(self) -> SeedsFolder:
        try:
            self._fd = os.open(self.root, _DIR_FLAGS)
        except OSError as error:
            _skip(self.skipped, ".", f"folder unreadable: {_why(error)}")
        return self

    def __exit__(self, *_: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def candidates(self) -> list[str]:
        """The ids of the files that may be articles, in id order."""
        if self._fd is None:
            return []
        found = _Listing(self._fd, self.skipped).candidates()
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
            _skip(self.skipped, article_id, str(error))
            return None
        self._used += len(data)
        return data

    def parse(self, article_id: str, data: bytes) -> Article | None:
        """The article in `data`, or None when it is unusable (then it is skipped)."""
        try:
            return parse_article(article_id, data)
        except UnusableArticle as error:
            _skip(self.skipped, article_id, str(error))
        except Exception:
            # A bug must cost one file, not the whole build.
            logger.exception("Unexpected error while reading %s", printable(article_id))
            _skip(self.skipped, article_id, UNEXPECTED)
        return None


def load_articles(folder: Path) -> tuple[list[Article], list[Skipped]]:
    """Every usable article under `folder`, in a stable order, and every file skipped with why.

    The simple, single-process path; index.build reads the same way, in parallel and with a saved index.
    """
    articles: list[Article] = []
    first_of: dict[str, str] = {}
    with SeedsFolder(folder) as seeds:
        for article_id in seeds.candidates():
            data = seeds.read(article_id)
            if data is None or (article := seeds.parse(article_id, data)) is None:
                continue
            key = duplicate_key(data)
            if key in first_of:
                _skip(seeds.skipped, article_id, f"same content as {first_of[key]}")
                continue
            first_of[key] = article_id
            articles.append(article)
    return articles, seeds.skipped
