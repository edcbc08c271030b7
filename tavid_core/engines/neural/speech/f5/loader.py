"""Reading the public F5-TTS and Vocos weight files into our networks.

Only safetensors files are read (the published pickles go through `tavid convert` first). The header is
checked by checkpoints.py (cut files, stray bytes, a renamed pickle); then every tensor name and shape
against the declared layout (keymap.py), and the buffers the files carry against their definition, before
any weight is read. The files one picks by mistake (E2-TTS, F5-TTS v0, training weights, another size,
the vocoder for the speech model, the EnCodec Vocos) are each named as such.
"""
from __future__ import annotations

import os
import re
from typing import Callable, Mapping

import torch
from torch import nn

from .....checkpoints import inspect_checkpoint
from .....errors import TavidError
from ..config import MelConfig, VocoderConfig
from ..mel import htk_filterbank
from . import keymap
from .config import F5_FILE, F5_MEL, F5_V1_BASE, VOCOS_MEL_24KHZ, F5DiTConfig
from .dit import F5DiT
from .vocos import VocosVocoder

_BLOCK = re.compile(r"(?:^|\.)(?:transformer_blocks|convnext|text_blocks)\.(\d+)\.")
_GET_F5 = f"Use {F5_FILE} from the SWivid/F5-TTS model page."
_GET_VOCOS = ("Use charactr/vocos-mel-24khz's pytorch_model.bin, converted once with `tavid convert "
              "pytorch_model.bin`.")


def file_label(path: str) -> str:
    """A file as messages name it: its folder and name (F5TTS_v1_Base/model_1250000.safetensors)."""
    folder = os.path.basename(os.path.dirname(os.path.abspath(path)))
    return f"{folder}/{os.path.basename(path)}" if folder else os.path.basename(path)


def _names(keys, limit: int = 3) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:limit]) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def shapes_of(network: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in network.state_dict().items()}


def check_layout(where: str, shapes: Mapping[str, tuple[int, ...]], layout: Mapping[str, tuple[str, str | None]],
                 expected: Mapping[str, tuple[int, ...]], ignored: set[str], what: str) -> None:
    """Every tensor of `layout` present with its shape, nothing else but `ignored`."""
    missing = set(layout) - set(shapes)
    extra = set(shapes) - set(layout) - ignored
    if missing:
        raise TavidError(f"lacks {len(missing)} of the {len(layout)} tensors of {what}: {_names(missing)}",
                         where=where, fix="The file is incomplete: download it again.")
    if extra:
        raise TavidError(f"has tensors {what} does not: {_names(extra)}", where=where,
                         fix="It is a checkpoint of another model; use the file made for this one.")
    wrong = [(k, shapes[k], expected[layout[k][0]]) for k in sorted(layout) if shapes[k] != expected[layout[k][0]]]
    if wrong:
        k, got, want = wrong[0]
        raise TavidError(f"{len(wrong)} tensors have other shapes than {what}'s, e.g. {k} is {list(got)} instead "
                         f"of {list(want)}", where=where,
                         fix="It is another size or version of the model; use the file made for this one.")


def check_buffer(where: str, key: str, got: torch.Tensor, expected: torch.Tensor, what: str, atol: float) -> None:
    got = got.to(torch.float32)
    if got.shape != expected.shape or not torch.allclose(got, expected.to(torch.float32), rtol=0.0, atol=atol):
        error = (got - expected).abs().max().item() if got.shape == expected.shape else float("nan")
        raise TavidError(f"its {key} is not {what} (largest difference {error:.3g})", where=where,
                         fix="It was made with other settings; use the file made for this model.")


def fill(network: nn.Module, layout: Mapping[str, tuple[str, str | None]], heads: int,
         get_tensor: Callable[[str], torch.Tensor]) -> nn.Module:
    """`network` (built on the meta device, so each weight is allocated once, as it is read) filled with the
    public tensors `get_tensor(name)` gives, through the declared transforms."""
    transforms = keymap.transforms(heads)
    state = {}
    for public, (ours, transform) in layout.items():
        tensor = get_tensor(public).to(torch.float32)
        state[ours] = transforms[transform](tensor) if transform else tensor
    network.load_state_dict(state, strict=True, assign=True)
    return network.eval().requires_grad_(False)


def _read_into(path: str, network: nn.Module, layout, heads: int) -> nn.Module:
    from safetensors import safe_open
    with safe_open(path, framework="pt") as f:
        return fill(network, layout, heads, f.get_tensor)


# ---------------------------------------------------------------------------------------------- F5-TTS
def f5_shapes(cfg: F5DiTConfig = F5_V1_BASE) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):
        return shapes_of(F5DiT(cfg))


def f5_layout(cfg: F5DiTConfig = F5_V1_BASE) -> dict[str, tuple[str, str | None]]:
    return keymap.public_layout(f5_shapes(cfg), keymap.F5_RULES, keymap.F5_PREFIX)


