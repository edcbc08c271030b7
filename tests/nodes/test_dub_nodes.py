"""TAVID Load Recording and TAVID Dialogue Audio: the dub template's graph node by node on the sample conversation
(no file, no model to fetch) renders a video that carries the recording and whose timeline is the sample's; a
recording from the input folder keeps its rate and channels; a missing or half-given recording is a clear error."""
import json

import numpy as np
import pytest
import soundfile as sf
import torch

from tavid_core.dialogue import parse_script
from tavid_core.dub.sample import SAMPLE_SCRIPT

SIZE = 64


def test_the_dub_graph_on_the_sample_tracks_renders_the_recording(nodes, folders):
    from tavid_core.media.video import read_video
    load = nodes["TAVIDLoadRecording"]
    track_a, track_b = (load.execute(recording=f"sample conversation: {w}'s track")[0] for w in "AB")
    mix = load.execute(recording="sample conversation: both voices")[0]
    assert track_a["sample_rate"] == 24000 and track_a["waveform"].shape[:2] == (1, 1)
    assert torch.allclose(track_a["waveform"] + track_b["waveform"], mix["waveform"], atol=1e-6)

    _, _, _, mm, fm = nodes["TAVIDBuiltinEngines"].execute().args
    speech, recording = nodes["TAVIDDialogueAudio"].execute(audio_a=track_a, audio_b=track_b, words="energy").args
    script = parse_script(SAMPLE_SCRIPT)
    spoken = [s for s in speech.timeline if not s.is_backchannel]
    assert [s.speaker for s in spoken] == [t.speaker for t in script.turns]
    assert recording["sample_rate"] == 24000
    assert torch.allclose(recording["waveform"][0].sum(0), mix["waveform"][0, 0], atol=1e-4)

    motion_a, motion_b, _ = nodes["TAVIDMotionMapper"].execute(motion_mapper=mm, speech=speech).args
    portraits = [nodes["TAVIDLoadPortrait"].execute(portrait=f"sample: {n}")[0] for n in ("grace_hopper", "astronaut")]
    result = nodes["TAVIDRenderVideo"].execute(face_model=fm, image_a=portraits[0], image_b=portraits[1],
                                               motion_a=motion_a, motion_b=motion_b, speech=speech, size=SIZE,
                                               audio=recording, filename_prefix="tavid/dub")
    frames, fps, audio, rate = read_video(result[0].get_stream_source())
    heard = mix["waveform"][0, 0].numpy()
    n = min(audio.shape[1], len(heard))
    assert rate == 24000 and np.corrcoef(audio[0, :n], heard[:n])[0, 1] > 0.99   # the recording, not a 16 kHz copy
    timeline = json.loads((folders / "output" / "tavid" / "dub_00001_.json").read_text())
    assert len(timeline["timeline"]) == len(speech.timeline)


def test_load_recording_offers_the_samples_and_the_input_files(nodes, folders):
    load = nodes["TAVIDLoadRecording"]
    (folders / "input" / "talks").mkdir()
    stereo = np.stack([np.sin(np.arange(8000) / 8.0), np.zeros(8000)]).T.astype(np.float32) * 0.3
    sf.write(folders / "input" / "talks" / "chat.flac", stereo, 44100)
    (folders / "input" / "notes.txt").write_text("not a recording")
    options = load.define_schema().inputs[0].widget["options"]
    assert options == ["sample conversation: both voices", "sample conversation: A's track",
                       "sample conversation: B's track", "talks/chat.flac"]
    audio = load.execute(recording="talks/chat.flac")[0]
    assert audio["sample_rate"] == 44100 and audio["waveform"].shape == (1, 2, 8000)
    before = load.fingerprint_inputs(recording="talks/chat.flac")
    sf.write(folders / "input" / "talks" / "chat.flac", stereo[:4000], 44100)   # replaced under its name
    assert load.fingerprint_inputs(recording="talks/chat.flac") != before
    with pytest.raises(Exception, match="TAVID Load Recording / recording: no file may leave the input folder"):
        load.execute(recording="../output/x.wav")


def test_dialogue_audio_says_what_is_missing(nodes):
    dub = nodes["TAVIDDialogueAudio"]
    track = nodes["TAVIDLoadRecording"].execute(recording="sample conversation: A's track")[0]
    with pytest.raises(Exception, match="TAVID Dialogue Audio / audio: no recording given"):
        dub.execute()
    with pytest.raises(Exception, match="TAVID Dialogue Audio / audio_b: only one person's track was given"):
        dub.execute(audio_a=track)
    with pytest.raises(Exception, match="TAVID Dialogue Audio / audio: give either one mixed recording"):
        dub.execute(audio=track, audio_a=track, audio_b=track)
