"""The `tavid` command end to end, as a user runs it (a real subprocess, real files)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from helpers.faces import frame_apertures, mouths_closed
from helpers.scripts import SHORT_SCRIPT
from tavid_core.media.images import save_image
from tavid_core.media.video import read_video


def tavid(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tavid_core.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gen")
    (folder / "talk.txt").write_text(SHORT_SCRIPT, encoding="utf-8")
    result = tavid("generate", "--script", "talk.txt", "-o", "out/talk.mp4", "--size", "160", "--seed", "5", "-q",
                   cwd=folder)
    return folder, result


def test_generate_writes_video_and_timeline(generated):
    folder, result = generated
    assert result.returncode == 0, result.stderr
    frames, fps, audio, rate = read_video(str(folder / "out" / "talk.mp4"))
    report = json.loads((folder / "out" / "talk.json").read_text())
    assert frames.shape[1:] == (160, 320, 3) and fps == 25.0
    assert len(frames) == report["frames"] == round(report["duration_s"] * 25)
    assert abs(audio.shape[1] / rate - len(frames) / fps) < 1 / fps
    assert [s["speaker"] for s in report["timeline"]] == [0, 1, 0]
    assert report["timeline"][1]["words"][0]["word"] == "Maybe"
    assert report["settings"]["seed"] == 5 and report["settings"]["size"] == 160
    assert {v["preset"] for v in report["voices"]} == {"joe", "heart"}
    if "apparent_age" in report["voices"][1]:   # the age and sex models are fetched
        assert report["voices"][1]["reason"].startswith("reads as female, about ")   # the astronaut
    # A talks in the first turn while B listens, and the other way round in the second
    first, second = report["timeline"][0], report["timeline"][1]
    closed = mouths_closed(frames, fps)
    for seg, talker in ((first, 0), (second, 1)):
        lo, hi = int(seg["start"] * 25) + 3, int(seg["end"] * 25) - 3
        talk = frame_apertures(frames[lo:hi, :, 160 * talker:160 * (talker + 1)], every=2)
        assert np.nanmean(talk) > 0.1 and closed[talker][lo:hi].mean() < 0.5   # measured 0.23-0.26 closed
        assert closed[1 - talker][lo:hi].mean() >= 0.98   # eval's listener target; measured 1.0


def test_same_seed_same_video(generated, tmp_path):
    folder, _ = generated
    again = tavid("generate", "--script", str(folder / "talk.txt"), "-o", str(tmp_path / "again.mp4"), "--size",
                  "160", "--seed", "5", "-q")
    assert again.returncode == 0, again.stderr
    a, _, sound_a, _ = read_video(str(folder / "out" / "talk.mp4"))
    b, _, sound_b, _ = read_video(str(tmp_path / "again.mp4"))
    assert np.array_equal(a, b) and np.array_equal(sound_a, sound_b)


def test_generate_parses_voice_and_mirror_flags():
    from tavid_core.cli import build_parser
    args = build_parser().parse_args(["generate", "--pitch-b", "-2.5", "--speed-a", "1.3", "--mirror", "never"])
    assert (args.pitch_a, args.pitch_b, args.speed_a, args.speed_b, args.mirror) == (0.0, -2.5, 1.3, 1.0, "never")
    defaults = build_parser().parse_args(["generate"])
    assert (defaults.pitch_b, defaults.speed_b, defaults.mirror) == (0.0, 1.0, "auto")


def spoken(folder, name):
    """Per speaker: seconds of their turns and median pitch (Hz) of the video's sound during them."""
    from tavid_core.analysis.audio_features import median_pitch_hz
    report = json.loads((folder / f"{name}.json").read_text())
    _, _, audio, rate = read_video(str(folder / f"{name}.mp4"))
    mono = audio.mean(axis=0)
    result = []
    for who in (0, 1):
        turns = [s for s in report["timeline"] if s["speaker"] == who]
        sound = np.concatenate([mono[int(s["start"] * rate):int(s["end"] * rate)] for s in turns])
        result.append((sum(s["end"] - s["start"] for s in turns), median_pitch_hz(sound, rate)))
    return result


