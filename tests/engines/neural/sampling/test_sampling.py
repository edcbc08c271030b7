"""The face model's samplers, checked against an analytic denoiser.

The data is a Gaussian N(MU, SD^2) per element, so the exact epsilon / v / flow-velocity predictions are
known in closed form (posterior means), and so is where the probability-flow ODE takes each starting
noise: an affine map that keeps the standardised value. Deterministic samplers must converge to that
map; stochastic ones to the right mean and std; guidance to the mean of the guided Gaussian.
"""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from helpers.paths import ROOT
from tavid_core.engines.neural.sampling import schedules as S
from tavid_core.engines.neural.sampling.guidance import GUIDANCE_PASSES, guidance_passes, nested_guidance
from tavid_core.engines.neural.sampling.kdiffusion import k_diffusion_model, sample_with_sigmas
from tavid_core.engines.neural.sampling.schedulers import (Sampling, compatible_schedulers, resolve, sample,
                                                           scheduler_for)
from tavid_core.engines.neural.sampling.schedules import noise_schedule, noised
from tavid_core.errors import TavidError
from tavid_core.limits import SAMPLERS

pytestmark = [pytest.mark.usefixtures("one_torch_thread"),
              # diffusers 0.42 builds numpy arrays from tensors the old way; not ours to fix
              pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")]

N = 1000
MU, SD = 0.8, 0.5
SHAPE = (2, 2048)  # 4096 samples: the standard error of their mean is SD / 64 = 0.008


@pytest.fixture(scope="module")
def ac() -> torch.Tensor:
    return noise_schedule(N, "scaled_linear")


@pytest.fixture(scope="module")
def z() -> torch.Tensor:
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(1))


def analytic(prediction: str, ac: torch.Tensor, mu: float = MU, s: float = SD):
    """Exact predictions for data N(mu, s^2) at timestep t (fractional t: log sigma interpolated, as the
    diffusers schedulers map sigmas to timesteps). Computed in float64, independently of sampling.py."""
    a64 = ac.double().numpy()
    log_sigmas = np.log(np.sqrt((1 - a64) / a64))

    def fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x = x.double()
        view = (-1,) + (1,) * (x.dim() - 1)
        if prediction == "flow":
            sig = (t.double().cpu() / N).view(view)
            alpha, beta = 1 - sig, sig  # x = alpha x0 + beta n
        else:
            sig = torch.from_numpy(np.exp(np.interp(t.double().cpu().numpy(), np.arange(N), log_sigmas))).view(view)
            alpha = 1 / (1 + sig * sig).sqrt()
            beta = sig * alpha
        alpha, beta = alpha.to(x.device), beta.to(x.device)
        var = alpha * alpha * s * s + beta * beta
        r = x - alpha * mu
        x0 = mu + alpha * s * s * r / var
        n = beta * r / var
        out = {"epsilon": n, "v_prediction": alpha * n - beta * x0, "flow": n - x0}[prediction]
        return out.float()

    return fn


def exact(z: torch.Tensor, start_std: float, sigma_top: float, mu: float = MU, s: float = SD) -> torch.Tensor:
    """Where the probability-flow ODE takes start noise `start_std * z` given at the top noise level
    `sigma_top` (x = x0 + sigma n there, so the true marginal is N(mu, s^2 + sigma^2))."""
    return mu + s * (start_std * z - mu) / math.sqrt(s * s + sigma_top ** 2)


def exact_for(z: torch.Tensor, prediction: str, sampler: str, ac: torch.Tensor) -> torch.Tensor:
    if prediction == "flow":
        return MU + SD * z  # flow samplers start at sigma = 1: pure noise, the map is exact
    top = math.sqrt((1 - float(ac[-1])) / float(ac[-1]))  # every scheduler here starts at step 999
    # Euler-family schedulers scale the noise by sigma_top; the VP ones start from unit noise, which in
    # x0 + sigma n coordinates is sqrt(1 + sigma_top^2). Scaled-linear betas leave a_999 = 0.0047, so the
    # start is not quite pure noise: that shifts the mean by -SD * MU / 14.6 = -0.027 (as in SD 1.x).
    return exact(z, top if sampler in ("euler", "euler_ancestral") else math.sqrt(1 + top * top), top)


def rms(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).pow(2).mean().sqrt())


