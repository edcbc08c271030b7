"""The speech side: text encoder, speaker mapper (face -> voice) and speech generator."""
from __future__ import annotations

from comfy_api.latest import io

from ..tavid_core.engines.builtin import builtin_voice_names
from ..tavid_core.limits import (MAX_MINUTES, MAX_MINUTES_RANGE, ODE_METHODS, PITCH_SHIFT_RANGE, SEED_RANGE,
                                 SPEED_RANGE, check_length, check_script_length)
from . import sockets
from .convert import from_audio, reference_image, to_audio
from .errors import node_errors
from .runtime import node_runtime


class TextEncoder(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TAVIDTextEncoder",
            display_name="TAVID Text Encoder",
            category=sockets.CATEGORY,
            description="Prepares every turn of the dialogue for the speech model (normalised text, phonemes).",
            inputs=[
                sockets.TextEncoder.Input("text_encoder", tooltip="From a TAVID loader."),
                sockets.Dialogue.Input("dialogue", tooltip="From TAVID Dialogue Script."),
            ],
            outputs=[sockets.Text.Output("text", display_name="encoded text", tooltip="The encoded dialogue.")],
        )

    @classmethod
    def execute(cls, text_encoder, dialogue) -> io.NodeOutput:
        with node_errors("TAVID Text Encoder"):
            return io.NodeOutput(text_encoder.encode(dialogue, runtime=node_runtime()))


class SpeakerMapper(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TAVIDSpeakerMapper",
            display_name="TAVID Speaker Mapper",
            category=sockets.CATEGORY,
            description="Gives a person a voice from their face. The built-in mapper guesses the face's apparent sex "
                        "and age (a man's or a woman's voice, a little higher when young, lower when old) and its "
                        "identity varies the rest (the same face always gets the same voice); the guess can be "
                        "wrong, so a name picks a voice by hand, and an optional voice recording picks the closest "
                        "voice and pitch instead. Two people of one apparent sex get that sex's two voices. "
                        "With F5-TTS the recording (a few seconds of clean speech, with its transcript) is the voice "
                        "imitated; without one, F5-TTS imitates the built-in voice chosen for the face.",
            inputs=[
                sockets.SpeakerMapper.Input("speaker_mapper", tooltip="From a TAVID loader."),
                io.Image.Input("image", tooltip="A photo of the person (the first image of a batch is used)."),
                io.Audio.Input("audio", optional=True, tooltip="Optional recording of the person's voice to match."),
                io.Combo.Input("voice_name", options=["auto", *builtin_voice_names()], default="auto",
                               tooltip="auto: from the face (or the recording); or a voice by name."),
                io.Float.Input("pitch_shift", default=0.0, min=PITCH_SHIFT_RANGE[0], max=PITCH_SHIFT_RANGE[1],
                               step=0.1, tooltip="Semitones added to the voice's pitch."),
                io.Float.Input("speed", default=1.0, min=SPEED_RANGE[0], max=SPEED_RANGE[1], step=0.01,
                               tooltip="Speaking rate multiplier (1 = as mapped)."),
                io.String.Input("transcript", default="", optional=True,
                                tooltip="The words said in the connected recording. F5-TTS needs them to imitate "
                                        "the voice; the built-in voices only match its pitch."),
            ],
            outputs=[sockets.Voice.Output("voice", display_name="voice", tooltip="The person's voice."),
                     io.String.Output("reason", display_name="why this voice",
                                      tooltip="What was read in the face (apparent sex and age) and the voice it "
                                              "chose, also shown under the node.")],
        )

    @classmethod
    def execute(cls, speaker_mapper, image, voice_name: str = "auto", pitch_shift: float = 0.0, speed: float = 1.0,
                audio=None, transcript: str = "") -> io.NodeOutput:
        with node_errors("TAVID Speaker Mapper"):
            face = reference_image(image, "image")
            mapped = speaker_mapper.map_face(face, runtime=node_runtime(), reference_audio=from_audio(audio, "audio"),
                                             reference_text=transcript.strip() or None, voice=voice_name, where="image")
            return io.NodeOutput(mapped.adjusted(pitch_shift, speed), mapped.reason,
                                 ui={"tavid_voice": [mapped.reason]})


