"""Layouts of the two faces, who holds the floor, and the speaker mask: on small synthetic frames with
known pixel values, then through the whole pipeline for each layout."""
import numpy as np
import pytest

from tavid_core.errors import TavidError
from tavid_core.media.compose import LAYOUTS, canvas_size, compose, floor_holder, speaker_mask

FPS = 25.0
S = 64          # pixels per face
A, B = 40, 200  # the two people's frames are flat grey at these values


def frames(value, count=10, size=S, dtype=np.uint8):
    return np.full((count, size, size, 3), value, dtype)


def activity(seconds, *spans):
    """[frames] 0/1 activity at FPS, 1 inside the (start_s, end_s) spans."""
    out = np.zeros(round(seconds * FPS), np.float32)
    for start, end in spans:
        out[round(start * FPS):round(end * FPS)] = 1.0
    return out


def first_cut(holder):
    changes = np.flatnonzero(np.diff(holder)) + 1
    return changes[0] if len(changes) else None


@pytest.mark.parametrize("layout, size", [("side_by_side", (2 * S, S)), ("stacked", (S, 2 * S)),
                                          ("speaker_follow", (S, S)), ("picture_in_picture", (S, S))])
def test_canvas_size_of_each_layout_matches_the_composed_frames(layout, size):
    assert layout in LAYOUTS
    assert canvas_size(layout, S) == size and size[0] % 2 == 0 and size[1] % 2 == 0
    out = compose(layout, frames(A), frames(B), holder=np.zeros(10, np.int8))
    assert out.shape == (10, size[1], size[0], 3) and out.dtype == np.uint8
    assert canvas_size(layout, 512) == tuple(v * 8 for v in size)


def test_side_by_side_and_stacked_put_a_first():
    side = compose("side_by_side", frames(A), frames(B))
    assert (side[:, :, :S] == A).all() and (side[:, :, S:] == B).all()
    stacked = compose("stacked", frames(A), frames(B))
    assert (stacked[:, :S] == A).all() and (stacked[:, S:] == B).all()


def test_floor_passes_to_the_other_after_they_speak_for_0_3_s():
    holder = floor_holder(activity(4, (0, 2)), activity(4, (2, 4)), FPS)
    assert holder.dtype == np.int8 and holder.shape == (100,)
    cut = first_cut(holder)
    # B starts at frame 50; on frame 57 B has spoken for 8 frames = 0.32 s, the first frame past 0.3 s
    assert cut == 57 and (holder[:57] == 0).all() and (holder[57:] == 1).all()


def test_a_short_interjection_does_not_cut():
    # B says 0.2 s while A pauses mid-turn, then A goes on: the shot stays on A throughout
    holder = floor_holder(activity(5, (0, 2), (2.5, 5)), activity(5, (2.1, 2.3)), FPS)
    assert (holder == 0).all()
    # nor when the interjection overlaps A's speech for longer
    holder = floor_holder(activity(5, (0, 5)), activity(5, (2.0, 3.0)), FPS)
    assert (holder == 0).all()


def test_no_cut_before_the_shot_has_lasted_1_5_s():
    # A speaks 0.5 s, B answers from 0.6 s: B has spoken 0.3 s at 0.9 s, but the shot may only cut at 1.52 s
    holder = floor_holder(activity(3, (0, 0.5)), activity(3, (0.6, 3)), FPS)
    assert first_cut(holder) == 38 and (holder[38:] == 1).all()
    # if B stops before the shot is long enough, there is no cut at all
    holder = floor_holder(activity(3, (0, 0.5)), activity(3, (0.6, 1.2)), FPS)
    assert (holder == 0).all()


def test_the_shot_starts_on_the_first_speaker_and_stays_through_silence():
    holder = floor_holder(activity(6, (2, 3)), activity(6, (1, 2)), FPS)
    assert holder[0] == 1                   # B speaks first, so the clip opens on B
    assert (holder[:57] == 1).all() and (holder[57:] == 0).all()
    holder = floor_holder(activity(6, (0, 2)), activity(6), FPS)
    assert (holder == 0).all()              # silence after A: the shot stays on A
    assert (floor_holder(activity(2), activity(2), FPS) == 0).all()


def test_speaker_follow_shows_whoever_holds_the_floor():
    holder = floor_holder(activity(4, (0, 2)), activity(4, (2, 4)), FPS)
    out = compose("speaker_follow", frames(A, 100), frames(B, 100), holder=holder)
    assert out.shape == (100, S, S, 3)
    assert (out[:57] == A).all() and (out[57:] == B).all()


@pytest.mark.parametrize("dtype, light", [(np.uint8, 235), (np.float32, 235 / 255)])
def test_picture_in_picture_insets_the_other_person_bottom_right(dtype, light):
    scale = 1 if dtype == np.uint8 else 1 / 255
    fa, fb = frames(A * scale, 2, dtype=dtype), frames(B * scale, 2, dtype=dtype)
    out = compose("picture_in_picture", fa, fb, holder=np.array([0, 1]))
    assert out.shape == (2, S, S, 3) and out.dtype == dtype
    # at 64 px: a 20 px inset (64 / 3.2) inside a 1 px border, 2 px (64 / 32) from the bottom-right corner
    inset = out[:, 41:61, 41:61]
    assert np.allclose(inset[0], B * scale) and np.allclose(inset[1], A * scale)
    assert np.allclose(out[:, [40, 61], 40:62], light) and np.allclose(out[:, 40:62, [40, 61]], light)
    assert np.allclose(out[0, :40], A * scale) and np.allclose(out[0, 62:], A * scale)
    assert np.allclose(out[1, :40], B * scale) and np.allclose(out[1, :, 62:], B * scale)


