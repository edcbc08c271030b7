"""The face diffusion model's autoencoders (our own KL VAE, a Stable-Diffusion VAE from a local file in
either key format) and the motion condition maps drawn from the built-in rig."""
from __future__ import annotations

import os

import numpy as np
import pytest
import safetensors.torch
import torch

from helpers.motions import neutral_motion
from tavid_core.engines.neural.face.motion_maps import MAP_CHANNELS, motion_maps
from tavid_core.engines.neural.face.vae import (SD_VAE_CONFIGS, FaceVAE, FaceVAEConfig, diffusers_to_ldm,
                                                latent_scaling_factor, ldm_to_diffusers, load_sd_vae, psnr,
                                                sd_kind_from_name, sd_vae_shapes, vae_config, vae_losses)
from tavid_core.errors import TavidError
from tavid_core.media.images import resize

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CFG = vae_config("tiny")
TRAIN_STEPS = 150
CROP = 64


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """uint8 [H, W, 3] -> float [3, H, W] in -1..1."""
    return torch.from_numpy(np.array(pixels)).permute(2, 0, 1).float() / 127.5 - 1.0


@pytest.fixture(scope="module")
def prepared(engines, runtime, faces):
    """Both portraits prepared by the built-in renderer at 128 px: its crop (mouth closed) and its rig."""
    return {name: engines.face_model.prepare(image, size=128, runtime=runtime) for name, image in faces.items()}


@pytest.fixture(scope="module")
def portraits(prepared) -> torch.Tensor:
    """The two prepared portraits at 72 px, [2, 3, 72, 72] in -1..1: 64-px crops of them train the VAE."""
    return torch.stack([to_tensor(resize(face.pixels, 72, 72)) for face in prepared.values()])


