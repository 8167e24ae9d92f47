"""A tiny real ONNX cross-encoder for tests, built with the ``onnx`` package.

Its logit is ``2 * (passage tokens that also occur in the query) - 3`` over a BERT pair encoding
(query tokens have ``token_type_ids`` 0, passage tokens 1; the passage's closing ``[SEP]`` always
matches the query's, so a passage sharing ``k`` tokens with the query scores ``2k - 1``). The
ranking is therefore predictable, and it differs from any vector similarity. A variant without
``token_type_ids`` (like the XLM-R based bge-reranker-base) scores ``-0.1 * pair length``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import onnx
from onnx import TensorProto, helper

VENDORED_TOKENIZER = (
    Path(__file__).resolve().parents[2]
    / "langchain_zilliz_bailian/server/vendor/all-MiniLM-L6-v2/tokenizer.json"
)


def save_graph(graph: onnx.GraphProto, path: Path) -> None:
    """Save ``graph`` as an opset-13 model readable by the oldest onnxruntime of the matrix."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _const(name: str, values: list[int] | list[float], dtype: int) -> onnx.NodeProto:
    tensor = helper.make_tensor(name + "_value", dtype, [len(values)], values)
    return helper.make_node("Constant", [], [name], value=tensor)


def _overlap_graph() -> onnx.GraphProto:
    ints = TensorProto.INT64
    floats = TensorProto.FLOAT
    nodes = [
        _const("ax1", [1], ints),
        _const("ax2", [2], ints),
        _const("one", [1.0], floats),
        _const("two", [2.0], floats),
        _const("three", [3.0], floats),
        helper.make_node("Cast", ["attention_mask"], ["attn"], to=floats),
        helper.make_node("Cast", ["token_type_ids"], ["tt"], to=floats),
        helper.make_node("Sub", ["one", "tt"], ["not_tt"]),
        helper.make_node("Mul", ["attn", "not_tt"], ["q_mask"]),
        helper.make_node("Mul", ["attn", "tt"], ["p_mask"]),
        helper.make_node("Unsqueeze", ["input_ids", "ax2"], ["ids_col"]),
        helper.make_node("Unsqueeze", ["input_ids", "ax1"], ["ids_row"]),
        helper.make_node("Equal", ["ids_col", "ids_row"], ["same"]),
        helper.make_node("Cast", ["same"], ["same_f"], to=floats),
        helper.make_node("Unsqueeze", ["q_mask", "ax1"], ["q_row"]),
        helper.make_node("Unsqueeze", ["p_mask", "ax2"], ["p_col"]),
        helper.make_node("Mul", ["same_f", "q_row"], ["same_q"]),
        helper.make_node("Mul", ["same_q", "p_col"], ["pairs"]),
        helper.make_node("ReduceMax", ["pairs"], ["found"], axes=[2], keepdims=0),
        helper.make_node("ReduceSum", ["found", "ax1"], ["count"], keepdims=1),
        helper.make_node("Mul", ["count", "two"], ["doubled"]),
        helper.make_node("Sub", ["doubled", "three"], ["logits"]),
    ]
    inputs = [
        helper.make_tensor_value_info(name, ints, ["batch", "seq"])
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    output = helper.make_tensor_value_info("logits", floats, ["batch", 1])
    return helper.make_graph(nodes, "overlap_cross_encoder", inputs, [output])


def _length_graph() -> onnx.GraphProto:
    ints = TensorProto.INT64
    floats = TensorProto.FLOAT
    nodes = [
        _const("ax1", [1], ints),
        _const("scale", [-0.1], floats),
        helper.make_node("Cast", ["attention_mask"], ["attn"], to=floats),
        helper.make_node("ReduceSum", ["attn", "ax1"], ["length"], keepdims=1),
        helper.make_node("Mul", ["length", "scale"], ["logits"]),
    ]
    inputs = [
        helper.make_tensor_value_info(name, ints, ["batch", "seq"])
        for name in ("input_ids", "attention_mask")
    ]
    output = helper.make_tensor_value_info("logits", floats, ["batch", 1])
    return helper.make_graph(nodes, "length_cross_encoder", inputs, [output])


def write_cross_encoder(directory: Path, *, token_type_ids: bool = True) -> Path:
    """Write ``model.onnx`` and ``tokenizer.json`` into ``directory``; return it."""
    directory.mkdir(parents=True, exist_ok=True)
    save_graph(_overlap_graph() if token_type_ids else _length_graph(), directory / "model.onnx")
    shutil.copyfile(VENDORED_TOKENIZER, directory / "tokenizer.json")
    return directory
