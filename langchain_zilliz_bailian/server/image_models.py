"""Which image embedder builds and serves an image collection: CLIP when available, else the
offline descriptor.

An INDEX_IMAGE pipeline naming a CLIP model (``zilliz/clip-vit-base-patch32``, or the guide's
``-multilingual-v1`` spelling, quirk 33, served by the same image tower) embeds with CLIP when the
model store finds its files (``--model-dir/clip-vit-base-patch32`` or the cache under the data
dir; fetched only with ``--model-download``). Otherwise, and for ``zilliz/vit-base-patch16-224``,
the collection is built with :class:`~.images.ImageDescriptor` (near-duplicate search only). The
collection records which one built it, and every later run uses that one again.
"""

from __future__ import annotations

import logging
from typing import Protocol

from langchain_zilliz_bailian.server.clip import ClipError, ClipModel
from langchain_zilliz_bailian.server.images import ImageDescriptor
from langchain_zilliz_bailian.server.models.files import (
    ModelFile,
    ModelIntegrityError,
    ModelSource,
    ModelStore,
    ModelUnavailableError,
)
from langchain_zilliz_bailian.server.models.once import LoadOnce

CLIP_MODEL = "zilliz/clip-vit-base-patch32"
_XENOVA = "https://huggingface.co/Xenova/clip-vit-base-patch32/resolve/main"
#: The ONNX export of openai/clip-vit-base-patch32 (MIT licence), as two graphs.
CLIP_SOURCE = ModelSource(
    model=CLIP_MODEL,
    directory="clip-vit-base-patch32",
    files=(
        ModelFile("vision_model.onnx", f"{_XENOVA}/onnx/vision_model.onnx"),
        ModelFile("text_model.onnx", f"{_XENOVA}/onnx/text_model.onnx"),
        ModelFile("tokenizer.json", f"{_XENOVA}/tokenizer.json"),
    ),
)


class ImageEmbedder(Protocol):
    """What image pipelines need: a stored name, a dimension and an image embedding."""

    @property
    def stored_name(self) -> str:
        """The name recorded with the collections it builds."""
        ...

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def embed_image(self, raw: bytes) -> list[float]:
        """The unit embedding of encoded image bytes."""
        ...


def is_clip(model: str) -> bool:
    """Whether an image model embeds text too (quirk 33: both CLIP spellings are accepted)."""
    return model.startswith(CLIP_MODEL)


class ImageModels:
    """The descriptor (always there) and CLIP (loaded once, when its files can be found)."""

    def __init__(self, store: ModelStore) -> None:
        self.store = store
        self.descriptor = ImageDescriptor()
        self._clip: LoadOnce[ClipModel] = LoadOnce()

    def clip(self) -> ClipModel:
        """The loaded CLIP model; :class:`ModelUnavailableError` saying how to provide it."""
        return self._clip.get("clip", self._load_clip)

    def _load_clip(self) -> ClipModel:
        directory = self.store.locate(CLIP_SOURCE)
        try:
            return ClipModel(directory)
        except ClipError as exc:  # present but unusable: never silently replaced
            raise ModelIntegrityError(str(exc)) from None

    def for_model(self, model: str) -> ImageEmbedder:
        """What builds a new collection for ``model``: CLIP if it is a CLIP name and available.

        CLIP files that are present but corrupt raise :class:`ModelIntegrityError`; missing ones
        mean the descriptor (logged, with how to provide CLIP).
        """
        if is_clip(model):
            try:
                return self.clip()
            except ModelIntegrityError:
                raise
            except ModelUnavailableError as exc:
                logging.getLogger(__name__).warning(
                    "%s: the collection gets the offline image descriptor instead (%s)", model, exc
                )
        return self.descriptor

    def served(self, stored_name: str | None) -> ImageEmbedder:
        """The embedder that built a collection (its recorded name; None: the descriptor)."""
        if stored_name in (None, self.descriptor.stored_name):
            return self.descriptor
        if stored_name is not None and stored_name.startswith(ClipModel.name + "/"):
            clip = self.clip()
            if clip.stored_name == stored_name:
                return clip
        raise ModelUnavailableError(
            f"this server embeds images with {self.descriptor.stored_name} or CLIP and cannot "
            f"produce {stored_name}."
        )
