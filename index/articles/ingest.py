"""Adding and removing articles: one code path for `qa-bot add` and the bot's `/article` commands.

A file (.txt, .md, or a news page saved as .html) becomes an article file in the seeds folder:
HTML through trafilatura (its text, title, date and url from the page), the metadata options as
header lines, under a name made here from the title (never a path anyone chose), written to a
hidden temporary file and linked into place, so a reader sees the whole file or none, and an
existing article is never overwritten unless `replace` is asked for. Removing moves the file
into `.removed/` in the seeds folder: hidden folders are not indexed, and it can be moved back.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import hashlib
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from slugify import slugify

from index.articles.article import Article, UnusableArticle, parse_article, split_metadata
from index.articles.folder import MAX_ARTICLE_BYTES, SeedsFolder, descend, duplicate_key, without_line_ends
from index.articles.text import printable
from index.articles.web import PAGE_TYPES, AddressPolicy, FetchLimits, Response, fetch

# Uploads and files are held to the same limit as articles in the seeds folder.
MAX_FILE_BYTES = MAX_ARTICLE_BYTES
TEXT_SUFFIXES = (".txt", ".md")
HTML_SUFFIXES = (".html", ".htm")
ACCEPTED_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES
REMOVED_FOLDER = ".removed"
NAME_CHARS = 60  # the title's part of a file name
MAX_URL_CHARS = 2_000
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)


class IngestError(ValueError):
    """The file cannot be added (or removed); the message is one sentence saying what to do."""


class ArticleExists(IngestError):
    """An article file of that name is there already and `replace` was not asked for."""

    def __init__(self, name: str) -> None:
        super().__init__(f"An article file named {name} already exists.")
        self.name = name


@dataclass(frozen=True)
class Prepared:
    """An article ready to be written: its file name, its bytes, and the article they parse to."""

    name: str
    data: bytes
    article: Article


@dataclass(frozen=True)
class Added:
    """An article written into the seeds folder."""

    name: str  # the file name, which is the article's id
    path: Path
    title: str
    date: str | None
    url: str | None
    sentences: int
    replaced: bool
    source: str | None = None


def suffix_of(filename: str) -> str:
    return PurePosixPath(filename.replace("\\", "/")).suffix.lower()


def check_upload(filename: str, size: int) -> None:
    """Refuse before reading: a kind of file that is not accepted, or one too large."""
    if suffix_of(filename) not in ACCEPTED_SUFFIXES:
        raise IngestError("Only .txt, .md and .html files can be added as articles: save the article as one of those.")
    if size > MAX_FILE_BYTES:
        raise IngestError(
            f"The file is too large ({size:,} bytes; the limit is {MAX_FILE_BYTES:,}): split it into smaller articles."
        )


def _one_line(value: str | None) -> str | None:
    """A header value on one line: control characters and line breaks become spaces."""
    if value is None:
        return None
    folded = " ".join("".join(c if unicodedata.category(c)[0] != "C" else " " for c in value).split())
    return folded or None


def _checked_date(value: str | None) -> str | None:
    value = _one_line(value)
    if value is None:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return datetime.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise IngestError(f"The date {value[:40]!r} is not a date: give it as YYYY-MM-DD, for example 2023-07-27.")


def _checked_url(value: str | None) -> str | None:
    value = _one_line(value)
    if value is None:
        return None
    if len(value) > MAX_URL_CHARS or not _URL.fullmatch(value):
        raise IngestError("The url must be a web link starting with http:// or https://: check it and try again.")
    return value


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IngestError("The file is UTF-16 text: save it as UTF-8 and add it again.")
    if b"\x00" in data[:8192]:
        raise IngestError("The file is not text (it holds binary data): add a .txt, .md or .html file.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise IngestError(
            f"The file is not UTF-8 text (bad byte at offset {error.start}): save it as UTF-8 and add it again."
        ) from None


@dataclass(frozen=True)
class Page:
    """A news page's article text (one paragraph per block) and the metadata the page itself gives."""

    text: str
    title: str | None
    date: str | None  # only from the page's metadata or a dateline it marks up, never guessed from its text
    url: str | None
    source: str | None  # the publisher or site name


