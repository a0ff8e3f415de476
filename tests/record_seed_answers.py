"""Record how the seed questions are answered, for tests/index/test_followup.py to hold later code to it.

    python -m tests.record_seed_answers > tests/data/seed_answers.json

First recorded before follow-up questions existed, and again whenever the ranking or the answerability
model changes (last: issue 24's): a standalone question must get exactly these answers, whatever
conversation it is asked in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from index import Answer, build_index

ROOT = Path(__file__).resolve().parent.parent
PASSAGES = 3


def answer_record(answer: Answer) -> dict[str, Any]:
    return {
        "question": answer.question,
        "confident": answer.confident,
        "short_answer": answer.short_answer,
        "hits": [[hit.article, hit.sentence, round(hit.score, 6), hit.confident] for hit in answer.hits],
    }


def main() -> None:
    index, _ = build_index(ROOT / "seeds", use_cache=False)
    questions = json.loads((ROOT / "tests" / "data" / "seed_questions.json").read_text(encoding="utf-8"))
    records = [answer_record(index.ask(q["question"], PASSAGES)) for q in questions["questions"]]
    print(json.dumps({"passages": PASSAGES, "answers": records}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