def combos(deterministic: bool):
    for prediction in S.PREDICTIONS:
        for sampler in SAMPLERS[1:]:
            if deterministic and sampler == "euler_ancestral":
                continue
            for scheduler in compatible_schedulers(sampler, prediction):
                yield prediction, sampler, scheduler


# ------------------------------------------------------------------------------------------- accuracy

@pytest.mark.parametrize("prediction,sampler,scheduler", list(combos(deterministic=True)))
def test_deterministic_samplers_converge_to_the_exact_flow(prediction, sampler, scheduler, ac, z):
    """Every deterministic (sampler, scheduler) takes the same noise to the same x0: the exact ODE map.
    Measured rms errors are at most 0.061 at 25 steps and 0.018 at 100 (first-order samplers; second-
    order ones with karras / exponential: 0.004 and 0.001)."""
    target = exact_for(z, prediction, sampler, ac)
    errors = {}
    for steps in (25, 100):
        x = sample(analytic(prediction, ac), SHAPE, sampling=Sampling(sampler, scheduler, steps),
                   prediction=prediction, init=z)
        assert x.dtype == torch.float32 and x.shape == SHAPE
        errors[steps] = rms(x, target)
    assert errors[25] < 0.08, errors
    assert errors[100] < 0.025, errors
    # converging (first order: about 4x less error for 4x the steps) down to the float32 floor
    assert errors[100] < max(errors[25] / 2.5, 0.002), errors
    # ... and that map has the data's statistics (mean: less the -0.027 start bias, see exact_for)
    assert abs(float(x.mean()) - MU) < 0.045 and abs(float(x.std()) - SD) < 0.02


def test_samplers_agree_with_each_other(ac, z):
    """The same noise through different deterministic samplers gives the same image."""
    outs = [sample(analytic("epsilon", ac), SHAPE, sampling=Sampling(sampler, scheduler, 100), init=z)
            for sampler, scheduler in (("ddim", "normal"), ("euler", "karras"), ("dpmpp_2m", "karras"),
                                       ("unipc", "exponential"))]
    for out in outs[1:]:
        assert rms(out, outs[0]) < 0.02


@pytest.mark.parametrize("sampler,eta", [("euler_ancestral", 0.0), ("ddim", 1.0), ("ddim", 0.5)])
@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
def test_stochastic_samplers_match_the_data(sampler, eta, prediction, ac, z):
    """Fresh noise every step: no fixed map, but the right distribution. Ancestral Euler is first order
    in the std too (measured std error -0.08 at 25 steps, -0.036 at 100, the same as k-diffusion's
    sample_euler_ancestral gives on this data), so it runs 100 steps here."""
    x = sample(analytic(prediction, ac), SHAPE, sampling=Sampling(sampler, "auto", 100, eta=eta, seed=3),
               prediction=prediction, init=z)
    assert abs(float(x.mean()) - MU) < 0.045
    assert abs(float(x.std()) - SD) < 0.05
    # the per-step noise really is fresh: far from the deterministic map of the same start noise
    assert rms(x, exact_for(z, prediction, sampler, ac)) > 0.2


# ------------------------------------------------------------------------------------------ seeds

@pytest.mark.parametrize("sampler", ["ddim", "euler", "euler_ancestral", "dpmpp_2m", "unipc", "flow_euler"])
def test_same_seed_same_output_and_different_seed_different(sampler, ac):
    prediction = "flow" if sampler == "flow_euler" else "epsilon"
    fn = analytic(prediction, ac)

    def run(seed):
        return sample(fn, (2, 64), sampling=Sampling(sampler, "auto", 8, seed=seed), prediction=prediction)

    a, b, c = run(7), run(7), run(8)
    assert torch.equal(a, b)
    assert float((a - c).abs().max()) > 0.1


def test_generator_drives_ancestral_and_eta_noise_only(ac, z):
    fn = analytic("epsilon", ac)

    def run(sampling, seed):
        return sample(fn, SHAPE, sampling=sampling, generator=torch.Generator().manual_seed(seed), init=z)

    ancestral = Sampling("euler_ancestral", "auto", 10)
    assert torch.equal(run(ancestral, 1), run(ancestral, 1))
    assert float((run(ancestral, 1) - run(ancestral, 2)).abs().max()) > 0.1
    ddim = Sampling("ddim", "auto", 10)
    assert torch.equal(run(ddim, 1), run(ddim, 2))  # eta 0: the generator is not touched
    noisy = Sampling("ddim", "auto", 10, eta=0.5)
    assert torch.equal(run(noisy, 1), run(noisy, 1))
    assert float((run(noisy, 1) - run(noisy, 2)).abs().max()) > 0.1
    # the seed in Sampling is the default generator
    assert torch.equal(sample(fn, SHAPE, sampling=Sampling("euler_ancestral", "auto", 10, seed=4), init=z),
                       run(ancestral, 4))


