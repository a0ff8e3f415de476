"""The semantic stage: the pinned weights, stored vectors and their reuse, the nearest-sentence search,
and answers by meaning (with the real model: a few dozen sentences take well under a second)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from index import SearchIndex, build_index, index_articles, parse_article
from index.meaning.encoder import DEFAULT_MODEL, Encoder, ModelUnavailable, model_path, source_weights
from index.meaning.stage import SemanticView, fill, open_vectors
from index.meaning.vectors import (
    Partition,
    VectorStore,
    article_key,
    nearest_centroids,
    quantise,
    train_centroids,
)
from tests.helpers import SEEDS, write_articles

DEV_SET = json.loads((Path(__file__).parent.parent / "data" / "seed_questions.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder(threads=1)


def counting(encoder: Encoder, calls: list[int]):  # type: ignore[no-untyped-def]
    def embed(texts: Sequence[str]) -> np.ndarray:
        calls.append(len(texts))
        return encoder.embed(texts)

    return embed


def test_the_weights_must_hash_to_the_pinned_sha256(tmp_path: Path) -> None:
    copy = tmp_path / "model.onnx"
    data = bytearray(model_path(DEFAULT_MODEL).read_bytes())
    copy.write_bytes(bytes(data))
    Encoder(threads=1, weights=copy)  # the same bytes load
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelUnavailable, match="not the pinned"):
        Encoder(threads=1, weights=copy)


def test_a_missing_model_file_says_what_to_do() -> None:
    absent = replace(DEFAULT_MODEL, file="no-such-model.onnx")
    with pytest.raises(
        ModelUnavailable, match=r"cannot read .* reinstall qa-bot, or answer with words only \(SEMANTIC=off\)"
    ):
        Encoder(absent)


def test_the_fused_graph_gives_the_shipped_graphs_outputs(tmp_path: Path) -> None:
    import onnx
    import onnxruntime

    from index.meaning.bert_graph import bert_weights, fused_bert

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(tmp_path / "folded.onnx")
    shipped = onnxruntime.InferenceSession(str(source_weights(DEFAULT_MODEL)), options)
    fused = onnxruntime.InferenceSession(
        fused_bert(*bert_weights(onnx.load(tmp_path / "folded.onnx"))).SerializeToString()
    )
    ids = np.array([[101, 2129, 2116, 19413, 102, 0, 0], [101, 1996, 2406, 2038, 2018, 2176, 102]], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": (ids != 0).astype(np.int64), "token_type_ids": np.zeros_like(ids)}
    [expected], [found] = shipped.run(["last_hidden_state"], feeds), fused.run(["last_hidden_state"], feeds)
    real = feeds["attention_mask"].astype(bool)  # padded positions are never read (mean over real tokens)
    assert found.shape == expected.shape == (2, 7, DEFAULT_MODEL.dimension)
    assert np.abs(found[real] - expected[real]).max() < 1e-4


def test_another_quantised_graph_is_another_identity() -> None:
    other = replace(DEFAULT_MODEL, quantised_sha256="0" * 64)
    assert other.identity != DEFAULT_MODEL.identity
    assert replace(DEFAULT_MODEL).identity == DEFAULT_MODEL.identity


def test_vectors_are_unit_length_and_meaning_is_near(encoder: Encoder) -> None:
    vectors = encoder.embed(
        ["Who quit as the company's boss?", "The chief executive resigned on Monday.", "Rain is forecast for Paris."]
    )
    assert vectors.shape == (3, DEFAULT_MODEL.dimension)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_quantised_rows_keep_the_cosines() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((50, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows, scales = quantise(vectors)
    assert rows.dtype == np.int8 and np.abs(rows).max() == 127
    restored = rows.astype(np.float32) * scales[:, None]
    assert np.abs(restored - vectors).max() <= scales.max() / 2 + 1e-7  # half a step at most


def test_vectors_are_computed_once_and_reused_by_article_content(tmp_path: Path, encoder: Encoder) -> None:
    seeds = write_articles(
        tmp_path / "seeds",
        {
            "a.txt": "The harbour reopened on Monday. Fishing boats returned at dawn.",
            "b.txt": "The library opens on Sundays. It closes at noon.",
        },
    )
    index, _ = build_index(seeds, use_cache=False)
    calls: list[int] = []
    store = VectorStore(tmp_path / "vectors", DEFAULT_MODEL.identity, DEFAULT_MODEL.dimension)
    stage = index.attach_vectors(store, encoder.embed)
    assert stage.view.ready == 0 and stage.missing() == [0, 1]
    assert fill(stage, index.embedding_texts, counting(encoder, calls)) == 4
    assert stage.complete and calls == [4]

    # A restart (a new index over the same files): nothing to compute.
    again, _ = build_index(seeds, use_cache=False)
    stage = again.attach_vectors(store, encoder.embed)
    assert stage.complete
    assert fill(stage, again.embedding_texts, counting(encoder, calls)) == 0
    assert calls == [4]

    # One article edited: only its sentences are embedded again.
    (seeds / "b.txt").write_text("The library opens on Sundays. It closes at two.", encoding="utf-8")
    edited, _ = build_index(seeds, use_cache=False)
    stage = edited.attach_vectors(store, encoder.embed)
    assert stage.missing() == [1]
    fill(stage, edited.embedding_texts, counting(encoder, calls))
    assert calls == [4, 2] and stage.complete
    stored = store.snapshot()
    assert stored.row_count == 6  # the old version's rows stay until they outnumber the live ones (and 10,000)
    key = article_key(edited.articles[1].title, edited.articles[1].sentences)
    first, count = stored.articles[key]
    expected = encoder.embed(edited.embedding_texts(1))
    restored = stored.rows[first : first + count].astype(np.float32) * stored.scales[first : first + count, None]
    assert np.allclose(restored, expected, atol=0.01)


def test_a_batch_cut_short_by_a_crash_is_dropped_and_computed_again(tmp_path: Path, encoder: Encoder) -> None:
    store = VectorStore(tmp_path / "vectors", DEFAULT_MODEL.identity, DEFAULT_MODEL.dimension)
    with store.writing():
        store.append([("one", encoder.embed(["First sentence."]))])
    with (tmp_path / "vectors" / "rows.i8").open("ab") as rows:
        rows.write(b"\x01" * 100)  # rows written, catalog never replaced: the process died here
    with store.writing():
        store.append([("two", encoder.embed(["Second sentence."]))])
    snapshot = store.snapshot()
    assert snapshot.articles == {"one": (0, 1), "two": (1, 1)}
    assert (tmp_path / "vectors" / "rows.i8").stat().st_size == 2 * DEFAULT_MODEL.dimension


def test_a_damaged_catalog_starts_the_store_afresh(tmp_path: Path, encoder: Encoder) -> None:
    store = VectorStore(tmp_path / "vectors", DEFAULT_MODEL.identity, DEFAULT_MODEL.dimension)
    with store.writing():
        store.append([("one", encoder.embed(["First sentence."]))])
    (tmp_path / "vectors" / "catalog.json").write_text("{not json", encoding="utf-8")
    assert store.snapshot().articles == {}
    with store.writing():
        store.append([("two", encoder.embed(["Second sentence."]))])
    assert store.snapshot().articles == {"two": (0, 1)}


def test_another_models_vectors_are_never_used(tmp_path: Path, encoder: Encoder) -> None:
    store = VectorStore(tmp_path / "vectors", DEFAULT_MODEL.identity, DEFAULT_MODEL.dimension)
    with store.writing():
        store.append([("one", encoder.embed(["First sentence."]))])
    other = VectorStore(tmp_path / "vectors", "another-model", DEFAULT_MODEL.dimension)
    assert other.snapshot().articles == {}


def test_the_partitioned_search_finds_what_the_exact_search_finds_on_clustered_vectors() -> None:
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((40, 64)).astype(np.float32)
    points = np.repeat(centres, 100, axis=0) + 0.3 * rng.standard_normal((4000, 64)).astype(np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    rows, scales = quantise(points)
    centroids = train_centroids(points[rng.choice(4000, 2000, replace=False)], 60, seed=0)
    partition = Partition.of(centroids, nearest_centroids(rows, scales, centroids))
    assert sorted(partition.members.tolist()) == list(range(4000))  # every row in exactly one partition
    found = 0
    for q in points[rng.choice(4000, 20, replace=False)]:
        exact = set(np.argsort(-(points @ q))[:10].tolist())
        found += len(exact & set(partition.probe(q).tolist()))
    assert found >= 0.95 * 200


def test_a_question_sharing_no_word_with_the_article_is_answered_by_meaning(tmp_path: Path, encoder: Encoder) -> None:
    article = parse_article(
        "firm.txt",
        b"title: Shipping news\n\nThe chief executive resigned on Monday. Profits fell sharply last year.\n",
    )
    index = index_articles([article])
    question = "Who quit as boss of the company?"
    assert index.search(question, 1) == []  # no word in common
    store = VectorStore(tmp_path / "vectors", DEFAULT_MODEL.identity, DEFAULT_MODEL.dimension)
    stage = index.attach_vectors(store, encoder.embed)
    fill(stage, index.embedding_texts, encoder.embed)
    [hit] = index.search(question, 1)
    assert hit.text == "The chief executive resigned on Monday."
    assert index.search(question, 1, lexical=True) == []  # words only: as before


def test_a_view_maps_each_sentence_to_its_row_and_back(tmp_path: Path, encoder: Encoder) -> None:
    store = VectorStore(tmp_path / "vectors", DEFAULT_MODEL.identity, DEFAULT_MODEL.dimension)
    with store.writing():
        store.append([("b", encoder.embed(["B one.", "B two."])), ("a", encoder.embed(["A one."]))])
    view = SemanticView.of(["a", "missing", "b"], [1, 3, 2], store.snapshot())
    assert view.doc_rows.tolist() == [2, -1, -1, -1, 0, 1]
    assert view.row_docs.tolist() == [4, 5, 0]
    assert view.ready == 3
    question = encoder.embed(["B one."])[0]
    cosines = view.cosines(question, np.array([4, 1]))
    assert cosines[0] == pytest.approx(1.0, abs=0.01) and np.isnan(cosines[1])
    docs, _ = view.nearest(question, 2)
    assert docs.tolist()[0] == 4
    # Within sentences 0-3 ("a" and "missing"): only sentence 0 has a vector, whatever is nearer elsewhere.
    docs, near = view.nearest(question, 5, within=(0, 4))
    assert docs.tolist() == [0]
    assert near[0] == pytest.approx(float(view.cosines(question, np.array([0]))[0]), abs=0.02)
    assert view.nearest(question, 5, within=(1, 4))[0].tolist() == []


def test_one_articles_question_is_answered_by_meaning_from_its_own_sentences(tmp_path: Path, encoder: Encoder) -> None:
    firm = parse_article("firm.txt", b"title: Shipping news\n\nThe chief executive resigned on Monday. Ships sailed.\n")
    port = parse_article("port.txt", b"title: Port news\n\nThe harbour master quit his post. Cranes were idle.\n")
    index = index_articles([firm, port])
    stage = index.attach_vectors(
        VectorStore(tmp_path / "vectors", DEFAULT_MODEL.identity, DEFAULT_MODEL.dimension), encoder.embed
    )
    fill(stage, index.embedding_texts, encoder.embed)
    question = "Who quit as boss of the company?"
    everywhere = index.search(question, 4)
    assert {hit.article for hit in everywhere} == {"firm.txt", "port.txt"}
    in_port = index.search(question, 4, article="port.txt")
    assert in_port and {hit.article for hit in in_port} == {"port.txt"}
    # Judged as in the whole index: the same sentence is confident (or not) either way.
    judged = {(hit.article, hit.sentence): hit.confident for hit in everywhere}
    assert all(
        judged[hit.article, hit.sentence] == hit.confident for hit in in_port if (hit.article, hit.sentence) in judged
    )


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory: pytest.TempPathFactory) -> SearchIndex:
    index, _ = build_index(SEEDS, use_cache=False)
    stage, encoder = open_vectors(index, tmp_path_factory.mktemp("seed-vectors"), threads=1)
    fill(stage, index.embedding_texts, encoder.embed)
    return index


def test_unanswerable_seed_questions_are_declined_and_answerable_ones_confident(seed_index: SearchIndex) -> None:
    answerable = [q for q in DEV_SET["questions"] if q["gold"] is not None]
    unanswerable = [q for q in DEV_SET["questions"] if q["gold"] is None]
    assert sum(not seed_index.ask(q["question"], 1).confident for q in unanswerable) == len(unanswerable)
    confident = sum(seed_index.ask(q["question"], 1).confident for q in answerable)
    assert confident / len(answerable) >= 0.9


def test_meaning_puts_more_seed_questions_right_at_rank_1_than_words_alone(seed_index: SearchIndex) -> None:
    answerable = [q for q in DEV_SET["questions"] if q["gold"] is not None]

    def right(lexical: bool) -> int:
        return sum(
            bool(hits) and hits[0].sentence == q["gold"]
            for q in answerable
            for hits in [seed_index.search(q["question"], 1, lexical=lexical)]
        )

    assert right(lexical=True) == 29
    assert right(lexical=False) >= 32


@pytest.mark.slow
def test_quantising_the_registry_packages_weights_gives_the_committed_model_file() -> None:
    from index.meaning.quantise import quantise as quantise_model
    from index.meaning.quantise import source_bytes

    made = quantise_model(source_bytes(DEFAULT_MODEL))
    assert made == model_path(DEFAULT_MODEL).read_bytes()
    assert hashlib.sha256(made).hexdigest() == DEFAULT_MODEL.quantised_sha256
