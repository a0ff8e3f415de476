"""Articles on disk: reading a seeds folder safely and parsing each file's metadata."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from index.text import split_sentences

ARTICLE_SUFFIXES = (".txt", ".md")
# Bigger files are skipped rather than read: memory stays bounded whatever lands in seeds/.
MAX_ARTICLE_BYTES = 5_000_000
MAX_ARTICLES = 200_000
TITLE_CHARS = 80

_HEADER = re.compile(r"^(title|date|url|source)\s*:\s*(.*?)\s*$", re.IGNORECASE)
# The seed's own format: " date 2023-07-27 " before the first word.
_LEADING_DATE = re.compile(r"^\s*date\s+(\d{4}-\d{2}-\d{2})\s+", re.IGNORECASE)
# …and a byte count glued to the final full stop: "…attempted coups.4872".
_TRAILING_COUNT = re.compile(r"(?<=[.!?\"”’)])(\d+)\s*$")
_SENTENCE_END = (".", "!", "?", ":", ";", ",")


@dataclass(frozen=True)
class Article:
    """One article: its id is its path relative to the seeds folder, with `/`."""

    id: str
    title: str
    date: str | None
    url: str | None
    source: str | None
    sentences: tuple[str, ...]
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
        fields[match.group(1).lower()] = match.group(2)
    return {}, lines


def _headline(lines: list[str]) -> tuple[str | None, list[str]]:
    # A news export often starts with a short headline line, then a blank line.
    if len(lines) >= 3 and lines[0].strip() and not lines[1].strip():
        first = lines[0].strip()
        if len(first) <= 150 and len(first.split()) <= 20 and not first.endswith(_SENTENCE_END):
            return first.lstrip("#").strip(), lines[2:]
    return None, lines


def _short_title(sentence: str) -> str:
    if len(sentence) <= TITLE_CHARS:
        return sentence
    cut = sentence.rfind(" ", 0, TITLE_CHARS - 1)
    return sentence[: cut if cut > 0 else TITLE_CHARS - 1].rstrip(" ,;:–—-") + "…"


def parse_article(article_id: str, data: bytes) -> Article:
    """Parse one file's bytes. Raises UnusableArticle with the reason it cannot be used."""
    if b"\x00" in data[:8192]:
        raise UnusableArticle("binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnusableArticle(f"not UTF-8 text (bad byte at offset {error.start}): save it as UTF-8") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    fields, lines = _headers(text.split("\n"))
    headline, lines = (None, lines) if "title" in fields else _headline(lines)
    body = "\n".join(lines)
    if "date" not in fields and (match := _LEADING_DATE.match(body)):
        fields["date"] = match.group(1)
        body = body[match.end() :]
    if (match := _TRAILING_COUNT.search(body)) and int(match.group(1)) in (len(data), len(data) - len(match.group(1))):
        body = body[: match.start()]
    sentences = tuple(split_sentences(body))
    if not sentences:
        raise UnusableArticle("no text to index (the file is empty or holds only headers)")
    title = fields.get("title") or headline or _short_title(sentences[0])
    return Article(
        id=article_id,
        title=title,
        date=fields.get("date") or None,
        url=fields.get("url") or None,
        source=fields.get("source") or None,
        sentences=sentences,
        digest=hashlib.sha256(data).hexdigest(),
    )


def _candidate_files(root: Path, skipped: list[Skipped]) -> Iterator[tuple[str, Path]]:
    # os.walk does not descend into linked folders; linked files are followed only when
    # they resolve inside the seeds folder, so nothing outside it is ever read.
    found: list[tuple[str, Path]] = []
    for folder, subfolders, files in os.walk(root, onerror=None):
        subfolders.sort()
        base = Path(folder)
        for name in subfolders:
            if (base / name).is_symlink():
                skipped.append(Skipped((base / name).relative_to(root).as_posix(), "linked folder, not followed"))
        for name in files:
            path = base / name
            if not name.endswith(ARTICLE_SUFFIXES) or name.startswith("."):
                continue
            found.append((path.relative_to(root).as_posix(), path))
    found.sort()
    yield from found


def _read_inside(root: Path, path: Path) -> bytes:
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            raise UnusableArticle("broken or looping link") from None
        if not target.is_relative_to(root):
            raise UnusableArticle("link to a file outside the seeds folder, not followed")
    try:
        size = path.stat().st_size
        if size > MAX_ARTICLE_BYTES:
            raise UnusableArticle(
                f"too large ({size:,} bytes; the limit is {MAX_ARTICLE_BYTES:,}): split it into smaller articles"
            )
        with path.open("rb") as file:
            return file.read(MAX_ARTICLE_BYTES + 1)
    except FileNotFoundError:
        raise UnusableArticle("disappeared while the folder was being read") from None
    except IsADirectoryError:
        raise UnusableArticle("a folder, not a file") from None
    except OSError as error:
        raise UnusableArticle(f"unreadable ({error.strerror or error})") from None


def load_articles(folder: Path) -> tuple[list[Article], list[Skipped]]:
    """Every usable article under `folder`, in a stable order, and every file skipped with why."""
    root = folder.resolve(strict=True)
    articles: list[Article] = []
    skipped: list[Skipped] = []
    seen: dict[str, str] = {}
    for article_id, path in _candidate_files(root, skipped):
        if len(articles) >= MAX_ARTICLES:
            skipped.append(Skipped(article_id, f"over the limit of {MAX_ARTICLES:,} articles"))
            continue
        try:
            article = parse_article(article_id, _read_inside(root, path))
        except UnusableArticle as error:
            skipped.append(Skipped(article_id, str(error)))
            continue
        if article.digest in seen:
            skipped.append(Skipped(article_id, f"same content as {seen[article.digest]}"))
            continue
        seen[article.digest] = article_id
        articles.append(article)
    return articles, skipped
