"""The offline image embedder: a near-duplicate descriptor computed with Pillow and numpy.

Without a CLIP model the server still indexes images and searches by image with this
descriptor (``image-descriptor-v1``, 320 numbers, L2-normalised, compared by COSINE):

- layout: a 16x16 grayscale thumbnail (box-averaged), mean-centred and unit-length, weight 0.7;
- colour: a 4x4x4 RGB histogram of a 32x32 thumbnail, square-rooted (Hellinger) and unit-length,
  weight 0.3.

A resized, re-encoded or slightly recoloured copy of an image lands next to the original; two
different photos of the same subject do not (this is not semantic search, and text queries need
CLIP). Images are decoded only after their header passes a pixel-count limit, so a small file that
expands to gigapixels (a decompression bomb) is refused before any pixel is decoded.
"""

from __future__ import annotations

import io
import math
import warnings
from typing import Any

#: Larger images are refused before decoding (a 40-megapixel photo still passes).
MAX_IMAGE_PIXELS = 50_000_000
LAYOUT_SIDE = 16
COLOUR_SIDE = 32
COLOUR_BINS = 4
LAYOUT_WEIGHT = math.sqrt(0.7)
COLOUR_WEIGHT = math.sqrt(0.3)


class ImageDecodeError(ValueError):
    """The bytes are not an image Pillow can decode, or the image is too large."""


def open_image(raw: bytes, max_pixels: int = MAX_IMAGE_PIXELS) -> Any:
    """The decoded RGB image (EXIF orientation applied); :class:`ImageDecodeError` otherwise."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(raw))
            width, height = opened.size
            if width * height > max_pixels:
                raise ImageDecodeError(
                    f"The image is {width}x{height} pixels; at most {max_pixels:,} are accepted."
                )
            # JPEG can decode at 1/2, 1/4 or 1/8 scale directly: far faster for big photos.
            opened.draft("RGB", (COLOUR_SIDE * 4, COLOUR_SIDE * 4))
            return ImageOps.exif_transpose(opened).convert("RGB")
    except ImageDecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageDecodeError(
            f"The image has more than {max_pixels:,} pixels (a decompression bomb?)."
        ) from None
    except UnidentifiedImageError:
        raise ImageDecodeError("The data is not a supported image.") from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt files
        raise ImageDecodeError(f"The image cannot be decoded: {exc}") from None


class ImageDescriptor:
    """Layout + colour descriptor of an image (see the module docstring)."""

    name = "image-descriptor-v1"
    dim = LAYOUT_SIDE * LAYOUT_SIDE + COLOUR_BINS**3
    #: The name image collections built by the descriptor record.
    stored_name = f"{name}/{dim}"

    def embed_image(self, raw: bytes) -> list[float]:
        """The unit-length descriptor of encoded image bytes."""
        return self.describe_image(open_image(raw))

    def describe_image(self, image: Any) -> list[float]:
        """The unit-length descriptor of a decoded RGB Pillow image."""
        import numpy as np
        from PIL import Image

        box = Image.Resampling.BOX
        gray = np.asarray(image.convert("L").resize((LAYOUT_SIDE, LAYOUT_SIDE), box), np.float64)
        layout = (gray - gray.mean()).ravel()
        layout_norm = float(np.linalg.norm(layout))
        layout = layout / layout_norm if layout_norm > 1e-9 else np.zeros_like(layout)
        small = np.asarray(image.resize((COLOUR_SIDE, COLOUR_SIDE), box), np.int64)
        bins = small * COLOUR_BINS // 256
        index = (bins[..., 0] * COLOUR_BINS + bins[..., 1]) * COLOUR_BINS + bins[..., 2]
        hist = np.sqrt(np.bincount(index.ravel(), minlength=COLOUR_BINS**3).astype(np.float64))
        hist = hist / float(np.linalg.norm(hist))
        vector = np.concatenate([LAYOUT_WEIGHT * layout, COLOUR_WEIGHT * hist])
        vector = vector / float(np.linalg.norm(vector))
        return [float(v) for v in vector]
