"""The retrieval core: articles, a BM25 index over their sentences, and search.

Pure and synchronous: no Discord, no asyncio. Build with `build_index(folder)`,
then call `SearchIndex.search(question, k)` from any thread.
"""

import logging

from index.answers.results import DEFAULT_HITS, Answer, Hit
from index.articles.article import Article, Skipped, parse_article
from index.serving.building import BuildReport, EmptyIndexError, build_index, index_articles, load_articles
from index.serving.search_index import SearchIndex
from index.storage.bm25 import Bm25, Bm25Params

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
