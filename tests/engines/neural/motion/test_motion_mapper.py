"""The neural motion mapper: input features from either speech engine, windowed flow-matching sampling,
the engine's Motion contract, and a short real training run on the built-in mapper's motion."""
from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

from tavid_core.engines.neural.common.inference import seeded
from tavid_core.engines.neural.common.motion_vector import JAW, motion_vector
from tavid_core.engines.neural.common.windows import windows
from tavid_core.engines.neural.motion.config import HAS_HIDDEN, INPUT_NAMES, MotionMapperConfig, motion_config
from tavid_core.engines.neural.motion.engine import NeuralMotionMapper
from tavid_core.engines.neural.motion.features import speech_inputs
from tavid_core.engines.neural.motion.generate import generate_motion
from tavid_core.engines.neural.motion.net import MotionMapperNet
from tavid_core.engines.neural.motion.training import (conversation_examples, listening_mouth_loss, motion_losses,
                                                       random_batch, smoothness_loss, sync_loss)
from tavid_core.errors import TavidError
from tavid_core.types import EXPR_CHANNELS, Speech

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CFG = motion_config("tiny")
TRAIN_STEPS = 200
UNIT = ("jaw_open", "mouth_round", "smile", "blink_left", "blink_right")   # 0..1; the rest -1..1


def with_hidden(speech: Speech, width: int = CFG.hidden_dim, seed: int = 0) -> Speech:
    """`speech` with `width` hidden_* columns appended, as the neural speech generator writes them: a fixed
    random projection of the named features where the person speaks, zeros where they are quiet."""
    rng = np.random.default_rng(seed)
    times = (np.arange(speech.features.shape[1]) + 0.5) / speech.feature_rate
    hidden = np.tanh(speech.features @ rng.normal(0, 2.0, (speech.features.shape[2], width)))
    hidden *= np.stack([speech.activity_at(p, times) for p in (0, 1)])[..., None]
    names = speech.feature_names + tuple(f"hidden_{k}" for k in range(width))
    return Speech(sample_rate=speech.sample_rate, tracks=speech.tracks, timeline=speech.timeline,
                  features=np.concatenate([speech.features, hidden.astype(np.float32)], axis=2),
                  feature_rate=speech.feature_rate, feature_names=names, voices=speech.voices)


def normalised(net: MotionMapperNet, raw: torch.Tensor | np.ndarray) -> np.ndarray:
    return net.normalise(torch.as_tensor(raw)).numpy()


def jaw_energy_correlation(motion, speech: Speech, person: int = 0) -> float:
    """Correlation of the person's jaw_open with their own energy over the frames of their turns."""
    frames = motion.num_frames
    energy = speech_inputs(speech, replace(CFG, fps=motion.fps), frames)[person, :, 0]
    own = speech.activity(person, frames, motion.fps) > 0
    return float(np.corrcoef(motion.channel("jaw_open")[own], energy[own])[0, 1])


