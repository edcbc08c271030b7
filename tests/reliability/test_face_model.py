"""Mistakes with the neural face side end in one message naming the flag or field and the fix, with the
tiny face side trained for real (conftest.tiny_face): a size the network cannot halve, a missing or an
unwanted VAE, a face run without the VAE it learns on, a LoRA for another face model."""
from __future__ import annotations

import json

import pytest

from tavid_core.checkpoints import CONFIG_KEY, FACE_SECTION, VAE_SECTION, write_checkpoint
from tavid_core.cli import main
from tavid_core.engines.neural.face.denoiser import FaceDenoiser, face_config
from tavid_core.engines.neural.face.loader import load_face_side
from tavid_core.errors import TavidError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def fails(capsys, *argv: str) -> str:
    """Run `tavid argv` in this process; it must exit with 2 and one line of error, which is returned."""
    assert main(list(argv)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tavid: error: "), lines
    return lines[0]


def test_a_size_the_face_model_cannot_render_is_refused_before_anything_runs(tiny_face, tmp_path, capsys):
    error = fails(capsys, "generate", "--engines", str(tiny_face["bundle"]), "--size", "72", "-o",
                  str(tmp_path / "x.mp4"), "-q")
    assert "size: the face model renders sizes that are multiples of 16, got 72" in error and "Use 64 or 80" in error
    assert not list(tmp_path.iterdir())


def test_a_face_run_needs_exactly_one_vae(tiny_face, tmp_path, capsys):
    common = ["train", "face", "--config", "tiny", "--data", tiny_face["manifest"], "--steps", "1",
              "--out", str(tmp_path / "run"), "-q"]
    assert "--init: the face model learns in the latent space of a trained VAE" in fails(capsys, *common)
    vae = str(tiny_face["runs"] / "vae" / "vae.safetensors")
    assert "give exactly one" in fails(capsys, *common, "--init", vae, "--vae", vae)


def test_a_vae_for_a_face_model_that_brings_its_own_is_refused(tiny_face, capsys, tmp_path):
    error = fails(capsys, "generate", "--engines", str(tiny_face["bundle"]), "--vae",
                  str(tiny_face["runs"] / "vae" / "vae.safetensors"), "-o", str(tmp_path / "x.mp4"), "-q")
    assert "vae: this face model was trained with its own VAE" in error and "Leave vae empty" in error


def test_a_face_model_trained_on_a_stable_diffusion_vae_asks_for_it(tmp_path):
    cfg = face_config("tiny", vae="sd1")
    tensors = {f"face_model.denoiser.{k}": v for k, v in FaceDenoiser(cfg).state_dict().items()}
    path = tmp_path / "face_sd1.safetensors"
    write_checkpoint(str(path), tensors, {CONFIG_KEY: json.dumps({FACE_SECTION: cfg.to_dict(),
                                                                   VAE_SECTION: {"sd": "sd1"}})})
    with pytest.raises(TavidError, match="trained on a Stable Diffusion sd1 VAE") as error:
        load_face_side([str(path)])
    assert error.value.where == "vae" and "models/vae" in error.value.fix


def test_a_lora_of_another_face_model_is_refused_by_shape(tiny_face, tmp_path):
    from tavid_core.engines.neural.lora.adapters import add_lora, apply_loras, save_lora
    other = face_config("tiny", channels=(32, 32))
    network = FaceDenoiser(other)
    add_lora(network, 2)
    path = str(tmp_path / "other_lora.safetensors")
    save_lora(path, network, other, 2, block="face_model")
    model = load_face_side([str(tiny_face["bundle"])])["face_model"]
    with pytest.raises(TavidError, match=r"another shape \(channels") as error:
        apply_loras(model, [(path, 1.0)])
    assert "tavid train face --init" in error.value.fix
    assert "loras" not in model.describe()
