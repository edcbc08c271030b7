"""Reliability table: reference face images. Each picture, fed as a file (or an array) to the built-in face
model, through the CLI's --face-a and through the Face Sampler node, ends in a portrait with the face in it
or in a TavidError that names the input and says what to do (see reliability.py)."""
import asyncio
import io
import logging
import os
import resource
import struct
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from helpers.paths import ROOT
from helpers.reliability import Row, check_row, clear_error, rows_as_params
from tavid_core.analysis.faces import face_analyzer
from tavid_core.errors import TavidError
from tavid_core.media.images import NEUTRAL_GREY, load_image
from tavid_core.types import EXPR_CHANNELS, POSE_CHANNELS, Motion

SIZE = 256
STRIP = 120                     # transparent columns at the left of the RGBA photo
MAX_SECONDS, MAX_GROWTH_MIB = 20, 1024  # per picture, the 8000x6000 one included (2 cores)


@dataclass(frozen=True)
class Picture:
    """A row's reference face: `make(faces)` gives bytes or a PIL image to save as `file`, or, when `file` is
    None, an array to pass as it is. `check(face, pixels, faces)` tells a correct result beyond a portrait
    with a face in it; `warns` is what the log must say after the input's name (nothing, when None)."""

    make: Callable
    file: str | None = None
    check: Callable | None = None
    warns: str | None = None


def grey(faces) -> Image.Image:
    return Image.fromarray(faces["grace_hopper"]).convert("L")


def two_people(faces) -> Image.Image:
    """The astronaut small on the left, Grace Hopper full size on the right: the larger face is not the first."""
    picture = np.full((600, 812, 3), NEUTRAL_GREY, np.uint8)
    picture[150:450, :300] = cv2.resize(faces["astronaut"], (300, 300), interpolation=cv2.INTER_AREA)
    picture[:, 300:] = faces["grace_hopper"]
    return Image.fromarray(picture)


def transparent_left(faces) -> Image.Image:
    rgba = np.dstack([faces["grace_hopper"], np.full((600, 512), 255, np.uint8)])
    rgba[:, :STRIP] = 0  # invisible black: what many editors leave under a removed background
    return Image.fromarray(rgba, "RGBA")


def huge(faces) -> Image.Image:
    picture = np.full((6000, 8000, 3), NEUTRAL_GREY, np.uint8)
    picture[:, 1440:6560] = cv2.resize(faces["grace_hopper"], (5120, 6000), interpolation=cv2.INTER_LINEAR)
    return Image.fromarray(picture)


def encoded(picture: Image.Image, kind: str) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, kind)
    return buffer.getvalue()


