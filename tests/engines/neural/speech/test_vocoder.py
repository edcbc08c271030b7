"""The neural (Vocos-style) vocoder, its losses and critics, and its training task, on real built-in speech."""
import math
import wave

import numpy as np
import pytest
import torch

from tavid_core.engines.neural.speech.config import speech_config
from tavid_core.engines.neural.speech.mel import LogMel
from tavid_core.engines.neural.speech.vocoder import FADE_FRAMES, Vocoder
from tavid_core.errors import TavidError
from tavid_core.train.data.manifest import ClipRecord
from tavid_core.train.losses.audio import (MelL1Loss, MultiResolutionSTFTLoss, discriminator_loss,
                                           feature_matching_loss, generator_adversarial_loss)
from tavid_core.train.tasks.vocoder import VocoderTask
from tavid_core.types import Voice

CFG = speech_config("tiny")
HOP = CFG.mel.hop


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def clip(engines, tmp_path_factory):
    """1.66 s of the built-in 'heart' voice at 24 kHz, as an array and as a 16-bit wav file."""
    utt = engines.speech_model.speak("Maybe a bit tired, but happy.", "heart",
                                     Voice(engine="builtin", preset="heart"), seed=0)
    assert utt.sample_rate == CFG.mel.sample_rate and 1.0 < utt.duration_s < 2.0
    path = tmp_path_factory.mktemp("vocoder") / "heart.wav"
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1), f.setsampwidth(2), f.setframerate(utt.sample_rate)
        f.writeframes((np.clip(utt.audio, -1, 1) * 32767).astype("<i2").tobytes())
    return utt.audio, str(path)


@pytest.fixture(scope="module")
def mel(clip):
    return LogMel(CFG.mel)(torch.from_numpy(clip[0])[None])


def vocoder(seed: int = 0) -> Vocoder:
    torch.manual_seed(seed)
    return Vocoder(CFG.vocoder, CFG.mel)


def test_shapes_and_the_mel_round_trip(mel):
    v = vocoder()
    frames = mel.shape[1]
    sound = v(mel)
    assert sound.shape == (1, (frames - 1) * HOP) and torch.isfinite(sound).all()
    assert LogMel(CFG.mel)(sound).shape == mel.shape  # vocoding keeps the frame count
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = v(mel)
    assert half.dtype == torch.float32  # the iSTFT runs in float32 under autocast


def test_a_padded_batch_matches_each_item_alone(mel):
    v = vocoder().eval()
    a, b = mel[0, :60], mel[0, 80:105]
    batch = torch.stack([a, torch.cat([b, torch.zeros(35, CFG.mel.n_mels)])])
    mask = torch.arange(60)[None] < torch.tensor([[60], [25]])
    with torch.no_grad():
        out, alone_a, alone_b = v(batch, mask), v(a[None])[0], v(b[None])[0]
    assert (out[0] - alone_a).abs().max() < 1e-5
    end = 24 * HOP
    assert out[1, end:].abs().max() == 0                       # nothing after the last real frame
    half = CFG.mel.n_fft // 2                                  # the documented window-normalisation tail
    assert (out[1, :end - half] - alone_b[:-half]).abs().max() < 1e-5


def test_chunked_vocoding_equals_one_shot_with_flat_memory(mel):
    v = vocoder().eval()
    long = mel.repeat(1, 13, 1)  # about 21 s of real mel frames
    seen = []
    hook = v.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[1]))
    try:
        with torch.inference_mode():
            whole = v(long)
        seen.clear()
        chunked = v.vocode(long, chunk_frames=64)
    finally:
        hook.remove()
    assert chunked.shape == whole.shape
    # each chunk sees its whole receptive field, so only float rounding differs (measured ~1e-7 of a 0.1 peak)
    assert (chunked - whole).abs().max() < 1e-5
    assert len(seen) == math.ceil((long.shape[1] - 1) / 64) and len(seen) > 20
    assert max(seen) <= 64 + 2 * (v.context_frames + FADE_FRAMES) + 1  # bounded whatever the length
    # a padded batch chunks the same way, mask included
    pair = torch.cat([long, torch.roll(long, 500, dims=1)])
    mask = torch.arange(long.shape[1])[None] < torch.tensor([[long.shape[1]], [700]])
    with torch.inference_mode():
        assert (v.vocode(pair, chunk_frames=64, mask=mask) - v(pair, mask)).abs().max() < 1e-5
    with pytest.raises(TavidError, match="chunk_frames"):
        v.vocode(long, chunk_frames=8)


def test_a_mel_of_the_wrong_shape_is_a_plain_error():
    v = vocoder()
    with pytest.raises(TavidError, match=r"\[B, T, 100\], got \(1, 50, 80\)"):
        v(torch.zeros(1, 50, 80))
    with pytest.raises(TavidError, match=r"\[B, T, 100\]"):
        v.vocode(torch.zeros(50, 100))
    with pytest.raises(TavidError, match="at least 2"):
        v(torch.zeros(1, 1, 100))


