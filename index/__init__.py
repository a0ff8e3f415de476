"""The retrieval core's public API: everything the bot (and any other caller) uses, and nothing more.

Pure and synchronous: no Discord, no asyncio. The stages live in subpackages named as the data flows,
each importing only those before it (tests/test_imports.py checks):

    articles/  ->  storage/  ->  meaning/  ->  ranking/  ->  answers/  ->  serving/  ->  evaluation/, shell/
    files in       index file    vectors       candidates,   hits,         SearchIndex   SQuAD, dialogues;
                   and BM25                    features,     passages,     and opening   the command line
                                               confidence    short answers  it

Use:

    index, report = build_index(Path("seeds"))        # or reload the saved index: BuildReport says which
    answer = index.ask("How many coups?", k=3)        # an Answer: typed Hits, best first, and a short answer
    answer = index.ask(question, article="x.txt")     # that article's sentences only (UnknownArticle if none)
    index.close()                                     # unmaps the file; a closed index raises ClosedIndex

A SearchIndex is safe to ask from many threads at once. Everything not named here is internal: import it
from its subpackage only inside index/, in tests of that subpackage, or in bench/.
"""

import importlib
import logging
import os
from typing import TYPE_CHECKING, Any

# Nothing about the host is collected or sent. onnxruntime 1.31's Linux and macOS builds record usage events
# (OS, Python path, a device id) under ~/.cache/Microsoft/DeveloperTools and upload them. This variable, read
# when onnxruntime is first imported, turns that off entirely: no uploader, no device id, no event file
# (onnxruntime's pull request 27379; onnxruntime.disable_telemetry_events() does not: the first event is
# written as it loads). Set before any module of the core is imported, whatever it imports; forced: the README
# promises it.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

from index.answers.followup import ConversationAnswer, ask_in_conversation, leans_on_previous
from index.answers.overlaps import Passage, hits_for, merge_overlapping, own_passage
from index.answers.results import DEFAULT_HITS, MAX_HITS, Answer, Hit
from index.articles.article import Article, Skipped, UnusableArticle, parse_article
from index.articles.files import NotRegularFile, read_regular
from index.articles.text import UNSAFE_CHARS, clean_text, counted, normalise, printable, tokenize
from index.meaning.encoder import DEFAULT_MODEL, Encoder, ModelUnavailable
from index.meaning.stage import SemanticStage, cannot_write, fill, store_folder
from index.meaning.vectors import FloatArray, VectorStore
from index.progress import LogProgress, Progress
from index.serving.building import BuildReport, EmptyIndexError, build_index, index_articles, load_articles
from index.serving.search_index import SearchIndex
from index.storage.bm25 import Bm25, Bm25Params
from index.storage.build_lock import build_lock
from index.storage.reader import ClosedIndex, UnknownArticle
from index.storage.store import cache_folder, index_file

# Loaded on first use: a process that only opens an index and answers (the bot's answering, a start from the
# saved index) never imports the command line, ingestion, the build's worker process or the embedding pool.
# importlib's import lock makes a first use from several threads at once safe.
_LAZY = {
    "Added": "index.articles.ingest",
    "ArticleExists": "index.articles.ingest",
    "IngestError": "index.articles.ingest",
    "add_article": "index.articles.ingest",
    "check_upload": "index.articles.ingest",
    "remove_article": "index.articles.ingest",
    "Prepared": "index.articles.ingest",
    "add_page": "index.articles.ingest",
    "fetch_article": "index.articles.ingest",
    "text_digest": "index.articles.ingest",
    "write_article": "index.articles.ingest",
    "Feed": "index.articles.feeds",
    "FeedEntry": "index.articles.feeds",
    "FeedError": "index.articles.feeds",
    "FeedFetch": "index.articles.feeds",
    "fetch_feed": "index.articles.feeds",
    "AddressPolicy": "index.articles.web",
    "FetchError": "index.articles.web",
    "FetchLimits": "index.articles.web",
    "check_url": "index.articles.web",
    "EmbeddingPool": "index.meaning.embedding_pool",
    "BuildFailed": "index.serving.build_worker",
    "article_bytes": "index.serving.build_worker",
    "build_in_worker": "index.serving.build_worker",
    "add_commands": "index.shell.commands",
    "UsageError": "index.shell.terminal",
    "colour_allowed": "index.shell.terminal",
    "emit": "index.shell.terminal",
    "env_flag": "index.shell.terminal",
    "run_command": "index.shell.terminal",
}
_RENAMED = {"run_command": "run"}

if TYPE_CHECKING:
    from index.articles.feeds import Feed, FeedEntry, FeedError, FeedFetch, fetch_feed
    from index.articles.ingest import (
        Added,
        ArticleExists,
        IngestError,
        Prepared,
        add_article,
        add_page,
        check_upload,
        fetch_article,
        remove_article,
        text_digest,
        write_article,
    )
    from index.articles.web import AddressPolicy, FetchError, FetchLimits, check_url
    from index.meaning.embedding_pool import EmbeddingPool
    from index.serving.build_worker import BuildFailed, article_bytes, build_in_worker
    from index.shell.commands import add_commands
    from index.shell.terminal import UsageError, colour_allowed, emit, env_flag
    from index.shell.terminal import run as run_command


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'index' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), _RENAMED.get(name, name))
    globals()[name] = value
    return value


__all__ = [  # noqa: RUF022 (grouped by job, sorted within each group)
    # Opening an index and asking it
    "BuildFailed",
    "BuildReport",
    "ClosedIndex",
    "EmptyIndexError",
    "SearchIndex",
    "UnknownArticle",
    "article_bytes",
    "build_in_worker",
    "build_index",
    "build_lock",
    "cache_folder",
    "index_articles",
    "index_file",
    "load_articles",
    # Files kept beside the index, read without waiting on a FIFO put in their place
    "NotRegularFile",
    "read_regular",
    # Typed results
    "DEFAULT_HITS",
    "MAX_HITS",
    "Answer",
    "ConversationAnswer",
    "Hit",
    "ask_in_conversation",
    "leans_on_previous",
    # Passages to show: overlapping ones as one
    "Passage",
    "hits_for",
    "merge_overlapping",
    "own_passage",
    # Articles and their text
    "UNSAFE_CHARS",
    "Article",
    "Skipped",
    "UnusableArticle",
    "clean_text",
    "counted",
    "normalise",
    "parse_article",
    "printable",
    "tokenize",
    # Adding and removing article files
    "Added",
    "ArticleExists",
    "IngestError",
    "add_article",
    "check_upload",
    "remove_article",
    # Articles from links and feeds (every fetch under index/articles/web.py's rules)
    "AddressPolicy",
    "Feed",
    "FeedEntry",
    "FeedError",
    "FeedFetch",
    "FetchError",
    "FetchLimits",
    "Prepared",
    "add_page",
    "check_url",
    "fetch_article",
    "fetch_feed",
    "text_digest",
    "write_article",
    # Sentence vectors
    "DEFAULT_MODEL",
    "EmbeddingPool",
    "Encoder",
    "FloatArray",
    "ModelUnavailable",
    "SemanticStage",
    "VectorStore",
    "cannot_write",
    "fill",
    "store_folder",
    # BM25 on its own
    "Bm25",
    "Bm25Params",
    # Progress and the command line
    "LogProgress",
    "Progress",
    "UsageError",
    "add_commands",
    "colour_allowed",
    "emit",
    "env_flag",
    "run_command",
]

# Skipped files are logged as warnings; an application that configures logging sees them,
# and the command line (which prints its own report) does not print them twice.
logging.getLogger(__name__).addHandler(logging.NullHandler())
