"""Frame strips: a few captioned frames of a conversation video in one picture, for READMEs and reviews.

With the timeline JSON that `tavid generate` writes, each frame is taken in the middle of a turn and
captioned with who speaks; without it, frames are spread evenly over the clip.
"""
from __future__ import annotations

import json
import os

from ..errors import TavidError
from .sheets import caption_font, save_sheet


def _pick(path: str, count: int, timeline: dict | None) -> list[tuple[float, str]]:
    if timeline:
        names = timeline.get("speakers", ["A", "B"])
        # a backchannel ("mm-hm" over the partner's turn) is too short to show who holds the floor
        turns = [t for t in timeline["timeline"] if "backchannel" not in t.get("tags", [])]
        step = max(1, len(turns) / count)
        moments = []
        for turn in (turns[int(i * step)] for i in range(min(count, len(turns)))):
            at = _mid_word(turn)
            moments.append((at, f"{at:4.1f} s   {names[turn['speaker']]} speaks, {names[1 - turn['speaker']]} listens"))
        return moments
    import av
    with av.open(path) as container:
        stream = container.streams.video[0]
        duration = float(stream.frames / stream.average_rate) if stream.frames else float(container.duration or 0) / 1e6
    return [((i + 0.5) * duration / count, f"{(i + 0.5) * duration / count:4.1f} s") for i in range(count)]


def _mid_word(turn: dict) -> float:
    """A moment inside a longer word near the middle of the turn, where the mouth is most likely open."""
    middle = (turn["start"] + turn["end"]) / 2
    words = [w for w in turn.get("words", []) if len(w["word"]) >= 4] or turn.get("words", [])
    if not words:
        return middle
    word = min(words, key=lambda w: abs((w["start"] + w["end"]) / 2 - middle))
    return word["start"] + 0.4 * (word["end"] - word["start"])


def frame_strip(video: str, output: str, count: int = 6, columns: int = 2, width: int = 480,
                timeline_path: str | None = None) -> str:
    """Write a grid of `count` captioned frames of `video` to `output` (PNG)."""
    import av
    from PIL import Image, ImageDraw

    if not os.path.isfile(video):
        raise TavidError("no such video file", where=video)
    if timeline_path is None and os.path.isfile(os.path.splitext(video)[0] + ".json"):
        timeline_path = os.path.splitext(video)[0] + ".json"
    timeline = None
    if timeline_path:
        with open(timeline_path, encoding="utf-8") as f:
            timeline = json.load(f)
    moments = _pick(video, count, timeline)
    font = caption_font(15)
    if hasattr(font, "font_variant") and moments:  # a scalable font: shrink it to fit narrow tiles (tall videos)
        longest = max(font.getlength(text) for _, text in moments)
        if longest > width - 12:
            font = font.font_variant(size=max(9, int(15 * (width - 12) / longest)))
    wanted = iter(moments)
    target = next(wanted, None)
    tiles = []
    with av.open(video) as container:
        for frame in container.decode(container.streams.video[0]):
            while target is not None and frame.time is not None and frame.time >= target[0]:
                image = frame.to_image()
                height = round(image.height * width / image.width)
                tile = Image.new("RGB", (width, height + 24), "white")
                tile.paste(image.resize((width, height), Image.LANCZOS), (0, 0))
                ImageDraw.Draw(tile).text((6, height + 4), target[1], fill=(20, 20, 20), font=font)
                tiles.append(tile)
                target = next(wanted, None)
            if target is None:
                break
    if not tiles:
        raise TavidError("could not read frames from the video", where=video)
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * width + (columns - 1) * 4, rows * tiles[0].height + (rows - 1) * 4), "white")
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * (width + 4), (i // columns) * (tile.height + 4)))
    return save_sheet(sheet, output)

