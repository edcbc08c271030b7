"""TAVID Render Video and TAVID Load Portrait: a graph that needs no file renders straight into ComfyUI's output
folder the very video `tavid generate` makes for the same script and seed; the IMAGE path refuses, with its
numbers, a batch that cannot fit in memory, and warns about a graph that will not."""
import json
import logging
import sys

import numpy as np
import pytest
import torch

from helpers.scripts import SHORT_SCRIPT

SIZE, SEED = 96, 5


def rendered_graph(nodes, **render) -> tuple:
    """The zero-downloads template's graph node by node, one seed everywhere as `tavid generate --seed` has it."""
    te, sm, spm, mm, fm = nodes["TAVIDBuiltinEngines"].execute().args
    dialogue = nodes["TAVIDDialogueScript"].execute(script=SHORT_SCRIPT)[0]
    text = nodes["TAVIDTextEncoder"].execute(text_encoder=te, dialogue=dialogue)[0]
    a, b = (nodes["TAVIDLoadPortrait"].execute(portrait=f"sample: {n}")[0] for n in ("grace_hopper", "astronaut"))
    voices = [nodes["TAVIDSpeakerMapper"].execute(speaker_mapper=spm, image=image)[0] for image in (a, b)]
    speech = nodes["TAVIDSpeechGenerator"].execute(speech_model=sm, text=text, voice_a=voices[0], voice_b=voices[1],
                                                   seed=SEED)[3]
    motion_a, motion_b, _ = nodes["TAVIDMotionMapper"].execute(motion_mapper=mm, speech=speech, seed=SEED).args
    return nodes["TAVIDRenderVideo"].execute(face_model=fm, image_a=a, image_b=b, motion_a=motion_a, motion_b=motion_b,
                                             speech=speech, size=SIZE, seed=SEED, **render), speech


def test_render_video_writes_what_tavid_generate_writes(nodes, folders, faces):
    from tavid_core.dialogue import parse_script
    from tavid_core.media.video import read_video
    from tavid_core.pipeline import GenerateSettings, TavidPipeline
    from tavid_core.runtime import StandaloneRuntime

    result, speech = rendered_graph(nodes)
    path = result[0].get_stream_source()
    assert path == str(folders / "output" / "tavid" / "conversation_00001_.mp4")
    assert result.ui.as_dict() == {"images": [{"filename": "conversation_00001_.mp4", "subfolder": "tavid",
                                               "type": "output"}], "animated": (True,)}
    timeline = json.loads((folders / "output" / "tavid" / "conversation_00001_.json").read_text())
    assert len(timeline["timeline"]) == len(speech.timeline) and timeline["size"] == SIZE

    cli = folders / "cli.mp4"
    TavidPipeline.builtin(StandaloneRuntime(device="cpu", quiet=True)).generate(
        parse_script(SHORT_SCRIPT), faces["grace_hopper"], faces["astronaut"], str(cli),
        GenerateSettings(size=SIZE, seed=SEED))
    assert (folders / "output" / "tavid" / "conversation_00001_.mp4").read_bytes() == cli.read_bytes()
    frames, fps, audio, _ = read_video(path)
    assert frames.shape == (round(speech.duration_s * 25), SIZE, 2 * SIZE, 3) and fps == 25

    again, _ = rendered_graph(nodes, layout="stacked", filename_prefix="tavid/conversation")
    assert again[0].get_stream_source().endswith("conversation_00002_.mp4")   # numbered as ComfyUI's savers do
    assert read_video(again[0].get_stream_source())[0].shape[1:3] == (2 * SIZE, SIZE)


def test_render_video_keeps_to_the_output_folder(nodes, folders):
    with pytest.raises(Exception, match="TAVID Render Video / filename_prefix: no file may leave the output folder"):
        rendered_graph(nodes, filename_prefix="../escape")
    assert not list((folders / "output").rglob("*.mp4"))


def test_load_portrait_offers_the_samples_and_the_input_pictures(nodes, folders, faces):
    from tavid_core.media.images import save_image
    portrait = nodes["TAVIDLoadPortrait"]
    (folders / "input" / "people").mkdir()
    save_image(faces["astronaut"][::2, ::2], str(folders / "input" / "people" / "eileen.png"))
    (folders / "input" / "notes.txt").write_text("not a picture")
    options = portrait.define_schema().inputs[0].widget["options"]
    assert options == ["sample: grace_hopper", "sample: astronaut", "people/eileen.png"]
    image = portrait.execute(portrait="sample: grace_hopper")[0]
    assert image.shape == (1, *faces["grace_hopper"].shape) and image.dtype == torch.float32
    assert torch.equal((image[0] * 255).round().to(torch.uint8), torch.from_numpy(faces["grace_hopper"]))
    assert portrait.execute(portrait="people/eileen.png")[0].shape == (1, 256, 256, 3)
    before = portrait.fingerprint_inputs(portrait="people/eileen.png")
    save_image(faces["astronaut"], str(folders / "input" / "people" / "eileen.png"))   # replaced under its name
    assert portrait.fingerprint_inputs(portrait="people/eileen.png") != before
    with pytest.raises(Exception, match="TAVID Load Portrait / portrait: no file may leave the input folder"):
        portrait.execute(portrait="../output/x.png")
    with pytest.raises(Exception, match="TAVID Load Portrait / portrait: no file 'gone.png' in the input folder"):
        portrait.execute(portrait="gone.png")


def test_the_image_path_refuses_a_batch_that_cannot_fit_and_warns_about_a_graph(pack, nodes, monkeypatch, caplog,
                                                                               short_motion, faces):
    convert = sys.modules[f"{pack.__name__}.nodes.convert"]
    monkeypatch.setattr(convert, "available_memory", lambda: 8 * 2**30)
    with pytest.raises(Exception, match=r"7,500 frames of 512x512 px are 22\.0 GiB as an IMAGE batch, more than "
                                         r"the 8\.0 GiB of memory left") as err:
        convert.frames_tensor(7500, 512, 512, node="TAVID Face Sampler", field="motion")   # 5 minutes at 25 fps
    assert "TAVID Render Video" in err.value.fix

    te, sm, spm, mm, fm = nodes["TAVIDBuiltinEngines"].execute().args
    image = torch.from_numpy(faces["grace_hopper"].astype(np.float32) / 255)[None]
    motion = short_motion[0].window(0, 10)   # 10 frames of 64 px: 480 KiB as an IMAGE batch
    monkeypatch.setattr(convert, "available_memory", lambda: 300_000)
    with pytest.raises(Exception, match="TAVID Face Sampler / motion: 10 frames of 64x64 px are 0.5 MiB as an IMAGE "
                                        "batch, more than the 0.3 MiB"):
        nodes["TAVIDFaceSampler"].execute(face_model=fm, image=image, motion=motion, size=64)
    monkeypatch.setattr(convert, "available_memory", lambda: 1_000_000)   # this batch fits, the graph's four do not
    with caplog.at_level(logging.WARNING, logger="tavid"):
        frames = nodes["TAVIDFaceSampler"].execute(face_model=fm, image=image, motion=motion, size=64)[0]
    assert frames.shape == (10, 64, 64, 3)
    assert "TAVID Face Sampler: 10 frames of 64x64 px are 0.5 MiB as an IMAGE batch; the graph keeps about 1.9 MiB" \
        in caplog.text