def test_pitch_and_speed_per_speaker(generated):
    folder, _ = generated  # the same script and seed with default voices
    result = tavid("generate", "--script", "talk.txt", "-o", "out/tuned.mp4", "--size", "64", "--seed", "5", "-q",
                   "--pitch-b", "3", "--speed-a", "1.3", cwd=folder)
    assert result.returncode == 0, result.stderr
    (seconds_a, pitch_a), (seconds_b, pitch_b) = spoken(folder / "out", "talk")
    (tuned_seconds_a, tuned_pitch_a), (tuned_seconds_b, tuned_pitch_b) = spoken(folder / "out", "tuned")
    assert abs(12 * np.log2(tuned_pitch_b / pitch_b) - 3) < 0.75          # B three semitones higher
    assert abs(12 * np.log2(tuned_pitch_a / pitch_a)) < 0.5               # A's pitch kept
    assert tuned_seconds_a < 0.92 * seconds_a                             # A speaks faster
    assert abs(tuned_seconds_b / seconds_b - 1) < 0.05                    # B's pace kept
    report = json.loads((folder / "out" / "tuned.json").read_text())
    base = json.loads((folder / "out" / "talk.json").read_text())
    assert {k: report["settings"][k] for k in ("pitch_a", "pitch_b", "speed_a", "speed_b", "mirror")} == {
        "pitch_a": 0.0, "pitch_b": 3.0, "speed_a": 1.3, "speed_b": 1.0, "mirror": "auto"}
    assert report["voices"][1]["pitch_semitones"] == pytest.approx(base["voices"][1]["pitch_semitones"] + 3)
    assert report["voices"][0]["rate"] == pytest.approx(base["voices"][0]["rate"] * 1.3, abs=1e-3)


