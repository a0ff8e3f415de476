"""The search index: articles, their sentences, BM25 over them, and hits with citations."""

from __future__ import annotations

import math
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from index import store
from index.answers import holds_answer_of, required_type, short_answer
from index.articles import Article, Skipped
from index.bm25 import DEFAULT_PARAMS, Bm25, Bm25Params
from index.build import TermIds, build
from index.passages import PASSAGE_TOKENS, passage_span
from index.progress import Progress
from index.rerank import CONTEXT_SENTENCES, FEATURES, Query, feature_row, rerank_scores
from index.semantic import QuestionEncoder, SemanticStage, SemanticView, keys_of
from index.text import printable, tokenize, tokenize_question, words
from index.vectors import FloatArray, VectorStore

# A hit is confident when the sentence and its two neighbours hold at least this share
# of the question's IDF mass: a question whose rare words are absent is not answered.
# On SQuAD (see README) 0.55 keeps 99.9% of questions asked of the unrelated seed article
# unconfident and makes 92.6% of right first answers confident.
CONFIDENT_COVERAGE = 0.55
_COVERAGE, _NEAR = FEATURES.index("coverage"), FEATURES.index("near")
# With sentence vectors: the cosine a confident hit needs besides its words, and the one that is
# confident on its own (chosen on SQuAD's tune split and the seed questions; see README).
CONFIDENT_COSINE = 0.3
SURE_COSINE = 0.7
# A sentence found by meaning alone joins the candidates only this near the question: below it, a
# question about nothing in the articles ("zebra xylophone") still finds nothing.
NEAREST_COSINE = 0.2
# BM25 candidates looked at before the final ranking.
CANDIDATES = 50
# Hostile questions stay cheap: a pasted article is read up to MAX_QUESTION_CHARS and
# searched with its first MAX_QUESTION_TOKENS tokens; k is capped at MAX_HITS.
MAX_QUESTION_CHARS = 8_000
MAX_QUESTION_TOKENS = 64
MAX_HITS = 100
# A follow-up question is searched with the previous question's words added at this share of
# their weight: its own words decide, the earlier topic breaks ties toward itself. Set before the
# dialogues of tests/data/dialogues.json were written; on them (second-turn R@1, context always
# used) 0.4 and 0.5 give 45/51, 0.2 and 0.3 give 44, 0.7 gives 40 and 1.0 gives 33.
CONTEXT_WEIGHT = 0.5


def is_confident(evidence: float, cosine: float | None) -> bool:
    """Whether a hit answers the question: enough of the question's rare words in and around the sentence
    (`evidence`, see CONFIDENT_COVERAGE) and, when the sentence has a vector, a meaning near enough the
    question's; or a meaning so near that the words need not match (a paraphrase)."""
    lexical = evidence >= CONFIDENT_COVERAGE - 1e-9
    if cosine is None or math.isnan(cosine):
        return lexical
    return (lexical and cosine >= CONFIDENT_COSINE) or cosine >= SURE_COSINE


def _question_terms(question: str) -> list[str]:
    return tokenize_question(question[:MAX_QUESTION_CHARS])[:MAX_QUESTION_TOKENS]


def weighted_terms(question: str, context: str | None, weight: float = CONTEXT_WEIGHT) -> dict[str, float]:
    """The question's search terms (weight 1), then the context's terms it lacks (at `weight`), in order."""
    terms = dict.fromkeys(_question_terms(question), 1.0)
    for term in _question_terms(context or ""):
        terms.setdefault(term, weight)
    return terms


@dataclass(frozen=True)
class Hit:
    """One answer: a sentence, its passage, and where it comes from."""

    article: str
    title: str
    date: str | None
    url: str | None
    sentence: int  # 1-based, within the article
    text: str
    passage: str
    score: float
    confident: bool


@dataclass(frozen=True)
class Answer:
    """What a question gets: its hits, best first, and a short answer when one is found."""

    question: str
    hits: tuple[Hit, ...]
    short_answer: str | None = None

    @property
    def confident(self) -> bool:
        return bool(self.hits) and self.hits[0].confident