@pytest.fixture(scope="module")
def trained(short_speech, short_motion):
    """A tiny motion mapper trained for TRAIN_STEPS AdamW steps on the built-in mapper's motion of both people
    of `short_speech` (real targets), with its flow loss measured before and after on one fixed batch."""
    examples = conversation_examples(short_speech, short_motion, CFG)
    torch.manual_seed(0)
    net = MotionMapperNet(CFG)
    untrained = copy.deepcopy(net).eval()
    fixed = random_batch(examples, 8, CFG.window_frames, torch.Generator().manual_seed(5))

    def fixed_flow_loss() -> float:
        net.eval()
        with torch.no_grad():  # the same noise, times and crops every time: only the network changes
            losses = motion_losses(net, fixed, torch.Generator().manual_seed(9), times=torch.linspace(0.05, 0.95, 8),
                                   p_prompt=0.0, p_drop=0.0)
        return float(losses["flow"])

    before = fixed_flow_loss()
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3)
    # the rate falls linearly to 0: the last steps settle the weights instead of jittering them
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / TRAIN_STEPS)
    generator = torch.Generator().manual_seed(1)
    net.train()
    for _ in range(TRAIN_STEPS):
        loss = motion_losses(net, random_batch(examples, 8, CFG.window_frames, generator), generator)["total"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    after = fixed_flow_loss()
    return {"net": net.eval(), "untrained": untrained, "before": before, "after": after}


# ---------------------------------------------------------------------------------------------- config
def test_presets_round_trip_and_refuse_bad_settings():
    for preset in ("tiny", "small", "base"):
        cfg = motion_config(preset)
        assert MotionMapperConfig.from_dict(cfg.to_dict()) == cfg
        assert cfg.motion_width == 15 and cfg.feature_width == len(INPUT_NAMES) + cfg.hidden_dim
    assert motion_config("small").hidden_dim == 384 and motion_config("base").hidden_dim == 1024  # the DiT widths
    with pytest.raises(TavidError) as e:
        MotionMapperConfig.from_dict({**CFG.to_dict(), "depthh": 3}, where="motion.safetensors")
    assert "depthh" in str(e.value) and e.value.where == "motion.safetensors"
    with pytest.raises(TavidError):
        replace(CFG, overlap_frames=CFG.window_frames)
    with pytest.raises(TavidError) as e:
        motion_config("huge")
    assert e.value.where == "--config"


# -------------------------------------------------------------------------------------------- features
def test_inputs_from_builtin_speech_and_from_hidden_features(short_speech):
    frames = short_speech.num_frames(CFG.fps)
    plain = speech_inputs(short_speech, CFG)
    assert plain.shape == (2, frames, CFG.feature_width)
    # built-in features are at 100 Hz: a 25 fps frame is exactly the mean of its four samples
    energy = short_speech.feature("energy")
    for j in (10, 60, 150):
        assert plain[0, j, 0] == pytest.approx(energy[0, 4 * j:4 * j + 4].mean(), abs=1e-5)
    assert np.array_equal(plain[1, :, 3], short_speech.activity(1, frames, CFG.fps))
    assert np.all(plain[:, :, HAS_HIDDEN] == 0) and np.all(plain[:, :, len(INPUT_NAMES):] == 0)

    rich = speech_inputs(with_hidden(short_speech), CFG)
    assert np.all(rich[:, :, HAS_HIDDEN] == 1) and np.array_equal(rich[:, :, :HAS_HIDDEN], plain[:, :, :HAS_HIDDEN])
    hidden = rich[:, :, len(INPUT_NAMES):]
    speaking = rich[..., 3] > 0
    loud = np.abs(hidden[speaking]).mean()
    assert loud > 0.2 and np.abs(hidden[~speaking]).mean() < 0.1 * loud
    # hidden features of another width than the network reads are left out, not misread
    other = speech_inputs(with_hidden(short_speech, width=CFG.hidden_dim // 2), CFG)
    assert np.array_equal(other, plain)


# --------------------------------------------------------------------------------------------- windows
class RampNet(MotionMapperNet):
    """A stand-in network whose flow ends exactly on its own feature 0 in every channel (v = (target - x) / (1 - t)
    reaches the target on the last step), recording every window's prompt: any slip in the window bookkeeping
    shows in the output."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.calls = []

    def forward(self, x_t, t, own, partner, role, mask=None, prompt=None, prompt_mask=None, drop_speech=None):
        self.calls.append((tuple(x_t.shape), prompt[0].clone(), prompt_mask[0].clone()))
        target = own[..., :1].expand_as(x_t)
        return (target - x_t) / (1 - t).clamp(min=1e-6)[:, None, None]


def test_windows_join_exactly_with_the_previous_windows_frames_as_prompt():
    frames, steps = 600, 4
    net = RampNet(CFG)
    ramp = torch.sin(torch.arange(frames) / 9.0) + torch.arange(frames) / 300.0
    own = torch.zeros(frames, CFG.feature_width)
    own[:, 0] = ramp
    seen_windows, progress = [], []
    out = generate_motion(net, own, torch.zeros_like(own), 0, steps=steps, generator=seeded(0),
                          on_step=lambda done, total: progress.append((done, total)),
                          on_window=lambda *w: seen_windows.append(w))
    spans = windows(frames, CFG.window_frames, CFG.overlap_frames)
    assert len(spans) == 10 and spans[0] == (0, 80) and spans[1] == (64, 144) and spans[-1][1] == frames
    assert [w[2:] for w in seen_windows] == spans and seen_windows[0][:2] == (0, 10)
    assert progress[-1] == (len(spans) * steps, len(spans) * steps) and len(progress) == len(spans) * steps
    # the result is the target in every frame, through nine joins
    assert np.abs(normalised(net, out) - ramp[:, None].numpy()).max() < 1e-4
    # flat memory: every forward saw one window at most, and each window after the first got the
    # previous window's last overlap_frames frames as its prompt
    shapes = [c[0] for c in net.calls]
    assert max(s[1] for s in shapes) == CFG.window_frames and all(s[0] == 1 for s in shapes)
    for k, (start, stop) in enumerate(spans):
        _, prompt, given = net.calls[k * steps]
        o = 0 if k == 0 else CFG.overlap_frames
        assert int(given.sum()) == o and bool(given[:o].all())
        assert torch.allclose(prompt[:o, 0], ramp[start:start + o], atol=1e-6)
    # guidance doubles the batch, not the window
    net.calls.clear()
    generate_motion(net, own[:100], own[:100], 1, steps=2, generator=seeded(0), cfg=1.5)
    assert {c[0] for c in net.calls} == {(2, 80, 15), (2, 36, 15)}


# ---------------------------------------------------------------------------------------------- losses
def test_auxiliary_losses_measure_what_they_say():
    t = torch.linspace(0, 6, 50)[None]
    energy = torch.sin(t)
    everywhere = torch.ones_like(t, dtype=torch.bool)
    assert float(sync_loss(0.3 * energy + 0.5, energy, everywhere)) == pytest.approx(0.0, abs=1e-4)
    assert float(sync_loss(-energy, energy, everywhere)) == pytest.approx(2.0, abs=1e-4)
    assert float(sync_loss(energy, energy, everywhere & (t < 0.5))) == 0.0  # too few frames to judge
    ramp = torch.arange(20.0)[None, :, None].repeat(1, 1, 3)
    assert float(smoothness_loss(ramp, torch.ones(1, 20, dtype=torch.bool))) == 0.0
    zigzag = torch.tensor([1.0, -1.0] * 10)[None, :, None]
    assert float(smoothness_loss(zigzag, torch.ones(1, 20, dtype=torch.bool))) == pytest.approx(16.0)
    jaw = torch.tensor([[0.4, 0.4, 0.0, -0.2, 0.2]])
    speaking = torch.tensor([[1.0, 0.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, True, True, False]])
    assert float(listening_mouth_loss(jaw, speaking, mask)) == pytest.approx(0.16 / 3)


def test_a_short_training_run_learns_the_motion_and_lip_sync(trained, short_speech, runtime):
    """Reported: flow loss on a fixed batch, and the jaw/energy correlation in A's turns."""
    print(f"\nflow loss {trained['before']:.3f} -> {trained['after']:.3f} after {TRAIN_STEPS} steps")
    assert trained["after"] <= 0.5 * trained["before"]
    a = NeuralMotionMapper(trained["net"]).map(short_speech, runtime=runtime, seed=0)
    a0 = NeuralMotionMapper(trained["untrained"]).map(short_speech, runtime=runtime, seed=0)
    fit, blind = jaw_energy_correlation(a[0], short_speech), jaw_energy_correlation(a0[0], short_speech)
    print(f"jaw_open ~ energy in A's turns: trained {fit:.2f}, untrained {blind:.2f}")
    assert fit > 0.5 and fit > blind + 0.3
    # listening comes from the network: mouths stay nearly shut while the partner talks
    for person, motion in enumerate(a):
        own = short_speech.activity(person, motion.num_frames, 25.0) > 0
        jaw = motion.channel("jaw_open")
        print(f"person {person}: jaw speaking {jaw[own].mean():.3f}, listening {jaw[~own].mean():.3f}")
        assert jaw[~own].mean() < 0.25 * jaw[own].mean()


def test_joins_of_a_trained_model_are_seamless(trained, short_speech):
    """Three windows over short_speech; frame-to-frame change (normalised units, mean over channels) around the
    joins against everywhere else."""
    net = trained["net"]
    inputs = torch.from_numpy(speech_inputs(short_speech, CFG))
    spans = []
    out = generate_motion(net, inputs[0], inputs[1], 0, generator=seeded(0, 0),
                          on_window=lambda i, n, start, stop: spans.append((start, stop)))
    assert len(spans) == 3
    change = np.abs(np.diff(normalised(net, out), axis=0)).mean(axis=1)
    join = np.zeros(len(change), bool)
    for start, _ in spans[1:]:
        join[start - 1:start + CFG.overlap_frames + 1] = True   # the overlap and the step into and out of it
    print(f"\nframe-to-frame change at joins mean {change[join].mean():.3f} max {change[join].max():.3f}; "
          f"elsewhere mean {change[~join].mean():.3f} max {change[~join].max():.3f}")
    # no jump: the largest change at a join is within what happens inside windows. The mean is allowed a
    # little more: a window's first and last frames see less context and are a little noisier (the start
    # of the first window too), and the overlap blends two of them.
    assert change[join].max() <= change[~join].max()
    assert change[join].mean() <= 1.25 * change[~join].mean()


# ---------------------------------------------------------------------------------------------- engine
def test_engine_gives_valid_seeded_motion_at_any_fps(trained, short_speech, runtime):
    engine = NeuralMotionMapper(trained["net"])
    assert engine.describe()["name"] == "tavid-motion" and engine.family == "neural"
    for fps in (25.0, 30.0):
        motions = engine.map(short_speech, runtime=runtime, fps=fps, seed=0)
        for person, m in enumerate(motions):
            assert m.num_frames == short_speech.num_frames(fps) and m.fps == fps and m.codes is None
            assert np.array_equal(m.speaking, short_speech.activity(person, m.num_frames, fps))
            assert np.abs(m.pose[:, :3]).max() <= 0.5 and np.all((m.pose[:, 5] >= 0.8) & (m.pose[:, 5] <= 1.25))
            for k, name in enumerate(EXPR_CHANNELS):
                assert m.expr[:, k].min() >= (0.0 if name in UNIT else -1.0) and m.expr[:, k].max() <= 1.0
            assert m.pose[:, :3].std() > 1e-3 and m.channel("jaw_open").max() > 0.2   # it moves
    again = engine.map(short_speech, runtime=runtime, seed=0)
    other = engine.map(short_speech, runtime=runtime, seed=1)
    base = engine.map(short_speech, runtime=runtime, seed=0)
    assert all(np.array_equal(x.pose, y.pose) and np.array_equal(x.expr, y.expr) for x, y in zip(again, base))
    assert all(np.abs(x.expr - y.expr).mean() > 1e-3 for x, y in zip(other, base))


def test_an_interrupt_stops_it_inside_the_sampling(trained, short_speech):
    from helpers.reliability import Interrupted, InterruptingRuntime
    runtime = InterruptingRuntime("motion", after=5)   # the stage's check, the first window's, then its third step
    with pytest.raises(Interrupted):
        NeuralMotionMapper(trained["net"]).map(short_speech, runtime=runtime)
    assert runtime.after == 0


def test_hidden_features_drive_it_too_and_the_partner_is_heard(trained, short_speech, runtime):
    engine = NeuralMotionMapper(trained["net"])
    plain = engine.map(short_speech, runtime=runtime, seed=0)
    rich = engine.map(with_hidden(short_speech), runtime=runtime, seed=0)
    for x, y in zip(plain, rich):
        assert x.num_frames == y.num_frames
        assert np.abs(x.expr - y.expr).mean() > 1e-3
        assert np.all(y.expr[:, 0] >= 0) and np.all(y.expr[:, 0] <= 1)
    # A's motion depends on what B says: silencing B's features changes A while B talks
    inputs = torch.from_numpy(speech_inputs(short_speech, CFG))
    heard = generate_motion(trained["net"], inputs[0], inputs[1], 0, generator=seeded(0, 0), steps=4)
    deaf = generate_motion(trained["net"], inputs[0], torch.zeros_like(inputs[1]), 0, generator=seeded(0, 0), steps=4)
    b_talks = inputs[1, :, 3] > 0
    assert (heard - deaf)[b_talks].abs().mean() > 1e-3


def test_expressiveness_scales_head_and_face_but_not_the_mouth(trained, short_speech, runtime):
    engine = NeuralMotionMapper(trained["net"])
    full = engine.map(short_speech, runtime=runtime, seed=0)
    calm = engine.map(short_speech, runtime=runtime, seed=0, expressiveness=0.0)
    for f, c in zip(full, calm):
        assert np.abs(c.pose[:, :5]).max() == 0 and np.all(c.pose[:, 5] == 1.0)
        assert np.all(c.channel("smile") == 0) and np.all(c.channel("brow_raise") == 0)
        assert np.array_equal(c.channel("jaw_open"), f.channel("jaw_open"))
        assert np.abs(f.pose[:, :3]).max() > 0.01


def test_latent_codes_travel_with_the_motion(short_speech, short_motion, runtime):
    cfg = replace(CFG, code_dim=3)
    net = MotionMapperNet(cfg)
    assert net(torch.zeros(2, 20, 18), torch.rand(2), torch.zeros(2, 20, cfg.feature_width),
               torch.zeros(2, 20, cfg.feature_width), torch.tensor([0, 1])).shape == (2, 20, 18)
    a, b = NeuralMotionMapper(net, steps=2).map(short_speech, runtime=runtime, fps=30.0)
    assert a.codes.shape == (short_speech.num_frames(30.0), 3) and np.isfinite(b.codes).all()
    assert motion_vector(a, 3).shape == (a.num_frames, 18) and motion_vector(a)[:, JAW].max() <= 1.0
    with pytest.raises(TavidError) as e:
        motion_vector(short_motion[0], 3)   # built-in motion has no codes to train on
    assert e.value.where == "Motion.codes"
