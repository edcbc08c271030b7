"""The speech DiT and the generic conditional flow matching it (and the motion mapper) train and sample with."""
from __future__ import annotations

import math

import pytest
import torch

from tavid_core.engines.neural.common.flow import flow_matching_loss, sample_times, solve, sway_times, weighted_guidance
from tavid_core.engines.neural.common.layers import DiTBlock
from tavid_core.engines.neural.speech.config import speech_config
from tavid_core.engines.neural.speech.dit import (SpeechDiT, drop_flags, generate, guided_velocity, infill_mask,
                                                  training_loss)
from tavid_core.errors import TavidError
from tavid_core.limits import ODE_METHODS

CFG = speech_config("tiny")
M = CFG.mel.n_mels


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def active_dit(seed: int = 0) -> SpeechDiT:
    """A tiny DiT whose adaLN modulations are random instead of zero, so every block does something
    (a fresh one is the identity and would make masking and guidance tests pass trivially)."""
    torch.manual_seed(seed)
    dit = SpeechDiT(CFG.dit, M).eval()
    with torch.no_grad():
        for name, p in dit.named_parameters():
            if "modulation" in name:
                p.normal_(0.0, 0.3)
    return dit


def inputs(b: int, frames: int, tokens: int = 12, seed: int = 1):
    g = gen(seed)
    x = torch.randn(b, frames, M, generator=g)
    cond = torch.randn(b, frames, M, generator=g)
    text = torch.randn(b, tokens, CFG.dit.text_dim, generator=g)
    speaker = torch.randn(b, CFG.dit.speaker_dim, generator=g)
    t = torch.rand(b, generator=g)
    return x, cond, text, speaker, t


def test_forward_shapes_and_text_longer_than_frames():
    dit = active_dit()
    x, cond, text, speaker, t = inputs(2, 40)
    v, features = dit(x, cond, text, speaker, t, return_features=True)
    assert v.shape == (2, 40, M) and features.shape == (2, 40, CFG.dit.dim)
    assert torch.isfinite(v).all()
    assert dit(x, cond, text, speaker, 0.5).shape == (2, 40, M)  # a number as the time
    with pytest.raises(TavidError) as e:
        dit(x[:, :8], cond[:, :8], text, speaker, t)
    assert e.value.where == "text"


def test_padding_changes_neither_other_rows_nor_own_valid_frames():
    dit = active_dit()
    x, cond, text, speaker, t = inputs(2, 50)
    short = 31
    mask = torch.ones(2, 50, dtype=torch.bool)
    mask[1, short:] = False
    garbage = inputs(2, 50, seed=9)
    x2, cond2 = x.clone(), cond.clone()
    x2[1, short:], cond2[1, short:] = 100 * garbage[0][1, short:], 100 * garbage[1][1, short:]
    with torch.no_grad():
        batched = dit(x2, cond2, text, speaker, t, mask)
        alone0 = dit(x[:1], cond[:1], text[:1], speaker[:1], t[:1])
        alone1 = dit(x[1:, :short], cond[1:, :short], text[1:], speaker[1:], t[1:])
    assert torch.allclose(batched[0], alone0[0], atol=1e-5)
    assert torch.allclose(batched[1, :short], alone1[0], atol=1e-5)
    assert batched[1, short:].abs().max() == 0
    # not trivially true: the same frames with the padded tail visible differ
    with torch.no_grad():
        unmasked = dit(x2[1:], cond2[1:], text[1:], speaker[1:], t[1:])
    assert (unmasked[0, :short] - alone1[0]).abs().max() > 1e-2


