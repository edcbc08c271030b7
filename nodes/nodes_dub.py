"""Dub mode in ComfyUI: TAVID Load Recording (a recording from the input folder, or the sample conversation
that needs no file) and TAVID Dialogue Audio (an existing recording of two people becomes the timed speech that
drives both faces)."""
from __future__ import annotations

from comfy_api.latest import io

from ..tavid_core.dub import FIRST_SPEAKERS, LANGUAGES, WORD_MODES, DubSettings, dub_speech, load_recording
from ..tavid_core.dub.sample import PARTS, sample_recording
from ..tavid_core.media.audio import load_audio
from . import sockets
from .convert import from_audio, to_audio
from .errors import node_errors
from .runtime import AUDIO_EXTENSIONS, file_in, input_files, input_fingerprint, input_folder, node_runtime

NAME = "TAVID Dialogue Audio"
SAMPLE = "sample conversation: "   # how the list names the sample's parts


def recording_options() -> list[str]:
    return [SAMPLE + part for part in PARTS] + [n for n in input_files(AUDIO_EXTENSIONS) if not n.startswith(SAMPLE)]


def recording_path(name: str) -> str:
    return file_in([input_folder()], name, "recording", "the input folder",
                   "Pick a recording from the list; put your own into ComfyUI/input and refresh (R).")


class LoadRecording(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        options = recording_options()
        return io.Schema(
            node_id="TAVIDLoadRecording",
            display_name="TAVID Load Recording",
            category=sockets.CATEGORY,
            description="A recording for dub mode: any audio (or video) file in ComfyUI/input (copy it there, or "
                        "upload it with a Load Audio node, then refresh with R), or the sample conversation, which "
                        "the built-in voices speak once (the first four lines of the example dialogue) as one mix "
                        "or as each person's own track.",
            inputs=[io.Combo.Input("recording", options=options, default=options[0],
                                   tooltip="The sample conversation (both voices, or one person's track), or a "
                                           "file from ComfyUI/input.")],
            outputs=[io.Audio.Output("audio", display_name="recording",
                                     tooltip="The recording as it is (its rate and channels), for TAVID Dialogue "
                                             "Audio.")],
        )

    @classmethod
    def fingerprint_inputs(cls, recording: str):
        """A file replaced under the same name is read again."""
        return input_fingerprint(recording, recording.startswith(SAMPLE), recording_path)

    @classmethod
    def execute(cls, recording: str) -> io.NodeOutput:
        with node_errors("TAVID Load Recording"):
            if recording.startswith(SAMPLE):
                audio, rate = sample_recording(recording[len(SAMPLE):])
            else:
                audio, rate = load_audio(recording_path(recording), where="recording")
            return io.NodeOutput(to_audio(audio, rate))


class DialogueAudio(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TAVIDDialogueAudio",
            display_name=NAME,
            category=sockets.CATEGORY,
            description="Dub mode: a recording of two people (a podcast, an interview, another TTS pack's dialogue) "
                        "in place of the Speech Generator. Connect the one recording that holds both voices, or "
                        "each person's own track; who speaks when is found in the sound (with two tracks, the "
                        "louder one owns a moment; with one, the two voices are told apart), the words come from "
                        "the dialogue when one is connected, else Whisper hears them. Motion Mapper, Face Sampler "
                        "and Compose take the result as they take generated speech; give Create Video the audio "
                        "output, which is the recording itself.",
            inputs=[
                io.Audio.Input("audio", optional=True, tooltip="The recording with both voices (or leave it empty "
                                                               "and connect audio_a and audio_b)."),
                io.Audio.Input("audio_a", optional=True, tooltip="The first person's own track."),
                io.Audio.Input("audio_b", optional=True, tooltip="The second person's own track."),
                sockets.Dialogue.Input("dialogue", optional=True,
                                       tooltip="The transcript (TAVID Dialogue Script): exact words, and with one "
                                               "recording also which voice is the first speaker."),
                io.Combo.Input("first_speaker", options=list(FIRST_SPEAKERS), default="a",
                               tooltip="One recording without a dialogue: the voice heard first is this person."),
                io.Combo.Input("language", options=list(LANGUAGES), default="en",
                               tooltip="en: words and phonemes shape the mouths; other: the loudness does."),
                io.Combo.Input("words", options=list(WORD_MODES), default="auto",
                               tooltip="auto: from the dialogue, else heard by Whisper; energy: mouths follow the "
                                       "loudness only."),
                io.Float.Input("max_minutes", default=60.0, min=0.1, max=240.0, step=1.0,
                               tooltip="Longest recording accepted."),
            ],
            outputs=[
                sockets.Speech.Output("speech", display_name="speech",
                                      tooltip="Timed speech of both people, for the Motion Mapper and Compose "
                                              "Dialogue."),
                io.Audio.Output("recording", display_name="recording",
                                tooltip="What the video should carry: the recording as it is (two tracks summed)."),
            ],
        )

    @classmethod
    def execute(cls, audio=None, audio_a=None, audio_b=None, dialogue=None, first_speaker: str = "a",
                language: str = "en", words: str = "auto", max_minutes: float = 60.0) -> io.NodeOutput:
        with node_errors(NAME):
            settings = DubSettings(first_speaker=first_speaker, language=language, words=words,
                                   max_minutes=max_minutes)
            settings.check()
            recording = load_recording(*(from_audio(a, f, mono=False) for a, f in
                                         ((audio, "audio"), (audio_a, "audio_a"), (audio_b, "audio_b"))),
                                       max_minutes=max_minutes, names=("audio", "audio_a", "audio_b"))
            result = dub_speech(recording, dialogue, settings, runtime=node_runtime())
            if audio is not None:
                heard = audio   # passed on untouched
            else:
                track = recording.soundtrack()
                heard = to_audio(track.read(track.length), track.rate)
        return io.NodeOutput(result.speech, heard)


NODES = [LoadRecording, DialogueAudio]