@dataclass(frozen=True)
class BuildReport:
    """What a build indexed and what it skipped."""

    articles: int
    sentences: int
    tokens: int
    skipped: tuple[Skipped, ...]
    seconds: float
    from_cache: bool = False  # reloaded from the saved index, not built
    cache_file: Path | None = None  # where the index is saved (None: not saved)


class EmptyIndexError(ValueError):
    """Nothing could be indexed; the message says what to do."""


@dataclass(frozen=True)
class Candidates:
    """BM25's best sentences for a question (ranked by raw BM25), with their re-ranking features."""

    query: Query
    docs: npt.NDArray[np.int64]
    bm25: npt.NDArray[np.float64]
    features: npt.NDArray[np.float64]  # one row per candidate, columns in rerank.FEATURES order
    # With a context: each candidate's evidence for the question's own words alone (see `search`).
    own_evidence: npt.NDArray[np.float64] | None = None
    # With the semantic stage: each candidate's cosine to the question (NaN: no vector yet), else None.
    cosines: npt.NDArray[np.float32] | None = None


@dataclass(frozen=True)
class _Location:
    article: int
    sentence: int  # 0-based


@dataclass
class SearchIndex:
    """An immutable, thread-safe index over articles' sentences."""

    articles: tuple[Article, ...]
    bm25: Bm25
    passage_tokens: int = PASSAGE_TOKENS
    # Sentence vectors and the question encoder (index/semantic.py), once attached; None: words only.
    semantic: SemanticStage | None = field(default=None, compare=False, repr=False)
    _starts: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        sizes = [len(a.sentences) for a in self.articles]
        self._starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)

    @property
    def sentence_count(self) -> int:
        return int(self._starts[-1])

    def attach_vectors(
        self, store: VectorStore, embed_questions: Callable[[Sequence[str]], FloatArray]
    ) -> SemanticStage:
        """Use the sentence vectors in `store` (as far as they are filled in; see semantic.fill) and
        `embed_questions` for questions. Returns the stage, which `fill` completes."""
        stage = SemanticStage(
            keys_of([a.sentences for a in self.articles]),
            [len(a.sentences) for a in self.articles],
            store,
            QuestionEncoder(embed_questions),
        )
        self.semantic = stage
        return stage

    def _locate(self, doc: int) -> _Location:
        article = int(np.searchsorted(self._starts, doc, side="right")) - 1
        return _Location(article, doc - int(self._starts[article]))

    def _unknown_idf(self) -> float:
        # A word found nowhere weighs as much as the rarest possible word.
        return math.log((self.bm25.doc_count + 0.5) / 0.5)

    def _idf(self, term: str) -> float:
        row = self.bm25.vocabulary.get(term)
        return float(self.bm25.idf[row]) if row is not None else self._unknown_idf()

    def query(self, question: str, context: str | None = None, context_weight: float = CONTEXT_WEIGHT) -> Query:
        """The question as the re-ranker reads it, with every term's IDF here.

        With a `context` (the previous question of a follow-up), its terms join at `context_weight`
        times their IDF, and its words count as named by the question (an answer does not repeat them).
        """
        question = question[:MAX_QUESTION_CHARS]
        if context is None:
            return Query.of(question, {t: self._idf(t) for t in _question_terms(question)})
        weights = weighted_terms(question, context, context_weight)
        query = Query.of(question, {t: w * self._idf(t) for t, w in weights.items()})
        return replace(query, asked_words=query.asked_words | frozenset(words(context[:MAX_QUESTION_CHARS])))

    def candidates(
        self,
        question: str,
        at_least: int = CANDIDATES,
        context: str | None = None,
        context_weight: float = CONTEXT_WEIGHT,
        *,
        lexical: bool = False,
    ) -> Candidates:
        """BM25's best CANDIDATES (or `at_least`) sentences for `question`, with their re-ranking features.

        A `context` adds the previous question's terms at `context_weight` (see `query`). With the
        semantic stage (unless `lexical`), the question's nearest sentences by vector join them, and
        each candidate gets the semantic features (rerank.SEMANTIC_FEATURES).
        """
        query = self.query(question, context, context_weight)
        wanted = max(at_least, CANDIDATES)
        if context is None:
            terms, weights = _question_terms(question), None
        else:
            weighted = weighted_terms(question, context, context_weight)
            terms, weights = list(weighted), list(weighted.values())
        found = self.bm25.top(terms, wanted, weights)
        docs, scores = found.docs, found.scores
        stage = None if lexical else self.semantic
        view = stage.view if stage is not None else None
        vector = stage.encode(question[:MAX_QUESTION_CHARS]) if stage is not None and view and view.ready else None
        cosines = None
        if vector is not None and view is not None:
            nearest, near = view.nearest(vector, wanted)
            extra = nearest[~np.isin(nearest, docs) & (near >= NEAREST_COSINE)]
            if len(extra):  # found by meaning alone: their BM25 scores (often 0) still count
                docs = np.concatenate([docs, extra])
                scores = np.concatenate([scores, self.bm25.scores_of(terms, extra, weights)])
            cosines = view.cosines(vector, docs)
        best = float(scores.max()) if len(scores) else 0.0
        tokens: dict[int, list[str]] = {}  # each sentence read once per question, by index number

        def tokens_of(sentences: tuple[str, ...], first: int, n: int) -> list[str]:
            if first + n not in tokens:
                tokens[first + n] = tokenize(sentences[n])
            return tokens[first + n]

        rows, own_evidence = [], []
        alone = None if context is None else self.query(question)
        for doc, score in zip(docs.tolist(), scores.tolist(), strict=True):
            where = self._locate(doc)
            sentences, first, at = self.articles[where.article].sentences, doc - where.sentence, where.sentence
            around = [n for step in range(1, CONTEXT_SENTENCES + 1) for n in (at - step, at + step)]
            neighbours = [tokens_of(sentences, first, n) for n in around if 0 <= n < len(sentences)]
            previous = tokens_of(sentences, first, at - 1) if at > 0 else []
            own, lead = tokens_of(sentences, first, at), tokens_of(sentences, first, 0)
            rows.append(feature_row(query, sentences[at], own, previous, neighbours, lead, score, best))
            if alone is not None:
                row = feature_row(alone, sentences[at], own, previous, neighbours, lead, score, best)
                own_evidence.append(row[_COVERAGE] + row[_NEAR])
        features = np.array(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))
        if cosines is not None and vector is not None and view is not None and len(docs):
            features = np.hstack([features, self._semantic_features(view, vector, docs, cosines)])
        evidence = None if alone is None else np.array(own_evidence, dtype=np.float64)
        return Candidates(query, docs, scores, features, evidence, cosines)

    def _semantic_features(
        self,
        view: SemanticView,
        vector: npt.NDArray[np.float32],
        docs: npt.NDArray[np.int64],
        own: npt.NDArray[np.float32],
    ) -> npt.NDArray[np.float64]:
        """The columns of rerank.SEMANTIC_FEATURES after FEATURES, relative to the best candidate's."""
        first_of = self._starts[np.searchsorted(self._starts, docs, side="right") - 1]
        last_of = self._starts[np.searchsorted(self._starts, docs, side="right")] - 1
        before, after = np.maximum(docs - 1, first_of), np.minimum(docs + 1, last_of)
        around = view.cosines(vector, np.concatenate([before, after])).reshape(2, len(docs))
        fallback = float(np.nanmin(own)) if np.isfinite(own).any() else 0.0
        own = np.where(np.isfinite(own), own, fallback)  # no vector yet: ranked as the weakest candidate
        # An article's first (or last) sentence has no neighbour before (after): it stands in for it.
        around = np.where(np.isfinite(around), around, own)
        near = np.maximum(around[0], around[1])
        context = (around[0] + own + around[1]) / 3
        columns = [own - own.max(), near - near.max(), context - context.max()]
        return np.column_stack(columns).astype(np.float64)

    def ask(
        self,
        question: str,
        k: int = 3,
        context: str | None = None,
        context_weight: float = CONTEXT_WEIGHT,
        *,
        lexical: bool = False,
    ) -> Answer:
        """Answer `question`: the k best hits and, when one is found, a short answer.

        `context`, the previous question of a follow-up ("Who condemned it?" after "What happened in
        Niger?"), is searched too, its words at `context_weight`; without it the answer is unchanged.
        """
        hits = tuple(self.search(question, k, context, context_weight, lexical=lexical))
        short = None
        if hits and hits[0].confident:
            short = short_answer(question, hits[0].text)
            if short and context and set(words(short)) <= set(words(context)):
                short = None  # what the previous question named ("him") is not the answer
        return Answer(question, hits, short)

    def search(
        self,
        question: str,
        k: int = 3,
        context: str | None = None,
        context_weight: float = CONTEXT_WEIGHT,
        *,
        lexical: bool = False,
    ) -> list[Hit]:
        """The k best sentences for `question` (sharing a term with it or its `context`, or near it in
        meaning), best first. `lexical` ranks by words alone, as without sentence vectors."""
        k = min(max(k, 0), MAX_HITS)
        found = self.candidates(question, k, context, context_weight, lexical=lexical)
        # With vectors, a sentence that lacks an answer of the asked kind (no number for "what is the
        # population…") is not confident, however near its words and meaning: it is about something else.
        required = required_type(question) if found.cosines is not None else None
        scores = rerank_scores(found.features)
        order = np.lexsort((found.docs, -scores))[:k]
        hits = []
        for position in order.tolist():
            doc, score = int(found.docs[position]), float(scores[position])
            where = self._locate(doc)
            article = self.articles[where.article]
            text = article.sentences[where.sentence]
            start, end = passage_span(article.sentences, where.sentence, self.passage_tokens)
            evidence = found.features[position, _COVERAGE] + found.features[position, _NEAR]
            if found.own_evidence is not None:
                # A follow-up is confident when its own words are found, or they and the context together.
                evidence = max(evidence, found.own_evidence[position])
            confident = is_confident(float(evidence), None if found.cosines is None else float(found.cosines[position]))
            if confident and required is not None and not holds_answer_of(text, required):
                confident = False
            hits.append(
                Hit(
                    article=article.id,
                    title=article.title,
                    date=article.date,
                    url=article.url,
                    sentence=where.sentence + 1,
                    text=text,
                    passage=" ".join(article.sentences[start:end]),
                    score=score,
                    confident=confident,
                )
            )
        return hits


