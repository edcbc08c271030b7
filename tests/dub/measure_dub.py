"""The issue's numbers for dub mode on recordings whose truth is known: the built-in voices speak a dialogue
(their timeline is the truth), made into own-microphone tracks and mixes with room noise, level differences and
bleed, then dubbed with and without the transcript.

    python tests/dub/measure_dub.py [--script workflows/example_dialogue.txt] [--video OUT.mp4]

Prints, per recording: share of speech given to the right person, speech given to someone silent then, turn
start/end median error, aligned word boundary median error (ms). With --video, also dubs the noisy mix into a
video with the transcript (then: python -m tavid_core.cli eval OUT.mp4).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[1])]

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from helpers.dub_truth import mixed, own_tracks, right_share, turn_errors, word_errors  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def conditions(a: np.ndarray, b: np.ndarray, rate: int) -> dict:
    """name: (mix or None, (A's track, B's track) or None)."""
    return {
        "tracks, clean": (None, (a, b)),
        "tracks, bleed -14 dB, B -8 dB, noise": (None, own_tracks(a, b, rate)),
        "tracks, bleed -8 dB, B -12 dB, noise -45": (None, own_tracks(a, b, rate, b_gain_db=-12, bleed_db=-8,
                                                                      noise_db=-45)),
        "mix, clean": (a + b, None),
        "mix, B -6 dB, noise -50": (mixed(a, b), None),
        "mix, B -10 dB, noise -40": (mixed(a, b, b_gain_db=-10, noise_db=-40), None),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--script", default=str(ROOT / "workflows" / "example_dialogue.txt"))
    parser.add_argument("--video", help="also dub the noisy mix into this MP4")
    parser.add_argument("--no-whisper", action="store_true", help="only the runs with the transcript")
    args = parser.parse_args()

    from tavid_core.dialogue import read_script
    from tavid_core.dub import dub_speech, load_recording
    from tavid_core.engines.builtin import load_builtin_engines
    from tavid_core.examples import sample_portrait
    from tavid_core.runtime import StandaloneRuntime

    runtime = StandaloneRuntime(device="cpu", quiet=True)
    engines = load_builtin_engines()
    dialogue = read_script(args.script)
    faces = [sample_portrait("grace_hopper"), sample_portrait("astronaut")]
    voices = tuple(engines.speaker_mapper.map_face(f, runtime=runtime) for f in faces)
    speech = engines.speech_model.generate(engines.text_encoder.encode(dialogue, runtime=runtime), voices,
                                           runtime=runtime, seed=7)
    truth, rate = speech.timeline, speech.sample_rate
    print(f"{args.script}: {speech.duration_s:.1f} s, {len(truth)} segments")
    folder = Path(tempfile.mkdtemp(prefix="tavid_dub_measure_"))
    rows = []
    for name, (mix, tracks) in conditions(*speech.tracks, rate).items():
        paths = []
        for k, audio in enumerate([mix] if mix is not None else tracks):
            paths.append(str(folder / f"{len(rows)}_{k}.wav"))
            sf.write(paths[-1], np.clip(audio, -1, 1), rate, subtype="PCM_16")
        recording = (load_recording(mix=paths[0]) if mix is not None
                     else load_recording(a=paths[0], b=paths[1]))
        for words in ("transcript", "whisper")[:1 if args.no_whisper else 2]:
            found = dub_speech(recording, dialogue if words == "transcript" else None, runtime=runtime)
            timeline = found.speech.timeline
            right, wrong = right_share(truth, timeline, speech.duration_s)
            turns = turn_errors(truth, timeline)
            errors, count = word_errors(truth, timeline)
            rows.append((name, words, right, wrong, np.median(turns), np.median(errors) if len(errors) else np.nan,
                         len(errors) / 2 / max(count, 1)))
            print(f"{name:42s} {words:10s} right {right:6.1%} wrong {wrong:5.1%} turn {1000 * rows[-1][4]:5.0f} ms "
                  f"word {1000 * rows[-1][5]:5.0f} ms (words found {rows[-1][6]:.0%}) {found.notes or ''}",
                  flush=True)
    if args.video:
        evaluate_video(args.video, folder, speech, dialogue, faces, engines, runtime)
    return 0


def evaluate_video(video: str, folder: Path, speech, dialogue, faces, engines, runtime) -> None:
    from tavid_core.dub import load_recording
    from tavid_core.pipeline import GenerateSettings, TavidPipeline
    path = str(folder / "mix_for_video.wav")
    sf.write(path, np.clip(mixed(*speech.tracks), -1, 1), speech.sample_rate, subtype="PCM_16")
    result = TavidPipeline(engines, runtime).dub(load_recording(mix=path), *faces, video, GenerateSettings(),
                                                 dialogue)
    print(f"{result.video_path}: {result.duration_s:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
