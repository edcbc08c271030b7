"""Pictures in and out: any photo a user gives becomes uint8 RGB `[H, W, 3]`, with every way a file can fail named."""
from __future__ import annotations

import warnings

import numpy as np

from ..errors import TavidError

NEUTRAL_GREY = 128  # what transparent parts of a picture become: neither black nor white


# ------------------------------------------------------------------------------------------ images
def as_uint8_rgb(image, where: str = "image") -> np.ndarray:
    """uint8 RGB [H, W, 3] from gray, RGB or RGBA arrays of uint8 levels, uint16 levels (16-bit photos),
    other integers (taken as 8-bit levels) or floats in 0..1. Transparent parts are laid on a neutral grey."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or min(arr.shape[:2]) < 1:
        raise TavidError(f"expected an image [H, W, 3], got shape {tuple(arr.shape)}", where=where)
    arr = _uint8_levels(arr)
    if arr.shape[2] == 4:
        arr = _on_grey(arr)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr)


def _uint8_levels(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 2:  # 16-bit: scale down, never clip to white
        return ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if arr.dtype.kind in "iu":
        return np.clip(arr, 0, 255).astype(np.uint8)
    return (np.clip(np.nan_to_num(arr.astype(np.float32)), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _on_grey(rgba: np.ndarray) -> np.ndarray:
    """RGBA laid on NEUTRAL_GREY: what lies under transparent pixels is often black or random."""
    rgb, alpha = rgba[..., :3], rgba[..., 3:]
    if alpha.min() == 255:
        return rgb
    alpha = alpha.astype(np.uint16)  # 255 * 255 + 127 still fits
    return ((rgb * alpha + NEUTRAL_GREY * (255 - alpha) + 127) // 255).astype(np.uint8)


def load_image(path: str) -> np.ndarray:
    """Read a photo as uint8 RGB, honouring its EXIF orientation. Every way a file can fail to be a
    usable picture ends in a TavidError naming the file."""
    from PIL import Image, UnidentifiedImageError
    bomb = (Image.DecompressionBombError, Image.DecompressionBombWarning)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # refuse it, rather than print it
            im = Image.open(path)
        with im:
            return as_uint8_rgb(_pixels(im), where=path)
    except FileNotFoundError:
        raise TavidError("no such image file", where=path, fix="Check the path.") from None
    except UnidentifiedImageError:
        raise TavidError("cannot read the image: the file is not a picture", where=path,
                         fix="Use a JPEG, PNG or WebP photo.") from None
    except bomb:
        raise TavidError(f"cannot read the image: it has more than {Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels, "
                         "too many to open safely", where=path,
                         fix="Scale it down; about 2000 pixels a side is plenty for a portrait.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:  # what PIL's decoders raise for broken data
        if isinstance(e, OSError) and e.errno is not None:  # the file system's complaint, not the picture's
            raise TavidError(f"cannot read the image ({e.strerror})", where=path,
                             fix="Give the path of a picture file you may read.") from None
        raise TavidError(f"cannot read the image: its data is damaged or cut short ({e})", where=path,
                         fix="Export or download the file again, or use another photo.") from None


def _pixels(im) -> np.ndarray:
    """A PIL picture, upright, as an array for as_uint8_rgb: 16-bit greys keep their depth (PIL's own
    conversion to RGB clips them to white) and transparency stays as an alpha channel."""
    from PIL import ImageOps
    if im.getexif().get(0x0112, 1) != 1:  # EXIF orientation; exif_transpose copies even upright pictures
        im = ImageOps.exif_transpose(im)
    if im.mode.startswith("I"):  # I;16 (16-bit PNG) and I (its name in older PIL)
        return np.asarray(im).clip(0, 65535).astype(np.uint16)
    mode = "RGBA" if im.mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in im.info else "RGB"
    return np.asarray(im if im.mode == mode else im.convert(mode))  # each copy of a big photo is 100s of MB


def save_image(image: np.ndarray, path: str) -> None:
    from PIL import Image
    Image.fromarray(as_uint8_rgb(image)).save(path)


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.fromarray(as_uint8_rgb(image)).resize((width, height), Image.LANCZOS))
