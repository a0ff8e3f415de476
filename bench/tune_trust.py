"""Fits the ranker and the answerability model on the tune splits and writes index/ranking/trained.py.

    python bench/tune_trust.py SQUAD_V1_DEV SQUAD_V2_TRAIN_FIRST10 [--write] [--cache DIR]

Both are logistic models (scipy's L-BFGS; no training framework):
- the ranker scores each candidate from its features (index/ranking/features.py), fitted listwise: a softmax
  over each question's candidates puts probability on its gold sentences (tune questions of SQuAD v1.1 dev and
  SQuAD 2.0's even-numbered articles); one model with sentence vectors, one by words alone;
- the answerability model estimates the probability that the first hit answers the question, from that hit's
  coverage and the ranking's margin (index/ranking/confidence.py), fitted on the same tune questions (their
  first hit right or wrong), the near-domain ones (gold paragraph left out), SQuAD 2.0's impossible ones and
  SQuAD questions asked of the seed article. A hit is confident at CONFIDENT_AT or more: the lowest
  probability at which confident first hits are right at least TARGET_PRECISION of the time on tune.

Held-out questions are never used here; bench/trust.py reports on them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trust_data import FloatArray, Group, cached_groups

from index.ranking.confidence import (
    ANSWERABILITY_FEATURES,
    SEMANTIC_ANSWERABILITY_FEATURES,
    answerability,
    answerability_features,
    names_covered,
)
from index.ranking.coverage import COVERAGE_FEATURES
from index.ranking.weights import TUNED_SEMANTIC_WEIGHTS, TUNED_WEIGHTS
from index.serving.building import build_index
from index.shell.commands import attach_vectors
from index.storage.store import cache_folder

TARGET = Path(__file__).resolve().parent.parent / "index" / "ranking" / "trained.py"
# Confident first hits must be right at least this often on the tune questions.
TARGET_PRECISION = 0.92
RANKER_L2 = 1.0
ANSWERABILITY_L2 = 1.0


def standardised(rows: FloatArray) -> tuple[FloatArray, FloatArray]:
    return rows.mean(axis=0), rows.std(axis=0) + 1e-9


def fit_ranker(groups: Sequence[Group], fixed: Mapping[str, float]) -> dict[str, float]:
    """Weights (by feature name) of a linear score whose softmax over each question's candidates puts the most
    probability on its gold sentences, L2-regularised; the `fixed` features keep their weights."""
    chosen = [g for g in groups if g.gold.any()]
    names = chosen[0].names
    free = [n for n, name in enumerate(names) if name not in fixed]
    everything = np.vstack([g.features for g in chosen])
    offset = everything @ np.array([fixed.get(name, 0.0) for name in names])
    mean, scale = standardised(everything[:, free])
    rows = (everything[:, free] - mean) / scale
    sizes = np.array([len(g.docs) for g in chosen])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    owner = np.repeat(np.arange(len(chosen)), sizes)
    target = np.concatenate([g.gold / g.gold.sum() for g in chosen])

    def loss(w: FloatArray) -> tuple[float, FloatArray]:
        s = rows @ w + offset
        top = np.maximum.reduceat(s, starts)
        e = np.exp(s - top[owner])
        total = np.add.reduceat(e, starts)
        p = e / total[owner]
        value = -(target * (s - top[owner] - np.log(total[owner]))).sum() + RANKER_L2 * (w @ w)
        return value / len(chosen), (rows.T @ (p - target) + 2 * RANKER_L2 * w) / len(chosen)

    bounds = sign_bounds([names[n] for n in free])
    fitted = minimize(
        loss, np.zeros(rows.shape[1]), jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 1000}
    )
    return {names[n]: float(w) for n, w in zip(free, fitted.x / scale, strict=True)}


# The direction each input may push the answerability (and each coverage feature the ranker's score), so that
# the models stay sensible on questions unlike SQuAD's: more coverage or a larger lead never lowers the
# probability, a missing name never raises it.
RAISES = ("score", "margin", "coverage", "title", "document", "around", "answer_type", "reason_cue", "cosine_raw")
LOWERS = ("rarest_missing", "names_missing", "names_missing_article", "numbers_missing", "cosine_best")


def sign_bounds(names: Sequence[str]) -> list[tuple[float | None, float | None]]:
    return [(0.0, None) if n in RAISES else (None, 0.0) if n in LOWERS else (None, None) for n in names]


def fit_logistic(rows: FloatArray, labels: FloatArray, names: Sequence[str]) -> tuple[FloatArray, float]:
    """Weights and bias of an L2-regularised logistic regression (on the original scale of `rows`), each
    weight's sign held to what its input means (RAISES, LOWERS)."""
    mean, scale = standardised(rows)
    x = np.hstack([(rows - mean) / scale, np.ones((len(rows), 1))])

    def loss(w: FloatArray) -> tuple[float, FloatArray]:
        z = x @ w
        p = 1 / (1 + np.exp(-z))
        value = np.logaddexp(0, z).sum() - labels @ z + ANSWERABILITY_L2 * (w[:-1] @ w[:-1])
        gradient = x.T @ (p - labels)
        gradient[:-1] += 2 * ANSWERABILITY_L2 * w[:-1]
        return value / len(rows), gradient / len(rows)

    bounds = [*sign_bounds(names), (None, None)]
    fitted = minimize(
        loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 1000}
    ).x
    weights = fitted[:-1] / scale
    return weights, float(fitted[-1] - weights @ mean)


