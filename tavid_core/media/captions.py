"""The font that captions pictures made for reading (frame strips, mouth sheets)."""
from __future__ import annotations


def caption_font(size: int = 15):
    """Pillow's default font at `size` pixels; its small bitmap font where Pillow (< 10.1) has no other."""
    from PIL import ImageFont
    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()