def test_noise_is_drawn_on_the_cpu_and_moved(ac):
    seen = []

    def fn(x, t):
        seen.append((x.device.type, t.shape, t.dtype))
        return analytic("epsilon", ac)(x, t)

    x = sample(fn, (3, 5), sampling=Sampling("ddim", "normal", 4, seed=11), device="cpu")
    first = torch.randn((3, 5), generator=torch.Generator().manual_seed(11))
    # ddim's first step maps the noise affinely: the output is a deterministic function of that draw
    again = sample(fn, (3, 5), sampling=Sampling("ddim", "normal", 4), init=first)
    assert torch.equal(x, again)
    assert seen[0] == ("cpu", torch.Size([3]), torch.float32)
    with pytest.raises(ValueError):
        sample(fn, (3, 5), sampling=Sampling("ddim", "normal", 4), init=torch.zeros(3, 6))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_same_result_on_gpu_as_on_cpu(ac):
    fn = analytic("epsilon", ac)
    for sampler in ("euler_ancestral", "dpmpp_2m"):
        sampling = Sampling(sampler, "auto", 12, seed=5)
        cpu = sample(fn, (2, 256), sampling=sampling)
        gpu = sample(fn, (2, 256), sampling=sampling, device="cuda")
        assert gpu.device.type == "cuda"
        torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=1e-4)


# ------------------------------------------------------------------------------------- progress

def test_on_step_reports_every_step_and_can_stop(ac):
    calls = []
    sample(analytic("epsilon", ac), (1, 8), sampling=Sampling("unipc", "karras", 6),
           on_step=lambda i, n: calls.append((i, n)))
    assert calls == [(i, 6) for i in range(1, 7)]

    class Stop(Exception):
        pass

    evaluations = []

    def fn(x, t):
        evaluations.append(1)
        return analytic("epsilon", ac)(x, t)

    def stop_after_two(i, n):
        if i == 2:
            raise Stop

    with pytest.raises(Stop):
        sample(fn, (1, 8), sampling=Sampling("euler", "karras", 20), on_step=stop_after_two)
    assert len(evaluations) == 2


# ------------------------------------------------------------------------------------- guidance

MU_U, MU_I, MU_F = 0.0, 1.0, -0.5  # means with no condition, identity only, both


def batched_three(ac, prediction="epsilon", log=None):
    fns = {"uncond": analytic(prediction, ac, MU_U), "identity": analytic(prediction, ac, MU_I),
           "full": analytic(prediction, ac, MU_F)}

    def fn(x, t, passes):
        if log is not None:
            log.append(passes)
        k = len(passes)
        assert x.shape[0] % k == 0 and t.shape[0] == x.shape[0]
        return torch.cat([fns[name](xc, tc) for name, xc, tc in zip(passes, x.chunk(k), t.chunk(k))])

    return fn, fns


@pytest.mark.parametrize("wi,wm,passes", [(0, 0, ("full",)), (0, 2.0, ("identity", "full")),
                                          (1.5, 0, GUIDANCE_PASSES), (1.0, 2.0, GUIDANCE_PASSES)])
def test_guidance_formula_and_skipped_passes(wi, wm, passes, ac):
    log = []
    fn, fns = batched_three(ac, log=log)
    g = nested_guidance(fn, wi, wm)
    x = torch.randn(3, 16, generator=torch.Generator().manual_seed(2))
    t = torch.tensor([999.0, 500.0, 37.0])
    out = g(x, t)
    assert log == [passes] and guidance_passes(wi, wm) == passes
    u, i, f = (fns[name](x, t) for name in GUIDANCE_PASSES)
    torch.testing.assert_close(out, f + wi * (i - u) + wm * (f - i), atol=1e-6, rtol=1e-6)
    if wi == wm == 0:
        assert torch.equal(out, f)  # exactly the plain conditional forward


