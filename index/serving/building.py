"""Opening an index: built from a folder (or its saved file reloaded), or from articles already in memory."""

from __future__ import annotations

import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from index.articles.article import Article, Skipped
from index.articles.text import printable
from index.progress import Progress
from index.serving.search_index import SearchIndex
from index.storage import store
from index.storage.bm25 import DEFAULT_PARAMS, Bm25Params
from index.storage.build import Built, TermIds, build
from index.storage.layout import Parts, lay_out
from index.storage.passages import count_tokens_each
from index.storage.reader import Sentences


@dataclass(frozen=True)
class BuildReport:
    """What a build indexed and what it skipped."""

    articles: int
    sentences: int
    tokens: int
    skipped: tuple[Skipped, ...]
    seconds: float
    from_cache: bool = False  # reloaded from the saved index, not built
    cache_file: Path | None = None  # where the index is saved (None: not asked to save it)
    not_saved: str | None = None  # why the index could not be saved at `cache_file` (served from a temporary file)


class EmptyIndexError(ValueError):
    """Nothing could be indexed; the message says what to do."""


class MissingSeedsFolder(EmptyIndexError):
    """The seeds folder does not exist; the message tells the bot's user to fix SEEDS_DIR (the command line
    says --seeds instead, when the folder came from there)."""


def index_articles(articles: Sequence[Article], params: Bm25Params = DEFAULT_PARAMS) -> SearchIndex:
    """Index already-parsed articles, in memory (the same layout as the file)."""
    parts = Parts()
    terms = TermIds()
    for article in articles:
        parts.add_article((article.id, article.title, article.date, article.url, article.source, article.digest),
                          len(article.sentences))  # fmt: skip
        sentences = article.sentences
        # An article served from an index file has its counts there: asking about one article then loads no tokenizer.
        costs = sentences.budget_tokens() if isinstance(sentences, Sentences) else count_tokens_each(sentences)
        parts.add_text(sentences, costs)
        terms.add(article.sentences)
    ids, counts = terms.arrays()
    parts.vocabulary, parts.term_ids, parts.token_counts = terms.vocabulary, [ids], [counts]
    meta, columns = lay_out(parts, params, key="")
    return SearchIndex(store.in_memory(meta, columns))


# Skipped files named when a folder has no usable article; the rest are counted.
SKIPPED_SHOWN = 10


def _check_folder(folder: Path) -> None:
    shown = printable(str(folder))
    try:
        is_folder = stat.S_ISDIR(folder.stat().st_mode)
    except FileNotFoundError:
        raise MissingSeedsFolder(
            f"The seeds folder {shown} does not exist: create it, or set SEEDS_DIR to your articles."
        ) from None
    except OSError as error:
        raise EmptyIndexError(f"The seeds folder {shown} cannot be read ({error.strerror or error}).") from None
    if not is_folder:
        raise EmptyIndexError(
            f"The seeds folder {shown} is a file, not a folder: give the folder that holds the articles."
        )


def _nothing_usable(folder: Path, skipped: Sequence[Skipped]) -> str:
    message = f"No usable article in {printable(str(folder))}: add .txt or .md files there"
    if not skipped:
        return message + "."
    these = f"these {len(skipped):,} files" if len(skipped) > 1 else "this file"
    lines = [f"{message}, or fix {these}:"]
    lines.extend(f"  {s.path}: {s.reason}" for s in skipped[:SKIPPED_SHOWN])
    if len(skipped) > SKIPPED_SHOWN:
        lines.append(f"  … and {len(skipped) - SKIPPED_SHOWN:,} more.")
    return "\n".join(lines)


def load_articles(folder: Path) -> tuple[list[Article], list[Skipped]]:
    """Every usable article under `folder`, its sentences in memory, and every file skipped with why.

    The build's own reading, parsing and deduplication (in this process, nothing saved), for callers
    that want articles rather than an index: the dialogue benchmark, and tests.
    """
    built = build(folder, cache=None, workers=1, progress=lambda stage, done, total: None)
    if built.file is None:
        return [], list(built.skipped)
    index = SearchIndex(built.file)
    try:
        return [replace(a, sentences=tuple(a.sentences)) for a in index.articles], list(built.skipped)
    finally:
        index.close()


def build_index(
    folder: Path,
    params: Bm25Params = DEFAULT_PARAMS,
    *,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    workers: int | None = None,
    progress: Progress | None = None,
) -> tuple[SearchIndex, BuildReport]:
    """Read every article under `folder` and index it, or reload the saved index if no article changed.

    The saved index lives in `cache_dir`, else $INDEX_CACHE_DIR, else the user's cache folder;
    `use_cache=False` neither reads nor writes it. `workers` processes parse the articles
    (default: one per core for big folders, none for small ones). `progress` is told how far
    each stage is (default: log lines). Safe to run in a worker thread while an event loop runs.

    Raises EmptyIndexError when the folder is missing or holds no usable article.
    """
    started = time.perf_counter()
    cache = saved_index_path(folder, cache_dir, use_cache)
    built = build(folder, params, cache=cache, workers=workers, progress=progress)
    return serve(folder, built, cache, started)


def saved_index_path(folder: Path, cache_dir: Path | None, use_cache: bool) -> Path | None:
    """Where the index of `folder` is saved (None: not saved). Raises EmptyIndexError for a missing folder."""
    _check_folder(folder)
    return store.index_file(store.cache_folder(cache_dir), folder) if use_cache else None


def serve(folder: Path, built: Built, cache: Path | None, started: float) -> tuple[SearchIndex, BuildReport]:
    """The index of a build, and its report. Raises EmptyIndexError when no article was usable."""
    if built.file is None:
        raise EmptyIndexError(_nothing_usable(folder, built.skipped))
    index = SearchIndex(built.file)
    report = BuildReport(
        articles=index.article_count,
        sentences=index.sentence_count,
        tokens=index.bm25.token_count,
        skipped=built.skipped,
        seconds=time.perf_counter() - started,
        from_cache=built.from_cache,
        cache_file=cache,
        not_saved=built.not_saved,
    )
    return index, report
