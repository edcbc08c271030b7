"""The pack's socket types, in one place. Each is a ComfyUI custom type carrying a tavid_core object."""
from comfy_api.latest import io

Dialogue = io.Custom("TAVID_DIALOGUE")          # tavid_core.types.Dialogue
TextEncoder = io.Custom("TAVID_TEXT_ENCODER")   # tavid_core.engines.protocols.TextEncoder
SpeechModel = io.Custom("TAVID_SPEECH_MODEL")   # ...SpeechGenerator
SpeakerMapper = io.Custom("TAVID_SPEAKER_MAPPER")
MotionMapper = io.Custom("TAVID_MOTION_MAPPER")
FaceModel = io.Custom("TAVID_FACE_MODEL")
Text = io.Custom("TAVID_TEXT")                  # tavid_core.types.EncodedText
Voice = io.Custom("TAVID_VOICE")                # tavid_core.types.Voice
Speech = io.Custom("TAVID_SPEECH")              # tavid_core.types.Speech
Motion = io.Custom("TAVID_MOTION")              # tavid_core.types.Motion

CATEGORY = "TAVID"


def engine_outputs() -> list:
    """The five model handles every loader provides, in the order of EngineSet.BLOCKS."""
    return [
        TextEncoder.Output("text_encoder", display_name="text encoder",
                           tooltip="Turns the dialogue into what the speech model reads."),
        SpeechModel.Output("speech_model", display_name="speech model",
                           tooltip="Speaks both people's turns on one timeline."),
        SpeakerMapper.Output("speaker_mapper", display_name="speaker mapper",
                             tooltip="Turns a face into a voice."),
        MotionMapper.Output("motion_mapper", display_name="motion mapper",
                            tooltip="Turns both people's speech into talking and listening motion."),
        FaceModel.Output("face_model", display_name="face model",
                         tooltip="Animates a reference face following a motion."),
    ]