@pytest.mark.parametrize("prediction,sampler", [("epsilon", "dpmpp_2m"), ("v_prediction", "unipc"),
                                                ("flow", "flow_euler")])
def test_guided_sampling_lands_on_the_guided_mean(prediction, sampler, ac, z):
    """Predictions of equal-variance Gaussians are affine in the mean with weights summing to 1, so the
    guided model is exactly the model of N(mu_g, SD^2), mu_g = f + wi (i - u) + wm (f - i)."""
    wi, wm = 1.5, 0.5
    fn, _ = batched_three(ac, prediction)
    mu_g = MU_F + wi * (MU_I - MU_U) + wm * (MU_F - MU_I)
    x = sample(nested_guidance(fn, wi, wm), SHAPE, sampling=Sampling(sampler, "auto", 100, wi, wm),
               prediction=prediction, init=z)
    target = sample(analytic(prediction, ac, mu_g), SHAPE, sampling=Sampling(sampler, "auto", 100),
                    prediction=prediction, init=z)
    assert rms(x, target) < 1e-4
    assert abs(float(x.mean()) - mu_g) < 0.05 and abs(float(x.std()) - SD) < 0.02


# --------------------------------------------------------------------- ComfyUI / k-diffusion adapter

def karras_sigmas(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> torch.Tensor:
    ramp = torch.linspace(0, 1, n, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return torch.cat([(hi + ramp * (lo - hi)) ** rho, torch.zeros(1, dtype=torch.float64)]).float()


def euler_loop(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """What k-diffusion's sample_euler does without churn: Euler steps of dx/dsigma = (x - D(x)) / sigma."""
    extra_args = extra_args or {}
    ones = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * ones, **extra_args)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "denoised": denoised})
        x = x + (x - denoised) / sigmas[i] * (sigmas[i + 1] - sigmas[i])
    return x


@pytest.mark.parametrize("prediction", S.PREDICTIONS)
def test_k_diffusion_adapter_returns_the_posterior_mean(prediction, ac):
    model = k_diffusion_model(analytic(prediction, ac), prediction, ac)
    x = torch.randn(4, 32, generator=torch.Generator().manual_seed(3)) * 3
    sigmas = torch.tensor([0.05, 0.5, 0.9, 1.0]) if prediction == "flow" else torch.tensor([0.03, 0.7, 3.3, 14.0])
    got = model(x, sigmas, seed=1, model_options={})  # ComfyUI's extra arguments are ignored
    s = sigmas.view(-1, 1).double()
    if prediction == "flow":  # x = (1 - s) x0 + s n
        want = MU + (1 - s) * SD ** 2 * (x - (1 - s) * MU) / ((1 - s) ** 2 * SD ** 2 + s * s)
    else:  # x = x0 + s n
        want = MU + SD ** 2 * (x - MU) / (SD ** 2 + s * s)
    torch.testing.assert_close(got.double(), want, atol=2e-5, rtol=1e-5)
    t = model.timestep(sigmas)
    torch.testing.assert_close(model.sigma(t), sigmas, atol=1e-6, rtol=1e-5)
    # the attribute paths ComfyUI's ancestral samplers inspect
    assert model.inner_model.inner_model.model_sampling is model
    assert model.inner_model.model_patcher.get_model_object("model_sampling") is model


@pytest.mark.parametrize("prediction", S.PREDICTIONS)
def test_euler_over_karras_sigmas_through_the_adapter(prediction, ac, z):
    """A ComfyUI-style SAMPLER (Euler) and SIGMAS (Karras) drive the model: exact map, data statistics.
    Measured rms to the exact map: 0.035 at 25 steps, 0.009 at 100 (diffusion); 0.045 / 0.011 (flow)."""
    model = k_diffusion_model(analytic(prediction, ac), prediction, ac)
    lo, hi = float(model.sigma_min), float(model.sigma_max)
    top = hi
    target = MU + SD * z if prediction == "flow" else exact(z, math.sqrt(1 + top * top), top)
    errors = {}
    for steps in (25, 100):
        calls = []
        x = sample_with_sigmas(analytic(prediction, ac), SHAPE, karras_sigmas(steps, lo, hi), euler_loop,
                               prediction=prediction, alphas_cumprod=ac, init=z,
                               on_step=lambda i, n: calls.append((i, n)))
        assert calls == [(i, steps) for i in range(1, steps + 1)]
        errors[steps] = rms(x, target)
    assert errors[25] < 0.06 and errors[100] < 0.015, errors
    assert abs(float(x.mean()) - MU) < 0.045 and abs(float(x.std()) - SD) < 0.02


