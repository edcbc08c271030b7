"""The LivePortrait face engine around its networks, on the tiny configuration (the same code at 64 px in, 128
px out) with seeded weights: frames of any Motion pasted into the portrait with its background kept, the same
frames however they are streamed or batched, every frame from the same features, a window that runs out of
memory rendered again in halves; and, without networks, that LivePortrait's crop goes back where it came from."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.liveportrait import write_tiny_weights
from helpers.motions import neutral_motion
from tavid_core.bench.face import nod
from tavid_core.engines.neural.face.liveportrait import crop as C
from tavid_core.engines.neural.face.liveportrait.config import tiny_config
from tavid_core.engines.neural.face.liveportrait.engine import LivePortraitFace, LivePortraitFaceModel
from tavid_core.engines.neural.face.liveportrait.landmarks import face_landmarks
from tavid_core.engines.neural.face.liveportrait.loader import load_liveportrait
from tavid_core.engines.shared.portrait import square_portrait
from tavid_core.errors import TavidError

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SIZE = 96


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = write_tiny_weights(tmp_path_factory.mktemp("liveportrait_tiny"))
    return LivePortraitFaceModel(load_liveportrait(folder, config=tiny_config()), tiny_config())


@pytest.fixture(scope="module")
def prepared(tiny, runtime, faces):
    return tiny.prepare(faces["astronaut"], size=SIZE, runtime=runtime)


def test_frames_are_the_portrait_with_the_face_pasted_in(tiny, prepared, runtime):
    frames = tiny.render(prepared, nod(5), runtime=runtime)
    assert frames.shape == (5, SIZE, SIZE, 3) and frames.dtype == np.uint8
    portrait = np.round(prepared.portrait.permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    outside = prepared.mask.numpy() == 0
    assert 0.1 < outside.mean() < 0.5   # the crop covers the head, the portrait's lower corners stay the photo's
    assert np.array_equal(frames[:, outside], np.broadcast_to(portrait[outside], frames[:, outside].shape))
    inside = prepared.mask.numpy() == 1
    assert np.abs(frames[:, inside].astype(int) - portrait[inside]).mean() > 20   # random weights: not the photo
    assert len({f.tobytes() for f in frames}) == 5   # the nod moves every frame


def test_streaming_and_batching_do_not_change_frames(tiny, prepared, runtime):
    whole = tiny.render(prepared, nod(7), runtime=runtime)
    chunks = list(tiny.render_chunks(prepared, nod(7), runtime=runtime, chunk=3))
    assert [len(c) for c in chunks] == [3, 3, 1]
    # frames are batched in other groups then: a convolution over 1 or 2 frames may round a level differently
    assert np.abs(np.concatenate(chunks).astype(int) - whole).max() <= 1
    one_by_one = LivePortraitFaceModel(tiny.networks, tiny.config, batch=1).render(prepared, nod(7), runtime=runtime)
    assert np.abs(one_by_one.astype(int) - whole).max() <= 1
    assert np.array_equal(tiny.render(prepared, nod(7), runtime=runtime), whole)


def test_every_frame_comes_from_the_same_features(tiny, prepared, runtime, faces):
    frames = tiny.render(prepared, neutral_motion(4), runtime=runtime).astype(int)
    assert all(np.abs(f - frames[0]).max() <= 1 for f in frames[1:])   # a level of rounding inside a batch
    again = tiny.prepare(faces["astronaut"], size=SIZE, runtime=runtime)
    assert torch.equal(again.feature, prepared.feature)
    assert np.abs(tiny.render(again, neutral_motion(1), runtime=runtime)[0] - frames[0]).max() <= 1


def test_out_of_memory_renders_the_window_again_in_halves(tiny, prepared, runtime, monkeypatch):
    expected = tiny.render(prepared, nod(4), runtime=runtime)
    model = LivePortraitFaceModel(tiny.networks, tiny.config, batch=4)
    forward = type(tiny.networks.warping).forward

    def small_batches_only(self, feature, kp_driving, kp_source):
        if kp_driving.shape[0] > 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 6.00 GiB")
        return forward(self, feature, kp_driving, kp_source)

    monkeypatch.setattr(type(tiny.networks.warping), "forward", small_batches_only)
    frames = np.concatenate(list(model.render_chunks(prepared, nod(4), runtime=runtime, chunk=4)))
    assert np.abs(frames.astype(int) - expected).max() <= 1
    with pytest.raises(TavidError, match="out of memory on cpu rendering one frame") as caught:
        monkeypatch.setattr(type(tiny.networks.warping), "forward",
                            lambda *a: (_ for _ in ()).throw(torch.OutOfMemoryError("out of memory")))
        list(model.render_chunks(prepared, nod(2), runtime=runtime))
    assert caught.value.where == "size"


def test_a_face_prepared_by_another_engine_is_refused(tiny, engines, runtime, faces):
    other = engines.face_model.prepare(faces["astronaut"], size=64, runtime=runtime)
    with pytest.raises(TavidError, match="prepared by another face model"):
        tiny.render(other, neutral_motion(1), runtime=runtime)
    assert not isinstance(other, LivePortraitFace)


@pytest.mark.parametrize("sample", ["grace_hopper", "astronaut"])
def test_the_crop_goes_back_where_it_came_from(faces, sample):
    """The photo's own crop pasted back lands on the portrait's pixels: the least difference at no shift, a
    resampling difference of a few levels (the portrait is resized with Lanczos, the crop warped bilinearly)."""
    photo = faces[sample]
    landmarks = face_landmarks(photo)
    portrait, _, box = square_portrait(photo, landmarks.points, 512)
    to_crop = C.crop_transform(landmarks, 512)
    crop = torch.from_numpy(C.crop_image(photo, to_crop, 512)).permute(2, 0, 1)[None].float() / 255
    grid = C.paste_grid(C.portrait_to_crop(to_crop, box, 512), 512, 512)
    mask = torch.nn.functional.grid_sample(torch.from_numpy(C.feather_mask(512))[None, None], grid,
                                           align_corners=False)[0, 0]
    target = torch.from_numpy(portrait.copy()).permute(2, 0, 1).float() / 255
    inside = mask > 0.99

    def error(dx: float, dy: float) -> float:
        shifted = grid + torch.tensor([2 * dx / 512, 2 * dy / 512])
        return float((C.paste(crop, shifted, mask, target)[0] - target).abs()[:, inside].mean())

    at_zero = error(0, 0)
    assert at_zero < 3 / 255
    assert all(error(dx, dy) > at_zero for dx, dy in ((0.5, 0), (-0.5, 0), (0, 0.5), (0, -0.5)))


def test_the_feathered_mask():
    mask = C.feather_mask(512)
    assert mask[256, 256] == 1 and mask[0, 256] == 0 and mask[256, 511] == 0
    ramp = mask[256, :20]
    assert np.all(np.diff(ramp) >= 0) and 0.4 < ramp[8] < 0.6 and ramp[17] == 1   # 16 px linear ramp
    assert mask[3, 3] == 0 < mask[20, 20] < 1   # rounded corners
    assert np.array_equal(mask, mask[::-1]) and np.array_equal(mask, mask.T)
