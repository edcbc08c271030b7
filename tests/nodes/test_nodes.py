"""The ComfyUI nodes: registration, schemas, and every execute path on real inputs."""
import asyncio
import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from helpers.scripts import SHORT_SCRIPT

SIZE = 128


@pytest.fixture(scope="module")
def nodes(pack):
    extension = asyncio.run(pack.comfy_entrypoint())
    return {cls.define_schema().node_id: cls for cls in asyncio.run(extension.get_node_list())}


def image_tensor(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(pixels.astype(np.float32) / 255.0)[None]


def test_every_node_of_the_design_is_registered_with_docs(nodes):
    assert set(nodes) == {"TAVIDDialogueScript", "TAVIDLoadPortrait", "TAVIDBuiltinEngines", "TAVIDCheckpointLoader",
                          "TAVIDF5Loader", "TAVIDLoraLoader", "TAVIDLivePortraitLoader", "TAVIDTextEncoder",
                          "TAVIDSpeakerMapper", "TAVIDSpeechGenerator", "TAVIDLoadRecording", "TAVIDDialogueAudio",
                          "TAVIDMotionMapper", "TAVIDFaceSampler",
                          "TAVIDFaceModelSampling", "TAVIDComposeDialogue", "TAVIDRenderVideo", "TAVIDEvaluate"}
    for cls in nodes.values():
        schema = cls.define_schema()
        schema.validate()
        assert schema.display_name.startswith("TAVID ") and schema.category == "TAVID"
        assert len(schema.description) > 40
        for socket in schema.inputs + schema.outputs:
            assert socket.tooltip, f"{schema.node_id}.{socket.id} has no tooltip"


def test_every_output_is_shown_under_the_name_of_what_it_is(nodes):
    """ComfyUI shows an output's display name, or else its type: AUDIO, AUDIO, AUDIO says nothing."""
    def names(node_id):
        return [o.display_name for o in nodes[node_id].define_schema().outputs]

    for node_id in nodes:
        assert None not in names(node_id), f"{node_id} has an output shown only as its type"
        assert len(set(names(node_id))) == len(names(node_id)), node_id
    assert names("TAVIDSpeechGenerator") == ["mix", "A", "B", "speech"]
    assert names("TAVIDMotionMapper") == ["motion A", "motion B", "fps"]
    assert names("TAVIDFaceSampler") == ["frames"]
    assert names("TAVIDComposeDialogue") == ["frames", "speaker mask"]
    assert names("TAVIDBuiltinEngines") == names("TAVIDCheckpointLoader") == [
        "text encoder", "speech model", "speaker mapper", "motion mapper", "face model"]


def test_pack_registers_through_comfy_entrypoint_only(pack):
    assert not hasattr(pack, "NODE_CLASS_MAPPINGS")


@pytest.fixture(scope="module")
def graph(nodes, faces):
    """The example graph, node by node, on a short script."""
    out = {}
    out["dialogue"] = nodes["TAVIDDialogueScript"].execute(script=SHORT_SCRIPT, speaker_a="Ada", speaker_b="")[0]
    te, sm, spm, mm, fm = nodes["TAVIDBuiltinEngines"].execute(voices="neural", render_grid=16).args
    out["engines"] = (te, sm, spm, mm, fm)
    out["text"] = nodes["TAVIDTextEncoder"].execute(text_encoder=te, dialogue=out["dialogue"])[0]
    mapper = nodes["TAVIDSpeakerMapper"]
    out["voice_a"] = mapper.execute(speaker_mapper=spm, image=image_tensor(faces["grace_hopper"]))[0]
    out["voice_b"] = mapper.execute(speaker_mapper=spm, image=image_tensor(faces["astronaut"]), pitch_shift=1.0,
                                    speed=1.1)[0]
    spoken = nodes["TAVIDSpeechGenerator"].execute(speech_model=sm, text=out["text"], voice_a=out["voice_a"],
                                                   voice_b=out["voice_b"], seed=3)
    out["audio"], out["audio_a"], out["audio_b"], out["speech"] = spoken.args
    out["speech_ui"] = spoken.ui
    out["motion_a"], out["motion_b"], out["fps"] = nodes["TAVIDMotionMapper"].execute(
        motion_mapper=mm, speech=out["speech"], fps=25.0, seed=1, expressiveness=1.0).args
    sampler = nodes["TAVIDFaceSampler"]
    out["frames_a"] = sampler.execute(face_model=fm, image=image_tensor(faces["grace_hopper"]), motion=out["motion_a"],
                                      size=SIZE)[0]
    out["frames_b"] = sampler.execute(face_model=fm, image=image_tensor(faces["astronaut"]), motion=out["motion_b"],
                                      size=SIZE)[0]
    out["images"], out["mask"] = nodes["TAVIDComposeDialogue"].execute(
        images_a=out["frames_a"], images_b=out["frames_b"], layout="side_by_side", speech=out["speech"]).args
    return out


def test_graph_outputs_use_comfyui_types(graph):
    speech = graph["speech"]
    frames = round(speech.duration_s * 25)
    assert graph["dialogue"].speakers == ("Ada", "B")
    for key in ("audio", "audio_a", "audio_b"):
        audio = graph[key]
        assert audio["sample_rate"] == 24000 and audio["waveform"].shape == (1, 1, speech.num_samples)
        assert audio["waveform"].dtype == torch.float32 and audio["waveform"].abs().max() <= 1.0
    assert torch.allclose(graph["audio"]["waveform"], (graph["audio_a"]["waveform"] + graph["audio_b"]["waveform"]))
    assert graph["fps"] == 25.0
    assert graph["frames_a"].shape == (frames, SIZE, SIZE, 3) and graph["frames_a"].dtype == torch.float32
    assert graph["images"].shape == (frames, SIZE, 2 * SIZE, 3)
    assert 0.0 <= graph["images"].min() and graph["images"].max() <= 1.0
    assert torch.equal(graph["images"][:, :, :SIZE], graph["frames_a"])
    assert graph["mask"].shape == (frames, SIZE, 2 * SIZE)
    assert graph["voice_b"].pitch_semitones > 0.5 and graph["voice_b"].rate > 1.05


def test_speaker_mapper_says_why_and_a_name_wins(nodes, graph, faces):
    from tavid_core.analysis.wheel_models import model_path
    mapper, spm = nodes["TAVIDSpeakerMapper"], graph["engines"][2]
    picked = mapper.execute(speaker_mapper=spm, image=image_tensor(faces["astronaut"]))
    voice, reason = picked.args
    assert reason == voice.reason and json.loads(json.dumps(picked.ui))["tavid_voice"] == [reason]
    if model_path("age") and model_path("sex"):
        assert reason == f"reads as female, about {voice.apparent_age:.0f}: heart"
    named = mapper.execute(speaker_mapper=spm, image=image_tensor(faces["astronaut"]), voice_name="joe-high")
    assert named.args[0].preset == "joe-high" and named.args[1] == "named by hand: joe-high"


def test_speech_generator_tells_the_frontend_who_speaks_when(graph):
    shown = json.loads(json.dumps(graph["speech_ui"]))["tavid_speech"][0]   # as it goes over the socket
    speech = graph["speech"]
    assert shown["speakers"] == ["Ada", "B"] and shown["duration"] == pytest.approx(speech.duration_s, abs=1e-3)
    assert [s[0] for s in shown["segments"]] == [seg.speaker for seg in speech.timeline]
    assert shown["segments"][1][1] == pytest.approx(speech.timeline[1].start_s, abs=1e-3)
    assert shown["voices"] == [v.reason for v in speech.voices] and all(shown["voices"])


def test_speaker_mask_follows_who_speaks(graph):
    speech, mask = graph["speech"], graph["mask"]
    for seg in speech.timeline:
        middle = int((seg.start_s + seg.end_s) / 2 * 25)
        left, right = mask[middle, 0, 0].item(), mask[middle, 0, -1].item()
        assert (left, right) == ((1.0, 0.0) if seg.speaker == 0 else (0.0, 1.0))


def test_compose_picture_in_picture_follows_the_speaker(nodes, graph):
    images, mask = nodes["TAVIDComposeDialogue"].execute(
        images_a=graph["frames_a"], images_b=graph["frames_b"], layout="picture_in_picture",
        speech=graph["speech"]).args
    frames = len(graph["frames_a"])
    assert images.shape == (frames, SIZE, SIZE, 3) and mask.shape == (frames, SIZE, SIZE)
    inset = SIZE - SIZE // 32 - 3  # inside the inset box (bottom right), whatever its exact size
    for seg in graph["speech"].timeline[:2]:  # A's opening turn, then B's answer (long enough for a cut)
        middle = int((seg.start_s + seg.end_s) / 2 * 25)
        shown = graph["frames_a"] if seg.speaker == 0 else graph["frames_b"]
        assert torch.equal(images[middle, :SIZE // 2], shown[middle, :SIZE // 2])
        assert (mask[middle, 0, 0].item(), mask[middle, inset, inset].item()) == (1.0, 0.0)


def test_faces_talk_and_listen_in_node_output(graph):
    from helpers.faces import frame_apertures
    frames = (graph["frames_a"].numpy() * 255).astype(np.uint8)
    speech = graph["speech"]
    talking = speech.activity(0, len(frames), 25) > 0
    listening = speech.activity(1, len(frames), 25) > 0
    apertures = frame_apertures(frames, every=1)
    assert np.nanmean(apertures[talking]) > 3 * np.nanmean(apertures[listening])


def turned_right(portrait: np.ndarray, amount: float = 0.15) -> np.ndarray:
    """The portrait with its nose pushed `amount` jaw widths toward the image's right, as if the head turned."""
    from scipy.ndimage import map_coordinates

    from tavid_core.analysis.faces import face_analyzer
    marks = face_analyzer().analyze(portrait).landmarks
    jaw = marks[16, 0] - marks[0, 0]
    y, x = np.mgrid[:portrait.shape[0], :portrait.shape[1]].astype(np.float32)
    shift = amount * jaw * np.exp(-((x - marks[30, 0]) ** 2 + (y - marks[30, 1]) ** 2) / (2 * (0.35 * jaw) ** 2))
    return np.stack([map_coordinates(portrait[..., c], [y, x - shift], order=1, mode="nearest") for c in range(3)], -1)


def first_frame_facing(frames: torch.Tensor) -> float:
    from tavid_core.analysis.faces import face_analyzer, facing
    return facing(face_analyzer().analyze((frames[0].numpy() * 255).round().astype(np.uint8)).landmarks)


def test_face_sampler_mirrors_a_face_looking_away_from_its_side(nodes, graph, faces):
    photo = turned_right(faces["grace_hopper"])
    sampler, face_model, motion = nodes["TAVIDFaceSampler"], graph["engines"][4], graph["motion_a"].window(0, 4)

    def render(image: np.ndarray, face_toward: str = "as_photo") -> torch.Tensor:
        return sampler.execute(face_model=face_model, image=image_tensor(image), motion=motion, size=SIZE,
                               face_toward=face_toward)[0]

    mirrored = np.ascontiguousarray(photo[:, ::-1])
    as_is, away = render(photo), render(mirrored)
    assert first_frame_facing(as_is) > 0.03 and first_frame_facing(away) < -0.03  # the test photo is turned
    assert torch.equal(render(mirrored, "right"), as_is)   # flipped back to look right, at B
    assert torch.equal(render(mirrored, "left"), away)     # already looks left: kept
    assert torch.equal(render(photo, "right"), as_is)


def test_node_errors_name_the_node_and_field(nodes, graph, cat_image):
    with pytest.raises(Exception) as err:
        nodes["TAVIDDialogueScript"].execute(script="A: hi\nB: yo\nC: no")
    assert str(err.value).startswith("TAVID Dialogue Script / line 3: a third speaker")
    spm = graph["engines"][2]
    with pytest.raises(Exception) as err:
        nodes["TAVIDSpeakerMapper"].execute(speaker_mapper=spm, image=image_tensor(cat_image))
    assert str(err.value).startswith("TAVID Speaker Mapper / image: no face found")
    with pytest.raises(Exception) as err:
        nodes["TAVIDSpeakerMapper"].execute(speaker_mapper=spm, image=torch.zeros(0, 8, 8, 3))
    assert "TAVID Speaker Mapper / image: expected an IMAGE batch" in str(err.value)
    with pytest.raises(Exception) as err:
        nodes["TAVIDComposeDialogue"].execute(images_a=graph["frames_a"], images_b=graph["frames_b"][:-1],
                                              layout="side_by_side", speech=graph["speech"])
    assert str(err.value).startswith("TAVID Compose Dialogue / images:")
    with pytest.raises(Exception) as err:
        nodes["TAVIDSpeakerMapper"].execute(speaker_mapper=spm, image=image_tensor(cat_image[:1, :1]),
                                            audio={"waveform": torch.zeros(1, 1, 10)})
    assert "TAVID Speaker Mapper / audio: not an AUDIO value" in str(err.value)


def test_evaluate_node_on_the_graph_output(nodes, graph, faces):
    pytest.importorskip("silero_vad", reason="the [eval] extra is not installed")
    result = nodes["TAVIDEvaluate"].execute(
        images=graph["images"], audio=graph["audio"], frame_rate=graph["fps"], speech=graph["speech"],
        dialogue=graph["dialogue"], reference_a=image_tensor(faces["grace_hopper"]))
    text, report_json = result.args
    report = json.loads(report_json)
    tables = json.loads(json.dumps(result.ui["tavid_report"][0]))   # what the frontend draws in the node
    assert [t["title"] for t in tables["sections"]] == ["1. Talking-face realism", "2. Listening responsiveness",
                                                        "3. Dyadic fluency", "4. Speech quality"]
    assert tables["sections"][0]["heads"] == ["A Ada", "B B", "overall"]
    distance = tables["sections"][0]["rows"][0]
    assert distance["label"] == "identity distance"
    assert distance["cells"][0] == f"{report['realism']['A']['identity_distance']:.3f}"
    assert result.ui["text"] == [text]
    assert report["reference"]["speakers_from"] == "timeline" and report["reference"]["names"] == ["Ada", "B"]
    assert report["reference"]["faces"] == ["image", "first frame"]
    assert report["video"]["frames"] == len(graph["images"])
    assert report["realism"]["A"]["identity_distance"] < 0.6 and report["speech"]["A"]["wer"] is not None
    assert "Ada" in text and "4. Speech quality" in text


def test_evaluate_node_reads_a_video_and_explains_missing_input(nodes, graph, tmp_path):
    from tavid_core.media.video import VideoWriter
    pytest.importorskip("silero_vad", reason="the [eval] extra is not installed")

    class Video:  # what ComfyUI's VIDEO offers for streaming: get_stream_source()
        def get_stream_source(self):
            return str(tmp_path / "v.mp4")

    frames = (graph["images"].numpy() * 255).astype(np.uint8)
    audio = graph["audio"]["waveform"][0].numpy()
    with VideoWriter(str(tmp_path / "v.mp4"), 25.0, frames.shape[2], frames.shape[1], audio, 24000) as writer:
        writer.write(frames)
    report = json.loads(nodes["TAVIDEvaluate"].execute(video=Video())[1])
    assert report["reference"]["speakers_from"] == "faces" and report["video"]["frames"] == len(frames)
    with pytest.raises(Exception) as err:
        nodes["TAVIDEvaluate"].execute(images=graph["images"])
    assert str(err.value).startswith("TAVID Evaluate / video: nothing to evaluate")


def test_checkpoint_loader_explains_itself(nodes, models_dir):
    loader = nodes["TAVIDCheckpointLoader"]
    options = loader.define_schema().inputs[0].widget["options"]
    assert options == ["(no .safetensors files found)"]
    with pytest.raises(Exception, match="no checkpoint in models/tavid.*Built-in Engines"):
        loader.execute(ckpt_name=options[0])
    save_file({"speech_model.w": torch.zeros(2), "vocoder.w": torch.zeros(2)}, str(models_dir / "tavid" / "tiny.safetensors"))
    assert loader.define_schema().inputs[0].widget["options"] == ["tiny.safetensors"]
    with pytest.raises(Exception, match=r"TAVID Checkpoint Loader / tiny.safetensors: it holds speech networks but "
                                        r"not the configuration"):
        loader.execute(ckpt_name="tiny.safetensors")
    (models_dir / "outside.safetensors").write_bytes(b"x")
    with pytest.raises(Exception, match="TAVID Checkpoint Loader / ckpt_name: no file"):
        loader.execute(ckpt_name="../outside.safetensors")


def test_liveportrait_loader_offers_the_folders_that_hold_its_files(nodes, models_dir, liveportrait_weights):
    import os

    from tavid_core.engines.neural.face.liveportrait.files import NAMES
    loader = nodes["TAVIDLivePortraitLoader"]
    options = lambda: loader.define_schema().inputs[0].widget["options"]  # noqa: E731
    assert options() == ["(no LivePortrait files found)"]
    for chosen in (options()[0], "liveportrait"):   # the list's placeholder, and a template's folder
        with pytest.raises(Exception, match=r"^TAVID LivePortrait Loader / folder: there are no LivePortrait files "
                                            r"in models/liveportrait\. Put the five"):
            loader.execute(folder=chosen)
    folder, animal = models_dir / "liveportrait", models_dir / "liveportrait" / "animal"
    animal.mkdir()
    for name in NAMES:
        os.symlink(liveportrait_weights / name, folder / name)
    for name in NAMES[1:]:
        os.symlink(liveportrait_weights / name, animal / name)
    assert options() == ["liveportrait", "liveportrait/animal"]
    model = loader.execute(folder="liveportrait", dtype="fp32", device="cpu", batch=3)[0]
    assert model.name == "liveportrait" and model.frames_per_batch(torch.device("cpu")) == 3
    assert sum(p.numel() for m in model.modules() for p in m.parameters()) == 130_077_432
    with pytest.raises(Exception, match=r"^TAVID LivePortrait Loader / appearance_feature_extractor.safetensors: not "
                                        r"found in .*animal\. Put the five"):
        loader.execute(folder="liveportrait/animal")
    with pytest.raises(Exception, match="TAVID LivePortrait Loader / folder: .*leads out of it with '..'"):
        loader.execute(folder="liveportrait/../tavid")


def test_face_sampler_renders_with_liveportrait(nodes, graph, faces, tmp_path):
    """The Face Sampler takes the LivePortrait engine as it is (the tiny configuration here: the full one renders
    a frame in 18 s on a CPU core, see tavid bench face --engine liveportrait)."""
    from helpers.liveportrait import write_tiny_weights
    from tavid_core.engines.neural.face.liveportrait.config import tiny_config
    from tavid_core.engines.neural.face.liveportrait.engine import LivePortraitFaceModel
    from tavid_core.engines.neural.face.liveportrait.loader import load_liveportrait
    model = LivePortraitFaceModel(load_liveportrait(write_tiny_weights(tmp_path), config=tiny_config()), tiny_config())
    motion = graph["motion_a"].window(0, 10)
    frames = nodes["TAVIDFaceSampler"].execute(face_model=model, image=image_tensor(faces["grace_hopper"]),
                                               motion=motion, size=SIZE, face_toward="right")[0]
    assert frames.shape == (10, SIZE, SIZE, 3) and frames.dtype == torch.float32
    assert float((frames[1:] - frames[:-1]).abs().mean()) > 0   # the head moves


def test_f5_loader_lists_models_f5_tts_and_names_what_does_not_fit(nodes, models_dir):
    """The files as users keep them in models/f5_tts: the default of each list is the file for it; a tiny
    seeded model reaches the loader through the node (and is refused as another size, by name)."""
    from helpers.f5_files import write_f5_files
    loader = nodes["TAVIDF5Loader"]
    assert loader.define_schema().inputs[0].widget["options"] == ["(no .safetensors files found)"]
    with pytest.raises(Exception, match="TAVID F5-TTS Loader / f5_model: there are no F5-TTS files in models/f5_tts"):
        loader.execute(f5_model="(no .safetensors files found)", vocoder="(no .safetensors files found)")
    write_f5_files(models_dir / "f5_tts")
    model, vocoder = (socket.widget["options"][0] for socket in loader.define_schema().inputs[:2])
    assert (model, vocoder) == ("F5TTS_v1_Base/model_1250000.safetensors", "vocos_mel_24khz.safetensors")
    with pytest.raises(Exception, match=r"TAVID F5-TTS Loader / F5TTS_v1_Base/model_1250000.safetensors: is an F5-TTS "
                                        r"model 64 wide with 2 blocks, not F5TTS_v1_Base"):
        loader.execute(f5_model=model, vocoder=vocoder)
    with pytest.raises(Exception, match="TAVID F5-TTS Loader / engines: two Vocos vocoders"):
        loader.execute(f5_model=vocoder, vocoder=vocoder)


def test_lora_loader_refuses_builtin_engines_but_passes_through_at_zero(nodes, graph, models_dir):
    lora = nodes["TAVIDLoraLoader"]
    face_model, speech_model = graph["engines"][4], graph["engines"][1]
    with pytest.raises(Exception, match="TAVID LoRA Loader / face_model: the builtin-warp engine has no network"):
        lora.execute(face_model=face_model, lora_name="x.safetensors", strength=1.0)
    assert lora.execute(face_model=face_model, speech_model=speech_model, lora_name="x", strength=0.0).args == (
        face_model, speech_model)
    with pytest.raises(Exception, match="neither a face model nor a speech model"):
        lora.execute(lora_name="x", strength=1.0)


def test_face_sampler_takes_comfyui_sampler_and_sigmas(nodes, graph, faces):
    """A neural face model in the node, driven by a SAMPLER (KSamplerSelect's shape: a sampler function and
    its options) and SIGMAS; connecting only one of them is refused by name; TAVID Face Model Sampling hands
    scheduler nodes the face model's noise levels and nothing else."""
    from types import SimpleNamespace

    from helpers.face_models import euler_k_sampler, untrained

    face_model = untrained(package="comfyui_tavid.tavid_core")
    sampler = nodes["TAVIDFaceSampler"]
    motion = graph["motion_a"].window(0, 6)
    ksampler = SimpleNamespace(sampler_function=euler_k_sampler, extra_options={})
    sigmas = torch.tensor([14.6, 3.0, 0.5, 0.0])

    def render(**inputs) -> torch.Tensor:
        return sampler.execute(face_model=face_model, image=image_tensor(faces["grace_hopper"]), motion=motion,
                               size=64, steps=20, seed=4, **inputs)[0]

    first = render(sampler_custom=ksampler, sigmas=sigmas)
    assert first.shape == (6, 64, 64, 3)
    assert torch.equal(first, render(sampler_custom=ksampler, sigmas=sigmas))
    assert not torch.equal(first, render())   # its own scheduler at 20 steps is another path
    with pytest.raises(Exception, match="TAVID Face Sampler / sigmas: sampler_custom is connected but sigmas"):
        render(sampler_custom=ksampler)
    schedule = nodes["TAVIDFaceModelSampling"].execute(face_model=face_model)[0]
    levels = schedule.get_model_object("model_sampling")
    assert 0.02 < float(levels.sigma_min) < 0.04 and 14 < float(levels.sigma_max) < 15   # SD's scaled-linear range
    with pytest.raises(Exception, match="only carries a noise schedule"):
        schedule.model_options
    with pytest.raises(Exception, match="TAVID Face Model Sampling / face_model: the builtin-warp engine does not"):
        nodes["TAVIDFaceModelSampling"].execute(face_model=graph["engines"][4])


def test_comfyui_models_folders_are_registered_and_searched_for_wheel_models(pack, tmp_path, monkeypatch):
    """With ComfyUI's folder_paths (a stand-in with its API), models/tavid_analysis is registered and the
    library looks there for the files `tavid models fetch` keeps; models/liveportrait and models/f5_tts,
    safetensors only, are registered for the LivePortrait and F5-TTS loaders."""
    import importlib
    import sys
    import types
    registered = {}
    fake = types.ModuleType("folder_paths")
    fake.models_dir = str(tmp_path / "models")
    fake.folder_names_and_paths = registered
    fake.add_model_folder_path = lambda key, path: registered.setdefault(key, ([], set()))[0].append(path)
    fake.get_folder_paths = lambda key: list(registered[key][0])
    monkeypatch.setitem(sys.modules, "folder_paths", fake)
    runtime = importlib.import_module(f"{pack.__name__}.nodes.runtime")
    wheel_models = importlib.import_module(f"{pack.__name__}.tavid_core.analysis.wheel_models")
    runtime.register_model_folders()
    assert set(registered) == {"tavid", "tavid_loras", "tavid_analysis", "liveportrait", "f5_tts"}
    assert registered["tavid"][1] == {".safetensors"} and registered["tavid_analysis"][1] == set()
    for key in ("liveportrait", "f5_tts"):
        assert registered[key] == ([str(tmp_path / "models" / key)], {".safetensors"})
    folder = str(tmp_path / "models" / "tavid_analysis")
    try:
        assert folder in wheel_models.model_folders()
    finally:
        wheel_models._host_folders.remove(folder)
