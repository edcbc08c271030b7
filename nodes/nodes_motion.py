"""The motion mapper: both people's speech becomes talking and listening motion for both faces."""
from __future__ import annotations

from comfy_api.latest import io

from ..tavid_core.limits import SEED_RANGE
from . import sockets
from .errors import node_errors
from .runtime import node_runtime


class MotionMapper(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TAVIDMotionMapper",
            display_name="TAVID Motion Mapper",
            category=sockets.CATEGORY,
            description="Reads both speakers' speech and makes each face's motion: lips, head and brows while "
                        "talking; nods, smiles, blinks and gaze with a closed mouth while listening. The frame "
                        "count follows the audio exactly.",
            inputs=[
                sockets.MotionMapper.Input("motion_mapper", tooltip="From a TAVID loader."),
                sockets.Speech.Input("speech", tooltip="From TAVID Speech Generator."),
                io.Float.Input("fps", default=25.0, min=1.0, max=120.0, step=1.0, tooltip="Video frame rate."),
                io.Int.Input("seed", default=0, min=0, max=SEED_RANGE[1], control_after_generate=True,
                             tooltip="Fixes blinks, nods and head motion: the same seed gives the same motion."),
                io.Float.Input("expressiveness", default=1.0, min=0.0, max=3.0, step=0.05,
                               tooltip="Scales head motion, nods, brows and smiles (lip sync is unaffected)."),
            ],
            outputs=[
                sockets.Motion.Output("motion_a", display_name="motion A",
                                      tooltip="Motion of the first speaker's face."),
                sockets.Motion.Output("motion_b", display_name="motion B",
                                      tooltip="Motion of the second speaker's face."),
                io.Float.Output("frame_rate", display_name="fps", tooltip="The frame rate, for Create Video."),
            ],
        )

    @classmethod
    def execute(cls, motion_mapper, speech, fps: float = 25.0, seed: int = 0,
                expressiveness: float = 1.0) -> io.NodeOutput:
        with node_errors("TAVID Motion Mapper"):
            motion_a, motion_b = motion_mapper.map(speech, runtime=node_runtime(), fps=fps, seed=seed,
                                                   expressiveness=expressiveness)
        return io.NodeOutput(motion_a, motion_b, float(fps))


NODES = [MotionMapper]