# A page is an article only with this much text in paragraphs of MIN_PROSE_WORDS words or more: a home
# page, a list of links or a cookie notice is menu items and a sentence or two.
MIN_ARTICLE_CHARS = 150
MIN_PROSE_WORDS = 5
# A consent notice is not the article's text, even when the extractor kept it (the page had nothing else).
_CONSENT = re.compile(
    r"\bcookies?\b.*\b(consent|accept|agree|privacy|partners|preferences|continuing|settings)\b"
    r"|\b(consent|accept|agree|privacy|partners|preferences|continuing|settings)\b.*\bcookies?\b",
    re.IGNORECASE,
)
# Dates only from the page's metadata (meta tags, JSON-LD, <time> in the article) and its first
# publication, not its last update: htmldate's extensive search reads dates out of the text ("since
# 2022" became 2022-01-01) and copyright lines.
DATE_PARAMETERS = {"extensive_search": False, "original_date": True}


def html_to_text(data: bytes | str, url: str | None = None) -> Page:
    """A news page's article text (boilerplate removed, one paragraph per block) and its metadata.

    Raises IngestError when the page holds too little article text (see MIN_ARTICLE_CHARS).
    """
    import trafilatura  # imported here: it loads lxml and date parsers, which `qa-bot ask` never needs

    document = trafilatura.bare_extraction(
        data,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        include_images=False,
        date_extraction_params=DATE_PARAMETERS,
    )
    text = getattr(document, "text", None) if document is not None else None
    if not text or not text.strip():
        raise IngestError("No article text was found in that page: give the article's own page, or paste its text.")
    title = _one_line(getattr(document, "title", None))
    paragraphs = [" ".join(line.split()) for line in text.split("\n")]
    paragraphs = [p for p in paragraphs if p]
    if paragraphs and title and paragraphs[0] == title:
        paragraphs = paragraphs[1:]  # the headline, repeated as the page's first block
    prose = sum(len(p) for p in paragraphs if len(p.split()) >= MIN_PROSE_WORDS and not _CONSENT.search(p))
    if prose < MIN_ARTICLE_CHARS:
        raise IngestError(
            f"That page has too little article text ({prose:,} characters in sentences; at least "
            f"{MIN_ARTICLE_CHARS:,} are needed): it looks like a home page, a list of links or a cookie notice, "
            "so give the address of the article itself."
        )
    date = getattr(document, "date", None)
    page_url = getattr(document, "url", None)
    return Page(
        "\n\n".join(paragraphs),
        title,
        date if isinstance(date, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) else None,
        page_url if isinstance(page_url, str) and _URL.fullmatch(page_url) and len(page_url) <= MAX_URL_CHARS else None,
        _one_line(getattr(document, "sitename", None)),
    )


def file_name(title: str, suffix: str) -> str:
    """The article's file name: its title in lower-case ASCII words joined by "-" (other scripts
    transliterated: "尼日尔政变" is ni-ri-er-zheng-bian), cut at a word, then `suffix`."""
    slug = slugify(title, max_length=NAME_CHARS, word_boundary=True)
    if not slug:  # nothing to spell it with (emoji, symbols): named by its digest instead
        slug = "article-" + _digest(title)[:12]
    return slug + suffix


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def prepare(
    filename: str,
    data: bytes,
    *,
    title: str | None = None,
    date: str | None = None,
    url: str | None = None,
) -> Prepared:
    """The article file to write for `data` (named `filename` by whoever sent it; only its suffix is used).

    `title`, `date` and `url`, when given, replace what the file or page says. Raises IngestError.
    """
    check_upload(filename, len(data))
    title, date, url = _one_line(title), _checked_date(date), _checked_url(url)
    suffix = suffix_of(filename)
    if suffix in HTML_SUFFIXES:
        if b"\x00" in data[:8192]:
            raise IngestError("The file is not text (it holds binary data): add a .txt, .md or .html file.")
        page = html_to_text(data)
        fields = {"title": page.title, "date": page.date, "url": page.url, "source": page.source}
        body, suffix = page.text, ".txt"
    else:
        text = _decode(data)
        if title is None and date is None and url is None:
            return _parsed(data, suffix)  # kept byte for byte: nothing to change
        # The file's own metadata, read as the indexer reads it (front matter or header lines), is kept where
        # the options do not replace it; the body follows the header lines written below.
        own, body, _ = split_metadata(text)
        body = body.lstrip("\n")  # the line end of front matter's closing line
        fields = {
            "title": own.get("title"),
            "date": own.get("date"),
            "url": own.get("url"),
            "source": own.get("source"),
        }
    for name, value in (("title", title), ("date", date), ("url", url)):
        if value is not None:
            fields[name] = value
    return _with_header(fields, body, suffix)


