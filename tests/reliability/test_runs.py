"""The reliability table for settings and for runs that fail part way: every bad value is a clear error
before any work starts, and an interrupt, an error or a full disk leaves no file behind while the
engines stay ready for the next run. (Same seed, same bits across two processes: test_cli.)"""
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from helpers.reliability import (Interrupted, InterruptingRuntime, Row, check_row, clear_error, leaves_nothing_new,
                                 rows_as_params)
from helpers.scripts import SHORT_SCRIPT
from tavid_core.dialogue import parse_script
from tavid_core.engines.protocols import SamplerSettings
from tavid_core.pipeline import GenerateSettings, TavidPipeline
from tavid_core.runtime import StandaloneRuntime

SIZE = 96
TINY = "A: Hi there.\nB: Hello."

SETTINGS_ROWS = [
    Row("fps 0", {"fps": 0}, ("fps must be between 1 and 120",), "fps"),
    Row("fps 1000", {"fps": 1000}, ("fps must be between 1 and 120",), "fps"),
    Row("fps NaN", {"fps": float("nan")}, ("fps must be between",), "fps"),
    Row("size 0", {"size": 0}, ("even number of pixels from 64 to 2048",), "size"),
    Row("size 100000", {"size": 100000}, ("even number of pixels",), "size"),
    Row("odd size", {"size": 257}, ("even number",), "size"),
    Row("steps 0", {"sampler": SamplerSettings(steps=0)}, ("steps must be between 1 and 1000",), "steps"),
    Row("negative seed", {"seed": -1}, ("seed must be a whole number from 0",), "seed"),
    Row("seed past 64 bits", {"seed": 2**64}, ("seed must be a whole number from 0",), "seed"),
    Row("largest seed", {"seed": 2**64 - 1}),
    Row("max minutes 0", {"max_minutes": 0}, ("longest dialogue in minutes must be between",), "max_minutes"),
    Row("expressiveness 10", {"expressiveness": 10}, ("expressiveness must be between 0 and 3",), "expressiveness"),
    Row("unknown layout", {"layout": "grid"}, ("unknown layout 'grid'", "choose one of"), "layout"),
]


@pytest.mark.parametrize("row", rows_as_params(SETTINGS_ROWS))
def test_settings_table(row):
    check_row(row, replace(GenerateSettings(), **row.value).check)


@pytest.fixture(scope="module")
def pipeline(engines, runtime):
    return TavidPipeline(engines, runtime)


def test_the_largest_seed_renders(pipeline, faces, tmp_path):
    """Seeds span ComfyUI's 64-bit range; the top one must not overflow anywhere."""
    result = pipeline.generate(parse_script(TINY), faces["grace_hopper"], faces["astronaut"],
                               str(tmp_path / "seed.mp4"), GenerateSettings(size=SIZE, seed=2**64 - 1))
    assert result.frames > 10 and os.path.getsize(result.video_path) > 1000
    (tmp_path / "plain.txt").write_text("x")  # results are ordinary files, not private like a temp file
    mode = (tmp_path / "plain.txt").stat().st_mode
    assert os.stat(result.video_path).st_mode == os.stat(result.timeline_path).st_mode == mode


def test_a_too_long_script_is_refused_from_its_text(pipeline, faces, tmp_path):
    """A 30-minute script stops before any speech is made: the text alone proves it is too long."""
    turn = "A: " + "We talked about the garden, the weather and the long road home. " * 20 + "\nB: Yes.\n"
    script = parse_script(turn * 40)
    with leaves_nothing_new(str(tmp_path)):
        error = clear_error(lambda: pipeline.generate(script, *pipeline_faces(faces), str(tmp_path / "long.mp4"),
                                                      GenerateSettings(size=SIZE)),
                            ("lasts at least", "over the limit of 15", "--max-minutes"), "script")
    assert float(str(error).split("at least ")[1].split()[0]) > 15


def test_the_limit_also_holds_on_the_speech_itself(pipeline, faces, tmp_path):
    """Text that is short but slow to say (pauses) passes the estimate and is caught on the real speech."""
    with leaves_nothing_new(str(tmp_path)):
        clear_error(lambda: pipeline.generate(parse_script(SHORT_SCRIPT), *pipeline_faces(faces),
                                              str(tmp_path / "x.mp4"), GenerateSettings(size=SIZE, max_minutes=0.1)),
                    ("lasts 0.1 minutes", "over the limit of 0.1"), "script")


