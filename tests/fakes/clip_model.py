"""A tiny real CLIP-shaped ONNX pair for tests, built with the ``onnx`` package.

``vision_model.onnx`` maps ``pixel_values [batch, 3, 224, 224]`` to ``image_embeds [batch, 3]``,
the mean of each normalised colour channel; ``text_model.onnx`` maps ``input_ids`` (and
``attention_mask``) to ``text_embeds [batch, 3]``, one component per colour word the text contains
(``red``, ``green``, ``blue`` in the vendored MiniLM vocabulary). So "red" lands nearest to red
pictures, and the test can tell a right answer from a wrong one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import onnx
from onnx import TensorProto, helper
from tokenizers import Tokenizer

from tests.fakes.cross_encoder_model import VENDORED_TOKENIZER, save_graph

COLOURS = ("red", "green", "blue")


def _vision_graph() -> onnx.GraphProto:
    pixels = helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["b", 3, 224, 224])
    embeds = helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, ["b", 3])
    mean = helper.make_node(
        "ReduceMean", ["pixel_values"], ["image_embeds"], axes=[2, 3], keepdims=0
    )
    return helper.make_graph([mean], "tiny_clip_vision", [pixels], [embeds])


def _text_graph() -> onnx.GraphProto:
    vocab = Tokenizer.from_file(str(VENDORED_TOKENIZER)).get_vocab()
    nodes: list[onnx.NodeProto] = []
    parts = []
    for colour in COLOURS:
        value = helper.make_tensor(f"{colour}_id", TensorProto.INT64, [], [vocab[colour]])
        nodes += [
            helper.make_node("Constant", [], [f"{colour}_const"], value=value),
            helper.make_node("Equal", ["input_ids", f"{colour}_const"], [f"{colour}_eq"]),
            helper.make_node("Cast", [f"{colour}_eq"], [f"{colour}_f"], to=TensorProto.FLOAT),
            helper.make_node("ReduceMax", [f"{colour}_f"], [f"{colour}_has"], axes=[1], keepdims=1),
        ]
        parts.append(f"{colour}_has")
    nodes.append(helper.make_node("Concat", parts, ["text_embeds"], axis=1))
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["b", "seq"])
        for name in ("input_ids", "attention_mask")
    ]
    embeds = helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, ["b", 3])
    return helper.make_graph(nodes, "tiny_clip_text", inputs, [embeds])


def write_clip(directory: Path) -> Path:
    """Write ``vision_model.onnx``, ``text_model.onnx`` and ``tokenizer.json``; return the dir."""
    directory.mkdir(parents=True, exist_ok=True)
    save_graph(_vision_graph(), directory / "vision_model.onnx")
    save_graph(_text_graph(), directory / "text_model.onnx")
    shutil.copyfile(VENDORED_TOKENIZER, directory / "tokenizer.json")
    return directory
