"""R@1 on questions in the asker's own words (tests/data/*_paraphrases.json), by words only and with meaning.

    python bench/paraphrases.py [--squad PATH]

The seed article's questions are asked of the seed folder; SQuAD's (tests/data/squad_paraphrases.json,
with the paragraph and the gold sentence of each) of one index over every SQuAD dev paragraph, as in
`qa-bot eval squad`, which needs the SQuAD file (`--squad`). Every question avoids the words of the
sentence that answers it. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from index import SearchIndex, build_index, index_articles
from index.articles.text import split_sentences
from index.evaluation.squad import attach_squad_vectors, load_squad
from index.meaning.stage import cores, fill, open_vectors
from index.storage.store import cache_folder

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def right_at_1(index: SearchIndex, asked: list[tuple[str, int]], lexical: bool) -> int:
    """How many questions get their gold sentence (a document number) first."""
    right = 0
    for question, gold in asked:
        found = index.candidates(question, 1, lexical=lexical)
        hits = index.search(question, 1, lexical=lexical)
        right += bool(hits) and len(found.docs) > 0 and _doc_of(index, hits[0]) == gold
    return right


def _doc_of(index: SearchIndex, hit: object) -> int:
    numbers = {article.id: n for n, article in enumerate(index.articles)}
    first = sum(len(a.sentences) for a in index.articles[: numbers[hit.article]])  # type: ignore[attr-defined]
    return first + hit.sentence - 1  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad", type=Path)
    args = parser.parse_args()
    rows = []
    seed_set = json.loads((DATA / "seed_paraphrases.json").read_text(encoding="utf-8"))
    seed, _ = build_index(DATA.parent.parent / "seeds", use_cache=False)
    with tempfile.TemporaryDirectory() as scratch:
        stage, encoder = open_vectors(seed, Path(scratch), threads=cores())
        fill(stage, seed.embedding_texts, encoder.embed)
        asked = [(q["question"], q["gold"] - 1) for q in seed_set["questions"]]
        rows.append(("seed article", len(asked), right_at_1(seed, asked, True), right_at_1(seed, asked, False)))
    if args.squad:
        corpus = load_squad(args.squad)
        index = index_articles(corpus.articles)
        model = encoder.model
        folder = cache_folder() / "vectors-squad" / model.identity
        attach_squad_vectors(index, folder, model.identity, model.dimension, encoder.embed)
        starts, first = {}, 0
        for article in corpus.articles:
            starts[article.id] = first
            first += len(article.sentences)
        squad_set = json.loads((DATA / "squad_paraphrases.json").read_text(encoding="utf-8"))
        asked = []
        for q in squad_set["questions"]:
            article_id = f"{q['title']}/{q['paragraph']}"
            sentences = next(a.sentences for a in corpus.articles if a.id == article_id)
            assert q["gold"] < len(sentences) and list(sentences) == list(split_sentences(" ".join(sentences)))
            asked.append((q["question"], starts[article_id] + q["gold"]))
        rows.append(
            ("SQuAD dev paragraphs", len(asked), right_at_1(index, asked, True), right_at_1(index, asked, False))
        )
    print("| questions in their own words | questions | R@1, words only | R@1, words and meaning |")
    print("|---|---|---|---|")
    for name, count, lexical, semantic in rows:
        print(f"| {name} | {count} | {lexical / count:.2f} ({lexical}) | {semantic / count:.2f} ({semantic}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
