"""Answer-quality benchmark: sentence retrieval on SQuAD in the style of ReQA (Ahmad et al., 2019).

Every SQuAD paragraph is one article; all sentences of all paragraphs form one index; a
question's gold sentences are those holding any of its answers' `answer_start` (SQuAD dev has
up to six answers per question, from different annotators, and any of them is right, as in
SQuAD's own scoring); a question's rank is that of its best-placed gold sentence. The project's
pipeline and rank-bm25's defaults (what its users get out of the box) are scored on the same
sentences in the same run.

Over 400 lines on purpose: loading SQuAD, running the pipeline and reporting its table are one benchmark.
"""

from __future__ import annotations

import gzip
import json
import re
import string
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from index.articles.article import Article
from index.articles.text import split_sentences
from index.meaning.stage import fill
from index.meaning.vectors import FloatArray, VectorStore
from index.progress import Progress
from index.serving.building import index_articles
from index.serving.search_index import SearchIndex

# Ranks are looked at down to this depth: R@10 needs it, and MRR counts a gold sentence
# found lower as 0 (so the MRR given is a lower bound of the full-ranking MRR).
DEPTH = 10
# The questions of the first TUNE_ARTICLES Wikipedia articles were used to tune the ranking;
# the others are held out.
TUNE_ARTICLES = 24
SPLITS = ("all", "tune", "held-out")


@dataclass(frozen=True)
class SquadQuestion:
    id: str
    text: str
    topic: int  # which Wikipedia article (0-based): decides the split
    article: int  # which paragraph, that is which article of the index
    golds: tuple[int, ...]  # the gold sentences' numbers in the whole index (0-based), first answer's first
    answers: tuple[str, ...]


@dataclass(frozen=True)
class SquadCorpus:
    articles: tuple[Article, ...]
    questions: tuple[SquadQuestion, ...]

    @property
    def sentences(self) -> list[str]:
        return [s for a in self.articles for s in a.sentences]

    def split(self, name: str) -> tuple[SquadQuestion, ...]:
        if name == "all":
            return self.questions
        held_out = name == "held-out"
        return tuple(q for q in self.questions if (q.topic >= TUNE_ARTICLES) == held_out)


def sentence_starts(context: str, sentences: Sequence[str]) -> list[int]:
    """Where each sentence begins in `context`, though the splitter folded its whitespace."""
    # Compare with whitespace removed on both sides, keeping each kept character's offset.
    kept = [i for i, ch in enumerate(context) if not ch.isspace()]
    squeezed = "".join(context[i] for i in kept)
    starts: list[int] = []
    cursor = 0
    for sentence in sentences:
        needle = "".join(sentence.split())
        found = squeezed.find(needle, cursor)
        if found < 0:  # the splitter changed a character: assume it follows on
            found = min(cursor, len(kept) - 1)
        starts.append(kept[found] if kept else 0)
        cursor = found + len(needle)
    return starts


def sentence_at(starts: Sequence[int], offset: int) -> int:
    """The sentence holding character `offset`; a gap between sentences belongs to the one before."""
    return max(int(np.searchsorted(np.asarray(starts), offset, side="right")) - 1, 0)


class SquadFormatError(ValueError):
    """The file is not SQuAD v1.1; the message says what is wrong and where."""


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SquadFormatError(f"{where} is not an object")
    return value


def _list(container: dict[str, Any], key: str, where: str) -> list[Any]:
    value = container.get(key)
    if not isinstance(value, list):
        raise SquadFormatError(f"{where} has no {key} list")
    return value


def _text(container: dict[str, Any], key: str, where: str) -> str:
    value = container.get(key)
    if not isinstance(value, str):
        raise SquadFormatError(f"{where}.{key} is not text")
    return value


def _offset(container: dict[str, Any], where: str) -> int:
    value = container.get("answer_start")
    if not isinstance(value, int) or isinstance(value, bool):
        raise SquadFormatError(f"{where}.answer_start is not a number")
    return value


