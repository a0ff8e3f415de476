"""How much of the question a candidate covers, the way news is written: with its article's title and lead.

A news sentence rarely repeats what its article is about: "The vast arid country … has experienced four
coups" never says Niger, which the title does. So a question's word counts as covered for every sentence of
an article whose title or lead (first sentence) holds it, and, less surely, when a neighbouring sentence does.
What a question names (a run of capitalised words: "African Union", "Bola Tinubu", or a number) must be there
as a whole: "African" in one sentence and "Union" in another is not the African Union. These columns feed the
ranker and the answerability model (index/ranking/confidence.py), which declines a question that names
something its best passage never mentions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from index.articles.text import tokenize
from index.ranking.asked import Asked
from index.ranking.question import Query
from index.ranking.salience import salience
from index.storage.reader import StoredIndex

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]

COVERAGE_FEATURES = (
    "title",  # the share of the question (by salience) the title adds to the sentence
    "document",  # the share the sentence, its article's title and its lead hold together
    "around",  # the same with the sentences just before and after
    "rarest_missing",  # the weight of the rarest question word none of those hold, over the largest possible
    "names_missing",  # names of the question none of those hold as a whole
    "names_missing_article",  # names its whole article never mentions
    "numbers_missing",  # numbers of the question the sentence does not hold
    "reason_cue",  # a "why" question, and the sentence gives a cause ("because", "prompted by" …)
)
_CAUSE = re.compile(
    r"\b(?:because|due to|owing to|thanks to|as a result|in protest|in response|so that|in order to|"
    r"(?:was|were|is|are|been) (?:prompted|triggered|instigated|caused|sparked|driven|motivated) by|"
    r"reasons?|caused|led to|accus\w*|blam\w*)\b",
    re.IGNORECASE,
)


def title_holds(index: StoredIndex, query: Query, articles: npt.NDArray[np.int64]) -> BoolArray:
    """Which of the question's terms (columns) the title of each candidate's article (rows) holds."""
    terms = [t for t in query.terms if isinstance(t, str)]
    titles = index.strings("title")
    held: dict[int, list[bool]] = {}
    for article in set(articles.tolist()):
        words = set(tokenize(titles[article]))
        held[article] = [t in words for t in terms]
    return np.array([held[a] for a in articles.tolist()], dtype=bool).reshape(len(articles), len(terms))


def coverage_features(
    index: StoredIndex,
    query: Query,
    weights: FloatArray,
    docs: npt.NDArray[np.int64],
    held: tuple[BoolArray, BoolArray, BoolArray, BoolArray],
) -> FloatArray:
    """The COVERAGE_FEATURES columns for candidates `docs`.

    `weights` are the salience of the question's terms; `held` says which of them (columns) each candidate's
    sentence, previous sentence, next sentence and article lead hold (rows: candidates).
    """
    own, before, after, lead = held
    n, mass = len(docs), float(weights.sum())
    rows = np.zeros((n, len(COVERAGE_FEATURES)), dtype=np.float64)
    if not n or not own.shape[1] or not mass:
        return rows
    articles = index.article_of(docs)
    title = title_holds(index, query, articles)
    document = own | title | lead
    context = document | before | after
    rows[:, 0] = ((title & ~own) @ weights) / mass
    rows[:, 1] = (document @ weights) / mass
    rows[:, 2] = (context @ weights) / mass
    rows[:, 3] = np.where(context, 0.0, weights).max(axis=1) / salience("", 0, index.bm25.doc_count)
    column = {term: n for n, term in enumerate(query.terms)}
    for name in query.asked.names:
        columns = [column.get(stem) for stem in name]
        if None in columns:  # a name the search terms leave out (a question word, or past the token limit)
            continue
        chosen = [c for c in columns if c is not None]
        missing = np.logical_not(context[:, chosen].all(axis=1))
        if len(name) > 1:
            in_title = np.asarray(title[:, chosen].all(axis=1), dtype=bool)
            missing |= ~_as_a_whole(index, docs, articles, name, in_title, ~missing)
        rows[:, 4] += missing
        if missing.any():
            rows[:, 5] += missing & ~_article_mentions(index, articles, name)
        if name[0][:1].isdigit():
            rows[:, 6] += ~own[:, chosen].all(axis=1)
    if query.asked.asked is Asked.REASON:
        rows[:, 7] = [bool(_CAUSE.search(index.sentence(int(doc)))) for doc in docs]
    return rows


def _name_ids(index: StoredIndex, name: Sequence[str]) -> list[int] | None:
    found = [index.term_id(stem) for stem in name]
    return None if None in found else [i for i in found if i is not None]


def _holds_phrase(sequence: Sequence[object], phrase: Sequence[object]) -> bool:
    width = len(phrase)
    return any(list(sequence[at : at + width]) == list(phrase) for at in range(len(sequence) - width + 1))


def _as_a_whole(
    index: StoredIndex,
    docs: npt.NDArray[np.int64],
    articles: npt.NDArray[np.int64],
    name: Sequence[str],
    in_title: BoolArray,
    worth_reading: BoolArray,
) -> BoolArray:
    """Whether each candidate's title, sentence, neighbours or lead hold the name's words together, in order."""
    found = in_title.copy()
    phrase = _name_ids(index, name)
    if phrase is None:
        return found
    starts = index.starts
    for row in np.flatnonzero(worth_reading & ~found).tolist():
        doc, article = int(docs[row]), int(articles[row])
        first, end = int(starts[article]), int(starts[article + 1])
        nearby = {doc, max(doc - 1, first), min(doc + 1, end - 1), first}
        found[row] = any(_holds_phrase(index.term_ids(d), phrase) for d in nearby)
    return found


def _article_mentions(index: StoredIndex, articles: npt.NDArray[np.int64], name: Sequence[str]) -> BoolArray:
    """Whether each candidate's article mentions the name anywhere, its words together and in order: found
    through the postings of its words (the sentences holding them all), so a long article costs no more."""
    phrase = _name_ids(index, name)
    if phrase is None:
        return np.zeros(len(articles), dtype=bool)
    bm25 = index.bm25
    holding = bm25.indices[bm25.indptr[phrase[0]] : bm25.indptr[phrase[0] + 1]]
    for term in phrase[1:]:
        holding = np.intersect1d(holding, bm25.indices[bm25.indptr[term] : bm25.indptr[term + 1]], assume_unique=True)
    holding = holding[np.isin(index.article_of(holding.astype(np.int64)), articles)]
    if len(phrase) > 1:
        holding = np.array([d for d in holding.tolist() if _holds_phrase(index.term_ids(d), phrase)], dtype=np.int64)
    mentioned = set(index.article_of(holding.astype(np.int64)).tolist())
    titles = index.strings("title")
    for article in set(articles.tolist()) - mentioned:
        if _holds_phrase(tokenize(titles[article]), list(name)):
            mentioned.add(article)
    return np.array([a in mentioned for a in articles.tolist()], dtype=bool)
