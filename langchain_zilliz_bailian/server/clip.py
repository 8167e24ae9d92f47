"""CLIP ViT-B/32 on onnxruntime: images and texts embedded into one space (no torch).

The model directory holds the ONNX export of ``openai/clip-vit-base-patch32`` as two graphs,
``vision_model.onnx`` (``pixel_values [batch, 3, 224, 224]`` -> ``image_embeds``) and
``text_model.onnx`` (``input_ids`` and, when declared, ``attention_mask`` -> ``text_embeds``),
plus its ``tokenizer.json``. Images are preprocessed as CLIP was trained: the short side resized
to 224 (bicubic), a centre crop of 224 x 224, then the CLIP channel mean and std. Vectors are
L2-normalised, so COSINE compares images with images and texts with images.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from langchain_zilliz_bailian.server.images import open_image
from langchain_zilliz_bailian.server.models.onnx_text import open_session

SIDE = 224
MAX_TEXT_TOKENS = 77
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
FILES = ("vision_model.onnx", "text_model.onnx", "tokenizer.json")


class ClipError(Exception):
    """The CLIP directory is incomplete or its graphs cannot be loaded."""


def pixel_values(image: Any) -> Any:
    """``[1, 3, 224, 224]`` float32 CLIP input of a decoded RGB Pillow image."""
    import numpy as np
    from PIL import Image

    # CLIP's resize-the-short-side-then-centre-crop, done as crop-then-resize: the same square,
    # without ever scaling a 100 x 400,000 image's long side up (gigabytes).
    side = min(image.width, image.height)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    square = image.crop((left, top, left + side, top + side))
    crop = square.resize((SIDE, SIDE), Image.Resampling.BICUBIC)
    pixels = np.asarray(crop, dtype=np.float32) / 255.0
    pixels = (pixels - np.array(CLIP_MEAN, np.float32)) / np.array(CLIP_STD, np.float32)
    return pixels.transpose(2, 0, 1)[None, ...]


def _unit(vector: Any) -> list[float]:
    import numpy as np

    flat = np.asarray(vector, dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(flat))
    return [float(v) for v in (flat / norm if norm > 0 else flat)]


class ClipModel:
    """Both CLIP towers; safe to share between threads (each session serialised)."""

    name = "clip-vit-base-patch32"

    def __init__(self, directory: Path) -> None:
        from tokenizers import Tokenizer

        missing = [f for f in FILES if not (directory / f).is_file()]
        if missing:
            raise ClipError(f"{directory} lacks {', '.join(missing)}.")
        try:
            self._vision = open_session(directory / "vision_model.onnx")
            self._text = open_session(directory / "text_model.onnx")
            self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        except Exception as exc:  # onnxruntime and tokenizers raise their own types
            raise ClipError(f"Cannot load CLIP from {directory}: {exc}") from exc
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TEXT_TOKENS)
        self._text_inputs = {i.name for i in self._text.get_inputs()}
        self._lock = threading.Lock()
        self.directory = directory
        self.dim = len(self._run_vision(pixel_values(_blank())))

    @property
    def stored_name(self) -> str:
        """The name image collections built by this model record (``clip-vit-base-patch32/512``)."""
        return f"{self.name}/{self.dim}"

    def _run_vision(self, pixels: Any) -> list[float]:
        with self._lock:
            (embeds,) = self._vision.run(["image_embeds"], {"pixel_values": pixels})
        return _unit(embeds[0])

    def embed_image(self, raw: bytes) -> list[float]:
        """The unit image embedding of encoded image bytes (:class:`.ImageDecodeError` if bad)."""
        return self._run_vision(pixel_values(open_image(raw)))

    def embed_text(self, text: str) -> list[float]:
        """The unit text embedding of ``text`` (in the images' space)."""
        import numpy as np

        encoding = self._tokenizer.encode(text)
        feeds = {"input_ids": np.array([encoding.ids], dtype=np.int64)}
        if "attention_mask" in self._text_inputs:
            feeds["attention_mask"] = np.array([encoding.attention_mask], dtype=np.int64)
        with self._lock:
            (embeds,) = self._text.run(["text_embeds"], feeds)
        return _unit(embeds[0])


def _blank() -> Any:
    from PIL import Image

    return Image.new("RGB", (SIDE, SIDE), (127, 127, 127))
