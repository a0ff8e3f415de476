"""The search index: a stored index (index/storage/reader.py) that answers questions.

Each stage has its own home; this class puts them in order for one question: the candidates
(index/ranking/candidates.py), their final scores (index/ranking/weights.py), the hits with their
passages and confidence (index/answers/hits.py) and a short answer (index/answers/short_answers.py).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from index.answers.hits import hits as hits_of
from index.answers.results import DEFAULT_HITS, MAX_HITS, Answer, Hit
from index.answers.short_answers import trusted_short_answer
from index.articles.text import words
from index.meaning.stage import QuestionEncoder, SemanticStage, embedding_texts
from index.meaning.vectors import FloatArray as VectorArray
from index.meaning.vectors import VectorStore, article_key_of_blob
from index.ranking.answer_types import required_type, short_answer
from index.ranking.candidates import CANDIDATES, Candidates
from index.ranking.candidates import candidates as candidates_of
from index.ranking.features import FloatArray
from index.ranking.features import features as features_of
from index.ranking.question import CONTEXT_WEIGHT, Query
from index.ranking.question import query as query_of
from index.ranking.weights import rerank_scores
from index.storage import store
from index.storage.passages import PASSAGE_TOKENS
from index.storage.reader import StoredIndex


class SearchIndex(StoredIndex):
    """A thread-safe index, served from its file's arrays in place.

    Nothing per sentence is a Python object until it is part of an answer: the postings, the
    vocabulary, the sentences' text and term ids are views of the mapped file, never changed.

    Its life: open (`build_index`, `SearchIndex.open`, `index_articles`) → answering, by words alone until
    `attach_vectors` gives it its sentence vectors (once: the stage then fills in and refreshes itself) →
    `close()`, which unmaps the file (the bot closes an index once no question reads it any more, see
    bot.index_holder). A closed index raises ClosedIndex for any question, rather than answer nothing.
    """

    def __init__(self, file: store.IndexFile, passage_tokens: int = PASSAGE_TOKENS) -> None:
        super().__init__(file, passage_tokens)
        self._semantic: SemanticStage | None = None
        self._attach_lock = threading.Lock()

    @property
    def semantic(self) -> SemanticStage | None:
        """The sentence vectors and question encoder (index/meaning/stage.py), once attached; None: words only."""
        return self._semantic

    # ------------------------------------------------------------ sentence vectors

    def article_keys(self) -> list[str]:
        """What each article's sentence vectors are stored under (vectors.article_key_of_blob of its title
        and sentences): read from the file's text in place, one hash per article, no string per sentence."""
        starts, titles = self.starts.tolist(), self.strings("title")
        keys = []
        for n in range(len(starts) - 1):
            text, lengths = self.text_blob(starts[n], starts[n + 1])
            keys.append(article_key_of_blob(text, lengths, titles[n]))
        return keys

    def embedding_texts(self, article: int) -> list[str]:
        """What is embedded for each sentence of article number `article` (stage.embedding_texts)."""
        found = self.articles[article]
        return embedding_texts(found.title, found.sentences)

    def attach_vectors(
        self, store: VectorStore, embed_questions: Callable[[Sequence[str]], VectorArray]
    ) -> SemanticStage:
        """Use the sentence vectors in `store` (as far as they are filled in; see stage.fill) and
        `embed_questions` for questions. Returns the stage, which `fill` completes. Once only: raises
        RuntimeError if vectors are attached already (their stage refreshes itself as they are filled in)."""
        with self._attach_lock:
            if self._semantic is not None:
                raise RuntimeError("sentence vectors are attached to this index already")
            self.check_open()
            sizes = np.diff(self.starts).tolist()
            self._semantic = SemanticStage(self.article_keys(), sizes, store, QuestionEncoder(embed_questions))
            return self._semantic

    # ------------------------------------------------------------ questions

    def query(self, question: str, context: str | None = None, context_weight: float = CONTEXT_WEIGHT) -> Query:
        """The question as the re-ranker reads it, with every term's IDF here (question.query)."""
        return query_of(self, question, context, context_weight)

    def features(self, query: Query, docs: npt.NDArray[np.int64], bm25: npt.NDArray[np.float64]) -> FloatArray:
        """Each candidate's re-ranking features (features.features)."""
        return features_of(self, query, docs, bm25)

    def candidates(
        self,
        question: str,
        at_least: int = CANDIDATES,
        context: str | None = None,
        context_weight: float = CONTEXT_WEIGHT,
        *,
        lexical: bool = False,
        article: str | None = None,
    ) -> Candidates:
        """BM25's best CANDIDATES (or `at_least`) sentences for `question`, with their re-ranking features.

        A `context` adds the previous question's terms at `context_weight` (see `query`). With the
        semantic stage (unless `lexical`), the question's nearest sentences by vector join them, and
        each candidate gets the semantic features (features.SEMANTIC_FEATURES). `article` (an id) limits
        them to that article's sentences (raises UnknownArticle when no article has that id).
        """
        self.check_open()
        stage = None if lexical else self.semantic
        within = None if article is None else self.article_sentences(article)
        return candidates_of(self, stage, question, at_least, context, context_weight, within)

    def ask(
        self,
        question: str,
        k: int = DEFAULT_HITS,
        context: str | None = None,
        context_weight: float = CONTEXT_WEIGHT,
        *,
        lexical: bool = False,
        article: str | None = None,
    ) -> Answer:
        """Answer `question`: the k best hits and, when one is found, a short answer.

        `context`, the previous question of a follow-up ("Who condemned it?" after "What happened in
        Niger?"), is searched too, its words at `context_weight`; without it the answer is unchanged.
        `article` (an id) answers from that article's sentences only, scored and judged as in the whole
        index (raises UnknownArticle when no article has that id).
        """
        meaning = not lexical and self.semantic is not None and self.semantic.view.ready > 0
        # One hit more than asked when the sentence vectors are used: the lead of the first over the
        # second decides whether a short answer is trusted.
        ranked = self.search(
            question, max(k, 2) if meaning else k, context, context_weight, lexical=lexical, article=article
        )
        hits = tuple(ranked[:k])
        short = None
        if hits and hits[0].confident:
            if meaning:
                lead = ranked[0].score - ranked[1].score if len(ranked) > 1 else math.inf
                short = trusted_short_answer(question, hits[0].text, lead)
            else:
                short = short_answer(question, hits[0].text)
            if short and context and set(words(short)) <= set(words(context)):
                short = None  # what the previous question named ("him") is not the answer
        return Answer(question, hits, short)

    def search(
        self,
        question: str,
        k: int = DEFAULT_HITS,
        context: str | None = None,
        context_weight: float = CONTEXT_WEIGHT,
        *,
        lexical: bool = False,
        article: str | None = None,
    ) -> list[Hit]:
        """The k best sentences for `question` (sharing a term with it or its `context`, or near it in
        meaning), best first. `lexical` ranks by words alone, as without sentence vectors; `article` (an id)
        searches that article's sentences only."""
        k = min(max(k, 0), MAX_HITS)
        found = self.candidates(question, k, context, context_weight, lexical=lexical, article=article)
        # With vectors, a sentence that lacks an answer of the asked kind (no number for "what is the
        # population…") is not confident, however near its words and meaning: it is about something else.
        required = required_type(question) if found.cosines is not None else None
        scores = rerank_scores(found.features)
        order = np.lexsort((found.docs, -scores))[:k]
        if not len(order):
            return []
        return hits_of(self, found, scores, order, required)