def test_fresh_dit_block_is_the_identity():
    torch.manual_seed(0)
    block = DiTBlock(64, 2)
    x, c = torch.randn(2, 20, 64), torch.randn(2, 64)
    assert torch.equal(block(x, c), x)
    with torch.no_grad():
        block.modulation.weight.normal_(0, 0.1)
    assert (block(x, c) - x).abs().max() > 1e-2
    # so a fresh DiT's features are its input embedding, untouched by the blocks
    dit = SpeechDiT(CFG.dit, M)
    seen = {}
    dit.conv_pos.register_forward_hook(lambda mod, args, out: seen.setdefault("embedded", out))
    _, features = dit(*inputs(1, 30), return_features=True)
    assert torch.equal(features, seen["embedded"])


def test_bfloat16_autocast_runs_close_to_float32():
    dit = active_dit()
    args = inputs(2, 40)
    with torch.no_grad():
        ref = dit(*args)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = dit(*args)
    assert low.dtype == torch.bfloat16 and torch.isfinite(low.float()).all()
    rel = (low.float() - ref).norm() / ref.norm()
    assert rel < 0.05, rel


def test_generate_is_deterministic_per_seed():
    dit = active_dit()
    _, _, text, speaker, _ = inputs(2, 30, tokens=14)
    prompt = torch.randn(2, 10, M, generator=gen(3))
    calls = []

    def run(seed, method="euler"):
        return generate(dit, prompt, 30, text, speaker, steps=4, method=method, cfg_text=2.0, cfg_speaker=1.0,
                        generator=gen(seed), on_step=lambda i, n: calls.append((i, n)))

    mel, features = run(5)
    assert mel.shape == (2, 20, M) and features.shape == (2, 20, CFG.dit.dim)
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    again, again_features = run(5)
    assert torch.equal(mel, again) and torch.equal(features, again_features)
    other, _ = run(6)
    assert (other - mel).abs().mean() > 0.1
    mid, _ = run(5, "midpoint")
    assert mid.shape == mel.shape and not torch.equal(mid, mel)
    no_prompt, _ = generate(dit, None, 25, text, speaker, steps=2, generator=gen(5))
    assert no_prompt.shape == (2, 25, M)
    with pytest.raises(TavidError):
        generate(dit, prompt, 10, text, speaker, steps=2, generator=gen(5))


def test_solvers_converge_on_a_linear_field():
    """dx/dt = A x has x(1) = exp(A) x0: Euler's error falls like 1/steps, midpoint's like 1/steps^2."""
    a = torch.tensor([[-1.0, 2.0], [-2.0, -0.5]], dtype=torch.float64)
    x0 = torch.randn(3, 2, generator=gen(0), dtype=torch.float64)
    exact = x0 @ torch.linalg.matrix_exp(a).T

    def field(x, t):
        assert t.shape == (3,)
        return x.float() @ a.T.float()

    errors = {m: [float((solve(field, x0.float(), n, m).double() - exact).abs().max()) for n in (4, 8, 16, 32)]
              for m in ODE_METHODS}
    print("linear field max error, steps 4/8/16/32:", errors)
    for m, errs in errors.items():
        assert all(b < a_ for a_, b in zip(errs, errs[1:])), (m, errs)
    for e, mid in zip(errors["euler"], errors["midpoint"]):
        assert mid < e / 3
    assert 1.6 < errors["euler"][2] / errors["euler"][3] < 2.5      # first order
    assert 3.0 < errors["midpoint"][1] / errors["midpoint"][2] < 5.0  # second order
    assert errors["midpoint"][3] < 2e-3

    # time reaches the network: dx/dt = 2t gives x(1) = x0 + 1; midpoint is exact, Euler short by 1/steps
    ramp = lambda x, t: 2 * t[:, None].expand_as(x)  # noqa: E731
    z = torch.zeros(3, 2)
    assert torch.allclose(solve(ramp, z, 8, "midpoint"), z + 1, atol=1e-6)
    assert torch.allclose(solve(ramp, z, 8, "euler"), z + 1 - 1 / 8, atol=1e-6)
    # sway keeps the ends, warps the middle towards the start, and still converges
    grid = sway_times(8, -1.0)
    assert grid[0] == 0 and abs(grid[-1] - 1) < 1e-6 and (grid.diff() > 0).all()
    assert grid[4] < 0.5
    swayed = float((solve(field, x0.float(), 32, "midpoint", sway=-1.0).double() - exact).abs().max())
    assert swayed < 1e-2