def test_spectral_and_gan_losses_on_known_values(clip):
    real = torch.from_numpy(clip[0])[None]
    stft = MultiResolutionSTFTLoss()
    assert stft(real, real) == 0
    sc, _ = stft.terms(torch.zeros_like(real), real)
    assert sc.item() == pytest.approx(1.0, abs=1e-6)           # silence misses all of the spectrum
    mel_l1 = MelL1Loss(CFG.mel)
    assert mel_l1(real, real) == 0 and mel_l1(0.5 * real, real) > 0.3  # halving costs up to log 2 = 0.69

    ones, zeros = [torch.ones(2, 5)], [torch.zeros(2, 5)]
    assert discriminator_loss(ones, zeros, "lsgan") == 0
    assert discriminator_loss(zeros, ones, "lsgan") == 2
    assert discriminator_loss([2 * ones[0]], [-2 * ones[0]], "hinge") == 0
    assert discriminator_loss(zeros, zeros, "hinge") == 2
    assert generator_adversarial_loss(ones, "lsgan") == 0 and generator_adversarial_loss(zeros, "hinge") == 1
    feats = [[torch.ones(2, 3), torch.ones(2, 4)]]
    assert feature_matching_loss(feats, feats) == 0
    assert feature_matching_loss(feats, [[0.5 * f for f in feats[0]]]) == pytest.approx(1.0)  # 0.5 per layer
    with pytest.raises(TavidError, match="unknown GAN loss"):
        discriminator_loss(ones, zeros, "wgan")


def task_for(clip, **kwargs) -> VocoderTask:
    records = [ClipRecord(audio=clip[1], text="Maybe a bit tired, but happy.", speaker="heart", line=1),
               ClipRecord(audio=clip[1], text="Maybe.", speaker="heart", start=0.2, end=0.4, line=2)]
    return VocoderTask(CFG, records, **kwargs)


def test_same_seed_same_examples_and_short_clips_are_padded(clip):
    a, b, c = task_for(clip, seed=3), task_for(clip, seed=3), task_for(clip, seed=4)
    n = 31 * HOP                                               # 32 mel frames of sound
    assert len(a.dataset()) == 5 + 1                           # 1.66 s ~ 5 segments; 0.2 s -> 1 (padded)
    for i in range(len(a.dataset())):
        assert torch.equal(a.dataset()[i], b.dataset()[i])
    assert any(not torch.equal(a.dataset()[i], c.dataset()[i]) for i in range(5))
    short = a.dataset()[5]
    assert short.shape == (n,) and short[int(0.2 * 24000) + 1:].abs().max() == 0 and short.abs().max() > 0.05
    batch = a.collate([a.dataset()[i] for i in range(3)])
    assert batch["audio"].shape == (3, n)
    # each example is a real piece of the clip (as the 16-bit file holds it)
    sound, piece = np.round(np.clip(clip[0], -1, 1) * 32767) / 32767, a.dataset()[0].numpy()
    heads = np.lib.stride_tricks.sliding_window_view(sound, 64)
    starts = np.flatnonzero(np.abs(heads - piece[:64]).max(1) < 1e-4)
    assert len(starts) == 1 and np.abs(sound[starts[0]:starts[0] + n] - piece).max() < 1e-4


def test_adversarial_losses_are_finite_and_train_the_right_networks(clip):
    task = task_for(clip, adversarial_from=1)
    batch = task.collate([task.dataset()[i] for i in (0, 1)])
    assert task.critic_loss(batch, 0) is None
    _, logs = task.loss(batch, 0)
    assert "adversarial" not in logs

    loss, logs = task.loss(batch, 1)
    assert all(math.isfinite(v) for v in logs.values()) and logs["feature_matching"] > 0
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in task.vocoder.parameters())
    assert all(p.grad is None for p in task.critic.parameters())  # the generator's step leaves the critic alone
    task.vocoder.zero_grad(set_to_none=True)

    logits, features = task.critic(batch["audio"])
    assert len(logits) == 5 + 3 and len(features) == 8 and all(len(f) == 6 for f in features)
    critic = task.critic_loss(batch, 1)
    assert torch.isfinite(critic) and critic > 0
    critic.backward()
    grads = [p.grad for p in task.critic.parameters()]
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0
    assert all(p.grad is None for p in task.vocoder.parameters())  # the critic's step leaves the vocoder alone


def test_training_on_one_clip_lowers_the_mel_error(clip, mel):
    torch.manual_seed(0)
    task = task_for(clip, adversarial_from=10**9, seed=0)
    net = task.vocoder

    def mel_error() -> float:
        with torch.no_grad():
            return (task.logmel(net(mel)) - mel).abs().mean().item()

    before = mel_error()
    opt = torch.optim.AdamW(net.parameters(), lr=5e-3)
    pick = torch.Generator().manual_seed(0)
    for step in range(200):
        batch = task.collate([task.dataset()[i] for i in torch.randint(0, 5, (4,), generator=pick).tolist()])
        loss, _ = task.loss(batch, step)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = mel_error()
    # measured: 1.82 -> 0.74 (2.5x) over the whole clip in 200 steps of 4 segments
    assert after < before / 2, (before, after)


def test_the_saved_config_rebuilds_the_network(clip):
    from tavid_core.checkpoints import SPEECH_SECTION
    from tavid_core.engines.neural.speech.config import SpeechSideConfig
    task = task_for(clip)
    settings = SpeechSideConfig.from_dict(task.config()[SPEECH_SECTION])
    assert task.block == "vocoder" and settings.name == "tiny"
    rebuilt = Vocoder(settings.vocoder, settings.mel)
    rebuilt.load_state_dict(task.modules()["vocoder"].state_dict())  # same shapes, strict
    assert set(task.critics()) == {"vocoder_critic"}
    with pytest.raises(TavidError, match=r"unknown settings \['bins'\]"):
        SpeechSideConfig.from_dict({**task.config()[SPEECH_SECTION], "mel": {"bins": 3}})
