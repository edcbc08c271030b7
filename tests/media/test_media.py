"""Real files: MP4 round trips through PyAV, images through PIL, resampling."""
import numpy as np
import pytest

from tavid_core.errors import TavidError
from tavid_core.examples import sample_portrait
from tavid_core.media.audio import load_audio, resample
from tavid_core.media.images import as_uint8_rgb, load_image, save_image
from tavid_core.media.video import VideoWriter, read_video
from tavid_core.pipeline import fit_audio


@pytest.mark.parametrize("fps, seconds", [(25.0, 2.37), (30.0, 1.0), (24.0, 3.01)])
def test_mp4_round_trip_keeps_frames_and_audio_in_step(tmp_path, faces, fps, seconds):
    rate = 24000
    frames = round(seconds * fps)
    t = np.arange(round(seconds * rate)) / rate
    audio = fit_audio((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None], rate, frames, fps)
    portrait = np.ascontiguousarray(faces["astronaut"][:128, :192])
    video = np.stack([np.roll(portrait, 3 * i, axis=1) for i in range(frames)])
    path = str(tmp_path / "clip.mp4")
    with VideoWriter(path, fps, 192, 128, audio, rate) as writer:
        for start in range(0, frames, 7):  # written in uneven windows, as the pipeline streams them
            writer.write(video[start:start + 7])
    decoded, got_fps, sound, got_rate = read_video(path)
    assert got_fps == pytest.approx(fps) and got_rate == rate
    assert len(decoded) == frames == round(audio.shape[1] / rate * fps)
    assert abs(sound.shape[1] / rate - frames / fps) < 1 / fps  # AAC pads a little, never a frame
    mse = np.mean((decoded.astype(float) - video.astype(float)) ** 2)
    assert 10 * np.log10(255 ** 2 / mse) > 30
    spectrum = np.abs(np.fft.rfft(sound[0]))
    assert abs(np.argmax(spectrum) * rate / len(sound[0]) - 440) < 5


def test_writer_rejects_wrong_frames(tmp_path):
    with VideoWriter(str(tmp_path / "x.mp4"), 25, 64, 64, np.zeros((1, 2400)), 24000) as writer:
        with pytest.raises(TavidError, match="frames must be"):
            writer.write(np.zeros((2, 64, 48, 3), np.uint8))
    with pytest.raises(TavidError, match="even"):
        VideoWriter(str(tmp_path / "y.mp4"), 25, 63, 64, np.zeros((1, 10)), 24000)


def test_resample_keeps_pitch_and_length():
    t = np.arange(22050) / 22050
    tone = np.sin(2 * np.pi * 300 * t).astype(np.float32)
    out = resample(tone, 22050, 24000)
    assert len(out) == 24000
    assert abs(np.argmax(np.abs(np.fft.rfft(out))) - 300) <= 1


def test_images_in_and_out(tmp_path, faces):
    path = str(tmp_path / "face.png")
    save_image(faces["grace_hopper"], path)
    assert np.array_equal(load_image(path), faces["grace_hopper"])
    assert as_uint8_rgb(np.ones((4, 5), np.float32)).shape == (4, 5, 3)
    assert as_uint8_rgb(np.zeros((4, 5, 4), np.float32)).dtype == np.uint8
    with pytest.raises(TavidError, match="no such image"):
        load_image(str(tmp_path / "missing.jpg"))
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(TavidError, match="cannot read the image"):
        load_image(str(tmp_path / "bad.jpg"))
    with pytest.raises(TavidError):
        as_uint8_rgb(np.zeros((2, 3, 5)))


def test_audio_files(tmp_path):
    path = str(tmp_path / "tone.mp4")
    t = np.arange(48000) / 48000
    with VideoWriter(path, 25, 32, 32, (0.2 * np.sin(2 * np.pi * 220 * t))[None], 48000) as writer:
        writer.write(np.zeros((25, 32, 32, 3), np.uint8))
    audio, rate = load_audio(path, 16000)
    assert rate == 16000 and audio.shape[0] == 1 and abs(audio.shape[1] - 16000) < 800
    with pytest.raises(TavidError, match="no such audio"):
        load_audio(str(tmp_path / "none.wav"))


def test_sample_portraits_come_from_installed_packages():
    assert sample_portrait("grace_hopper").shape == (600, 512, 3)
    assert sample_portrait("astronaut").shape == (512, 512, 3)
    with pytest.raises(TavidError):
        sample_portrait("nobody")