def test_adapter_and_diffusers_euler_agree(ac, z):
    """The same Karras grid through diffusers' EulerDiscreteScheduler and through the adapter."""
    ours = sample(analytic("v_prediction", ac), SHAPE, sampling=Sampling("euler", "karras", 30),
                  prediction="v_prediction", init=z)
    sched = scheduler_for(Sampling("euler", "karras", 30), prediction="v_prediction")
    theirs = sample_with_sigmas(analytic("v_prediction", ac), SHAPE, sched.sigmas, euler_loop,
                                prediction="v_prediction", alphas_cumprod=ac, init=z)
    # diffusers starts from sigma_max * z, the adapter (as ComfyUI) from sqrt(1 + sigma_max^2) * z
    assert rms(ours, theirs) < 0.005


def test_sample_with_sigmas_seeds(ac):
    seen = {}

    def sampler_fn(model, x, sigmas, extra_args=None, callback=None, disable=None):
        seen.update(extra_args)
        return euler_loop(model, x, sigmas, extra_args, callback)

    sig = karras_sigmas(6, 0.03, 14.6)
    a = sample_with_sigmas(analytic("epsilon", ac), (2, 16), sig, sampler_fn, alphas_cumprod=ac, seed=9)
    b = sample_with_sigmas(analytic("epsilon", ac), (2, 16), sig, sampler_fn, alphas_cumprod=ac, seed=9)
    c = sample_with_sigmas(analytic("epsilon", ac), (2, 16), sig, sampler_fn, alphas_cumprod=ac, seed=10)
    assert torch.equal(a, b) and float((a - c).abs().max()) > 0.1
    assert seen["seed"] == 10  # ComfyUI's samplers seed their own step noise from it


# ----------------------------------------------------------------------------------- conventions

@pytest.mark.parametrize("prediction,t", [("epsilon", 600), ("v_prediction", 300), ("flow", 700)])
def test_noised_is_the_process_the_samplers_invert(prediction, t, ac):
    """Training pairs from `noised`: regressing the target on x_t recovers the analytic predictor the
    samplers were just shown to be right with, so training and sampling share one convention."""
    g = torch.Generator().manual_seed(4)
    x0 = MU + SD * torch.randn(20000, 1, generator=g)
    noise = torch.randn(20000, 1, generator=g)
    ts = torch.full((20000,), t)
    x_t, target = noised(x0, noise, ts, prediction=prediction, alphas_cumprod=ac)
    design = torch.cat([x_t, torch.ones_like(x_t)], dim=1).double()
    slope, intercept = torch.linalg.lstsq(design, target.double()).solution.flatten().tolist()
    probe = torch.tensor([[-1.0], [0.0], [2.0]])
    want = analytic(prediction, ac)(probe, torch.full((3,), float(t))).flatten()
    got = slope * probe.flatten() + intercept
    torch.testing.assert_close(got.float(), want, atol=0.02, rtol=0.02)


def test_auto_names_and_scheduler_mapping():
    assert resolve(Sampling(), "epsilon") == ("dpmpp_2m", "karras")
    assert resolve(Sampling(), "v_prediction") == ("dpmpp_2m", "karras")
    assert resolve(Sampling(), "flow") == ("flow_euler", "simple")
    assert resolve(Sampling(eta=0.5), "epsilon") == ("ddim", "normal")
    assert resolve(Sampling("euler_ancestral"), "epsilon") == ("euler_ancestral", "simple")
    assert resolve(Sampling("unipc"), "flow") == ("unipc", "simple")
    assert compatible_schedulers("ddim", "flow") == () and compatible_schedulers("auto", "flow")[0] == "simple"
    # (sampler, scheduler) pairs that run: 21 for epsilon models, 21 for v, 9 for flow
    assert len(list(combos(False))) == 21 + 21 + 9
    # ComfyUI's simple: every N/steps-th step from the top; normal: linspace(999, 0, steps)
    simple = scheduler_for(Sampling("ddim", "simple", 8)).timesteps.tolist()
    assert simple == [999 - 125 * k for k in range(8)]
    normal = scheduler_for(Sampling("ddim", "normal", 8)).timesteps.tolist()
    assert normal == [round(999 - 999 * k / 7) for k in range(8)]
    sgm = scheduler_for(Sampling("euler", "sgm_uniform", 8)).timesteps
    comfy_sgm = torch.linspace(999, 0, 9)[:-1]  # ComfyUI's sgm_uniform: within one step of trailing
    assert float((sgm - comfy_sgm).abs().max()) <= 1.0
    karras = scheduler_for(Sampling("euler", "karras", 8)).sigmas
    assert bool((karras[:-1] > karras[1:]).all()) and float(karras[-1]) == 0
    flow = scheduler_for(Sampling("flow_euler", "simple", 4), prediction="flow").sigmas.tolist()
    assert flow == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.0])