def parse_squad(document: object) -> SquadCorpus:
    """The corpus in a decoded SQuAD v1.1 document; SquadFormatError names the first field out of shape."""
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise SquadFormatError("the top level is not an object with a data list")
    articles: list[Article] = []
    questions: list[SquadQuestion] = []
    first_sentence = 0
    for topic, raw_entry in enumerate(document["data"]):
        where = f"data[{topic}]"
        entry = _object(raw_entry, where)
        paragraphs = _list(entry, "paragraphs", where)
        title = _text(entry, "title", where)
        for number, raw_paragraph in enumerate(paragraphs):
            where = f"data[{topic}].paragraphs[{number}]"
            paragraph = _object(raw_paragraph, where)
            context = _text(paragraph, "context", where)
            sentences = tuple(split_sentences(context))
            starts = sentence_starts(context, sentences)
            article = len(articles)
            qas = _list(paragraph, "qas", where)
            if qas and not sentences:  # its answers would point into the next paragraph's sentences
                raise SquadFormatError(f"{where}.context holds no sentence, yet the paragraph has questions")
            for q, raw_qa in enumerate(qas):
                at = f"{where}.qas[{q}]"
                qa = _object(raw_qa, at)
                answers = [_object(a, f"{at}.answers[{n}]") for n, a in enumerate(_list(qa, "answers", at))]
                # Annotators sometimes mark the same answer where it recurs in another sentence.
                holding = (
                    first_sentence + sentence_at(starts, _offset(a, f"{at}.answers[{n}]"))
                    for n, a in enumerate(answers)
                )
                golds = tuple(dict.fromkeys(holding))
                texts = tuple(_text(a, "text", f"{at}.answers[{n}]") for n, a in enumerate(answers))
                questions.append(
                    SquadQuestion(_text(qa, "id", at), _text(qa, "question", at), topic, article, golds, texts)
                )
            # Wikipedia's titles name pages with underscores ("Super_Bowl_50"): a reader's title has spaces.
            shown = title.replace("_", " ")
            articles.append(Article(f"{title}/{number}", shown, None, None, None, sentences, digest=""))
            first_sentence += len(sentences)
    return SquadCorpus(tuple(articles), tuple(questions))