def index_articles(articles: Sequence[Article], params: Bm25Params = DEFAULT_PARAMS) -> SearchIndex:
    """Index already-parsed articles."""
    terms = TermIds()
    for article in articles:
        terms.add(article.sentences)
    return SearchIndex(tuple(articles), Bm25.from_term_ids(terms.vocabulary, *terms.arrays(), params))


# Skipped files named when a folder has no usable article; the rest are counted.
SKIPPED_SHOWN = 10


def _check_folder(folder: Path) -> None:
    shown = printable(str(folder))
    try:
        is_folder = stat.S_ISDIR(folder.stat().st_mode)
    except FileNotFoundError:
        raise EmptyIndexError(
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
    _check_folder(folder)
    cache = store.index_file(store.cache_folder(cache_dir), folder) if use_cache else None
    built = build(folder, params, cache=cache, workers=workers, progress=progress)
    if not built.articles:
        raise EmptyIndexError(_nothing_usable(folder, built.skipped))
    index = SearchIndex(built.articles, built.bm25)
    report = BuildReport(
        articles=len(built.articles),
        sentences=index.sentence_count,
        tokens=index.bm25.token_count,
        skipped=built.skipped,
        seconds=time.perf_counter() - started,
        from_cache=built.from_cache,
        cache_file=cache,
    )
    return index, report