def top_inputs(groups: Sequence[Group], ranker: Mapping[str, float]) -> tuple[FloatArray, FloatArray]:
    """Each group's first hit as the answerability model reads it, and whether that hit is gold."""
    rows, labels = [], []
    for g in groups:
        scores = g.features @ np.array([ranker[name] for name in g.names])
        first = np.lexsort((g.docs, -scores))[:1]
        rows.append(answerability_features(g.names, g.features, scores, first)[0])
        labels.append(float(g.gold[first[0]]))
    return np.array(rows), np.array(labels)


def lowest_threshold(probability: FloatArray, right: FloatArray, precision: float) -> float:
    """The lowest probability at which first hits given at least it are right `precision` of the time."""
    for threshold in np.arange(0.05, 0.96, 0.01):
        given = probability >= threshold
        if given.any() and right[given].mean() >= precision:
            return round(float(threshold), 2)
    return 0.95


def fit(groups: Sequence[Group]) -> dict[str, object]:
    """The ranker, the answerability model and its threshold, from the tune groups."""
    tune = [g for g in groups if g.split == "tune" and len(g.docs)]
    semantic = "cosine_raw" in tune[0].names
    fixed = TUNED_SEMANTIC_WEIGHTS if semantic else TUNED_WEIGHTS
    ranker = {**fixed, **fit_ranker([g for g in tune if g.source in ("squad", "squad2")], fixed)}
    names = SEMANTIC_ANSWERABILITY_FEATURES if semantic else ANSWERABILITY_FEATURES
    rows, labels = top_inputs(tune, ranker)
    weights, bias = fit_logistic(rows, labels, names)
    model = dict(zip(names, weights.tolist(), strict=True))
    answerable = np.array([g.source in ("squad", "squad2") for g in tune])
    probability = answerability(rows[answerable], model, bias, names) * names_covered(rows[answerable], names)
    threshold = lowest_threshold(probability, labels[answerable], TARGET_PRECISION)
    return {"ranker": ranker, "answerability": model, "bias": bias, "threshold": threshold}


def held_out_figures(groups: Sequence[Group], model: dict[str, object]) -> dict[str, float]:
    """Held-out figures of a fitted model, from the groups: MRR@10 and R@1, and the answerability targets."""
    ranker = model["ranker"]
    assert isinstance(ranker, dict)
    held = [g for g in groups if g.split == "held-out"]
    names = SEMANTIC_ANSWERABILITY_FEATURES if "cosine_raw" in held[0].names else ANSWERABILITY_FEATURES
    figures: dict[str, float] = {}
    reciprocal = []
    for g in held:
        if g.source != "squad":
            continue
        scores = g.features @ np.array([ranker[name] for name in g.names]) if len(g.docs) else np.zeros(0)
        order = np.lexsort((g.docs, -scores))[:10]
        ranks = np.flatnonzero(g.gold[order])
        reciprocal.append(1 / (ranks[0] + 1) if len(ranks) else 0.0)
    figures["SQuAD MRR@10"] = float(np.mean(reciprocal))
    figures["SQuAD R@1"] = float(np.mean([r == 1.0 for r in reciprocal]))
    for source in ("squad", "near", "squad2-impossible", "far"):
        chosen = [g for g in held if g.source == source and len(g.docs)]
        rows, right = top_inputs(chosen, ranker)
        weights, bias = model["answerability"], model["bias"]
        assert isinstance(weights, dict) and isinstance(bias, float)
        probability = answerability(rows, weights, bias, names) * names_covered(rows, names)
        confident = probability >= float(model["threshold"])  # type: ignore[arg-type]
        asked = len([g for g in held if g.source == source])
        if source == "squad":
            figures["right first confident"] = float(confident[right == 1].mean())
            figures["precision"] = float(right[confident].mean())
        else:
            figures[f"{source} declined"] = 1 - confident.sum() / asked
    return figures


# The features issue 24 added: coverage the way news is written, and the cosine itself.
NEW_FEATURES = (*COVERAGE_FEATURES, "cosine_raw")