def pipeline_faces(faces):
    return faces["grace_hopper"], faces["astronaut"]


@pytest.mark.parametrize("stage", ["speech", "frames"])
def test_an_interrupt_leaves_no_file_and_the_next_run_works(engines, faces, tmp_path, stage):
    output = tmp_path / "talk.mp4"
    output.write_bytes(b"an earlier result")  # a failed run must not destroy what was there
    with leaves_nothing_new(str(tmp_path)):
        with pytest.raises(Interrupted):  # ComfyUI's own exception passes through untouched
            TavidPipeline(engines, InterruptingRuntime(stage, after=2)).generate(
                parse_script(SHORT_SCRIPT), *pipeline_faces(faces), str(output), GenerateSettings(size=SIZE, window=8))
    assert output.read_bytes() == b"an earlier result" and not (tmp_path / "talk.json").exists()
    result = TavidPipeline(engines, StandaloneRuntime(device="cpu", quiet=True)).generate(
        parse_script(TINY), *pipeline_faces(faces), str(output), GenerateSettings(size=SIZE))
    assert result.frames > 10 and output.stat().st_size > 1000


@pytest.mark.parametrize("node, stage", [("TAVIDSpeechGenerator", "speech"), ("TAVIDFaceSampler", "face")])
def test_a_node_interrupted_raises_comfyuis_exception_and_runs_again(pack, faces, monkeypatch, node, stage):
    import asyncio

    import torch
    extension = asyncio.run(pack.comfy_entrypoint())
    nodes = {cls.define_schema().node_id: cls for cls in asyncio.run(extension.get_node_list())}
    te, sm, spm, mm, fm = nodes["TAVIDBuiltinEngines"].execute(voices="neural", render_grid=16).args
    dialogue = nodes["TAVIDDialogueScript"].execute(script=SHORT_SCRIPT)[0]
    text = nodes["TAVIDTextEncoder"].execute(text_encoder=te, dialogue=dialogue)[0]
    image = torch.from_numpy(faces["astronaut"].astype(np.float32) / 255)[None]
    voice = nodes["TAVIDSpeakerMapper"].execute(speaker_mapper=spm, image=image)[0]

    def run():
        speech = nodes["TAVIDSpeechGenerator"].execute(speech_model=sm, text=text, voice_a=voice, voice_b=voice,
                                                       seed=1).args[3]
        motion = nodes["TAVIDMotionMapper"].execute(motion_mapper=mm, speech=speech, fps=25.0).args[0]
        return nodes["TAVIDFaceSampler"].execute(face_model=fm, image=image, motion=motion, size=SIZE)[0]

    import comfyui_tavid.nodes.runtime as node_runtime
    monkeypatch.setattr(node_runtime, "_RUNTIME", InterruptingRuntime(stage, after=2))
    with pytest.raises(Interrupted):
        run()
    monkeypatch.setattr(node_runtime, "_RUNTIME", StandaloneRuntime(device="cpu", quiet=True))
    assert run().shape[1:] == (SIZE, SIZE, 3)


def test_a_device_as_output_is_refused(pipeline, faces):
    clear_error(lambda: pipeline.generate(parse_script(TINY), *pipeline_faces(faces), "/dev/full",
                                          GenerateSettings(size=SIZE)), ("/dev/full exists and is not a regular file",))


