"""Face-side training data: a real dyadic clip made by the built-in engines (two voices, two rendered
faces, each person's own video and track), read back through its manifest, tracked with dlib and
labelled by fitting the rig; the labels are checked against the Motion that really drove each face."""
import json
import os
import time
import wave
from dataclasses import replace

import numpy as np
import pytest

from tavid_core.analysis.audio_features import SPEECH_FEATURES
from tavid_core.analysis.faces import face_analyzer
from tavid_core.engines.shared.portrait import portrait_crop
from tavid_core.errors import TavidError
from tavid_core.media.images import resize
from tavid_core.media.video import read_video
from tavid_core.train.data.dyadic import read_dyadic_manifest
from tavid_core.train.data.face_data import cut_square, frame_times, load_motion, person_rig, prepare_clip, video_frames
from tavid_core.train.data.motion_fit import fit_motion, reprojection_error
from tavid_core.types import num_frames

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZE, SECONDS, FPS = 128, 3.0, 25.0


@pytest.fixture(scope="session")
def dyadic(tmp_path_factory):
    """The clip's folder and manifest (3 s at 128 px, about 15 s to make)."""
    from tavid_core.train.data.synth_dyadic import make_dyadic_clip
    root = tmp_path_factory.mktemp("dyadic")
    return root, make_dyadic_clip(str(root / "clip"), size=SIZE, seconds=SECONDS)


@pytest.fixture(scope="session")
def prepared(dyadic, runtime):
    """The clip prepared once into a cache (dlib on every frame), and how long that took."""
    root, manifest = dyadic
    record = read_dyadic_manifest(manifest)[0]
    started = time.perf_counter()
    clip = prepare_clip(record, size=SIZE, fps=FPS, cache_dir=str(root / "cache"), runtime=runtime)
    return clip, time.perf_counter() - started, record, str(root / "cache")


def centred(motion, channel: str) -> np.ndarray:
    return motion.channel(channel) - np.median(motion.channel(channel))


def truth(dyadic, who: str):
    return load_motion(os.path.join(os.path.dirname(dyadic[1]), f"motion_{who}.safetensors"))


# ------------------------------------------------------------------------------------------- manifest
def test_manifest_errors_name_their_line(tmp_path):
    for name in ("a.mp4", "b.mp4", "a.wav"):
        (tmp_path / name).write_bytes(b"")
    good = {"video_a": "a.mp4", "video_b": "b.mp4", "audio_a": "a.wav", "start": 1, "end": 2.5}
    bad_lines = {
        '{"video_a": "a.mp4",': "not valid JSON",
        json.dumps({"video_a": "a.mp4"}): "missing video_b",
        json.dumps({**good, "video_b": "gone.mp4"}): "the video_b file 'gone.mp4' does not exist",
        json.dumps({**good, "end": 0.5}): "'end' (0.5) must come after 'start' (1.0)",
        json.dumps({**good, "start": "soon"}): "'start' must be a number of seconds",
        json.dumps([1, 2]): "each line must be a JSON object",
    }
    for line, message in bad_lines.items():
        path = tmp_path / "dyadic.jsonl"
        path.write_text(json.dumps(good) + "\n\n" + line + "\n")  # the bad clip sits on line 3
        with pytest.raises(TavidError) as caught:
            read_dyadic_manifest(str(path))
        assert caught.value.where == "dyadic.jsonl line 3" and message in caught.value.message
    (tmp_path / "dyadic.jsonl").write_text(json.dumps(good) + "\n")
    record, = read_dyadic_manifest(str(tmp_path / "dyadic.jsonl"))
    assert record.video_a == str(tmp_path / "a.mp4") and record.audio_a == str(tmp_path / "a.wav")
    assert record.audio_b is None and (record.start, record.end, record.where) == (1.0, 2.5, "manifest line 1")


def test_a_span_beyond_the_audio_names_the_clip(dyadic, tmp_path):
    record = read_dyadic_manifest(dyadic[1])[0]
    late = replace(record, end=SECONDS + 5.0, line=4)
    with pytest.raises(TavidError, match="manifest line 4: 'end' .* lies after the end of the audio"):
        prepare_clip(late, cache_dir=str(tmp_path))
    assert not os.listdir(tmp_path)  # nothing half-made is cached


