"""A Motion moves LivePortrait's keypoints the way it says, checked on the keypoints themselves, with the seeded
random weights of the equivalence tests at full size (the photo's keypoints come from its motion extractor):
yaw right moves the face's front to the right, jaw_open parts the lip keypoints, a blink brings each eye's lid
keypoints together, a listener's closed mouth stays closed, zero Motion gives the photo's own keypoints.

Directions are checked before stitching: the stitching network is a learned correction, random here."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.motions import neutral_motion
from tavid_core.engines.neural.face.liveportrait.driving import driving_keypoints
from tavid_core.engines.neural.face.liveportrait.engine import LivePortraitFaceModel
from tavid_core.engines.neural.face.liveportrait.expressions import LIP_LOWER, LIP_UPPER, eye_pairs
from tavid_core.engines.neural.face.liveportrait.keypoints import retarget_lip

pytestmark = pytest.mark.usefixtures("one_torch_thread")
X, Y, Z = 0, 1, 2


@pytest.fixture(scope="module")
def model(liveportrait_networks):
    return LivePortraitFaceModel(liveportrait_networks)


@pytest.fixture(scope="module")
def grace(model, runtime, faces):
    return model.prepare(faces["grace_hopper"], size=256, runtime=runtime)


def driven(face, **channels) -> torch.Tensor:
    m = neutral_motion(**channels)
    with torch.inference_mode():
        return driving_keypoints(face.source, m.pose, m.expr, m.expr_names)[0]


def test_zero_motion_gives_the_photos_own_keypoints(model, grace):
    with torch.inference_mode():
        keypoints = model.keypoints(grace, neutral_motion(3))
    assert torch.equal(grace.source.rest, torch.zeros_like(grace.source.rest))   # closed mouth, open eyes
    assert torch.allclose(keypoints, grace.source.x_s.expand(3, -1, -1), atol=1e-6)
    assert torch.allclose(driven(grace), grace.source.x_s[0], atol=1e-6)


def posed(face) -> torch.Tensor:
    """(21, 3) the photo's keypoints as its head pose places them about the rotation centre, in the camera frame
    (LivePortrait adds the expression after the rotation, so it does not turn with the head); z < 0 is in front,
    towards the camera."""
    src = face.source
    return (src.kp @ src.rotation)[0] * src.scale[0, 0]


def test_yaw_to_the_right_moves_the_front_of_the_face_right(grace):
    p, rest = posed(grace), grace.source.x_s[0]
    z = p[:, Z]
    moved = driven(grace, yaw=0.05) - rest
    clear = z.abs() > 0.05   # (cos - 1) x is below 0.0013: only points near the axis are dominated by it
    assert clear.sum() >= 10
    assert torch.all(moved[clear & (z < 0), X] > 0) and torch.all(moved[clear & (z > 0), X] < 0)
    assert torch.allclose(moved[:, X], -z * np.sin(0.05) + (np.cos(0.05) - 1) * p[:, X], atol=1e-6)
    assert moved[:, Y].abs().max() < 1e-6   # a turn about the vertical axis


def test_pitch_tilts_the_chin_down_and_roll_turns_clockwise(grace):
    p, rest = posed(grace), grace.source.x_s[0]
    down = driven(grace, pitch=0.05) - rest
    assert torch.all(down[(p[:, Z] < -0.05), Y] > 0) and down[:, X].abs().max() < 1e-6
    turned = p[:, :2] + driven(grace, roll=0.05)[:, :2] - rest[:, :2]
    before = p[:, :2]
    angle = torch.atan2(turned[:, 1], turned[:, 0]) - torch.atan2(before[:, 1], before[:, 0])
    assert torch.allclose(torch.remainder(angle + np.pi, 2 * np.pi) - np.pi, torch.full((21,), 0.05), atol=1e-4)


def test_shift_and_scale_follow_the_face_size(grace):
    rest, face = grace.source.x_s[0], grace.source.face
    assert 0.4 < face < 1.2   # two eye spans in keypoint units: the crop is 2 units wide
    shifted = driven(grace, tx=0.1, ty=-0.2) - rest
    assert torch.allclose(shifted, torch.tensor([0.1 * face, -0.2 * face, 0.0]).expand(21, 3), atol=1e-6)
    centre = grace.source.t[0]
    assert torch.allclose(driven(grace, scale=1.1)[:, :2] - centre[:2], 1.1 * (rest[:, :2] - centre[:2]), atol=1e-6)


def lip_gap(keypoints: torch.Tensor) -> float:
    return float(keypoints[LIP_LOWER, Y] - keypoints[LIP_UPPER, Y])


def test_jaw_open_parts_the_lip_keypoints(grace):
    scale = float(grace.source.scale)
    rest = lip_gap(grace.source.x_s[0])
    for jaw in (0.3, 1.0):
        opened = driven(grace, jaw_open=jaw)
        assert lip_gap(opened) - rest == pytest.approx(0.11 * jaw * scale, abs=1e-6)   # lower lip down, upper up
        assert opened[LIP_LOWER, Y] > grace.source.x_s[0, LIP_LOWER, Y]


def test_a_listeners_closed_mouth_stays_closed(grace):
    rest = lip_gap(grace.source.x_s[0])
    for channels in ({"smile": 1.0}, {"mouth_wide": 1.0}, {"mouth_wide": -1.0}, {"mouth_round": 1.0},
                     {"smile": 1.0, "brow_raise": 1.0, "blink_left": 1.0, "blink_right": 1.0, "gaze_x": -1.0,
                      "gaze_y": 1.0}, {"brow_raise": -1.0, "gaze_x": 1.0, "gaze_y": -1.0}):
        assert lip_gap(driven(grace, **channels)) <= rest + 1e-7, channels


def test_a_blink_brings_the_lid_keypoints_of_that_eye_together(grace):
    rest, scale = grace.source.x_s[0], float(grace.source.scale)
    eyes = eye_pairs(grace.source.x_s)
    assert eyes["blink_right"] != eyes["blink_left"]
    assert rest[list(eyes["blink_right"]), X].mean() < rest[list(eyes["blink_left"]), X].mean()  # image left
    for channel, other in (("blink_left", "blink_right"), ("blink_right", "blink_left")):
        closed = driven(grace, **{channel: 1.0})
        (upper, lower), still = eyes[channel], list(eyes[other])
        assert closed[upper, Y] - rest[upper, Y] == pytest.approx(0.02 * scale, abs=1e-6)   # upper lid down
        assert closed[lower, Y] - rest[lower, Y] == pytest.approx(-0.006 * scale, abs=1e-6)  # lower lid up
        assert torch.equal(closed[still], rest[still])


def test_gaze_moves_the_eye_keypoints_the_way_the_person_looks(grace):
    rest = grace.source.x_s[0]
    eyes = [11, 15]
    assert torch.all(driven(grace, gaze_x=1.0)[eyes, X] > rest[eyes, X])
    assert torch.all(driven(grace, gaze_x=-1.0)[eyes, X] < rest[eyes, X])
    assert torch.all(driven(grace, gaze_y=1.0)[eyes, Y] > rest[eyes, Y])   # gaze_y > 0 looks down


def test_a_photo_with_parted_lips_is_closed_by_the_lip_network(model, runtime, faces):
    astronaut = model.prepare(faces["astronaut"], size=256, runtime=runtime)
    assert astronaut.landmarks.lip_open > 0.1   # she smiles with her teeth showing
    with torch.inference_mode():
        closing = retarget_lip(model.networks.lip, astronaut.source.x_s,
                               torch.tensor([[astronaut.landmarks.lip_open, 0.0]]))
        still = model.keypoints(astronaut, neutral_motion())
    assert torch.equal(astronaut.source.rest, closing)
    assert torch.allclose(still, astronaut.source.x_s + closing, atol=1e-6)
