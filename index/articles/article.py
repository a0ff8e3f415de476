"""An article file's bytes to an Article: its text, title, date, link and source, and its sentences.

Metadata comes from YAML front matter, from "name: value" header lines, or from the seed's own
layout (a headline line, a leading date); whatever is wrong with it is logged and ignored. Reading
the files of a folder safely is index.folder's job.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import yaml

from index.articles.markdown_text import markdown_text
from index.articles.text import UNSAFE_CHARS, clean_text, printable, split_sentences

logger = logging.getLogger("index.articles")

# Bump with any change to the article a file's bytes become (metadata, title, cleaning, limits; the folder
# walk's choice of files too): the saved index is keyed by it (storage/build.py; tests/index/test_versions.py).
# 2: Markdown articles read as Markdown (index/articles/markdown_text.py).
ARTICLE_VERSION = 2
MARKDOWN_SUFFIX = ".md"  # read as Markdown: its text without the markup (markdown_text.py)
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


def _is_headline(line: str) -> bool:
    return len(line) <= 150 and len(line.split()) <= 20 and not line.endswith(_SENTENCE_END)


def _headline(lines: list[str]) -> tuple[str | None, list[str]]:
    # A news export often starts with a short headline line, then a blank line.
    if len(lines) >= 3 and lines[0].strip() and not lines[1].strip():
        first = lines[0].strip()
        if _is_headline(first):
            return " ".join(clean_text(first.lstrip("#")).split()), lines[2:]
    return None, lines


def _same_words(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def _markdown_body(source: str, title: str | None) -> tuple[str | None, str]:
    """A Markdown article's headline (its first heading, when no title is given) and its text, one block a
    paragraph, without the markup; the title is not kept as the first sentence too."""
    parsed = markdown_text(source)
    paragraphs = list(parsed.paragraphs)
    first = parsed.heading
    if first is None and title is None and len(paragraphs) >= 2 and _is_headline(paragraphs[0]):
        first = paragraphs[0]  # a short first line, as in a text file
    headline = None
    if title is None and first is not None:
        headline = _short(" ".join(clean_text(first).split()), MAX_HEADER_CHARS) or None
    if paragraphs and (
        (first is not None and (title is None or _same_words(first, title)))
        or (title is not None and _same_words(paragraphs[0], title))
    ):
        paragraphs = paragraphs[1:]
    return headline, "\n\n".join(paragraphs)


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


def split_metadata(text: str) -> tuple[dict[str, str], str, list[str]]:
    """A file's own metadata (YAML front matter, or "name: value" header lines), the text after it with "\\n"
    line ends, and what was wrong with the front matter (one line each)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if front_matter := _split_front_matter(text):
        fields, problems = _front_matter_fields(front_matter[0])
        return fields, front_matter[1], problems
    fields, lines = _headers(text.split("\n"))
    return fields, "\n".join(lines), []


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
    fields, body, problems = split_metadata(text)
    if article_id.lower().endswith(MARKDOWN_SUFFIX):
        headline, body = _markdown_body(body, fields.get("title"))
    else:
        lines = body.split("\n")
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