# ------------------------------------------------------------------------------------------ the clip
def test_the_made_clip_is_two_real_recordings(dyadic):
    root = os.path.dirname(dyadic[1])
    assert sorted(os.listdir(root)) == ["a.wav", "a_video.mp4", "b.wav", "b_video.mp4", "dyadic.jsonl",
                                        "motion_a.safetensors", "motion_b.safetensors"]
    for who in "ab":
        with wave.open(os.path.join(root, f"{who}.wav")) as f:
            assert (f.getframerate(), f.getsampwidth(), f.getnchannels(), f.getnframes()) == (24000, 2, 1, 72000)
        frames, fps, _, _ = read_video(os.path.join(root, f"{who}_video.mp4"))
        assert frames.shape == (75, SIZE, SIZE, 3) and fps == FPS
        assert truth(dyadic, who).num_frames == 75


def test_shapes_follow_the_audio(prepared):
    clip = prepared[0]
    frames = num_frames(clip.speech.duration_s, FPS)
    assert clip.speech.tracks.shape == (2, 72000) and clip.speech.sample_rate == 24000 and frames == 75
    for person in clip.people:
        assert person.frames.shape == (frames, SIZE, SIZE, 3) and person.frames.dtype == np.uint8
        assert person.landmarks.shape == (frames, 68, 2) and person.landmarks.dtype == np.float32
        assert person.reference.shape == (SIZE, SIZE, 3) and person.reference.dtype == np.uint8
        assert person.motion.num_frames == frames and person.motion.fps == FPS
        # the face sits inside the crop: 68 points spread over a good part of it
        assert person.landmarks.min() > 0 and person.landmarks.max() < SIZE
        assert 0.3 * SIZE < np.ptp(person.landmarks[0, :, 0]) < 0.7 * SIZE


def test_a_span_takes_the_same_frames_and_sound(prepared):
    """start/end cut video and audio alike: 1.2-2.7 s is samples 28800-64800 and frames 30-67 of the whole.
    The span's own first frame sets its crop box, so its crops are compared with the whole video's decoded
    frames cut to that box (found from frame 30 as prepare_clip finds it): the same pixels exactly, and one
    frame early or late is not. Decoding and cutting are exact, so this holds on any CPU and any OpenCV,
    dlib or numpy release (a correlation of tracked jaw curves did not: a smooth curve matches itself one
    frame later almost as well)."""
    whole, _, record, _ = prepared
    part = prepare_clip(replace(record, start=1.2, end=2.7), size=SIZE, fps=FPS)
    assert part.people[0].motion.num_frames == 38 and part.speech.num_samples == 36000
    assert np.array_equal(part.speech.tracks, whole.speech.tracks[:, 28800:64800])
    for mine, video in zip(part.people, (record.video_a, record.video_b)):
        decoded = list(video_frames(video, frame_times(0.0, whole.people[0].motion.num_frames, FPS), "whole"))
        _, x0, y0, side = portrait_crop(decoded[30], face_analyzer().analyze(decoded[30]).landmarks)
        cut = np.stack([resize(cut_square(frame, x0, y0, side), SIZE, SIZE) for frame in decoded])
        assert np.array_equal(mine.frames, cut[30:68])
        assert not np.array_equal(mine.frames, cut[29:67]) and not np.array_equal(mine.frames, cut[31:69])


