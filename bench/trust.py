"""Answers members can trust: the figures of issue 24, held-out, in one run.

    python bench/trust.py SQUAD_V1_DEV SQUAD_V2_TRAIN_FIRST10 [--lexical] [--check]

Every question goes through the engine as a member's would (candidates, ranker, answerability, hits), on data
the ranker and the answerability model were not fitted on (bench/tune_trust.py fits on the tune splits):
- SQuAD v1.1 dev's held-out questions (its last 24 Wikipedia articles), each paragraph an article: right
  first, confident when right first, precision of confident first hits; then the same questions with their
  gold paragraph left out of the index (near-domain: the best candidates are on topic and wrong): declined;
- SQuAD 2.0's impossible questions of its held-out (odd-numbered) article, asked of their own articles:
  declined (and all 348, article 4's having been fitted on);
- the lead's own seed questions (tests/data/seed_check.json, never tuned on): right first, on-topic
  unanswerable declined; the seed paraphrases (tests/data/seed_paraphrases.json): right first;
- SQuAD's held-out questions asked of the seed article (far off topic): declined.
`--check` exits 1 when a figure misses its target.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trust_data import load_squad2, squad_index

from index.answers.hits import hits
from index.answers.results import Hit
from index.evaluation.squad import TUNE_ARTICLES, load_squad
from index.meaning.encoder import Encoder
from index.ranking.candidates import candidates
from index.ranking.weights import rerank_scores
from index.serving.building import build_index
from index.serving.search_index import SearchIndex
from index.shell.commands import attach_vectors

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    "near-domain declined": 0.85,
    "right first confident": 0.85,
    "precision of confident first hits": 0.92,
    "SQuAD 2.0 impossible declined": 0.70,
    "seed check: right first": 0.80,
    "seed check: on-topic unanswerable declined": 0.85,
    "far off topic declined": 0.99,
}


def first_hits(
    index: SearchIndex, question: str, *, lexical: bool, excluding: tuple[int, int] | None = None, k: int = 1
) -> list[Hit]:
    """The engine's first hits for `question` (as SearchIndex.search), with sentences `excluding` left out."""
    stage = None if lexical else index.semantic
    found = candidates(index, stage, question, excluding=excluding)
    required = found.query.asked.required if found.cosines is not None else None
    scores = rerank_scores(found.features)
    order = np.lexsort((found.docs, -scores))[:k]
    return hits(index, found, scores, order, required) if len(order) else []


def doc_of(index: SearchIndex, hit: Hit) -> int:
    first, _ = index.article_sentences(hit.article)
    return first + hit.sentence - 1


def share(values: Sequence[bool]) -> float:
    return sum(values) / len(values) if values else 0.0


def seed_questions(path: Path) -> list[tuple[str, list[int] | None]]:
    found = []
    for entry in json.loads(path.read_text(encoding="utf-8"))["questions"]:
        gold = entry["gold"]
        found.append((entry["question"], None if gold is None else (gold if isinstance(gold, list) else [gold])))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("squad")
    parser.add_argument("squad2")
    parser.add_argument("--lexical", action="store_true", help="words alone, without sentence vectors")
    parser.add_argument("--check", action="store_true", help="exit 1 when a figure misses its target")
    args = parser.parse_args()
    lexical = args.lexical
    encoder = None if lexical else Encoder()
    figures: dict[str, float] = {}
    lines: list[str] = []

    corpus = load_squad(Path(args.squad))
    index = squad_index(corpus, "squad", encoder)
    starts = np.cumsum([0, *(len(a.sentences) for a in corpus.articles)])
    held = [q for q in corpus.questions if q.topic >= TUNE_ARTICLES]
    right, confident, near_declined = [], [], []
    for q in held:
        first = first_hits(index, q.text, lexical=lexical)
        right.append(bool(first) and doc_of(index, first[0]) in q.golds)
        confident.append(bool(first) and first[0].confident)
        paragraph = (int(starts[q.article]), int(starts[q.article + 1]))
        elsewhere = first_hits(index, q.text, lexical=lexical, excluding=paragraph)
        near_declined.append(not (elsewhere and elsewhere[0].confident))
    given = [r for r, c in zip(right, confident, strict=True) if c]
    figures["right first"] = share(right)
    figures["right first confident"] = share([c for r, c in zip(right, confident, strict=True) if r])
    figures["precision of confident first hits"] = share(given)
    figures["near-domain declined"] = share(near_declined)
    lines.append(f"SQuAD v1.1 dev held-out: {len(held):,} questions")

    corpus2 = load_squad2(Path(args.squad2))
    index2 = squad_index(corpus2, "squad2-first10", encoder)
    impossible = [q for q in corpus2.questions if not q.golds]
    declined = {q.id: not any(h.confident for h in first_hits(index2, q.text, lexical=lexical)) for q in impossible}
    figures["SQuAD 2.0 impossible declined"] = share([declined[q.id] for q in impossible if q.topic % 2 == 1])
    figures["SQuAD 2.0 impossible declined, all 348 (article 4's fitted on)"] = share(list(declined.values()))

    seed, report = build_index(ROOT / "seeds", use_cache=False)
    if not lexical:
        attach_vectors(seed, report, None)
    for name, path in (("seed check", "seed_check.json"), ("seed paraphrases", "seed_paraphrases.json")):
        answerable, unanswerable = [], []
        for question, gold in seed_questions(ROOT / "tests" / "data" / path):
            answer = seed.ask(question, 1, lexical=lexical)
            if gold is None:
                unanswerable.append(not answer.confident)
            else:
                answerable.append(bool(answer.hits) and answer.hits[0].sentence in gold)
        figures[f"{name}: right first"] = share(answerable)
        lines.append(f"{name}: right first {sum(answerable)} of {len(answerable)}")
        if unanswerable:
            figures[f"{name}: on-topic unanswerable declined"] = share(unanswerable)
            lines.append(f"{name}: on-topic unanswerable declined {sum(unanswerable)} of {len(unanswerable)}")
    figures["far off topic declined"] = share([not seed.ask(q.text, 1, lexical=lexical).confident for q in held])

    print(f"Words {'alone' if lexical else 'and meaning'}.")
    print("\n".join(lines))
    print("| figure | value | target |\n|---|---|---|")
    missed = []
    for name, value in figures.items():
        target = TARGETS.get(name)
        print(f"| {name} | {value:.3f} | {'' if target is None else f'≥ {target:.2f}'} |")
        if target is not None and value < target:
            missed.append(name)
    if args.check and missed:
        print("missed: " + ", ".join(missed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
