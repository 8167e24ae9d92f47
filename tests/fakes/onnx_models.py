"""Tiny ONNX encoders written by tests (with the ``onnx`` test extra) in place of real models.

:func:`write_tiny_encoder` builds a BERT-shaped graph (``input_ids``, ``attention_mask``,
``token_type_ids`` -> ``last_hidden_state [batch, seq, dim]``) of a few kilobytes: each token's
state is ``sin(id * w)`` plus the sequence mean, so even the CLS state depends on the text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_tiny_encoder(path: Path, dim: int = 768, seed: int = 7) -> Path:
    """Write the graph to ``path`` (parents created) and return ``path``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(seed).uniform(0.01, 0.2, size=dim).astype(np.float32)
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    output = helper.make_tensor_value_info(
        "last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", dim]
    )
    nodes = [
        helper.make_node("Cast", ["input_ids"], ["ids_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["ids_f", "axis_last"], ["ids_3d"]),
        helper.make_node("Mul", ["ids_3d", "weights"], ["scaled"]),
        helper.make_node("Sin", ["scaled"], ["token_states"]),
        helper.make_node("ReduceMean", ["token_states"], ["seq_mean"], axes=[1], keepdims=1),
        helper.make_node("Add", ["token_states", "seq_mean"], ["last_hidden_state"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_encoder",
        inputs,
        [output],
        initializer=[
            numpy_helper.from_array(weights, "weights"),
            numpy_helper.from_array(np.array([2], dtype=np.int64), "axis_last"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by onnxruntime 1.18 (the lowest supported)
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
