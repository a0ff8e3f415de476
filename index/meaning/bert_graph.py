"""all-MiniLM-L6-v2's weights rebuilt into a BERT graph that onnxruntime runs with its fused kernels.

The shipped ONNX file is a PyTorch (dynamo) export: each layer's attention is ~40 small operators
(reshapes, transposes, a padding mask built from GatherND/And/Where, a NaN guard after the softmax) that
neither onnxruntime's session optimiser nor its transformer optimiser (`onnxruntime.transformers`,
model_type "bert") recognise as attention: both fused none of the 6 (measured, onnxruntime 1.31.1).
The same weights in a plain BERT graph, with onnxruntime's own `Attention` (which quantize_dynamic makes
`QAttention`: one int8 product for Q, K and V, then the heads in one kernel) and `BiasGelu`, give the
same vectors (cosine 1.00000 to the shipped graph's in fp32, 512 SQuAD sentences) for about a third less
CPU a sentence once quantised (bench/semantic.py; figures in docs/quality.md).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

HEADS = 12  # all-MiniLM-L6-v2's num_attention_heads (its config.json); not recorded in the ONNX file
Weights = dict[str, npt.NDArray[np.generic]]


def bert_weights(model: onnx.ModelProto) -> tuple[Weights, float]:
    """The named weights of a BERT export whose constants are folded (plain MatMul + bias Add), and the
    layer norms' epsilon. The export names biases but not the matrices; a matrix is named after the bias
    added to its product ("…query.bias" → "…query.weight")."""
    stored = {tensor.name: numpy_helper.to_array(tensor) for tensor in model.graph.initializer}
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    weights: Weights = dict(stored)
    epsilon = None
    for node in model.graph.node:
        if node.op_type == "LayerNormalization" and epsilon is None:
            epsilon = next(a.f for a in node.attribute if a.name == "epsilon")
        if node.op_type == "MatMul" and node.input[1] in stored:
            [add] = readers[node.output[0]]
            [bias] = [name for name in add.input if name.endswith(".bias")]
            weights[bias.removesuffix(".bias") + ".weight"] = stored[node.input[1]]
    if epsilon is None:
        raise ValueError("no LayerNormalization in the model")
    return {name.removeprefix("inner."): array for name, array in weights.items()}, epsilon


def layer_count(weights: Weights) -> int:
    return len({match[1] for name in weights if (match := re.match(r"encoder\.layer\.(\d+)\.", name))})


def fused_bert(weights: Weights, epsilon: float) -> onnx.ModelProto:
    """A graph with the shipped one's inputs (input_ids, attention_mask, token_type_ids: int64 [batch,
    sequence]) and output (last_hidden_state: float [batch, sequence, hidden]); KeyError if a weight lacks."""
    nodes: list[onnx.NodeProto] = []
    stored: list[onnx.TensorProto] = []

    def constant(name: str, array: npt.NDArray[np.generic]) -> str:
        stored.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op: str, inputs: list[str], output: str, microsoft: bool = False, **attributes: Any) -> str:
        domain = "com.microsoft" if microsoft else ""
        nodes.append(helper.make_node(op, inputs, [output], name=output, domain=domain, **attributes))
        return output

    def layer_norm(x: str, prefix: str, output: str) -> str:
        gamma = constant(prefix + ".weight", weights[prefix + ".weight"])
        beta = constant(prefix + ".bias", weights[prefix + ".bias"])
        return node("LayerNormalization", [x, gamma, beta], output, axis=-1, epsilon=epsilon)

    def dense(x: str, prefix: str, output: str) -> str:
        product = node("MatMul", [x, constant(prefix + ".weight", weights[prefix + ".weight"])], output + "_product")
        return node("Add", [product, constant(prefix + ".bias", weights[prefix + ".bias"])], output)

    # Embeddings: token + segment + position (positions 0…S-1 sliced from a stored row of ids, as the export
    # does: a Range there meets an onnxruntime fusion, Range + Gather → Slice, that fails at run time).
    hidden_size = weights["embeddings.word_embeddings.weight"].shape[1]
    inner_size = weights["encoder.layer.0.intermediate.dense.weight"].shape[1]
    positions = weights["embeddings.position_embeddings.weight"]
    width = node("Shape", ["input_ids"], "width", start=1, end=2)
    zero, one = constant("zero", np.array([0], np.int64)), constant("one", np.array([1], np.int64))
    position_ids = constant("position_ids", np.arange(len(positions), dtype=np.int64)[None, :])
    node("Slice", [position_ids, zero, width, one], "positions")
    for table, ids in (("word", "input_ids"), ("token_type", "token_type_ids"), ("position", "positions")):
        name = f"embeddings.{table}_embeddings.weight"
        node("Gather", [constant(name, weights[name]), ids], table)
    node("Add", ["word", "token_type"], "word_and_type")
    node("Add", ["word_and_type", "position"], "embedded")
    x = layer_norm("embedded", "embeddings.LayerNorm", "layer0")
    mask = node("Cast", ["attention_mask"], "mask", to=TensorProto.INT32)  # Attention's raw 2-D mask
    for n in range(layer_count(weights)):
        prefix = f"encoder.layer.{n}."
        parts = [prefix + f"attention.self.{part}" for part in ("query", "key", "value")]
        qkv = constant(prefix + "qkv.weight", np.concatenate([weights[p + ".weight"] for p in parts], axis=1))
        qkv_bias = constant(prefix + "qkv.bias", np.concatenate([weights[p + ".bias"] for p in parts]))
        context = node("Attention", [x, qkv, qkv_bias, mask], prefix + "context", microsoft=True, num_heads=HEADS)
        attended = dense(context, prefix + "attention.output.dense", prefix + "attended")
        node("Add", [attended, x], prefix + "attention_residual")
        x = layer_norm(prefix + "attention_residual", prefix + "attention.output.LayerNorm", prefix + "attention_out")
        up = prefix + "intermediate.dense"
        product = node("MatMul", [x, constant(up + ".weight", weights[up + ".weight"])], prefix + "up")
        node("BiasGelu", [product, constant(up + ".bias", weights[up + ".bias"])], prefix + "gelu", microsoft=True)
        down = dense(prefix + "gelu", prefix + "output.dense", prefix + "down")
        node("Add", [down, x], prefix + "residual")
        last = n == layer_count(weights) - 1
        x = layer_norm(
            prefix + "residual", prefix + "output.LayerNorm", "last_hidden_state" if last else f"layer{n + 1}"
        )

    def tensor(name: str, kind: int, *shape: str | int) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, kind, list(shape))

    inputs = [
        tensor(name, TensorProto.INT64, "batch", "sequence")
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    # Shape inference cannot see through com.microsoft operators; quantize_dynamic needs their output types.
    typed = [
        tensor(
            n.output[0], TensorProto.FLOAT, "batch", "sequence", inner_size if n.op_type == "BiasGelu" else hidden_size
        )
        for n in nodes
        if n.domain
    ]
    output = tensor("last_hidden_state", TensorProto.FLOAT, "batch", "sequence", hidden_size)
    graph = helper.make_graph(nodes, "all-MiniLM-L6-v2", inputs, [output], stored, value_info=typed)
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="qa-bot")
    model.ir_version = 10  # the shipped file's: onnx 1.23 writes 14, which onnxruntime 1.31 refuses
    onnx.checker.check_model(model)
    return model