def without(groups: Sequence[Group], dropped: set[str]) -> list[Group]:
    """The groups with the `dropped` features' columns at zero (the models then learn nothing from them)."""
    return [
        Group(g.source, g.split, g.question, g.names,
              np.where([n in dropped for n in g.names], 0.0, g.features) if len(g.docs) else g.features,
              g.docs, g.gold, g.by_words)
        for g in groups
    ]  # fmt: skip


def ablation(groups: Sequence[Group]) -> None:
    """Each new feature alone (over the old ones) and removed (from all): held-out figures of both models."""
    print("| features | MRR@10 | R@1 | right first confident | precision | near declined | SQuAD 2.0 declined |")
    print("|---|---|---|---|---|---|---|")
    rows = [("old features only", set(NEW_FEATURES)), ("all", set())]
    rows += [(f"old + {name}", set(NEW_FEATURES) - {name}) for name in NEW_FEATURES]
    rows += [(f"all - {name}", {name}) for name in NEW_FEATURES]
    for label, dropped in rows:
        chosen = without(groups, dropped)
        f = held_out_figures(chosen, fit(chosen))
        names = ("SQuAD MRR@10", "SQuAD R@1", "right first confident", "precision", "near declined")
        cells = [f"{f[name]:.3f}" for name in (*names, "squad2-impossible declined")]
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


def new_weights(ranker: object, fixed: Mapping[str, float]) -> dict[str, float]:
    assert isinstance(ranker, dict)
    return {name: weight for name, weight in ranker.items() if name not in fixed}


def module_text(semantic: dict[str, object], lexical: dict[str, object], command: str) -> str:
    def table(values: object) -> str:
        assert isinstance(values, dict)
        return "{\n" + "".join(f'    "{k}": {v:.6g},\n' for k, v in values.items()) + "}"

    return f'''"""The ranker's and the answerability model's weights, fitted by bench/tune_trust.py on the tune
questions of SQuAD v1.1 dev (Rajpurkar et al. 2016) and of SQuAD 2.0's first 10 training articles (Rajpurkar,
Jia and Liang 2018), both CC BY-SA 4.0: these weights are derived from them. Written by

    {command}

Do not edit by hand: change the features or the script, and fit again.
"""

# Words and meaning (sentence vectors): the ranker's weights of the coverage features (index/ranking/coverage.py),
# and of the cosine itself, fitted on top of the tuned weights of the others (index/ranking/weights.py).
RANKER = {table(new_weights(semantic["ranker"], TUNED_SEMANTIC_WEIGHTS))}
# Words alone.
LEXICAL_RANKER = {table(new_weights(lexical["ranker"], TUNED_WEIGHTS))}
# The answerability model (index/ranking/confidence.py), with vectors and by words alone.
ANSWERABILITY = {table(semantic["answerability"])}
ANSWERABILITY_BIAS = {semantic["bias"]:.6g}
LEXICAL_ANSWERABILITY = {table(lexical["answerability"])}
LEXICAL_ANSWERABILITY_BIAS = {lexical["bias"]:.6g}
# A hit is confident at this probability or more, with vectors or without: the lowest at which tune's confident
# first hits were right {TARGET_PRECISION:.0%} of the time with vectors.
CONFIDENT_AT = {semantic["threshold"]}
'''


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("squad", help="SQuAD v1.1 dev (JSON, gzip-compressed or not)")
    parser.add_argument("squad2", help="SQuAD 2.0's first 10 training articles (gzip-compressed JSON)")
    parser.add_argument("--seeds", default="seeds", help="the seed articles (default: seeds)")
    parser.add_argument("--cache", help="where computed features are kept between runs (default: the cache folder)")
    parser.add_argument("--write", action="store_true", help=f"rewrite {TARGET}")
    parser.add_argument("--ablation", action="store_true", help="each new feature alone and removed, held out")
    args = parser.parse_args()
    seed, report = build_index(Path(args.seeds), use_cache=False)
    attach_vectors(seed, report, None)
    cache = Path(args.cache) if args.cache else cache_folder() / "trust"
    found = cached_groups(Path(args.squad), Path(args.squad2), seed, cache, lambda line: print(line, file=sys.stderr))
    if args.ablation:
        ablation(found)
        return 0
    semantic = fit(found)
    # One threshold for both models, the one chosen with sentence vectors: by words alone the bot then answers
    # as often as its probabilities say, and is right a little less often (docs/quality.md).
    lexical = fit([g.lexical() for g in found]) | {"threshold": semantic["threshold"]}
    for name, model, groups in (
        ("words and meaning", semantic, found),
        ("words alone", lexical, [g.lexical() for g in found]),
    ):
        print(f"{name}: threshold {model['threshold']}")
        print("  held out:", {k: round(v, 3) for k, v in held_out_figures(groups, model).items()})
    if args.write:
        command = "python bench/tune_trust.py SQUAD_V1_DEV SQUAD_V2_TRAIN_FIRST10 --write"
        TARGET.write_text(module_text(semantic, lexical, command), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
