"""Sampling for the face diffusion model: diffusers schedulers chosen by ComfyUI's names.

`sample()` runs one of SAMPLERS ("ddim", "euler", "euler_ancestral", "dpmpp_2m", "unipc", "flow_euler")
on the noise levels of one of SCHEDULERS ("normal", "karras", "exponential", "sgm_uniform", "simple"),
so an artist can swap them as in ComfyUI. Inside ComfyUI, `sample_with_sigmas()` lets ComfyUI's own
SAMPLER (KSamplerSelect) and SIGMAS (BasicScheduler ...) drive our model instead, through
`k_diffusion_model()`, which speaks the k-diffusion convention those samplers expect.

schedules.py (noise levels and the forward process), schedulers.py (diffusers schedulers by ComfyUI's names),
guidance.py (identity and motion guidance), kdiffusion.py (ComfyUI's own SAMPLER and SIGMAS).
"""
