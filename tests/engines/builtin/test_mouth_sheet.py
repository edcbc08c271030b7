"""`tavid mouths`' close-ups: the built-in renderer's mouth, opened step by step on the sample portraits."""
import numpy as np
import pytest

from tavid_core.engines.builtin.mouth_sheet import OPENINGS, mouth_frames, mouth_sheet


def _darkened(crops):
    """Per close-up: the share of its pixels that went much darker than the closed mouth's (the opening, not
    the teeth), and how tall that is in the middle fifth of the columns, in crop widths."""
    luma = [c.astype(float) @ [0.299, 0.587, 0.114] for c in crops]
    darker = [(luma[0] - lum) > 60 for lum in luma]
    width = crops[0].shape[1]
    middle = slice(2 * width // 5, 3 * width // 5)
    return (np.array([d.mean() for d in darker]), np.array([d[:, middle].sum(axis=0).mean() / width for d in darker]))


@pytest.mark.parametrize("name", ["grace_hopper", "astronaut"])
def test_the_mouth_opens_step_by_step_and_never_into_a_yawn(faces, name):
    crops = mouth_frames(faces[name], size=256)
    assert len(crops) == len(OPENINGS) and len({c.shape for c in crops}) == 1
    share, height = _darkened(crops)
    assert share[0] == 0 and (np.diff(share) > 0.005).all(), share
    assert (np.diff(height) > 0).all(), height
    # fully open, the opening is under a fifth of the crop's width (1.6 eye-corner distances) tall: measured
    # 0.20 (Grace Hopper) and 0.15 (astronaut), 0.22-0.23 before the jaw's top was eased
    assert 0.1 < height[-1] < 0.215, height


def test_a_sheet_has_a_row_per_face(faces, tmp_path):
    from PIL import Image
    path = mouth_sheet([("one", faces["astronaut"]), ("two", faces["grace_hopper"])], str(tmp_path / "m.png"),
                       width=120)
    sheet = np.asarray(Image.open(path))
    assert sheet.shape[1] == 6 * 120 and sheet.shape[0] > 2 * (120 * 0.7)
    assert sheet[30:90, :120].std() > 15   # a picture under the label, not an empty tile