FULL_DISK = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
from tavid_core.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_full_disk_is_a_clear_error_and_leaves_no_file(tmp_path):
    (tmp_path / "talk.txt").write_text(SHORT_SCRIPT, encoding="utf-8")
    with leaves_nothing_new(str(tmp_path)):
        run = subprocess.run([sys.executable, "-c", FULL_DISK, "generate", "--script", str(tmp_path / "talk.txt"),
                              "-o", str(tmp_path / "talk.mp4"), "--size", str(SIZE), "-q"],
                             capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "talk.mp4" in lines[0] and "disk has room" in lines[0], run.stderr


def tight_memory(renderer_class, fits: int):
    """The built-in renderer on a device whose memory holds `fits` frames at once: a larger window raises
    the error torch raises when a GPU runs out of memory."""
    import torch

    class TightMemoryRenderer(renderer_class):
        def __init__(self):
            super().__init__()
            self.windows = []

        def render(self, face, motion, **kwargs):
            self.windows.append(motion.num_frames)
            if motion.num_frames > fits:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return super().render(face, motion, **kwargs)

    return TightMemoryRenderer()


def test_out_of_memory_renders_again_in_smaller_windows(engines, runtime, faces, short_motion):
    from tavid_core.engines.builtin import BuiltinFaceRenderer
    model = tight_memory(BuiltinFaceRenderer, fits=3)
    face = model.prepare(faces["astronaut"], size=SIZE, runtime=runtime)
    motion = short_motion[0].window(0, 10)
    frames = model.render_fitting(face, motion, runtime=runtime)
    assert model.windows == [10, 5, 2, 3, 5, 2, 3]  # halved until each part fits
    whole = engines.face_model.render(face, motion, runtime=runtime)
    # the same frames, but for float rounding of batched sums: a few values in a million differ (measured
    # 1e-5 to 4e-5 of them, by 1 to 3 levels, as kernels and OpenCV releases vary); a wrong window would
    # change whole frames
    assert np.mean(frames != whole) < 1e-4 and np.abs(frames.astype(int) - whole).max() <= 16


def test_out_of_memory_on_one_frame_says_what_to_lower(pack, faces, short_motion):
    import torch

    from comfyui_tavid.nodes.nodes_face import FaceSampler
    from comfyui_tavid.tavid_core.engines.builtin import BuiltinFaceRenderer
    image = torch.from_numpy(faces["astronaut"].astype(np.float32) / 255)[None]
    clear_error(lambda: FaceSampler.execute(face_model=tight_memory(BuiltinFaceRenderer, fits=0), image=image,
                                            motion=short_motion[1].window(0, 4), size=SIZE),
                ("out of memory on cpu rendering one frame of a 96 px face", "Lower size or steps"),
                "TAVID Face Sampler / size")


@pytest.mark.parametrize("script, max_minutes, words", [
    ("A: " + "We talked about the garden and the long road home. " * 30 + "\nB: Yes.\n", 0.5,
     ("lasts at least 0.8 minutes", "over the limit of 0.5", "max_minutes of the Speech Generator")),
    (SHORT_SCRIPT, 0.1, ("lasts 0.1 minutes", "over the limit of 0.1")),  # slow to say: caught on the speech
])
def test_the_speech_generator_node_has_its_own_length_limit(pack, engines, voices, script, max_minutes, words):
    from comfyui_tavid.nodes.nodes_speech import SpeechGenerator
    text = engines.text_encoder.encode(parse_script(script), runtime=StandaloneRuntime(device="cpu", quiet=True))
    clear_error(lambda: SpeechGenerator.execute(speech_model=engines.speech_model, text=text, voice_a=voices[0],
                                                voice_b=voices[1], max_minutes=max_minutes),
                words, "TAVID Speech Generator / text")


def test_two_faces_rendered_at_once_give_the_frames_rendered_one_after_the_other(engines, runtime, faces,
                                                                                 short_speech, short_motion, tmp_path):
    """The built-in faces render on two threads beside the encoder; the video must be the one a single thread
    makes, bit for bit."""
    import copy

    from tavid_core.media.video import read_video
    from tavid_core.pipeline import prepare_faces, render_video
    one_thread = copy.copy(engines.face_model)
    one_thread.renders_concurrently = False
    prepared = prepare_faces(engines.face_model, pipeline_faces(faces), SIZE, runtime)
    videos = []
    for model, name in ((engines.face_model, "two.mp4"), (one_thread, "one.mp4")):
        render_video(model, prepared, short_motion, short_speech, str(tmp_path / name), layout="side_by_side",
                     sampler=SamplerSettings(), runtime=runtime, window=10)
        videos.append(read_video(str(tmp_path / name))[0])
    assert engines.face_model.renders_concurrently and videos[0].shape[0] == short_motion[0].num_frames
    assert np.array_equal(videos[0], videos[1]) and videos[0].std() > 20