# ------------------------------------------------------------------------------------------ labels
@pytest.mark.parametrize("person", [0, 1])
def test_fitted_labels_follow_the_true_motion(prepared, dyadic, person):
    """The labels fitted to dlib's points of the rendered video against the Motion that drove the face.
    Measured: jaw_open r = 0.98 (A) and 0.99 (B); yaw error 0.013 and 0.004 rad, pitch 0.021 and 0.007 rad
    (after removing each track's median: the labels are relative to the first frame's rig, not the
    portrait's); reprojection 0.34 and 0.22 px mean on the 128 px crop."""
    track = prepared[0].people[person]
    true, fit = truth(dyadic, "ab"[person]), track.motion
    assert np.corrcoef(true.channel("jaw_open"), fit.channel("jaw_open"))[0, 1] > 0.9
    for channel, limit in (("yaw", 0.03), ("pitch", 0.035), ("roll", 0.015)):
        assert np.abs(centred(fit, channel) - centred(true, channel)).mean() < limit, channel
    reprojection = reprojection_error(person_rig(track), fit, track.landmarks)
    assert reprojection.mean() < 0.6 and reprojection.max() < 2.0
    # silent frames keep the mouth shut, speaking ones open it. Measured: silent 0.001 (A) and 0.058 (B),
    # speaking 0.39 and 0.35; B's rest reads a pixel open to dlib at this size (0.041 before the mouths were
    # laid under the lips, 0.082 with MediaPipe's points), an offset of its rest, not a mouth that moves
    silent = true.channel("jaw_open") < 0.02
    shut, spoken = fit.channel("jaw_open")[silent], fit.channel("jaw_open")[~silent]
    assert shut.mean() < 0.07 and shut.mean() < 0.2 * spoken.mean() and spoken.mean() > 0.25
    assert np.percentile(shut, 90) - np.percentile(shut, 10) < 0.03   # still: B's spread 0.018
    assert np.all(fit.channel("gaze_x") == 0)  # dlib marks no irises


def test_fit_recovers_the_motion_of_exact_points(prepared, dyadic):
    """Without dlib's noise the fit is exact: points made by the rig from the true Motion give it back."""
    track = prepared[0].people[1]
    true, rig = truth(dyadic, "b"), person_rig(track)
    started = time.perf_counter()
    fit = fit_motion(rig, rig.targets(true.pose, true.expr, true.expr_names)[:, :68], FPS, true.speaking)
    per_frame = (time.perf_counter() - started) / true.num_frames
    assert np.abs(fit.pose - true.pose).max() < 0.005
    visible = [true.expr_names.index(c) for c in true.expr_names if not c.startswith("gaze")]
    assert np.abs(fit.expr[:, visible] - true.expr[:, visible]).max() < 0.03
    assert per_frame < 0.02  # a few ms per frame on one core


def test_speech_comes_from_each_persons_own_track(prepared, dyadic):
    speech = prepared[0].speech
    assert speech.feature_names == SPEECH_FEATURES and speech.features.shape[2] == len(SPEECH_FEATURES)
    assert speech.features.shape[1] == round(speech.duration_s * speech.feature_rate) == 300
    energy = speech.feature("energy")
    turns = [speech.activity(p, energy.shape[1], speech.feature_rate) > 0 for p in (0, 1)]
    assert turns[0].sum() > 50 and turns[1].sum() > 50  # both people speak (at 100 Hz)
    # measured: A's energy is 0.46 in A's turns and 0 in B's; B's 0.56 and 0
    assert energy[0][turns[0]].mean() > energy[0][turns[1]].mean() + 0.3
    assert energy[1][turns[1]].mean() > energy[1][turns[0]].mean() + 0.3
    # the voice-activity timeline agrees with who really spoke, frame by frame (measured 99 % and 100 %)
    for person, track in enumerate(prepared[0].people):
        really = truth(dyadic, "ab"[person]).speaking > 0.5
        assert np.mean((track.motion.speaking > 0.5) == really) > 0.95


# ------------------------------------------------------------------------------------------- cache
def test_cache_hit_reads_one_file_without_dlib(prepared):
    clip, first_s, record, cache_dir = prepared
    files = os.listdir(cache_dir)
    assert len(files) == 1 and files[0].endswith(".safetensors")
    started = time.perf_counter()
    again = prepare_clip(record, size=SIZE, fps=FPS, cache_dir=cache_dir)
    hit_s = time.perf_counter() - started
    # dlib on 150 frames takes seconds; reading the file a few milliseconds
    assert hit_s < 0.5 and hit_s < first_s / 20, (hit_s, first_s)
    for mine, theirs in zip(clip.people, again.people):
        for field in ("frames", "landmarks", "reference"):
            assert np.array_equal(getattr(mine, field), getattr(theirs, field))
        for field in ("pose", "expr", "speaking"):
            assert np.array_equal(getattr(mine.motion, field), getattr(theirs.motion, field))
    assert np.array_equal(clip.speech.tracks, again.speech.tracks)
    assert np.array_equal(clip.speech.features, again.speech.features)
    assert clip.speech.timeline_dict() == again.speech.timeline_dict() and again.fps == FPS