@pytest.mark.parametrize("args, message", [
    (["--script", "{dir}/bad.txt"], "bad.txt / line 3: a third speaker"),
    (["--script", "{dir}/none.txt"], "none.txt: cannot read the script"),
    (["--face-a", "{dir}/none.jpg"], "--face-a / {dir}/none.jpg: no such image file"),
    (["--face-b", "{dir}/cat.png"], "face B: no face found"),
    (["--size", "100001"], "size must be an even number"),
    (["--fps", "0"], "fps must be between"),
    (["--voice-a", "nobody"], "unknown voice 'nobody'"),
    (["--pitch-b", "7"], "--pitch-b: pitch shift in semitones must be between -6 and 6, got 7. Use 0"),
    (["--speed-a", "0.25"], "--speed-a: speed must be between 0.5 and 2, got 0.25. Use 1"),
    (["--seed", "-1"], "--seed: seed must be a whole number from 0 to 18446744073709551615, got -1"),
    (["--max-minutes", "0"], "--max-minutes: the longest dialogue in minutes must be between 0.1 and 240"),
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, cat_image, args, message):
    (tmp_path / "bad.txt").write_text("A: one\nB: two\nC: three\n")
    save_image(cat_image, str(tmp_path / "cat.png"))
    result = tavid("generate", *[a.format(dir=tmp_path) for a in args], "-o", str(tmp_path / "x.mp4"), "-q")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tavid: error: ")
    assert message.format(dir=tmp_path) in lines[0]
    assert "Traceback" not in result.stderr


def test_voices_and_samples(tmp_path):
    voices = tavid("voices")
    assert voices.returncode == 0 and "joe" in voices.stdout and "espeak:en-us+f3" in voices.stdout
    samples = tavid("samples", "--out", str(tmp_path))
    assert samples.returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tavid_astronaut.png", "tavid_grace_hopper.png"]


def test_strip_of_a_generated_video(generated):
    from PIL import Image
    folder, _ = generated
    result = tavid("strip", "out/talk.mp4", "-o", "strip.png", "--count", "3", "--columns", "3", "--width", "200",
                   cwd=folder)
    assert result.returncode == 0, result.stderr
    sheet = np.asarray(Image.open(folder / "strip.png"))
    assert sheet.shape == (100 + 24, 3 * 200 + 2 * 4, 3)
    assert sheet[:100, :200].std() > 20  # a picture, not an empty tile


def test_mouths_of_a_photo_and_of_one_without_a_face(tmp_path, faces, cat_image):
    from PIL import Image
    save_image(faces["astronaut"], str(tmp_path / "astro.png"))
    save_image(cat_image, str(tmp_path / "cat.png"))
    result = tavid("mouths", "--face", "astro.png", "-o", "m.jpg", "--width", "100", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert np.asarray(Image.open(tmp_path / "m.jpg")).shape[1] == 600
    bad = tavid("mouths", "--face", "cat.png", "-o", "c.png", cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == [bad.stderr.strip()] and "cat.png: no face found" in bad.stderr
    assert not (tmp_path / "c.png").exists()


def test_eval_of_a_generated_video(generated):
    folder, _ = generated
    text = tavid("eval", "out/talk.mp4", "-q", cwd=folder)
    assert text.returncode == 0, text.stderr
    for title in ("1. Talking-face realism", "2. Listening responsiveness", "3. Dyadic fluency", "4. Speech quality"):
        assert title in text.stdout
    assert "from the timeline" in text.stdout   # found beside the video
    result = tavid("eval", "out/talk.mp4", "--json", "--no-timeline", cwd=folder)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)          # one JSON object, nothing else on stdout
    from tavid_core.eval import metric_keys
    assert {k: list(report[k]["overall"]) for k in metric_keys()} == metric_keys()
    assert report["reference"]["speakers_from"] == "faces" and report["video"]["frames"] > 50
    assert report["realism"]["A"]["lip_sync_corr"] > 0.4


def test_eval_says_how_to_install_missing_packages(tmp_path):
    script = ("import importlib.util, sys\n"
              "real = importlib.util.find_spec\n"
              "importlib.util.find_spec = lambda name, *a: None if name == 'speechmos' else real(name, *a)\n"
              "from tavid_core.cli import main\n"
              "sys.exit(main(['eval', 'missing.mp4']))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert "speechmos" in result.stderr and 'pip install "comfyui-tavid[eval]"' in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (["{dir}/none.mp4"], "none.mp4: no such video file"),
    (["{dir}/talk.txt"], "cannot read the video"),
    (["{dir}/still.mp4"], "found no face in the first"),
    (["{dir}/still.mp4", "--timeline", "{dir}/talk.txt"], "talk.txt: not a JSON file"),
])
def test_eval_bad_input_is_one_line(tmp_path, cat_image, args, message):
    from tavid_core.media.video import VideoWriter
    (tmp_path / "talk.txt").write_text(SHORT_SCRIPT)
    with VideoWriter(str(tmp_path / "still.mp4"), 25, 256, 128, np.zeros((1, 48000), np.float32), 24000) as w:
        w.write(np.repeat(np.asarray(cat_image)[None, :128, :256], 50, axis=0))
    result = tavid("eval", *[a.format(dir=tmp_path) for a in args], "-q")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message.format(dir=tmp_path) in lines[0], lines


def test_bench_eval_reports_speed_and_memory(generated):
    folder, _ = generated
    result = tavid("bench", "eval", "--video", "out/talk.mp4", "--json", cwd=folder)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["target"] == "eval" and figures["video_s"] > 3 and figures["peak_rss_mb"] > 100
    run = figures["runs"][0]
    assert run["wall_s"] > 0 and abs(run["rtf"] - run["wall_s"] / figures["video_s"]) < 0.01
    assert set(run["stages_s"]) == {"faces", "motion and timing", "speech"}
