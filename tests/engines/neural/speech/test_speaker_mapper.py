"""Neural speaker mapper: aligned face crops, the face and voice encoders, the contrastive losses, all on
real portraits and real built-in speech with the tiny configuration."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tavid_core.analysis.faces import face_analyzer
from tavid_core.engines.neural.speech.config import speech_config
from tavid_core.engines.neural.speech.face_crop import (aligned_face, aligned_from_landmarks, alignment_matrix,
                                                        alignment_points, face_template, transform_points)
from tavid_core.engines.neural.speech.mel import LogMel
from tavid_core.engines.neural.speech.speaker_mapper import FaceEncoder, NeuralSpeakerMapper, speaker_vector
from tavid_core.errors import FaceNotFoundError, TavidError
from tavid_core.media.audio import resample
from tavid_core.train.losses.contrastive import embedding_match_loss, face_voice_contrastive_loss

CFG = speech_config("tiny")
SIZE = CFG.speaker.image_size


def _seeded(seed: int, build):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return build()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def mapper():
    return _seeded(0, lambda: NeuralSpeakerMapper.from_config(CFG))


@pytest.fixture(scope="module")
def landmarks(faces):
    return {name: face_analyzer().analyze(image).landmarks for name, image in faces.items()}


@pytest.fixture(scope="module")
def crops(faces, landmarks):
    return {name: aligned_from_landmarks(faces[name], landmarks[name], SIZE) for name in faces}


@pytest.fixture(scope="module")
def joe_speech():
    """Real speech of the built-in piper voice "joe", at its own 22.05 kHz."""
    from tavid_core.engines.builtin.tts.catalog import VoiceCatalog, voice_info
    utt = VoiceCatalog().backend(voice_info("joe").family).synthesize(
        "This is how I sound when I talk.", voice="joe", rate=1.0, pitch=1.0, seed=0)
    assert utt.sample_rate == 22050
    return utt.audio, utt.sample_rate


def _pixels(crop: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float() / 255.0


# ------------------------------------------------------------------------------------------- crops
@pytest.mark.parametrize("name", ["grace_hopper", "astronaut"])
def test_aligned_crop_puts_the_eyes_on_the_template(faces, landmarks, crops, name):
    crop, template = crops[name], face_template(SIZE)
    assert crop.shape == (SIZE, SIZE, 3) and crop.dtype == np.uint8
    # the photo's landmarks carried by the fitted transform
    carried = transform_points(alignment_matrix(landmarks[name], SIZE), alignment_points(landmarks[name]))
    assert np.linalg.norm(carried[:2] - template[:2], axis=1).max() < 2.0
    # dlib run again on the crop itself (edge-padded so the detector has room): the warp did what the fit said
    pad = 32
    again = face_analyzer().analyze(np.pad(crop, ((pad, pad), (pad, pad), (0, 0)), mode="edge")).landmarks - pad
    eyes = alignment_points(again)[:2]
    error = np.linalg.norm(eyes - template[:2], axis=1)
    print(f"{name}: eye error after re-detection {np.round(error, 2)} px")
    assert error.max() < 2.0
    # and the detection path gives the same crop as the landmarks path
    assert np.array_equal(aligned_face(faces[name], SIZE), crop)


@pytest.mark.parametrize("name", ["grace_hopper", "astronaut"])
def test_mirrored_photo_gives_the_mirrored_crop(faces, crops, name):
    crop = crops[name].astype(np.float32)
    mirrored = aligned_face(np.ascontiguousarray(faces[name][:, ::-1]), SIZE).astype(np.float32)
    diff = np.abs(mirrored - crop[:, ::-1]).mean()
    shifted = np.abs(np.roll(crop, 2, axis=1) - crop).mean()  # what a 2-pixel misalignment costs
    unmirrored = np.abs(mirrored - crop).mean()
    print(f"{name}: mirror diff {diff:.1f} levels, 2-px shift {shifted:.1f}, unmirrored {unmirrored:.1f}")
    assert diff < 0.6 * shifted and diff < 0.4 * unmirrored


def test_no_face_names_the_input(cat_image):
    with pytest.raises(FaceNotFoundError) as err:
        aligned_face(cat_image, SIZE, where="face B")
    assert str(err.value).startswith("face B: no face found")


# ---------------------------------------------------------------------------------------- encoders
def test_face_encoder_has_no_batch_statistics(crops):
    encoder = _seeded(1, lambda: FaceEncoder(CFG.speaker))
    batch = torch.stack([_pixels(crops["grace_hopper"]), _pixels(crops["astronaut"]),
                         _pixels(crops["grace_hopper"][:, ::-1])])
    with torch.no_grad():
        rows = encoder(batch)
        single = encoder(batch[1:2])
    assert rows.shape == (3, CFG.speaker.speaker_dim)
    torch.testing.assert_close(single[0], rows[1], atol=1e-5, rtol=1e-5)
    # speaker_vector: every embedding has length sqrt(dim)
    torch.testing.assert_close(rows.norm(dim=1), torch.full((3,), CFG.speaker.speaker_dim ** 0.5))
    assert not torch.allclose(rows[0], rows[1], atol=1e-3)


def test_map_face_gives_a_neural_voice_deterministically(mapper, runtime, faces):
    a1 = mapper.map_face(faces["grace_hopper"], runtime=runtime)
    a2 = mapper.map_face(faces["grace_hopper"], runtime=runtime)
    b = mapper.map_face(faces["astronaut"], runtime=runtime, pitch_semitones=-2.0, rate=1.1)
    assert (a1.engine, a1.source, a1.preset, a1.pitch_semitones, a1.rate) == ("neural", "face", None, 0.0, 1.0)
    assert a1.embedding.shape == (CFG.speaker.speaker_dim,)
    assert np.array_equal(a1.embedding, a2.embedding)
    assert np.linalg.norm(a1.embedding) == pytest.approx(CFG.speaker.speaker_dim ** 0.5, rel=1e-5)
    assert (b.pitch_semitones, b.rate) == (-2.0, 1.1)
    assert np.abs(a1.embedding - b.embedding).max() > 1e-3
    assert mapper.family == "neural" and mapper.name == "tavid-speaker"


def test_reference_audio_goes_through_the_voice_encoder(mapper, runtime, faces, joe_speech):
    audio, rate = joe_speech
    v = mapper.map_face(faces["grace_hopper"], runtime=runtime, reference_audio=(audio, rate))
    assert v.engine == "neural" and v.source == "reference_audio"
    # the same as resampling to the mel rate, LogMel and the voice encoder by hand
    wave = resample(audio, rate, CFG.mel.sample_rate)
    with torch.no_grad():
        expected = mapper.voice_encoder(LogMel(CFG.mel)(torch.from_numpy(wave)[None]))[0].numpy()
    np.testing.assert_allclose(v.embedding, expected, atol=1e-5)
    # two identical channels are the same recording
    stereo = mapper.map_face(faces["grace_hopper"], runtime=runtime, reference_audio=(np.stack([audio, audio]), rate))
    np.testing.assert_allclose(stereo.embedding, v.embedding, atol=1e-5)
    face = mapper.map_face(faces["grace_hopper"], runtime=runtime)
    assert np.abs(face.embedding - v.embedding).max() > 1e-2


def test_voice_encoder_ignores_padding(mapper, joe_speech):
    audio, rate = joe_speech
    with torch.no_grad():
        mel = LogMel(CFG.mel)(torch.from_numpy(resample(audio, rate, CFG.mel.sample_rate))[None])
        t = mel.shape[1]
        padded = torch.cat([mel, torch.full((1, 40, mel.shape[2]), 3.0)], dim=1)  # loud junk past the end
        batch = torch.cat([padded, torch.cat([mel[:, : t // 2], padded[:, t // 2:]], dim=1)])
        mask = torch.arange(t + 40)[None] < torch.tensor([[t], [t // 2]])
        out = mapper.voice_encoder(batch, mask)
        alone = mapper.voice_encoder(mel)
        half = mapper.voice_encoder(mel[:, : t // 2])
    torch.testing.assert_close(out[0], alone[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out[1], half[0], atol=1e-5, rtol=1e-5)


def test_short_reference_and_presets_are_refused(mapper, runtime, faces, joe_speech):
    audio, rate = joe_speech
    with pytest.raises(TavidError) as err:
        mapper.map_face(faces["grace_hopper"], runtime=runtime, reference_audio=(audio[: rate // 10], rate),
                        where="face A")
    assert err.value.where == "face A reference audio" and "0.10 s" in str(err.value) and "at least 0.5 s" in str(err.value)
    with pytest.raises(TavidError) as err:
        mapper.map_face(faces["grace_hopper"], runtime=runtime, voice="joe")
    assert err.value.where == "voice" and "built-in" in str(err.value) and "auto" in err.value.fix


# ------------------------------------------------------------------------------------------ losses
def test_contrastive_loss_values():
    e = torch.eye(2)
    # two speakers, perfect pairs, temperature 1: -log(e / (e + 1)) in both directions
    assert face_voice_contrastive_loss(e, e, torch.tensor([0, 1]), 1.0).item() == pytest.approx(np.log1p(np.exp(-1)))
    # one speaker twice: both voices match each face, so the loss averages both log-probabilities
    same = face_voice_contrastive_loss(e, e, torch.tensor([0, 0]), 1.0).item()
    assert same == pytest.approx(np.log1p(np.e) - 0.5)
    assert embedding_match_loss(e, e).item() == pytest.approx(0.0, abs=1e-6)
    assert embedding_match_loss(e, -e).item() == pytest.approx(2.0)


def test_contrastive_loss_prefers_aligned_pairs():
    g = torch.Generator().manual_seed(3)
    ids = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    speakers = torch.randn(4, 16, generator=g)
    voice = speakers[ids] + 0.3 * torch.randn(8, 16, generator=g)
    face = speakers[ids] + 0.3 * torch.randn(8, 16, generator=g)
    shuffled = face[torch.tensor([2, 3, 4, 5, 6, 7, 0, 1])]  # every face moved to another speaker's rows
    t = CFG.speaker.temperature
    aligned_loss = face_voice_contrastive_loss(face, voice, ids, t).item()
    shuffled_loss = face_voice_contrastive_loss(shuffled, voice, ids, t).item()
    print(f"contrastive loss: aligned {aligned_loss:.3f}, shuffled {shuffled_loss:.3f}")
    assert aligned_loss < np.log(2) + 0.5 < shuffled_loss  # log 2: the floor with two matches per row
    assert embedding_match_loss(face, voice) < embedding_match_loss(shuffled, voice)


def test_face_encoder_learns_to_land_near_its_voice(crops):
    """~100 AdamW steps on the two real faces (shifted, brightened copies) against two fixed voices."""
    g = torch.Generator().manual_seed(5)
    dim = CFG.speaker.speaker_dim
    voices = speaker_vector(torch.randn(2, dim, generator=g))
    encoder = _seeded(2, lambda: FaceEncoder(CFG.speaker))
    clean = torch.stack([_pixels(crops["grace_hopper"]), _pixels(crops["astronaut"])])

    def augment(n_each: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        ids = torch.arange(2).repeat_interleave(n_each)
        padded = F.pad(clean[ids], (3, 3, 3, 3), mode="replicate")
        out = []
        for img in padded:
            dx, dy = torch.randint(0, 7, (2,), generator=gen).tolist()  # shifts of up to 3 px
            gain = 0.8 + 0.4 * torch.rand((), generator=gen)             # brightness 0.8..1.2
            out.append((img[:, dy:dy + SIZE, dx:dx + SIZE] * gain).clamp(0, 1))
        return torch.stack(out), ids

    def cosines(images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return F.normalize(encoder(images), dim=1) @ F.normalize(voices, dim=1).T  # [face, voice]

    def margins(images: torch.Tensor) -> np.ndarray:
        cos = cosines(images)
        return (cos.diagonal() - cos.flip(1).diagonal()).numpy()  # own voice minus the other one

    before = margins(clean)
    opt = torch.optim.AdamW(encoder.parameters(), lr=3e-3, weight_decay=1e-4)
    for _ in range(100):
        images, ids = augment(4, g)
        emb = encoder(images)
        loss = (face_voice_contrastive_loss(emb, voices[ids], ids, CFG.speaker.temperature)
                + embedding_match_loss(emb, voices[ids]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    held_out, _ = augment(1, torch.Generator().manual_seed(99))
    after, after_new = margins(clean), margins(held_out)
    own = cosines(clean).diagonal().numpy()
    between = F.cosine_similarity(voices[0], voices[1], dim=0).item()
    print(f"cosine margins (own - other voice): before {np.round(before, 3)}, after {np.round(after, 3)}, "
          f"unseen augmentation {np.round(after_new, 3)}; own cosine {np.round(own, 3)}; the two voices' cosine "
          f"{between:.3f}; final loss {loss.item():.3f}")
    assert (after > 0.3).all() and (after_new > 0.3).all() and (own > 0.8).all()