def load_squad(path: Path) -> SquadCorpus:
    """Read SQuAD v1.1 JSON, gzip-compressed or not. Raises OSError when the file cannot be read,
    SquadFormatError when it is not SQuAD v1.1."""
    with path.open("rb") as file:
        data = file.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            raise SquadFormatError("a damaged gzip file") from None
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise SquadFormatError("not JSON: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise SquadFormatError(f"not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise SquadFormatError("nested too deeply") from None
    return parse_squad(document)


def attach_squad_vectors(
    index: SearchIndex,
    folder: Path,
    model_identity: str,
    dimension: int,
    embed: Callable[[Sequence[str]], FloatArray],
    progress: Progress | None = None,
    questions: Callable[[Sequence[str]], FloatArray] | None = None,
) -> None:
    """Give a SQuAD index its sentence vectors: those stored in `folder`, the rest computed with `embed` and
    stored. Questions are embedded with `questions` (default: `embed`)."""
    stage = index.attach_vectors(VectorStore(folder, model_identity, dimension), questions or embed)
    fill(stage, index.embedding_texts, embed, progress)


# --- metrics -------------------------------------------------------------------------


@dataclass(frozen=True)
class Retrieval:
    """MRR and recall at 1, 5 and 10 over some questions, and how fast they were answered."""

    questions: int
    mrr: float
    r1: float
    r5: float
    r10: float
    per_second: float


def retrieval(ranks: Sequence[int | None], seconds: float) -> Retrieval:
    """Metrics from each question's 1-based gold rank (None: not in the top DEPTH)."""
    found = np.array([r if r is not None and r <= DEPTH else 0 for r in ranks], dtype=np.float64)
    n = max(len(ranks), 1)
    reciprocal = np.divide(1.0, found, out=np.zeros_like(found), where=found > 0)

    def recall(k: int) -> float:
        return float(((found > 0) & (found <= k)).sum() / n)

    return Retrieval(len(ranks), float(reciprocal.sum() / n), recall(1), recall(5), recall(10), len(ranks) / seconds)


def full_mrr(ranks: Sequence[int | None]) -> float:
    """MRR with no depth cut-off (the measure of ReQA and of the anchors); None counts 0."""
    return sum(1 / r for r in ranks if r is not None) / max(len(ranks), 1)


_ARTICLES_RE = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def squad_normalise(text: str) -> str:
    """SQuAD v1.1's official answer normalisation: lower case, no punctuation, articles or extra spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES_RE.sub(" ", text).split())


def exact_match(prediction: str, gold: Iterable[str]) -> float:
    return float(any(squad_normalise(prediction) == squad_normalise(g) for g in gold))


def token_f1(prediction: str, gold: Iterable[str]) -> float:
    """The best SQuAD token F1 of `prediction` against any gold answer."""
    best = 0.0
    predicted = squad_normalise(prediction).split()
    for answer in gold:
        truth = squad_normalise(answer).split()
        common = sum((Counter(predicted) & Counter(truth)).values())
        if common:
            precision, recall = common / len(predicted), common / len(truth)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


# --- runs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineRun:
    ranks: tuple[int | None, ...]
    confident: tuple[bool, ...]
    short_answers: tuple[str | None, ...]
    seconds: float
    candidate_recall: float = 0.0  # share of questions with a gold sentence among the ranked candidates


def run_pipeline(
    index: SearchIndex,
    questions: Sequence[SquadQuestion],
    progress: Callable[[int], None] | None = None,
    *,
    lexical: bool = False,
) -> PipelineRun:
    """Ask every question with the full pipeline (`SearchIndex.ask`) and note where its gold sentence came."""
    starts = [0, *np.cumsum([len(a.sentences) for a in index.articles]).tolist()]
    article_number = {a.id: n for n, a in enumerate(index.articles)}
    ranks: list[int | None] = []
    confident: list[bool] = []
    shorts: list[str | None] = []
    if index.articles:  # whatever answering does only the first time, done outside the timing
        index.ask(index.articles[0].sentences[0], 1, lexical=lexical)
    started = time.perf_counter()
    for n, question in enumerate(questions):
        answer = index.ask(question.text, DEPTH, lexical=lexical)
        found = [starts[article_number[h.article]] + h.sentence - 1 for h in answer.hits]
        ranks.append(best_rank(found, question.golds))
        confident.append(answer.confident)
        shorts.append(answer.short_answer)
        if progress and n % 500 == 0:
            progress(n)
    seconds = time.perf_counter() - started
    recalled = sum(
        bool(np.isin(index.candidates(q.text, DEPTH, lexical=lexical).docs, q.golds).any()) for q in questions
    )
    return PipelineRun(tuple(ranks), tuple(confident), tuple(shorts), seconds, recalled / max(len(questions), 1))


def best_rank(ranked: Sequence[int], golds: Iterable[int]) -> int | None:
    """The 1-based rank of the first gold sentence in `ranked`; None when none is there."""
    wanted = set(golds)
    return next((n for n, sentence in enumerate(ranked, 1) if sentence in wanted), None)


_PLAIN_WORD = re.compile(r"\w+")


def plain_tokens(text: str) -> list[str]:
    """What rank-bm25 users get by default: lower-cased `\\w+` words, nothing else."""
    return _PLAIN_WORD.findall(text.lower())


def run_rank_bm25(sentences: Sequence[str], questions: Sequence[SquadQuestion]) -> tuple[list[int | None], float]:
    """Gold ranks with rank-bm25's BM25Okapi defaults (k1=1.5, b=0.75); ties keep index order."""
    from rank_bm25 import BM25Okapi  # imported here: only the benchmark needs it

    started = time.perf_counter()
    bm25 = BM25Okapi([plain_tokens(s) for s in sentences])
    ranks: list[int | None] = []
    for question in questions:
        scores = np.asarray(bm25.get_scores(plain_tokens(question.text)))
        found = [_stable_rank(scores, gold) for gold in question.golds]
        ranks.append(min((r for r in found if r is not None), default=None))
    return ranks, time.perf_counter() - started


def _stable_rank(scores: np.ndarray, gold: int) -> int | None:
    """Where a stable sort places document `gold`: after higher scores and equal scores earlier in the index."""
    score = scores[gold]
    if score <= 0:
        return None
    return int((scores > score).sum() + (scores[:gold] == score).sum()) + 1


def seed_not_confident(seed_index: SearchIndex, questions: Sequence[SquadQuestion], *, lexical: bool = False) -> float:
    """Share of questions an unrelated index rightly does not answer confidently."""
    if not questions:
        return 0.0
    return sum(not seed_index.ask(q.text, 1, lexical=lexical).confident for q in questions) / len(questions)


def short_answer_quality(questions: Sequence[SquadQuestion], run: PipelineRun) -> tuple[int, float, float]:
    """(questions given a short answer, its exact match and token F1 averaged over them)."""
    answered = [(q, s) for q, s in zip(questions, run.short_answers, strict=True) if s is not None]
    em = sum(exact_match(s, q.answers) for q, s in answered)
    f1 = sum(token_f1(s, q.answers) for q, s in answered)
    m = max(len(answered), 1)
    return len(answered), em / m, f1 / m


# --- report --------------------------------------------------------------------------


def retrieval_row(name: str, metrics: Retrieval) -> str:
    return (
        f"| {name} | {metrics.questions:,} | {metrics.mrr:.3f} | {metrics.r1:.3f} | {metrics.r5:.3f} "
        f"| {metrics.r10:.3f} | {metrics.per_second:,.0f} |"
    )


RETRIEVAL_HEADER = "| pipeline | questions | MRR@10 | R@1 | R@5 | R@10 | questions/s |\n|---|---|---|---|---|---|---|"


def subset(run_ranks: Sequence[int | None], keep: Sequence[bool]) -> list[int | None]:
    return [r for r, k in zip(run_ranks, keep, strict=True) if k]


def evaluate_index_and_report(
    corpus: SquadCorpus,
    questions: Sequence[SquadQuestion],
    seed_index: SearchIndex | None,
    baseline: bool = True,
    progress: Callable[[str], None] | None = None,
    attach_vectors: Callable[[SearchIndex], None] | None = None,
) -> str:
    """Run the pipelines over `questions` and return the Markdown report.

    With `attach_vectors` (which gives the index its sentence vectors), the pipeline runs twice in the
    same run: by words only, then with the semantic stage; the seed index is asked both ways too.
    """
    say = progress or (lambda _: None)
    say(f"indexing {len(corpus.articles):,} paragraphs")
    index = index_articles(corpus.articles)
    pipelines = [("qa-bot, words only", True)]
    if attach_vectors is not None:
        say("sentence vectors: computing those not stored yet")
        attach_vectors(index)
        pipelines.append(("qa-bot, words and meaning", False))
    say(f"{index.sentence_count:,} sentences; asking {len(questions):,} questions")
    runs = []
    for name, lexical in pipelines:
        say(f"{name}:")
        runs.append(run_pipeline(index, questions, lambda n: say(f"  {n:,} questions"), lexical=lexical))
    lines = [
        f"SQuAD v1.1 dev, ReQA-style: {len(corpus.articles):,} paragraphs as articles, "
        f"{index.sentence_count:,} sentences in one index, {len(questions):,} questions.",
        "",
        RETRIEVAL_HEADER,
    ]
    for (name, _), run in zip(pipelines, runs, strict=True):
        per_question = run.seconds / max(len(questions), 1)
        for split in SPLITS:
            keep = [_in_split(q, split) for q in questions]
            if any(keep):
                ranks = subset(run.ranks, keep)
                lines.append(retrieval_row(f"{name} ({split})", retrieval(ranks, per_question * len(ranks))))
    if baseline:
        say("rank-bm25 BM25Okapi defaults (slow: a Python loop over every sentence per question word)")
        plain, seconds = run_rank_bm25(corpus.sentences, questions)
        per_question = seconds / max(len(questions), 1)
        for split in SPLITS:
            keep = [_in_split(q, split) for q in questions]
            if any(keep):
                ranks = subset(plain, keep)
                lines.append(
                    retrieval_row(f"rank-bm25 defaults ({split})", retrieval(ranks, per_question * len(ranks)))
                )
        lines += ["", f"rank-bm25 defaults, MRR over the full ranking (all): {full_mrr(plain):.3f}"]
    lines += ["", "| candidates ranked (all questions) | a gold sentence among them |", "|---|---|"]
    for (name, _), run in zip(pipelines, runs, strict=True):
        lines.append(f"| {name} | {run.candidate_recall:.3f} |")
    lines += ["", "| confidence check | " + " | ".join(name for name, _ in pipelines) + " |"]
    lines.append("|---|" + "---|" * len(pipelines))
    shares = []
    for run in runs:
        first = [c for r, c in zip(run.ranks, run.confident, strict=True) if r == 1]
        shares.append(f"{sum(first) / max(len(first), 1):.3f} ({len(first):,})")
    lines.append("| confident when the gold sentence is first (questions) | " + " | ".join(shares) + " |")
    if seed_index is not None:
        say("asking the same questions of the seed articles alone")
        declined = [f"{seed_not_confident(seed_index, questions, lexical=lexical):.3f}" for _, lexical in pipelines]
        lines.append(
            f"| not confident when asked of the seed articles alone ({len(questions):,} questions) | "
            + " | ".join(declined)
            + " |"
        )
    lines += ["", "| short answers | " + " | ".join(name for name, _ in pipelines) + " |"]
    lines.append("|---|" + "---|" * len(pipelines))
    for split in SPLITS:
        keep = [_in_split(q, split) for q in questions]
        if not any(keep):
            continue
        asked = [q for q, k in zip(questions, keep, strict=True) if k]
        cells = []
        for run in runs:
            shorts = tuple(s for s, k in zip(run.short_answers, keep, strict=True) if k)
            given, em, f1 = short_answer_quality(asked, replace(run, short_answers=shorts))
            cells.append(f"{given:,} ({given / len(asked):.3f}) / {em:.3f} / {f1:.3f}")
        lines.append(f"| {split}: given (share of questions) / EM / token F1 where given | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _in_split(question: SquadQuestion, split: str) -> bool:
    return split == "all" or (question.topic >= TUNE_ARTICLES) == (split == "held-out")