def random_crops(portraits: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """`n` random 64-px crops of the portraits, half of them mirrored."""
    which = torch.randint(0, len(portraits), (n,), generator=generator).tolist()
    offsets = torch.randint(0, portraits.shape[-1] - CROP + 1, (n, 2), generator=generator).tolist()
    flips = (torch.rand(n, generator=generator) < 0.5).tolist()
    crops = [portraits[i, :, y:y + CROP, x:x + CROP] for i, (x, y) in zip(which, offsets)]
    return torch.stack([c.flip(-1) if f else c for c, f in zip(crops, flips)])


# ------------------------------------------------------------------------------------------ FaceVAE
def test_config_presets_and_round_trip():
    for preset in ("tiny", "small", "base"):
        cfg = vae_config(preset)
        assert cfg.downsample == 8 and cfg.latent_channels == 4
        assert FaceVAEConfig.from_dict(cfg.to_dict()) == cfg
    assert vae_config("base") == FaceVAEConfig()
    with pytest.raises(TavidError, match="unknown settings"):
        FaceVAEConfig.from_dict(CFG.to_dict() | {"depth": 3})
    with pytest.raises(TavidError, match="multiples of norm_groups"):
        FaceVAEConfig(channels=(16, 24), norm_groups=16)
    with pytest.raises(TavidError, match="unknown configuration"):
        vae_config("huge")


def test_shapes_determinism_and_chunks():
    torch.manual_seed(0)
    vae = FaceVAE(CFG).eval()
    images = torch.rand(5, 3, 64, 48, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        latents = vae.encode(images)
        assert latents.shape == (5, 4, 8, 6)
        decoded = vae.decode(latents)
        assert decoded.shape == images.shape
        # no generator: the posterior mean, the same every time
        assert torch.equal(vae.encode(images), latents)
        # a generator samples around it: the same seed gives the same sample, another seed another one
        a = vae.encode(images, torch.Generator().manual_seed(3))
        b = vae.encode(images, torch.Generator().manual_seed(3))
        c = vae.encode(images, torch.Generator().manual_seed(4))
        assert torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, latents)
        mean, logvar = vae.encode_dist(images)
        assert torch.allclose(mean * CFG.scaling_factor, latents)
        assert torch.allclose((a / CFG.scaling_factor - mean).std(), torch.exp(0.5 * logvar).mean(), rtol=0.5)

    # chunked: the same numbers as one pass, whatever the chunk
    assert torch.allclose(vae.decode_chunked(latents, chunk=2), decoded, atol=1e-5)
    assert torch.allclose(vae.encode_chunked(images, chunk=3), latents, atol=1e-5)
    sampled = [vae.encode_chunked(images, chunk=k, generator=torch.Generator().manual_seed(3)) for k in (1, 5)]
    assert torch.allclose(sampled[0], sampled[1], atol=1e-5)
    assert vae.decode_chunked(latents[:0]).shape[0] == 0

    with pytest.raises(TavidError, match="not a multiple of 8"):
        vae.encode(images[:, :, :60])
    with pytest.raises(TavidError, match=r"\[B, 3, H, W\]"):
        vae.encode(images[:, :1])


def test_training_raises_reconstruction_psnr(portraits):
    """150 AdamW steps on random 64-px crops of the two portraits (2 a step) lift the PSNR of the two
    centre crops from 9.8 dB (untrained) to 16.9 dB (measured; the L1 loss falls from 0.55 to 0.18)."""
    torch.manual_seed(0)
    vae = FaceVAE(CFG)
    fixed = portraits[:, :, 4:4 + CROP, 4:4 + CROP]
    with torch.no_grad():
        before = psnr(vae.decode(vae.encode(fixed)), fixed)
    optimiser = torch.optim.AdamW(vae.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(1)
    first = None
    for _ in range(TRAIN_STEPS):
        loss, logged = vae_losses(vae, random_crops(portraits, 2, generator), generator)
        first = first or logged
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    vae.eval()
    with torch.no_grad():
        after = psnr(vae.decode(vae.encode(fixed)), fixed)
    assert after > before + 4.0, (before, after)
    assert after > 14.0, after
    assert logged["recon_l1"] < 0.6 * first["recon_l1"], (first, logged)
    assert np.isfinite(logged["kl"]) and logged["kl"] > 0
    # the scaling factor that gives unit-variance latents
    scale = latent_scaling_factor(vae, fixed)
    with torch.no_grad():
        unit = vae.encode(fixed) / vae.scaling_factor * scale
    assert abs(float(unit.std()) - 1.0) < 1e-3


# -------------------------------------------------------------------------------------------- SD VAE
@pytest.fixture(scope="module")
def sd_files(tmp_path_factory):
    """A random-weight VAE of the real SD 1.x shape (84M parameters; weights rounded to fp16 and saved in
    fp16, as many VAE files are), written in diffusers' and in the original LDM key names."""
    from diffusers import AutoencoderKL
    folder = tmp_path_factory.mktemp("sd_vae")
    torch.manual_seed(0)
    reference = AutoencoderKL(**SD_VAE_CONFIGS["sd1"]).half().float().eval()
    state = {k: v.half() for k, v in reference.state_dict().items()}
    paths = {"diffusers": str(folder / "vae_diffusers.safetensors"), "ldm": str(folder / "vae_ldm.safetensors")}
    safetensors.torch.save_file(state, paths["diffusers"])
    safetensors.torch.save_file(diffusers_to_ldm(state), paths["ldm"])
    return {"reference": reference, "folder": folder, **paths}


def test_key_names_convert_both_ways():
    diffusers_keys = sd_vae_shapes("sd1")
    ldm = sd_vae_shapes("sd1", "ldm")
    assert len(ldm) == len(diffusers_keys) == 248
    # names as the original VAE (and ComfyUI's models/vae files) have them; decoder levels counted by resolution
    for key, shape in {"encoder.down.0.block.0.norm1.weight": (128,), "encoder.down.1.block.0.nin_shortcut.weight":
                       (256, 128, 1, 1), "encoder.down.2.downsample.conv.weight": (512, 512, 3, 3),
                       "encoder.mid.attn_1.q.weight": (512, 512, 1, 1), "decoder.mid.block_2.conv1.bias": (512,),
                       "decoder.up.3.block.2.conv2.weight": (512, 512, 3, 3), "decoder.up.0.block.0.conv1.weight":
                       (128, 256, 3, 3), "decoder.up.1.upsample.conv.weight": (256, 256, 3, 3),
                       "decoder.norm_out.weight": (128,), "quant_conv.weight": (8, 8, 1, 1)}.items():
        assert ldm[key] == shape, key
    assert "decoder.up.0.upsample.conv.weight" not in ldm   # the full-size level has nothing above it
    state = {k: torch.zeros(s) for k, s in diffusers_keys.items()}
    back = ldm_to_diffusers(diffusers_to_ldm(state))
    assert {k: tuple(v.shape) for k, v in back.items()} == diffusers_keys


def test_sd_vae_loads_both_key_formats_identically(sd_files):
    reference = sd_files["reference"]
    vaes = {fmt: load_sd_vae(sd_files[fmt]) for fmt in ("diffusers", "ldm")}
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        expected_latents = reference.encode(image).latent_dist.mean * 0.18215
        latents = {fmt: vae.encode(image) for fmt, vae in vaes.items()}
        decoded = {fmt: vae.decode(latents["ldm"]) for fmt, vae in vaes.items()}
        expected_image = reference.decode(latents["ldm"] / 0.18215).sample
    assert latents["ldm"].shape == (1, 4, 8, 8)
    assert torch.equal(latents["diffusers"], latents["ldm"])
    assert torch.equal(decoded["diffusers"], decoded["ldm"])
    assert torch.allclose(latents["ldm"], expected_latents, atol=1e-6)
    assert torch.allclose(decoded["ldm"], expected_image, atol=1e-6)
    for vae in vaes.values():
        assert vae.kind == "sd1" and vae.scaling_factor == 0.18215 and vae.downsample == 8
        assert all(p.dtype == torch.float32 and not p.requires_grad for p in vae.parameters())

    # SD 1.x and SDXL VAEs have the same shapes: the name tells them apart, or the caller does
    sdxl = sd_files["folder"] / "sdxl_vae.safetensors"
    os.link(sd_files["ldm"], sdxl)
    assert load_sd_vae(str(sdxl)).scaling_factor == 0.13025
    assert load_sd_vae(str(sdxl), kind="sd1").scaling_factor == 0.18215
    assert [sd_kind_from_name(n) for n in ("vae-ft-mse-840000-ema-pruned.safetensors", "sdxl-vae-fp16-fix.safetensors",
                                          "juggernaut_xl_vae.safetensors", "pixel_art_vae.safetensors")] == \
        ["sd1", "sdxl", "sdxl", "sd1"]


def test_sd_vae_refuses_bad_files(sd_files, tmp_path):
    def refused(path, *words):
        with pytest.raises(TavidError) as caught:
            load_sd_vae(str(path))
        assert caught.value.where == os.path.basename(str(path))
        for word in words:
            assert word in str(caught.value), str(caught.value)

    pickle = tmp_path / "vae_pickled.safetensors"
    pickle.write_bytes(b"\x80\x04\x95" + bytes(200))   # what torch.save's pickle starts with
    refused(pickle, "pickle", "never opens")

    cut = tmp_path / "vae_cut.safetensors"
    with open(sd_files["ldm"], "rb") as f:
        cut.write_bytes(f.read(2**20))
    refused(cut, "cut off")

    other = tmp_path / "unet.safetensors"
    safetensors.torch.save_file({"input_blocks.0.0.weight": torch.zeros(4, 4)}, str(other))
    refused(other, "not a Stable Diffusion VAE", "input_blocks.0.0.weight")

    flux = tmp_path / "flux_ae.safetensors"
    safetensors.torch.save_file({"encoder.down.0.block.0.norm1.weight": torch.zeros(128),
                                 "encoder.conv_out.weight": torch.zeros(32, 512, 3, 3)}, str(flux))
    refused(flux, "16 latent channels")

    partial = tmp_path / "vae_partial.safetensors"
    safetensors.torch.save_file({"encoder.down.0.block.0.norm1.weight": torch.zeros(64)}, str(partial))
    refused(partial, "encoder.down.0.block.0.norm1.weight is [64]", "expects [128]", "is missing")

    with pytest.raises(TavidError, match="unknown VAE kind"):
        load_sd_vae(sd_files["ldm"], kind="sd3")


# ------------------------------------------------------------------------------------- motion maps
def test_motion_maps_shape_range_and_windows(prepared, short_motion):
    face, motion = prepared["grace_hopper"], short_motion[0]
    maps = motion_maps(face, motion, 96)
    assert maps.shape == (motion.num_frames, len(MAP_CHANNELS), 96, 96) and maps.dtype == np.float32
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    assert (maps.max(axis=(2, 3)) > 0.5).all()   # every channel draws something in every frame
    assert np.array_equal(motion_maps(face, motion, 96), maps)
    # frames are independent: a window's maps are the same frames of the whole motion's
    assert np.array_equal(motion_maps(face, motion.window(40, 60), 96), maps[40:60])
    # the rig alone, with the side its points are in, draws the same maps
    assert np.array_equal(motion_maps(face.rig, motion.window(0, 5), 96, source_size=face.size), maps[:5])
    # another face draws other maps
    assert not np.allclose(motion_maps(prepared["astronaut"], motion.window(0, 5), 96), maps[:5], atol=0.1)
    with pytest.raises(TavidError, match="source_size"):
        motion_maps(face.rig, motion, 96)
    with pytest.raises(TavidError, match="prepared face"):
        motion_maps(np.zeros((96, 96, 3)), motion, 96)


def test_mouth_map_opens_with_the_jaw(prepared, short_motion):
    """Lit mouth area (map > 0.5) in the most open tenth of the frames vs the closed ones: 144 vs 51 px
    at 128 px for grace_hopper (measured)."""
    motion = short_motion[0]
    maps = motion_maps(prepared["grace_hopper"], motion, 128)
    jaw = motion.channel("jaw_open")
    area = (maps[:, MAP_CHANNELS.index("mouth")] > 0.5).sum(axis=(1, 2))
    wide_open, closed = jaw >= np.quantile(jaw, 0.9), jaw < 0.02
    assert wide_open.sum() >= 5 and closed.sum() >= 5
    assert area[wide_open].mean() > 1.8 * area[closed].mean(), (area[wide_open].mean(), area[closed].mean())
    # and the same on a controlled sweep: the lit area grows at every step of jaw_open
    sweep = motion_maps(prepared["grace_hopper"], neutral_motion(5, jaw_open=np.linspace(0, 1, 5)), 128)
    assert np.all(np.diff((sweep[:, MAP_CHANNELS.index("mouth")] > 0.5).sum(axis=(1, 2))) > 0)


def test_head_yaw_moves_the_contour(prepared):
    """Centroid x of the contour map for yaw -0.3 .. 0.3 rad: 62.1 .. 68.2 px at 128 px (astronaut, measured);
    the nose in the pose map swings further (58.8 .. 71.2)."""
    maps = motion_maps(prepared["astronaut"], neutral_motion(5, yaw=np.linspace(-0.3, 0.3, 5)), 128)
    columns = np.arange(128)

    def centroid_x(channel: str) -> np.ndarray:
        m = maps[:, MAP_CHANNELS.index(channel)]
        return (m.sum(axis=1) * columns).sum(axis=1) / m.sum(axis=(1, 2))

    contour, nose = centroid_x("contour"), centroid_x("pose")
    assert np.all(np.diff(contour) > 0.5), contour   # positive yaw turns the face to the image's right
    assert contour[-1] - contour[0] > 4.0, contour
    assert nose[-1] - nose[0] > contour[-1] - contour[0], (nose, contour)
