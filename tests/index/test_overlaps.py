"""Hits whose passages overlap are shown as one passage, both sentences marked; the next hit fills the room."""

from __future__ import annotations

from index import Hit, build_index
from index.answers.overlaps import hits_for, merge_overlapping, own_passage
from tests.helpers import SEEDS

SENTENCES = tuple(f"Sentence {n} of the article." for n in range(1, 21))


def hit(sentence: int, first: int, last: int, article: str = "a.txt", score: float = 1.0) -> Hit:
    shown = SENTENCES[first - 1 : last]
    at = sentence - first
    return Hit(
        article=article,
        title=article,
        date=None,
        url=None,
        sentence=sentence,
        text=SENTENCES[sentence - 1],
        passage=" ".join(shown),
        score=score,
        confident=True,
        offset=sum(len(s) + 1 for s in shown[:at]),
        first=first,
        shown=shown,
    )


def test_two_hits_sharing_sentences_become_one_passage_with_both_marked_and_the_next_hit_fills_the_room():
    hits = [hit(5, 3, 7), hit(6, 4, 8), hit(15, 13, 17), hit(10, 9, 12)]
    passages = merge_overlapping(hits, 2)
    assert [(p.first, p.last, p.marked) for p in passages] == [(3, 8, (5, 6)), (13, 17, (15,))]
    merged = passages[0]
    assert merged.best is hits[0]
    assert merged.text == " ".join(SENTENCES[2:8])
    assert [merged.text[start:end] for start, end in merged.marks] == [SENTENCES[4], SENTENCES[5]]


def test_a_union_that_reaches_a_later_passage_takes_it_in():
    passages = merge_overlapping([hit(3, 1, 4), hit(9, 8, 11), hit(6, 4, 8)], 3)
    assert [(p.first, p.last, p.marked) for p in passages] == [(1, 11, (3, 6, 9))]


def test_passages_of_other_articles_or_apart_are_never_merged():
    hits = [hit(5, 3, 7), hit(5, 3, 7, article="b.txt"), hit(9, 8, 10)]
    assert [(p.best.article, p.first, p.marked) for p in merge_overlapping(hits, 5)] == [
        ("a.txt", 3, (5,)),
        ("b.txt", 3, (5,)),
        ("a.txt", 8, (9,)),
    ]


def test_a_hit_without_its_sentences_is_its_own_passage_marked_where_its_offset_says():
    made = Hit("a.txt", "A", None, None, 2, "Two.", "One. Two. Three.", 1.0, True, 5)
    [passage] = merge_overlapping([made], 3)
    assert passage.marks == ((5, 9),) and passage.text == "One. Two. Three."
    assert own_passage(made).marked == (2,)
    assert len(merge_overlapping([made, made], 3)) == 2  # nothing tells where its neighbours are: never merged


def test_the_seeds_overlapping_passages_are_shown_once():
    index, _ = build_index(SEEDS)
    answer = index.ask("Who is Mohamed Bazoum?", hits_for(3))
    alone = [(hit.first, hit.first + len(hit.shown) - 1) for hit in answer.hits[:2]]
    assert alone[0][0] <= alone[1][1] and alone[1][0] <= alone[0][1]  # the first two hits' passages overlap
    assert [hit.sentence for hit in answer.hits] == [1, 4, 23, 6]  # by words alone: four sentences match
    passages = merge_overlapping(answer.hits, 3)
    assert [(p.first, p.last, p.marked) for p in passages] == [(1, 7, (1, 4, 6)), (22, 25, (23,))]
    sentences = [(p.best.article, n) for p in passages for n in range(p.first, p.last + 1)]
    assert len(sentences) == len(set(sentences))  # no sentence shown twice