def _with_header(fields: dict[str, str | None], body: str, suffix: str) -> Prepared:
    header = "".join(f"{name}: {_one_line(value)}\n" for name, value in fields.items() if _one_line(value))
    return _parsed(((header + "\n") if header else "").encode("utf-8") + body.encode("utf-8"), suffix)


MARKDOWN_TYPES = ("text/markdown", "text/x-markdown")


def prepare_page(
    response: Response, *, title: str | None = None, date: str | None = None, fallback_date: str | None = None
) -> Prepared:
    """The article for a fetched page: its URL (after redirects) is the citation's link.

    `title` and `date` replace what the page says; `fallback_date` (a feed entry's) is used when the page
    gives none. The charset the server declares decodes the page; without one, the page's own (a meta
    tag) or trafilatura's detection does. Raises IngestError.
    """
    title, date, fallback_date = _one_line(title), _checked_date(date), _checked_date(fallback_date)
    url = _checked_url(response.url)
    if response.content_type in MARKDOWN_TYPES or response.content_type == "text/plain":
        own, body, _ = split_metadata(_decode_declared(response))  # front matter or header lines, as indexed
        body = body.lstrip("\n")
        suffix = ".md" if response.content_type in MARKDOWN_TYPES else ".txt"
        fields = {"title": own.get("title"), "date": own.get("date"), "url": url, "source": own.get("source")}
    else:
        page = html_to_text(_declared_text(response) or response.body, url)
        fields = {"title": page.title, "date": page.date, "url": url, "source": page.source}
        body, suffix = page.text, ".txt"
    if title is not None:
        fields["title"] = title
    if date is not None or fields["date"] is None:
        fields["date"] = date or fallback_date
    return _with_header(fields, body, suffix)


def _declared_text(response: Response) -> str | None:
    """The body decoded with the charset the server declared; None when it declared none (or an unknown one)."""
    if response.charset is None:
        return None
    try:
        return response.body.decode(response.charset)
    except (LookupError, UnicodeDecodeError):
        return None  # a wrong declaration: the page's own, or detection, decides


def _decode_declared(response: Response) -> str:
    text = _declared_text(response)
    return text if text is not None else _decode(response.body)


def fetch_article(
    url: str,
    *,
    policy: AddressPolicy | None = None,
    limits: FetchLimits | None = None,
    fallback_date: str | None = None,
) -> Prepared:
    """The article at `url`, fetched (index.articles.web's rules) and prepared (see `prepare_page`), not written.

    Raises FetchError or IngestError, each with one sentence saying what to do.
    """
    response = fetch(url, accept=PAGE_TYPES, policy=policy, limits=limits)
    return prepare_page(response, fallback_date=fallback_date)


def text_digest(prepared: Prepared) -> str:
    """SHA-256 of the article's sentences: the same text under two links or titles is the same article."""
    return hashlib.sha256("\n".join(prepared.article.sentences).encode("utf-8", "surrogatepass")).hexdigest()


