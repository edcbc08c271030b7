"""The neural speech side end to end: trained for real with `tavid train` (the `tiny_speech` fixture),
saved, loaded, speaking a dialogue, driving the built-in face side, in the CLI and in the nodes."""
import json

import numpy as np
import pytest
import torch

from helpers.reliability import Interrupted, InterruptingRuntime, clear_error
from helpers.scripts import SHORT_SCRIPT
from tavid_core.dialogue import parse_script
from tavid_core.engines.load import load_engines
from tavid_core.engines.neural.common.inference import seeded
from tavid_core.engines.neural.speech.dit import generate
from tavid_core.engines.neural.speech.loader import load_speech_networks
from tavid_core.engines.neural.speech.text_encoder import encode_batch, turn_inputs
from tavid_core.engines.shared.text import normalize_text
from tavid_core.train.data.manifest import read_manifest
from tavid_core.train.tasks.speech import clip_mels
from tavid_core.types import Speech

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def neural(tiny_speech):
    return load_engines(str(tiny_speech["bundle"]), dtype="fp32", device="cpu")


@pytest.fixture(scope="module")
def neural_speech(neural, runtime, faces):
    return speak(neural, runtime, faces, seed=5)


def speak(engines, runtime, faces, seed, script=SHORT_SCRIPT) -> Speech:
    voices = tuple(engines.speaker_mapper.map_face(faces[f], runtime=runtime) for f in ("grace_hopper", "astronaut"))
    text = engines.text_encoder.encode(parse_script(script), runtime=runtime)
    return engines.speech_model.generate(text, voices, runtime=runtime, seed=seed, steps=8)


def test_training_halves_the_flow_loss(tiny_speech):
    flow = [entry["flow"] for entry in tiny_speech["losses"]("speech")]
    # measured: about 30 at step 10 and 1.0 at step 1500
    assert np.mean(flow[-3:]) < 0.5 * np.mean(flow[:3]), flow


def test_the_overfitted_model_speaks_its_training_mel(tiny_speech):
    """Generating a training sentence from scratch (no prompt) lands near its real mel: measured by the mean
    absolute log-mel error, against the error of the sentence's own average spectrum held over all frames
    (which knows the voice but not what is said when) and against the other sentence's mel."""
    config, networks = load_speech_networks([str(tiny_speech["runs"] / "speech" / "speech.safetensors")])
    records = read_manifest(str(tiny_speech["data"] / "manifest.jsonl"))
    mels = clip_mels(records, config, 20.0)
    from tavid_core.engines.neural.speech.tokens import Tokenizer
    tokenizer = Tokenizer(config.text.tokens)
    for record, mel, other in zip(records, mels, mels[::-1]):
        inputs = turn_inputs(tokenizer, [(0, normalize_text(record.text))], 0, 0, config.text.max_tokens)
        with torch.no_grad():
            text, _ = encode_batch(networks["text_encoder"], [inputs])
            voice = networks["speaker_mapper"].voice(torch.from_numpy(mel)[None])
            made, _ = generate(networks["speech_model"], None, len(mel), text, voice, steps=16, generator=seeded(0))
        made = made[0].numpy()
        error = float(np.abs(made - mel).mean())
        flat = float(np.abs(mel.mean(axis=0) - mel).mean())
        n = min(len(mel), len(other))
        elsewhere = float(np.abs(made[:n] - other[:n]).mean())
        # measured: 0.93 against a flat 1.17 and 2.0 to the other sentence; 0.87 against 1.33 and 2.2
        assert error < 0.9 * flat and error < 0.6 * elsewhere, (record.text, error, flat, elsewhere)