def is_f5_file(shapes: Mapping[str, tuple[int, ...]]) -> bool:
    """Whether a file's tensors are an F5-TTS / E2-TTS checkpoint (of any size or version)."""
    return any(k.startswith((keymap.F5_PREFIX, "ema_model.", "transformer.text_embed")) for k in shapes)


def is_vocos_file(shapes: Mapping[str, tuple[int, ...]]) -> bool:
    return any(k.startswith("backbone.convnext.") for k in shapes)


def check_f5_kind(where: str, shapes: Mapping[str, tuple[int, ...]], cfg: F5DiTConfig = F5_V1_BASE) -> None:
    """Plain words for the files one is most likely to pick by mistake."""
    keys = set(shapes)
    inner = {k.split("transformer.", 1)[1] for k in keys if "transformer." in k}
    if any(k.startswith("layers.") for k in inner) and not any(k.startswith("text_embed.text_blocks.") for k in inner):
        raise TavidError("is an E2-TTS checkpoint (a flat transformer with skip connections and no ConvNeXt text "
                         "encoder), not F5-TTS", where=where, fix=_GET_F5)
    if any(k in keys for k in keymap.F5_LEGACY_MEL):
        raise TavidError("carries the mel filterbank of F5-TTS checkpoints from before November 2024, such as "
                         "F5TTS_Base (v0): v0 puts rotary positions on one attention head and does not mask the text "
                         "padding, so the v1 network does not compute it", where=where, fix=_GET_F5)
    if "F5TTS_Base/" in where or where.startswith("F5TTS_Base"):
        raise TavidError("is F5TTS_Base (v0), whose weights have the names and shapes of v1 but need other code "
                         "(rotary positions on one head, unmasked text padding)", where=where, fix=_GET_F5)
    if not any(k.startswith(keymap.F5_PREFIX) for k in keys):
        if any(k.startswith("transformer.") for k in keys):
            raise TavidError("holds training weights (transformer.*) rather than the EMA weights the published files "
                             "carry (ema_model.transformer.*)", where=where,
                             fix="Convert the checkpoint's .pt with `tavid convert`: it takes the EMA weights.")
        if is_vocos_file(shapes):
            raise TavidError("is the Vocos vocoder, not the F5-TTS speech model", where=where,
                             fix="Pick it as the vocoder.")
        raise TavidError("is not an F5-TTS checkpoint (no ema_model.transformer.* tensors)", where=where, fix=_GET_F5)
    blocks = {int(m.group(1)) for k in keys if k.startswith(keymap.F5_PREFIX + "transformer_blocks.")
              for m in [_BLOCK.search(k)] if m}
    table = shapes.get(keymap.F5_PREFIX + "text_embed.text_embed.weight")
    out = shapes.get(keymap.F5_PREFIX + "proj_out.weight")
    if out and blocks and (out[1] != cfg.dim or len(blocks) != cfg.depth):
        raise TavidError(f"is an F5-TTS model {out[1]} wide with {len(blocks)} blocks, not F5TTS_v1_Base ({cfg.dim} "
                         f"wide, {cfg.depth} blocks; F5TTS_v1_Small is 768 wide with 18)", where=where, fix=_GET_F5)
    if table and table[0] != cfg.vocab_size + 1:
        raise TavidError(f"its text table has {table[0] - 1} symbols, the vocabulary {cfg.vocab_size}", where=where,
                         fix="Use the vocab.txt published beside this checkpoint (a fine-tune may extend it).")


def check_f5_tensors(where: str, shapes: Mapping[str, tuple[int, ...]], cfg: F5DiTConfig = F5_V1_BASE) -> None:
    """The whole layout of an F5-TTS v1 file of `cfg`'s size, by names and shapes."""
    check_f5_kind(where, shapes, cfg)
    buffer = keymap.F5_PREFIX + keymap.F5_BUFFERS[0]
    if buffer not in shapes:
        raise TavidError(f"lacks {buffer}", where=where, fix="The file is incomplete: download it again.")
    check_layout(where, shapes, f5_layout(cfg), f5_shapes(cfg), {buffer, *keymap.F5_BOOKKEEPING}, "F5-TTS v1")


def rotary_frequencies(cfg: F5DiTConfig) -> torch.Tensor:
    return 1.0 / (10000.0 ** (torch.arange(0, cfg.head_dim, 2).float() / cfg.head_dim))


def load_f5_dit(path: str, cfg: F5DiTConfig = F5_V1_BASE) -> F5DiT:
    """F5DiT (float32, on the CPU, eval) with the weights of `path`, laid out like F5TTS_v1_Base's file."""
    from safetensors import safe_open
    where = file_label(path)
    info = inspect_checkpoint(path)
    check_f5_tensors(where, info.shapes, cfg)
    with safe_open(path, framework="pt") as f:
        buffer = keymap.F5_PREFIX + keymap.F5_BUFFERS[0]
        check_buffer(where, buffer, f.get_tensor(buffer), rotary_frequencies(cfg),
                     f"the rotary frequencies of {cfg.head_dim}-channel heads", 1e-6)
    with torch.device("meta"):
        network = F5DiT(cfg)
    return _read_into(path, network, f5_layout(cfg), cfg.heads)


