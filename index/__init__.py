"""The retrieval core: articles, a BM25 index over their sentences, and search.

Pure and synchronous: no Discord, no asyncio. Build with `build_index(folder)`,
then call `SearchIndex.search(question, k)` from any thread.
"""

import logging
import os

from index.articles import Article, Skipped, parse_article
from index.bm25 import Bm25, Bm25Params
from index.search import (
    DEFAULT_HITS,
    Answer,
    BuildReport,
    EmptyIndexError,
    Hit,
    SearchIndex,
    build_index,
    index_articles,
    load_articles,
)

# Nothing about the host is collected or sent. onnxruntime 1.31's Linux and macOS builds record usage events
# (OS, Python path, a device id) under ~/.cache/Microsoft/DeveloperTools and upload them. This variable, read
# when onnxruntime is first imported, turns that off entirely: no uploader, no device id, no event file
# (onnxruntime's pull request 27379; onnxruntime.disable_telemetry_events() does not: the first event is
# written as it loads). Set when the core is first imported: its modules import onnxruntime only inside
# functions, so always later. Forced: the README promises it.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

__all__ = [
    "DEFAULT_HITS",
    "Answer",
    "Article",
    "Bm25",
    "Bm25Params",
    "BuildReport",
    "EmptyIndexError",
    "Hit",
    "SearchIndex",
    "Skipped",
    "build_index",
    "index_articles",
    "load_articles",
    "parse_article",
]

# Skipped files are logged as warnings; an application that configures logging sees them,
# and the command line (which prints its own report) does not print them twice.
logging.getLogger(__name__).addHandler(logging.NullHandler())