def test_neural_speech_meets_the_speech_contract(neural_speech, neural):
    s = neural_speech
    dim = neural.speech_model.config.dit.dim
    assert s.sample_rate == 24000 and s.tracks.shape[0] == 2
    assert [seg.speaker for seg in s.timeline] == [0, 1, 0]
    assert s.feature_names[:3] == ("energy", "pitch", "voiced") and len(s.feature_names) == 3 + dim
    assert s.features.shape == (2, -(-s.num_samples // 768), 3 + dim) and s.feature_rate == 31.25
    for seg in s.timeline:  # each person's track sounds in their turns and is silent in the other's
        own = s.tracks[seg.speaker, int(seg.start_s * 24000):int(seg.end_s * 24000)]
        other = s.tracks[1 - seg.speaker, int(seg.start_s * 24000):int(seg.end_s * 24000)]
        assert np.abs(own).max() > 0.05 and np.abs(other).max() == 0
        frames = slice(int(seg.start_s * 31.25) + 1, int(seg.end_s * 31.25) - 1)
        assert np.abs(s.features[seg.speaker, frames, 3:]).mean() > 0  # the hidden layer where they speak
    gaps = [b.start_s - a.end_s for a, b in zip(s.timeline, s.timeline[1:])]
    assert gaps[0] == pytest.approx(0.8, abs=0.001) and 0.12 <= gaps[1] <= 0.5  # the script's pause, a natural gap
    assert all(v.engine == "neural" and v.source == "face" for v in s.voices)


def test_same_seed_same_audio_and_another_seed_other_audio(neural, runtime, faces, neural_speech):
    again = speak(neural, runtime, faces, seed=5)
    assert np.array_equal(again.tracks, neural_speech.tracks) and np.array_equal(again.features, neural_speech.features)
    other = speak(neural, runtime, faces, seed=6)
    n = min(other.num_samples, neural_speech.num_samples)
    assert not np.array_equal(other.tracks[:, :n], neural_speech.tracks[:, :n])


def test_a_bundle_round_trip_gives_identical_speech(tiny_speech, runtime, faces, neural_speech, tmp_path):
    """The bundle loads the same as its three source files, and saving it again changes nothing."""
    from tavid_core.engines.bundle import bundle
    runs = tiny_speech["runs"]
    sources = [str(runs / "speech" / "speech.safetensors"), str(runs / "vocoder" / "vocoder.safetensors"),
               str(runs / "mapper" / "speaker_mapper.safetensors")]
    from_sources = speak(load_engines(sources, dtype="fp32", device="cpu"), runtime, faces, seed=5)
    again = bundle(str(tmp_path / "again.safetensors"), [str(tiny_speech["bundle"])])
    from_again = speak(load_engines(again, dtype="fp32", device="cpu"), runtime, faces, seed=5)
    assert np.array_equal(from_sources.tracks, neural_speech.tracks)
    assert np.array_equal(from_again.tracks, neural_speech.tracks)


def test_neural_speech_drives_the_built_in_motion_mapper(neural, runtime, neural_speech):
    a, b = neural.motion_mapper.map(neural_speech, runtime=runtime, fps=25.0, seed=0)
    assert a.num_frames == neural_speech.num_frames(25.0)
    first = neural_speech.timeline[0]
    talking = slice(int(first.start_s * 25) + 2, int(first.end_s * 25) - 2)
    assert a.channel("jaw_open")[talking].max() > 0.2   # A opens the mouth in A's turn
    assert b.channel("jaw_open")[talking].max() < 0.05  # B listens with the mouth closed


@pytest.mark.parametrize("case", ["neural voice, built-in speech", "built-in voice, neural speech",
                                  "built-in text, neural speech"])
def test_mixing_engine_families_is_a_clear_error(case, neural, engines, runtime, faces, voices):
    dialogue = parse_script(SHORT_SCRIPT)
    neural_voices = tuple(neural.speaker_mapper.map_face(faces[f], runtime=runtime)
                          for f in ("grace_hopper", "astronaut"))
    if case == "neural voice, built-in speech":
        text = engines.text_encoder.encode(dialogue, runtime=runtime)
        call, words, where = (lambda: engines.speech_model.generate(text, neural_voices, runtime=runtime),
                              ("neural speaker embedding",), "voice A")
    elif case == "built-in voice, neural speech":
        text = neural.text_encoder.encode(dialogue, runtime=runtime)
        call, words, where = (lambda: neural.speech_model.generate(text, voices, runtime=runtime),
                              ("needs a speaker embedding of 16 values, got a voice of the built-in engines",
                               "speaker mapper from the same checkpoint loader"), "voice_a")
    else:
        text = engines.text_encoder.encode(dialogue, runtime=runtime)
        call, words, where = (lambda: neural.speech_model.generate(text, neural_voices, runtime=runtime),
                              ("turn 1 was not encoded by a neural text encoder of width 32",), "text")
    clear_error(call, words, where)


def test_blocks_trained_with_other_settings_are_refused(tiny_speech, tmp_path):
    from tavid_core.checkpoints import CONFIG_KEY, write_checkpoint
    from tavid_core.engines.neural.speech.config import speech_config
    from tavid_core.engines.neural.speech.loader import speech_metadata, speech_networks
    small = speech_config("small")
    vocoder = speech_networks(small)["vocoder"]
    path = tmp_path / "small_vocoder.safetensors"
    write_checkpoint(str(path), {f"vocoder.{k}": v for k, v in vocoder.state_dict().items()},
                     {CONFIG_KEY: json.dumps(speech_metadata(small))})
    runs = tiny_speech["runs"]
    clear_error(lambda: load_engines([str(runs / "speech" / "speech.safetensors"), str(path),
                                      str(runs / "mapper" / "speaker_mapper.safetensors")]),
                ("vocoder", "trained with other vocoder settings", "the same --config"), "small_vocoder.safetensors")
    clear_error(lambda: load_engines([str(runs / "speech" / "speech.safetensors")]),
                ("needs the text encoder, speech model, vocoder and speaker mapper together", "missing: vocoder"),
                "speech.safetensors")


def test_tavid_generate_with_trained_engines_is_the_same_in_two_processes(tiny_speech, tmp_path):
    import subprocess
    import sys

    from tavid_core.media.video import read_video
    (tmp_path / "talk.txt").write_text(SHORT_SCRIPT, encoding="utf-8")
    decoded = []
    for name in ("talk", "again"):
        done = subprocess.run([sys.executable, "-m", "tavid_core.cli", "generate", "--engines", str(tiny_speech["bundle"]),
                               "--script", str(tmp_path / "talk.txt"), "-o", str(tmp_path / f"{name}.mp4"),
                               "--size", "96", "--device", "cpu", "--seed", "3", "-q"],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        decoded.append(read_video(str(tmp_path / f"{name}.mp4")))
    report = json.loads((tmp_path / "talk.json").read_text())
    assert report["engines"]["speech_model"]["family"] == "neural"
    assert report["engines"]["face_model"]["family"] == "builtin"
    assert [v["engine"] for v in report["voices"]] == ["neural", "neural"]
    (frames, fps, audio, rate), (frames_again, _, audio_again, _) = decoded
    assert len(frames) == report["frames"] and abs(audio.shape[-1] / rate - len(frames) / fps) < 0.05
    assert np.array_equal(frames, frames_again) and np.array_equal(audio, audio_again)


def test_the_checkpoint_loader_node_runs_the_graph(pack, tiny_speech, models_dir, faces):
    import shutil
    shutil.copy(tiny_speech["bundle"], models_dir / "tavid" / "tiny.safetensors")
    from comfyui_tavid.nodes import nodes_dialogue, nodes_face, nodes_loaders, nodes_motion, nodes_speech
    te, sm, spm, mm, fm = nodes_loaders.CheckpointLoader.execute(ckpt_name="tiny.safetensors", dtype="fp32",
                                                                  device="cpu").args
    assert (te.family, sm.family, spm.family, mm.family) == ("neural", "neural", "neural", "builtin")
    dialogue = nodes_dialogue.DialogueScript.execute(script=SHORT_SCRIPT)[0]
    text = nodes_speech.TextEncoder.execute(text_encoder=te, dialogue=dialogue)[0]
    images = [torch.from_numpy(faces[f].astype(np.float32) / 255)[None] for f in ("grace_hopper", "astronaut")]
    voice_a, voice_b = (nodes_speech.SpeakerMapper.execute(speaker_mapper=spm, image=i)[0] for i in images)
    audio, _, _, speech = nodes_speech.SpeechGenerator.execute(speech_model=sm, text=text, voice_a=voice_a,
                                                               voice_b=voice_b, seed=1, steps=8).args
    motion_a = nodes_motion.MotionMapper.execute(motion_mapper=mm, speech=speech, fps=25.0).args[0]
    frames = nodes_face.FaceSampler.execute(face_model=fm, image=images[0], motion=motion_a, size=64)[0]
    assert audio["sample_rate"] == 24000 and frames.shape == (speech.num_frames(25.0), 64, 64, 3)


def test_an_interrupt_inside_the_sampler_stops_at_once_and_the_next_run_is_whole(neural, faces, neural_speech):
    """The ODE checks for a cancel at every step; after one, the same engines give the uninterrupted result."""
    interrupting = InterruptingRuntime("speech", after=3)  # the third check: inside the first turn's sampling
    with pytest.raises(Interrupted):
        speak(neural, interrupting, faces, seed=5)
    assert interrupting.after == 0
    again = speak(neural, InterruptingRuntime("none", after=1), faces, seed=5)
    assert np.array_equal(again.tracks, neural_speech.tracks)


def test_out_of_memory_while_speaking_says_what_to_lower(neural, runtime, faces, monkeypatch):
    import tavid_core.engines.neural.speech.generator as speech_generator

    def no_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 3.00 GiB")

    monkeypatch.setattr(speech_generator, "generate", no_memory)
    clear_error(lambda: speak(neural, runtime, faces, seed=5),
                ("out of memory on cpu generating turn 1", "split long turns", "fp16 or bf16"), "steps")


def test_a_lora_given_as_a_checkpoint_is_pointed_to_the_lora_loader(tiny_speech, tmp_path):
    from tavid_core.engines.neural.lora.adapters import add_lora, save_lora
    config, networks = load_speech_networks([str(tiny_speech["bundle"])])
    add_lora(networks["speech_model"], rank=2)
    path = tmp_path / "style.safetensors"
    save_lora(str(path), networks["speech_model"], config, rank=2)
    clear_error(lambda: load_engines(str(path)), ("it is a lora", "tavid lora loader"), "style.safetensors")