class SpeechGenerator(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TAVIDSpeechGenerator",
            display_name="TAVID Speech Generator",
            category=sockets.CATEGORY,
            description="Speaks the whole conversation turn by turn with each person's voice, with natural gaps "
                        "between turns and the script's pauses. Outputs the mix, each person's own track, and the "
                        "timed speech the motion mapper reads.",
            inputs=[
                sockets.SpeechModel.Input("speech_model", tooltip="From a TAVID loader."),
                sockets.Text.Input("text", tooltip="From TAVID Text Encoder."),
                sockets.Voice.Input("voice_a", tooltip="Voice of the first speaker."),
                sockets.Voice.Input("voice_b", tooltip="Voice of the second speaker."),
                io.Int.Input("seed", default=0, min=0, max=SEED_RANGE[1], control_after_generate=True,
                             tooltip="Fixes turn gaps and voice noise: the same seed gives the same audio."),
                io.Int.Input("steps", default=32, min=1, max=200,
                             tooltip="Sampling steps of neural speech models (the built-in voices ignore it)."),
                io.Float.Input("cfg", default=2.0, min=0.0, max=10.0, step=0.1,
                               tooltip="Guidance on the text of neural speech models: higher follows the words "
                                       "more closely (the built-in voices ignore it)."),
                io.Combo.Input("solver", options=list(ODE_METHODS), default="euler",
                               tooltip="ODE solver of neural speech models: midpoint is more accurate per step and "
                                       "costs two network passes per step (the built-in voices ignore it)."),
                io.Float.Input("speaker_cfg", default=1.0, min=0.0, max=10.0, step=0.1,
                               tooltip="Guidance on the voice of TAVID's neural speech model: higher sounds more like "
                                       "the mapped voice (the built-in voices and F5-TTS ignore it)."),
                io.Float.Input("max_minutes", default=MAX_MINUTES, min=MAX_MINUTES_RANGE[0],
                               max=MAX_MINUTES_RANGE[1], step=0.5,
                               tooltip="Longest conversation accepted, in minutes of speech: a script pasted twice "
                                       "stops at once instead of rendering for an hour."),
            ],
            outputs=[
                io.Audio.Output("audio", display_name="mix", tooltip="Both voices mixed."),
                io.Audio.Output("audio_a", display_name="A",
                                tooltip="Only the first speaker (silent while they listen)."),
                io.Audio.Output("audio_b", display_name="B",
                                tooltip="Only the second speaker."),
                sockets.Speech.Output("speech", display_name="speech",
                                      tooltip="Timed speech for the motion mapper and compositor."),
            ],
        )

    @classmethod
    def execute(cls, speech_model, text, voice_a, voice_b, seed: int = 0, steps: int = 32,
                cfg: float = 2.0, solver: str = "euler", speaker_cfg: float = 1.0,
                max_minutes: float = MAX_MINUTES) -> io.NodeOutput:
        with node_errors("TAVID Speech Generator"):
            check_script_length(text.dialogue, (voice_a, voice_b), max_minutes, where="text")
            speech = speech_model.generate(text, (voice_a, voice_b), runtime=node_runtime(), seed=seed, steps=steps,
                                           cfg=cfg, speaker_cfg=speaker_cfg, solver=solver)
            check_length(speech.duration_s, max_minutes, "text")
        rate = speech.sample_rate
        return io.NodeOutput(to_audio(speech.mix, rate), to_audio(speech.tracks[0], rate),
                             to_audio(speech.tracks[1], rate), speech,
                             ui={"tavid_speech": [who_speaks_when(speech, text)]})


def who_speaks_when(speech, text) -> dict:
    """What the pack's frontend draws under the node after a run: each person's stretches of speech, and each
    voice as spoken with its reason (the second of two people of one sex may have moved to another voice)."""
    return {"duration": round(speech.duration_s, 3), "speakers": list(text.dialogue.speakers),
            "segments": [[seg.speaker, round(seg.start_s, 3), round(seg.end_s, 3)] for seg in speech.timeline],
            "voices": [v.reason or v.preset or v.source for v in speech.voices or ()]}


NODES = [TextEncoder, SpeakerMapper, SpeechGenerator]