def cut_short(kind: str) -> Callable:
    """The portrait saved as `kind` with the second half of the file lost, as by an interrupted download."""
    def make(faces):
        whole = encoded(Image.fromarray(faces["grace_hopper"]), kind)
        return whole[:len(whole) // 2]
    return make


def grey16(faces) -> Image.Image:
    return Image.fromarray(np.asarray(grey(faces)).astype(np.uint16) * 257)  # mode I;16, saved as a 16-bit PNG


def rgb16(faces) -> bytes:
    """A 16-bit RGB PNG, which PIL cannot write (OpenCV writes BGR)."""
    return cv2.imencode(".png", faces["grace_hopper"][..., ::-1].astype(np.uint16) * 257)[1].tobytes()


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG that claims to be huge: what a decompression bomb looks like before it is decoded."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def left_cut(part: float) -> Callable:
    """Grace Hopper with `part` of her face's width cut off at the photo's left edge."""
    def make(faces):
        jaw = face_analyzer().analyze(faces["grace_hopper"]).landmarks[[0, 16], 0]
        return Image.fromarray(faces["grace_hopper"][:, int(jaw[0] + part * (jaw[1] - jaw[0])):])
    return make


# ------------------------------------------------------------------------ what a correct result is
def picks_the_larger(face, pixels, faces):
    x0, _, side = face.crop_box
    assert x0 + side / 2 > 300, "the portrait is not around the larger face on the right"


def is_grey(face, pixels, faces):
    assert face.colour < 0.05


def on_neutral_grey(face, pixels, faces):
    assert (pixels[:, :STRIP] == NEUTRAL_GREY).all()
    assert np.array_equal(pixels[:, STRIP:], faces["grace_hopper"][:, STRIP:])


def same_as(reference: Callable) -> Callable:
    def check(face, pixels, faces):
        assert np.array_equal(pixels, np.asarray(reference(faces).convert("RGB")))
    return check


def kept_inside(face, pixels, faces):
    assert face.crop_box[0] == 0, "the portrait should end at the photo's left edge, not be padded"


FACE_HELP = ("no face found", "front view, not a profile", "whole face inside the picture")
UNREADABLE = ("cannot read the image", "damaged or cut short", "download the file again")
ROWS = [
    Row("no face: a cat", Picture(lambda faces: Image.fromarray(data.chelsea()), "cat.png"), FACE_HELP, "cat.png"),
    Row("two faces", Picture(two_people, "two.png", picks_the_larger,
                             warns="2 faces found; using the largest, 186 pixels wide around x=562, y=232. "
                                   "Crop the photo to one person to choose another.")),
    Row("grey array", Picture(lambda faces: np.asarray(grey(faces)), check=is_grey)),
    Row("grey L png", Picture(grey, "grey.png", is_grey)),
    Row("RGBA, transparent background", Picture(transparent_left, "rgba.png", on_neutral_grey)),
    Row("16-bit grey png", Picture(grey16, "grey16.png", same_as(grey))),
    Row("16-bit RGB png", Picture(rgb16, "rgb16.png", same_as(lambda faces: Image.fromarray(faces["grace_hopper"])))),
    Row("32x32", Picture(lambda faces: Image.fromarray(faces["grace_hopper"]).resize((32, 32)), "tiny.png"),
        ("32x32 image is too small to hold a face", "at least 40 pixels wide"), "tiny.png"),
    Row("8000x6000", Picture(huge, "huge.jpg")),
    Row("truncated jpeg", Picture(cut_short("JPEG"), "cut.jpg"), UNREADABLE, "cut.jpg"),
    Row("truncated png", Picture(cut_short("PNG"), "cut.png"), UNREADABLE, "cut.png"),
    Row("text named .png", Picture(lambda faces: b"Grace Hopper, 1906-1992\n", "notes.png"),
        ("cannot read the image", "not a picture", "jpeg, png or webp"), "notes.png"),
    Row("decompression bomb", Picture(lambda faces: png_header(20000, 20000), "bomb.png"),
        ("more than 89 megapixels", "scale it down"), "bomb.png"),
    Row("face a quarter off the left edge", Picture(left_cut(0.25), "quarter.png", kept_inside)),
    Row("face half off the left edge", Picture(left_cut(0.5), "half.png"), FACE_HELP, "half.png"),
    Row("profile", Picture(lambda faces: Image.fromarray(data.camera()), "profile.png"), FACE_HELP, "profile.png"),
]
BY_NAME = {row.name: row for row in ROWS}


def reference(row: Row, folder, faces):
    """The row's picture as the user gives it: a path (written into `folder`) or an array."""
    picture = row.value
    made = picture.make(faces)
    if picture.file is None:
        return made
    path = folder / picture.file
    if isinstance(made, bytes):
        path.write_bytes(made)
    else:
        made.save(path)
    return str(path)


def loaded(source) -> np.ndarray:
    return load_image(source) if isinstance(source, str) else source


def correct(row: Row, face, pixels, faces):
    assert face.pixels.shape == (SIZE, SIZE, 3)
    face_analyzer().analyze(face.pixels)  # the portrait still shows a face
    if row.value.check:
        row.value.check(face, pixels, faces)


def logged_as_expected(row: Row, caplog, where: str):
    logged = [r.getMessage() for r in caplog.records if r.name == "tavid"]
    assert logged == ([f"{where}: {row.value.warns}"] if row.value.warns else [])


@pytest.mark.parametrize("row", rows_as_params(ROWS))
def test_reference_face_file(row, tmp_path, faces, engines, runtime, caplog):
    source = reference(row, tmp_path, faces)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()

    def prepare():
        pixels = loaded(source)
        return pixels, engines.face_model.prepare(pixels, size=SIZE, runtime=runtime,
                                                  where=source if isinstance(source, str) else "array")

    with caplog.at_level(logging.WARNING, logger="tavid"):
        result = check_row(row, prepare)
    seconds = time.perf_counter() - start
    growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024
    assert seconds < MAX_SECONDS and growth < MAX_GROWTH_MIB, f"{seconds:.1f} s, {growth:.0f} MiB more at peak"
    if row.expect is None:
        correct(row, result[1], result[0], faces)
        logged_as_expected(row, caplog, source if isinstance(source, str) else "array")
    else:
        assert str(source) in str(result)


# ------------------------------------------------------------------------------------ the CLI's --face-a
CLI_ROWS = [BY_NAME[name] for name in ("16-bit RGB png", "RGBA, transparent background", "truncated jpeg",
                                      "text named .png", "decompression bomb")]


@pytest.mark.parametrize("row", rows_as_params(CLI_ROWS))
def test_cli_face_flag(row, tmp_path, faces, engines, runtime):
    from tavid_core.cli.generate import _face
    path = reference(row, tmp_path, faces)
    if row.expect is not None:
        error = clear_error(lambda: _face(path, "grace_hopper", "a"), row.expect, "--face-a")
        assert error.where == f"--face-a / {path}"
        return
    pixels, source = _face(path, "grace_hopper", "a")
    correct(row, engines.face_model.prepare(pixels, size=SIZE, runtime=runtime, where=source), pixels, faces)


def test_cli_says_which_of_two_faces_it_animates(tmp_path, faces):
    for name in ("two faces", "no face: a cat"):
        reference(BY_NAME[name], tmp_path, faces)
    result = subprocess.run([sys.executable, "-m", "tavid_core.cli", "generate", "--face-a", "two.png", "--face-b",
                             "cat.png", "-o", "out.mp4", "-q"], capture_output=True, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "tavid: face A: 2 faces found; using the largest, 186 pixels wide around x=562, y=232. Crop the photo to one "
        "person to choose another.",
        "tavid: error: face B: no face found in the 451x300 image. Use a photo with one person facing the camera (a "
        "front view, not a profile), the whole face inside the picture, uncovered and at least 40 pixels wide."]
    assert not (tmp_path / "out.mp4").exists()


# ------------------------------------------------------------------------------ the Face Sampler node
NODE_ROWS = [BY_NAME[name] for name in ("no face: a cat", "two faces", "16-bit grey png", "32x32", "profile")]


@pytest.fixture(scope="module")
def face_sampler(pack):
    """The node and the face model of the Built-in Engines node, both from the pack as ComfyUI loads it."""
    extension = asyncio.run(pack.comfy_entrypoint())
    nodes = {cls.define_schema().node_id: cls for cls in asyncio.run(extension.get_node_list())}
    return nodes["TAVIDFaceSampler"], nodes["TAVIDBuiltinEngines"].execute().args[4]


@pytest.mark.parametrize("row", rows_as_params(NODE_ROWS))
def test_face_sampler_node(row, tmp_path, faces, face_sampler, caplog):
    from comfyui_tavid.tavid_core.errors import TavidError as PackError
    node, face_model = face_sampler
    pixels = loaded(reference(row, tmp_path, faces))
    still = Motion(fps=25.0, pose=np.zeros((2, len(POSE_CHANNELS))), expr=np.zeros((2, len(EXPR_CHANNELS))),
                   speaking=np.zeros(2))

    def render():
        try:
            return node.execute(face_model=face_model, image=torch.from_numpy(pixels / 255.0).float()[None],
                                motion=still, size=SIZE)[0]
        except PackError as e:
            raise TavidError(e.message, where=e.where, fix=e.fix) from None

    if row.expect is not None:
        error = clear_error(render, row.expect)
        assert error.where == "TAVID Face Sampler / image"
        return
    with caplog.at_level(logging.WARNING, logger="tavid"):
        frames = render()
    assert frames.shape == (2, SIZE, SIZE, 3)
    face_analyzer().analyze((frames[0].numpy() * 255).round().astype(np.uint8))
    logged_as_expected(row, caplog, "image")