def test_bad_sampler_settings_name_the_field():
    f = lambda x, t: x  # noqa: E731
    with pytest.raises(TavidError) as e:
        solve(f, torch.zeros(1, 2), 4, "rk4")
    assert e.value.where == "sampler" and "euler" in str(e.value) and "midpoint" in str(e.value)
    for steps in (0, -3, 2.5):
        with pytest.raises(TavidError) as e:
            solve(f, torch.zeros(1, 2), steps)
        assert e.value.where == "steps"
    with pytest.raises(TavidError) as e:
        solve(f, torch.zeros(1, 2), 4, sway=-2.0)
    assert e.value.where == "sway"
    with pytest.raises(TavidError):
        sample_times(2, gen(0), "cpu", kind="beta")


def test_guidance_weights_batching_and_zero_weights():
    dit = active_dit()
    x, cond, text, speaker, t = inputs(2, 30)
    with torch.no_grad():
        plain = dit(x, cond, text, speaker, t)
        assert torch.equal(guided_velocity(dit, cond, text, speaker, None, 0.0, 0.0)(x, t), plain)
        no_text = dit(x, cond, text, speaker, t, drop_text=torch.tensor([True, True]))
        no_speaker = dit(x, cond, text, speaker, t, drop_speaker=torch.tensor([True, True]))
        both = guided_velocity(dit, cond, text, speaker, None, 2.0, 0.5)(x, t)
    expected = plain + 2.0 * (plain - no_text) + 0.5 * (plain - no_speaker)
    assert torch.allclose(both, expected, atol=1e-4)
    assert (both - plain).abs().max() > 0.1
    # dropping the text also drops the prompt mel, as F5-TTS's unconditional pass does
    with torch.no_grad():
        no_text_other_cond = dit(x, torch.randn_like(cond), text, speaker, t, drop_text=torch.tensor([True, True]))
    assert torch.equal(no_text, no_text_other_cond)

    # one batched forward, skipping the passes whose weight is 0
    sizes = []

    def fn(xx, tt, drop):
        sizes.append(xx.shape[0])
        return xx * (1 + drop["text"].float()[:, None])

    weighted_guidance(fn, {"text": 1.5, "speaker": 0.0})(torch.ones(2, 3), torch.zeros(2))
    weighted_guidance(fn, {"text": 1.5, "speaker": 1.0})(torch.ones(2, 3), torch.zeros(2))
    weighted_guidance(fn, {"text": 0.0, "speaker": 0.0})(torch.ones(2, 3), torch.zeros(2))
    assert sizes == [4, 6, 2]


def test_flow_matching_loss_counts_only_masked_frames():
    x1 = torch.randn(2, 10, 4, generator=gen(0))
    mask = torch.zeros(2, 10, dtype=torch.bool)
    mask[0, 2:7] = True
    mask[1, :3] = True
    zero = torch.zeros(2)

    def exact(x, t):  # at t = 0, x_t = x0, so x1 - x_t is the target velocity
        return x1 - x

    def wrong_outside(x, t):
        return torch.where(mask[..., None], x1 - x, torch.full_like(x, 50.0))

    def wrong_inside(x, t):
        return torch.where(mask[..., None], torch.full_like(x, 50.0), x1 - x)

    assert flow_matching_loss(exact, x1, mask, gen(1), times=zero) < 1e-10
    assert flow_matching_loss(wrong_outside, x1, mask, gen(1), times=zero) < 1e-10
    assert flow_matching_loss(wrong_inside, x1, mask, gen(1), times=zero) > 100
    times = sample_times(1000, gen(2), "cpu", "logit_normal")
    assert 0 < times.min() and times.max() < 1 and abs(times.mean() - 0.5) < 0.03
    assert torch.equal(sample_times(5, gen(3), "cpu"), sample_times(5, gen(3), "cpu"))