def test_picture_in_picture_inset_is_an_area_average_of_the_face():
    gradient = np.repeat(np.linspace(0, 255, 512, dtype=np.float32)[None, :], 512, 0)
    face = np.repeat(np.stack([gradient, gradient.T, 255 - gradient], -1)[None], 2, 0).astype(np.uint8)
    out = compose("picture_in_picture", frames(0, 2, 512), face, holder=np.array([0, 0]))
    inner = out[0, 512 - 16 - 2 - 160:512 - 16 - 2, 512 - 16 - 2 - 160:512 - 16 - 2].astype(np.float32)
    assert inner.shape == (160, 160, 3)        # 512 / 3.2 with a 2 px border, 16 px from the corner
    expected = np.linspace(0, 255, 160)       # a gradient stays a gradient, end to end
    assert np.abs(inner[80, :, 0] - expected).max() < 3 and np.abs(inner[:, 80, 1] - expected).max() < 3
    assert (out[0, 512 - 16 - 1, 332:496] == 235).all() and (out[0, 331, 332:496] == 0).all()  # bottom border edge


def test_masks_carry_each_visible_persons_activity():
    act_a, act_b = np.array([0.7, 0.0, 1.0], np.float32), np.array([0.2, 0.9, 0.0], np.float32)
    holder = np.array([0, 1, 1])
    mask = speaker_mask("side_by_side", S, act_a, act_b)
    assert mask.shape == (3, S, 2 * S) and mask.dtype == np.float32
    assert np.allclose(mask[:, :, :S], act_a[:, None, None]) and np.allclose(mask[:, :, S:], act_b[:, None, None])
    mask = speaker_mask("stacked", S, act_a, act_b)
    assert mask.shape == (3, 2 * S, S)
    assert np.allclose(mask[:, :S], act_a[:, None, None]) and np.allclose(mask[:, S:], act_b[:, None, None])
    mask = speaker_mask("speaker_follow", S, act_a, act_b, holder)
    assert mask.shape == (3, S, S) and np.allclose(mask, np.array([0.7, 0.9, 0.0])[:, None, None])
    mask = speaker_mask("picture_in_picture", S, act_a, act_b, holder)
    on_screen, inset = np.array([0.7, 0.9, 0.0]), np.array([0.2, 0.0, 1.0])
    assert np.allclose(mask[:, :40], on_screen[:, None, None]) and np.allclose(mask[:, :, :40], on_screen[:, None, None])
    assert np.allclose(mask[:, 40:62, 40:62], inset[:, None, None])
    assert np.allclose(mask[:, 62:], on_screen[:, None, None])


@pytest.mark.parametrize("layout", ["speaker_follow", "picture_in_picture"])
def test_following_layouts_need_the_holder(layout):
    with pytest.raises(TavidError) as err:
        compose(layout, frames(A), frames(B))
    assert err.value.where == "holder" and "needs holder" in str(err.value) and "floor_holder" in str(err.value)
    with pytest.raises(TavidError, match=r"holder: holder must be \[T=10\]"):
        compose(layout, frames(A), frames(B), holder=np.zeros(9))
    with pytest.raises(TavidError, match="^holder:"):
        speaker_mask(layout, S, np.zeros(3), np.zeros(3))
    with pytest.raises(TavidError, match="^layout: unknown layout 'grid'"):
        compose("grid", frames(A), frames(B))


def test_every_layout_through_the_pipeline(engines, runtime, faces, short_dialogue, tmp_path):
    from PIL import Image

    from tavid_core.media.strip import frame_strip
    from tavid_core.media.video import read_video
    from tavid_core.pipeline import GenerateSettings, TavidPipeline

    pipeline = TavidPipeline(engines, runtime)
    size = 64
    videos = {}
    for layout in LAYOUTS:
        result = pipeline.generate(short_dialogue, faces["grace_hopper"], faces["astronaut"],
                                   str(tmp_path / f"{layout}.mp4"), settings=GenerateSettings(size=size, layout=layout))
        video, fps, _, _ = read_video(result.video_path)
        width, height = canvas_size(layout, size)
        assert video.shape == (result.frames, height, width, 3) and fps == 25.0
        videos[layout] = video
    # the followed shot is A's panel while A opens, and B's panel in the middle of B's answer
    follow, side = videos["speaker_follow"].astype(np.float32), videos["side_by_side"].astype(np.float32)
    answer = result.speech.timeline[1]
    assert answer.speaker == 1
    early, middle = 5, int((answer.start_s + answer.end_s) / 2 * 25)
    for t, panel in ((early, slice(0, size)), (middle, slice(size, 2 * size))):
        assert np.abs(follow[t] - side[t, :, panel]).mean() < 4
    # a frame strip of a tall video keeps its aspect
    strip = frame_strip(str(tmp_path / "stacked.mp4"), str(tmp_path / "stacked.png"), count=2, columns=2, width=100)
    assert Image.open(strip).size == (2 * 100 + 4, 200 + 24)