# ---------------------------------------------------------------------------------------- errors

@pytest.mark.parametrize("kwargs,where,mention", [
    (dict(sampler="heun"), "sampler", "dpmpp_2m"),
    (dict(scheduler="beta"), "scheduler", "karras"),
    (dict(steps=0), "steps", "1 to 1000"),
    (dict(steps=1001), "steps", "1 to 1000"),
    (dict(steps=2.5), "steps", "whole"),
    (dict(steps=True), "steps", "whole"),
    (dict(cfg_identity=-1.0), "cfg_identity", "at least 0"),
    (dict(cfg_motion=float("nan")), "cfg_motion", "at least 0"),
    (dict(seed=-1), "seed", "2^64"),
    (dict(eta=1.5), "eta", "0 to 1"),
    (dict(sampler="euler", eta=0.5), "eta", "ddim"),
    (dict(sampler="ddim", scheduler="karras"), "scheduler", "normal, sgm_uniform, simple"),
    (dict(sampler="euler_ancestral", scheduler="exponential"), "scheduler", "euler, dpmpp_2m, unipc"),
])
def test_bad_settings_name_the_field(kwargs, where, mention):
    with pytest.raises(TavidError) as err:
        Sampling(**kwargs)
    assert err.value.where == where
    assert mention in str(err.value)


@pytest.mark.parametrize("sampling,prediction,where,mention", [
    (Sampling("flow_euler"), "epsilon", "sampler", "flow-matching"),
    (Sampling("ddim"), "flow", "sampler", "flow_euler"),
    (Sampling("euler_ancestral"), "flow", "sampler", "unipc"),
    (Sampling("dpmpp_2m", "karras"), "flow", "scheduler", "sgm_uniform, simple"),
    (Sampling("unipc", "normal"), "flow", "scheduler", "flow_euler"),
    (Sampling(), "x0", "prediction", "v_prediction"),
    (Sampling(eta=0.5), "flow", "eta", "flow"),
])
def test_combinations_a_model_cannot_run(sampling, prediction, where, mention):
    with pytest.raises(TavidError) as err:
        resolve(sampling, prediction)
    assert err.value.where == where
    assert mention in str(err.value)


def test_bad_model_settings(ac):
    fn = analytic("epsilon", ac)
    with pytest.raises(TavidError) as err:
        sample(fn, (1, 4), sampling=Sampling(steps=50), num_train_timesteps=20)
    assert err.value.where == "steps"
    with pytest.raises(TavidError) as err:
        sample(fn, (1, 4), sampling=Sampling(), beta_schedule="cosine")
    assert err.value.where == "beta_schedule"
    with pytest.raises(TavidError) as err:
        sample_with_sigmas(fn, (1, 4), torch.tensor([0.1, 1.0, 0.0]), euler_loop, alphas_cumprod=ac)
    assert err.value.where == "sigmas"
    with pytest.raises(TavidError) as err:
        sample_with_sigmas(fn, (1, 4), torch.tensor([14.6, 0.0]), euler_loop, prediction="flow")
    assert err.value.where == "sigmas"
    with pytest.raises(TavidError) as err:
        k_diffusion_model(fn, "epsilon")
    assert err.value.where == "alphas_cumprod"


def test_importing_does_not_load_diffusers():
    """ComfyUI imports the node pack at start-up; diffusers costs seconds and loads only when sampling."""
    code = ("import sys, tavid_core.engines.neural.sampling.schedulers as s; "
            "assert 'diffusers' not in sys.modules, 'diffusers imported'; s.Sampling('unipc', 'karras', 8)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(ROOT))