def add_page(
    folder: Path,
    url: str,
    *,
    policy: AddressPolicy | None = None,
    limits: FetchLimits | None = None,
    title: str | None = None,
    date: str | None = None,
    replace: bool = False,
) -> Added:
    """Fetch the page at `url` (index.web's rules) and write it into the seeds folder as an article, unless
    another article file already holds the same text.

    Raises FetchError or IngestError, each with one sentence saying what to do.
    """
    _checked_date(date)  # a mistake in the options is told before the page is fetched
    response = fetch(url, accept=PAGE_TYPES, policy=policy, limits=limits)
    return _write_new(folder, prepare_page(response, title=title, date=date), replace)


def _parsed(data: bytes, suffix: str) -> Prepared:
    if len(data) > MAX_FILE_BYTES:
        raise IngestError(
            f"The article would be too large ({len(data):,} bytes; the limit is {MAX_FILE_BYTES:,}): "
            "split it into smaller articles."
        )
    try:
        article = parse_article("upload" + suffix, data)
    except UnusableArticle as error:
        raise IngestError(f"The file cannot be used as an article: {error}.") from None
    name = file_name(article.title, suffix)
    return Prepared(name, data, parse_article(name, data))


def _os_error(error: OSError, folder: Path) -> IngestError:
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return IngestError(
            f"The bot may not write to the seeds folder {folder} (read-only, or no permission): "
            "let the bot's user write there, then try again."
        )
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return IngestError("The disk holding the seeds folder is full: free some space there, then try again.")
    if error.errno in (errno.ENOENT, errno.ENOTDIR):
        return IngestError(f"The seeds folder {folder} does not exist: create it, or set SEEDS_DIR to your articles.")
    return IngestError(f"Could not write to the seeds folder ({error.strerror or error}): check it, then try again.")


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
# What link() fails with where the filesystem has no hard links (FAT says EPERM: the folder itself was
# writable, since the temporary file was just created in it).
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS})


