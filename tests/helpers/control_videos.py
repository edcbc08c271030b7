"""Control videos for `tavid eval`, made from real renders: each changes one thing a metric must see."""
from __future__ import annotations

import dataclasses

import numpy as np

from tavid_core.dialogue import parse_script
from tavid_core.engines.protocols import MotionMapper
from tavid_core.media.video import VideoWriter, read_video
from tavid_core.pipeline import GenerateSettings, TavidPipeline

# A's first turn has pauses inside it: phrase ends B can react to while A goes on; the script's pause
# and the natural gap must come out in the sound as the timeline says
EVAL_SCRIPT = """\
A: Good morning! I finally fixed the old radio. It took me all weekend, but it plays again.
B: That is wonderful. What was wrong with it?
[pause:0.7s]
A: A broken wire, believe it or not. Just one tiny wire.
"""
SIZE, FPS = 256, 25.0
MOUTH = ("jaw_open", "mouth_wide", "mouth_round")


class EditedMotion(MotionMapper):
    """The built-in motion, changed by `edit(a, b)` before any face is drawn."""

    def __init__(self, inner: MotionMapper):
        self.inner = inner

    def map(self, speech, *, runtime, fps=25.0, seed=0, expressiveness=1.0):
        return self.edit(*self.inner.map(speech, runtime=runtime, fps=fps, seed=seed, expressiveness=expressiveness))


class RandomJaw(EditedMotion):
    """A's jaw opens and closes at random."""

    name = "random-jaw"

    def edit(self, a, b):
        expr = a.expr.copy()
        expr[:, a.expr_names.index("jaw_open")] = np.random.default_rng(0).uniform(0, 0.8, a.num_frames)
        return dataclasses.replace(a, expr=expr), b


class SwappedMouths(EditedMotion):
    """The mouths exchanged: each face's mouth moves with the other's speech."""

    name = "swapped-mouths"

    def edit(self, a, b):
        ea, eb = a.expr.copy(), b.expr.copy()
        for name in MOUTH:
            i, j = a.expr_names.index(name), b.expr_names.index(name)
            ea[:, i], eb[:, j] = b.expr[:, j], a.expr[:, i]
        return dataclasses.replace(a, expr=ea), dataclasses.replace(b, expr=eb)


def render(engines, runtime, faces, path, motion_mapper=None, **settings):
    """The eval script with Grace Hopper as A and the astronaut as B (joe and heart unless voices are named)."""
    if motion_mapper is not None:
        engines = dataclasses.replace(engines, motion_mapper=motion_mapper)
    pipeline = TavidPipeline(engines, runtime)
    return pipeline.generate(parse_script(EVAL_SCRIPT), faces["grace_hopper"], faces["astronaut"], str(path),
                             GenerateSettings(fps=FPS, size=SIZE, seed=1, **settings))


def rewrite(source, target, frames=None, audio_delay_frames=0):
    """The same video with other frames or the sound delayed."""
    original, fps, audio, rate = read_video(str(source))
    frames = original if frames is None else frames
    shift = int(round(audio_delay_frames / fps * rate))
    audio = np.pad(audio, ((0, 0), (shift, 0)))[:, :audio.shape[1]]
    with VideoWriter(str(target), fps, frames.shape[2], frames.shape[1], audio, rate) as writer:
        writer.write(frames)
    return target


def still(source, target):
    """The first frame held for the whole video, with the same sound."""
    frames = read_video(str(source))[0]
    return rewrite(source, target, frames=np.repeat(frames[:1], len(frames), axis=0))
