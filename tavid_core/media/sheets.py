"""Pictures made for reading (frame strips, mouth sheets): the font that captions them and how they are saved."""
from __future__ import annotations

from ..errors import TavidError


def caption_font(size: int = 15):
    """Pillow's default font at `size` pixels; its small bitmap font where Pillow (< 10.1) has no other."""
    from PIL import ImageFont
    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()


def save_sheet(sheet, output: str) -> str:
    """Save a Pillow image as a JPEG (by the name's ending) or PNG; a path that cannot be written is a
    TavidError naming it. Returns the path."""
    try:
        if output.lower().endswith((".jpg", ".jpeg")):
            sheet.save(output, quality=88)
        else:
            sheet.save(output)
    except (OSError, ValueError) as e:
        raise TavidError(f"cannot write the picture: {e}", where=output,
                         fix="Give a writable path ending in .png or .jpg.") from None
    return output