def write_article(folder: Path, prepared: Prepared, *, replace: bool = False) -> Added:
    """Write `prepared` into `folder` atomically; ArticleExists when its name is taken and not `replace`.

    The bytes go to a hidden temporary file (a build running meanwhile ignores hidden files), are
    flushed to disk, then linked (or, for `replace`, renamed) into place; on any failure the temporary
    file is removed, so nothing half-written is ever left under an article's name.
    """
    try:
        folder_fd = os.open(folder, _DIR_FLAGS)
    except OSError as error:
        raise _os_error(error, folder) from None
    temporary = f".{prepared.name}.{secrets.token_hex(6)}.part"
    written = False
    try:
        existed = _exists(prepared.name, folder_fd)
        if existed and not replace:
            raise ArticleExists(prepared.name)
        fd = os.open(
            temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=folder_fd
        )
        written = True
        try:
            view = memoryview(prepared.data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if replace:
            os.replace(temporary, prepared.name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
            written = False
        else:
            try:
                os.link(temporary, prepared.name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd, follow_symlinks=False)
            except FileExistsError:
                raise ArticleExists(prepared.name) from None  # added meanwhile by someone else
            except OSError as error:
                if error.errno not in _NO_HARD_LINKS:
                    raise
                # A filesystem without hard links (FAT, some network shares): renamed instead. The name was
                # free a moment ago; only another add of the same article at the same moment could be replaced.
                if _exists(prepared.name, folder_fd):
                    raise ArticleExists(prepared.name) from None
                os.rename(temporary, prepared.name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
                written = False
        os.fsync(folder_fd)
    except OSError as error:
        raise _os_error(error, folder) from None
    finally:
        if written:
            with contextlib.suppress(OSError):  # nothing more can be done; a hidden file is never indexed
                os.unlink(temporary, dir_fd=folder_fd)
        os.close(folder_fd)
    article = prepared.article
    return Added(
        name=prepared.name,
        path=folder / prepared.name,
        title=article.title,
        date=article.date,
        url=article.url,
        sentences=len(article.sentences),
        replaced=existed,
        source=article.source,
    )


def _exists(name: str, folder_fd: int) -> bool:
    try:
        os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def add_article(
    folder: Path,
    filename: str,
    data: bytes,
    *,
    title: str | None = None,
    date: str | None = None,
    url: str | None = None,
    replace: bool = False,
) -> Added:
    """Convert and write one file into the seeds folder (see `prepare` and `write_article`).

    Refused when another article file already holds the same text (the build indexes one of two copies).
    """
    return _write_new(folder, prepare(filename, data, title=title, date=date, url=url), replace)


def _write_new(folder: Path, prepared: Prepared, replace: bool) -> Added:
    """`write_article`, refused when another article file already holds the same text."""
    try:
        copy_of = same_article(folder, prepared.data, prepared.name)
    except OSError as error:
        raise _os_error(error, folder) from None
    if copy_of is not None:
        raise IngestError(
            f"This article is already in the seeds folder as {printable(copy_of)}, so nothing was added: "
            "remove that one first to add it under another name."
        )
    return write_article(folder, prepared, replace=replace)


def same_article(folder: Path, data: bytes, name: str) -> str | None:
    """The article file in `folder`, other than `name`, that a build would take as the same as `data` (the same
    bytes up to line ends and a byte-order mark); None when there is none. Reads only files of a size that
    could match, through index.folder's safe reads."""
    key, length = duplicate_key(data), len(without_line_ends(data))
    with SeedsFolder(folder, quiet=True) as seeds:
        for article_id in seeds.candidates():
            size = seeds.size(article_id)
            # A copy has at most a byte-order mark and a "\r" per line more.
            if article_id == name or size is None or not length <= size <= 2 * length + 3:
                continue
            other = seeds.read(article_id)
            if other is not None and duplicate_key(other) == key:
                return article_id
    return None


def remove_article(folder: Path, article_id: str) -> Path:
    """Move the article `article_id` (its path in the folder, with "/") into `.removed/`; its new path.

    A file of the same name already in `.removed/` is kept: the new one gets a numbered name. Every step goes
    through directory descriptors opened with O_NOFOLLOW, so a folder on the article's path swapped for a
    link after the index was built is refused, never followed out of the seeds folder. An article that is a
    link is moved as the link, its target untouched.
    """
    parts = article_id.split("/")
    if not article_id or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise IngestError(f"{article_id!r} is not an article of the seeds folder: pick one from the list.")
    name = parts[-1]
    stem, suffix = os.path.splitext(name)
    descriptors: list[int] = []
    try:
        root_fd = os.open(folder, _DIR_FLAGS)
        descriptors.append(root_fd)
        parent_fd = descend(root_fd, parts[:-1])
        descriptors.append(parent_fd)
        os.stat(name, dir_fd=parent_fd, follow_symlinks=False)  # the article is there (FileNotFoundError if not)
        with contextlib.suppress(FileExistsError):
            os.mkdir(REMOVED_FOLDER, 0o755, dir_fd=root_fd)
        removed_fd = descend(root_fd, [REMOVED_FOLDER])
        descriptors.append(removed_fd)
        for n in range(1, 1000):
            target = name if n == 1 else f"{stem}-{n}{suffix}"
            try:
                os.link(name, target, src_dir_fd=parent_fd, dst_dir_fd=removed_fd, follow_symlinks=False)
            except FileExistsError:
                continue
            os.unlink(name, dir_fd=parent_fd)
            return folder / REMOVED_FOLDER / target
    except FileNotFoundError:
        raise IngestError(f"The article file {article_id} is no longer in the seeds folder: run /reload.") from None
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise IngestError(
                f"A folder on the way to {article_id} (or {REMOVED_FOLDER}/) is now a link, which is never "
                "followed: make it a plain folder again, then run /reload."
            ) from None
        raise _os_error(error, folder) from None
    finally:
        for fd in descriptors:
            os.close(fd)
    raise IngestError(f"{REMOVED_FOLDER}/ holds too many files named {name}: empty it, then try again.")