# ----------------------------------------------------------------------------------------------- Vocos
def vocos_shapes(cfg: VocoderConfig = VOCOS_MEL_24KHZ, mel: MelConfig = F5_MEL) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):
        return shapes_of(VocosVocoder(cfg, mel))


def vocos_layout(cfg: VocoderConfig = VOCOS_MEL_24KHZ, mel: MelConfig = F5_MEL) -> dict[str, tuple[str, str | None]]:
    return keymap.public_layout(vocos_shapes(cfg, mel), keymap.VOCOS_RULES, keymap.VOCOS_PREFIX)


def check_vocos_tensors(where: str, shapes: Mapping[str, tuple[int, ...]], cfg: VocoderConfig = VOCOS_MEL_24KHZ,
                        mel: MelConfig = F5_MEL) -> None:
    """The whole layout of a Vocos mel-24khz file (its config.yaml's sizes), by names and shapes."""
    keys = set(shapes)
    if any(k.startswith(keymap.F5_PREFIX) for k in keys):
        raise TavidError("is the F5-TTS speech model, not its vocoder", where=where, fix="Pick it as the speech model.")
    if not is_vocos_file(shapes):
        raise TavidError("is not a Vocos vocoder (no backbone.convnext.* tensors)", where=where, fix=_GET_VOCOS)
    if "feature_extractor.codebook_weights" in keys or "backbone.norm.scale.weight" in keys:
        raise TavidError("is the EnCodec Vocos (vocos-encodec-24khz), which reads codec tokens, not mels",
                         where=where, fix=_GET_VOCOS)
    embed = shapes.get("backbone.embed.weight")
    if embed and embed[1] != mel.n_mels:
        raise TavidError(f"is a Vocos for {embed[1]}-bin mels, F5-TTS makes {mel.n_mels}", where=where, fix=_GET_VOCOS)
    head = shapes.get("head.out.weight")
    if head and head[0] != mel.n_fft + 2:
        raise TavidError(f"is a Vocos with a {head[0] - 2}-point STFT, F5-TTS's mel uses {mel.n_fft}", where=where,
                         fix=_GET_VOCOS)
    blocks = {int(m.group(1)) for k in keys for m in [_BLOCK.search(k)] if m}
    if embed and (embed[0] != cfg.dim or len(blocks) != cfg.layers):
        raise TavidError(f"is a Vocos {embed[0]} wide with {len(blocks)} blocks, not mel-24khz ({cfg.dim} wide, "
                         f"{cfg.layers} blocks)", where=where, fix=_GET_VOCOS)
    buffers = set(keymap.VOCOS_BUFFERS)
    if buffers - keys:
        raise TavidError(f"lacks {_names(buffers - keys)}", where=where,
                         fix="The file is incomplete: convert it again.")
    check_layout(where, shapes, vocos_layout(cfg, mel), vocos_shapes(cfg, mel), buffers, "Vocos mel-24khz")


def check_vocos_buffers(where: str, tensors: Mapping[str, torch.Tensor], mel: MelConfig = F5_MEL) -> None:
    """The windows and the filterbank a Vocos file carries, against mel-24khz's definition of them."""
    hann = torch.hann_window(mel.n_fft)
    for key in ("head.istft.window", "feature_extractor.mel_spec.spectrogram.window"):
        check_buffer(where, key, tensors[key], hann, f"a {mel.n_fft}-point Hann window", 1e-6)
    check_buffer(where, "feature_extractor.mel_spec.mel_scale.fb", tensors["feature_extractor.mel_spec.mel_scale.fb"],
                 htk_filterbank(mel), "the HTK mel filterbank of F5-TTS's mel", 1e-5)


def load_vocos(path: str, cfg: VocoderConfig = VOCOS_MEL_24KHZ, mel: MelConfig = F5_MEL) -> VocosVocoder:
    """VocosVocoder (float32, on the CPU, eval) with the weights of `path`: charactr/vocos-mel-24khz's
    pytorch_model.bin after `tavid convert` (the same names: backbone.*, head.*, feature_extractor.*)."""
    from safetensors import safe_open
    where = file_label(path)
    info = inspect_checkpoint(path)
    check_vocos_tensors(where, info.shapes, cfg, mel)
    with safe_open(path, framework="pt") as f:
        check_vocos_buffers(where, {k: f.get_tensor(k) for k in keymap.VOCOS_BUFFERS}, mel)
    return _read_into(path, VocosVocoder(cfg, mel), vocos_layout(cfg, mel), heads=1)