def test_infill_mask_and_condition_dropout():
    lengths = torch.tensor([100, 40, 7, 1])
    spans = infill_mask(lengths, gen(0))
    assert spans.shape == (4, 100)
    for row, n in zip(spans, lengths.tolist()):
        idx = row.nonzero().flatten()
        assert len(idx) >= 1 and idx.max() < n
        assert idx.max() - idx.min() + 1 == len(idx)            # contiguous
        assert math.floor(0.7 * n) <= len(idx) <= n
    assert torch.equal(spans, infill_mask(lengths, gen(0)))
    assert not torch.equal(infill_mask(lengths.repeat(8), gen(0)), infill_mask(lengths.repeat(8), gen(1)))
    drop_text, drop_speaker = drop_flags(20000, gen(0), "cpu", 0.2, 0.2, 0.1)
    both = (drop_text & drop_speaker).float().mean()
    assert abs(both - 0.1) < 0.01 and abs(drop_text.float().mean() - 0.3) < 0.015
    assert abs(drop_speaker.float().mean() - 0.3) < 0.015
    with pytest.raises(TavidError):
        drop_flags(4, gen(0), "cpu", 0.6, 0.5, 0.0)


@pytest.fixture(scope="module")
def real_mel():
    """1.5 s of the built-in "heart" voice (24 kHz, the mel's own rate) as a log-mel [1, T, 100]."""
    from tavid_core.engines.builtin.tts.catalog import VoiceCatalog
    from tavid_core.engines.neural.speech.mel import LogMel
    utt = VoiceCatalog().backend("hibari").synthesize("Good to hear, thank you.", voice="heart", rate=1.0,
                                                      pitch=1.0, seed=0)
    assert utt.sample_rate == CFG.mel.sample_rate
    audio = torch.from_numpy(utt.audio[: int(1.5 * utt.sample_rate)]).float()[None]
    return LogMel(CFG.mel)(audio)


def test_short_training_run_learns_one_real_utterance(real_mel):
    """~150 AdamW steps of a tiny DiT on one real mel (random features as its fixed text): the
    flow-matching loss on a fixed evaluation batch (same noise, spans and times) falls from 45.9 to 2.2
    (measured, ratio 0.05), and infilling from a prompt comes closer to the real mel than before training."""
    torch.manual_seed(0)
    dit = SpeechDiT(CFG.dit, M)
    g = gen(1)
    text = torch.randn(1, 20, CFG.dit.text_dim, generator=g)
    speaker = torch.randn(1, CFG.dit.speaker_dim, generator=g)
    frames = real_mel.shape[1]

    def batch(n):
        return (real_mel.expand(n, -1, -1), torch.ones(n, frames, dtype=torch.bool), text.expand(n, -1, -1),
                speaker.expand(n, -1))

    def evaluate():
        with torch.no_grad():
            return training_loss(dit, *batch(32), gen(123), 0.0, 0.0, 0.0).item()

    def infill_error():
        prompt = real_mel[:, : frames // 3]
        mel, _ = generate(dit, prompt, frames, text, speaker, steps=8, cfg_text=1.0, cfg_speaker=0.0,
                          generator=gen(7))
        return (mel - real_mel[:, frames // 3:]).abs().mean().item()

    before, before_infill = evaluate(), infill_error()
    opt = torch.optim.AdamW(dit.parameters(), lr=2e-3)
    dit.train()
    for _ in range(150):
        loss = training_loss(dit, *batch(8), g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    dit.eval()
    after, after_infill = evaluate(), infill_error()
    print(f"flow-matching loss {before:.2f} -> {after:.2f}; infill L1 {before_infill:.2f} -> {after_infill:.2f}")
    assert after < 0.25 * before
    assert after_infill < 0.6 * before_infill
