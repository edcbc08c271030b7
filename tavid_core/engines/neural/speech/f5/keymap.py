"""How the tensors of the public files are named in our networks: one readable table per file.

F5TTS_v1_Base/model_1250000.safetensors holds 366 tensors: 364 under `ema_model.transformer.` (363 learned,
one rotary frequency buffer) and the EMA's counters `initted` and `step`. charactr/vocos-mel-24khz's
pytorch_model.bin holds 83: 80 learned and 3 buffers (two Hann windows and the mel filterbank).

A rule reads `public name -> our name`, with `{i}` a block number and `{p}` "weight" or "bias"; a rule
may also name a transform, applied to the public tensor on the way in:

  rotary_pairs   x_transformers rotates the interleaved pairs (0, 1), (2, 3), ... of each attention
                 head, the project's `rotary` the halves (0, 32), (1, 33), ...; reordering the rows of
                 to_q and to_k inside each head (even ones first, then odd ones) makes the two the same
                 attention (the dot product of q and k does not depend on the order of the channels).
  swap_halves    the reference's final norm splits its modulation into (scale, shift), the project's
                 FinalAdaNorm into (shift, scale).

`BUFFERS` are tensors the public files carry that are not learned: they are checked against their
definition (a mismatch means another model) and not loaded.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import torch

Transform = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Rule:
    public: str
    ours: str
    transform: str | None = None

    def _regex(self, template: str) -> re.Pattern:
        pattern = re.escape(template).replace(r"\{i\}", r"(?P<i>\d+)").replace(r"\{p\}", r"(?P<p>weight|bias)")
        return re.compile(pattern + r"\Z")

    def ours_to_public(self, our_key: str) -> str | None:
        m = self._regex(self.ours).match(our_key)
        if m is None:
            return None
        return self.public.format(**m.groupdict())


# ------------------------------------------------------------------------------------------------ F5-TTS
F5_PREFIX = "ema_model.transformer."     # model_1250000.safetensors keeps only the EMA weights
F5_BOOKKEEPING = ("initted", "step")      # the EMA's own counters, top level, not weights
F5_LEGACY_MEL = ("ema_model.mel_spec.mel_stft.mel_scale.fb", "ema_model.mel_spec.mel_stft.spectrogram.window")

F5_RULES = (
    Rule("time_embed.time_mlp.0.{p}", "time.mlp.0.{p}"),
    Rule("time_embed.time_mlp.2.{p}", "time.mlp.2.{p}"),
    Rule("text_embed.text_embed.weight", "text.embed.weight"),
    Rule("text_embed.text_blocks.{i}.dwconv.{p}", "text.blocks.{i}.dwconv.{p}"),
    Rule("text_embed.text_blocks.{i}.norm.{p}", "text.blocks.{i}.norm.{p}"),
    Rule("text_embed.text_blocks.{i}.pwconv1.{p}", "text.blocks.{i}.pwconv1.{p}"),
    Rule("text_embed.text_blocks.{i}.grn.gamma", "text.blocks.{i}.grn.gamma"),
    Rule("text_embed.text_blocks.{i}.grn.beta", "text.blocks.{i}.grn.beta"),
    Rule("text_embed.text_blocks.{i}.pwconv2.{p}", "text.blocks.{i}.pwconv2.{p}"),
    Rule("input_embed.proj.{p}", "input.{p}"),
    Rule("input_embed.conv_pos_embed.conv1d.0.{p}", "conv_pos.conv1.{p}"),
    Rule("input_embed.conv_pos_embed.conv1d.2.{p}", "conv_pos.conv2.{p}"),
    Rule("transformer_blocks.{i}.attn_norm.linear.{p}", "blocks.{i}.modulation.{p}"),
    Rule("transformer_blocks.{i}.attn.to_q.{p}", "blocks.{i}.attn.to_q.{p}", "rotary_pairs"),
    Rule("transformer_blocks.{i}.attn.to_k.{p}", "blocks.{i}.attn.to_k.{p}", "rotary_pairs"),
    Rule("transformer_blocks.{i}.attn.to_v.{p}", "blocks.{i}.attn.to_v.{p}"),
    Rule("transformer_blocks.{i}.attn.to_out.0.{p}", "blocks.{i}.attn.to_out.{p}"),
    Rule("transformer_blocks.{i}.ff.ff.0.0.{p}", "blocks.{i}.ff.net.0.{p}"),
    Rule("transformer_blocks.{i}.ff.ff.2.{p}", "blocks.{i}.ff.net.3.{p}"),
    Rule("norm_out.linear.{p}", "final_norm.modulation.{p}", "swap_halves"),
    Rule("proj_out.{p}", "output.{p}"),
)
F5_BUFFERS = ("rotary_embed.inv_freq",)

# ------------------------------------------------------------------------------------------------- Vocos
VOCOS_PREFIX = ""
VOCOS_RULES = (
    Rule("backbone.embed.{p}", "embed.{p}"),
    Rule("backbone.norm.{p}", "norm.{p}"),
    Rule("backbone.convnext.{i}.dwconv.{p}", "blocks.{i}.dwconv.{p}"),
    Rule("backbone.convnext.{i}.norm.{p}", "blocks.{i}.norm.{p}"),
    Rule("backbone.convnext.{i}.pwconv1.{p}", "blocks.{i}.pwconv1.{p}"),
    Rule("backbone.convnext.{i}.pwconv2.{p}", "blocks.{i}.pwconv2.{p}"),
    Rule("backbone.convnext.{i}.gamma", "blocks.{i}.gamma"),
    Rule("backbone.final_layer_norm.{p}", "final_norm.{p}"),
    Rule("head.out.{p}", "head.{p}"),
)
VOCOS_BUFFERS = ("head.istft.window", "feature_extractor.mel_spec.spectrogram.window",
                 "feature_extractor.mel_spec.mel_scale.fb")


def rotary_pairs(tensor: torch.Tensor, heads: int) -> torch.Tensor:
    """Rows of a q or k projection (weight `[dim, in]` or bias `[dim]`) reordered, inside each head, from
    interleaved rotary pairs to halves."""
    dim = tensor.shape[0]
    head_dim = dim // heads
    order = torch.cat([torch.arange(0, head_dim, 2), torch.arange(1, head_dim, 2)])
    index = (torch.arange(heads)[:, None] * head_dim + order[None]).reshape(-1)
    return tensor.index_select(0, index)


def swap_halves(tensor: torch.Tensor) -> torch.Tensor:
    half = tensor.shape[0] // 2
    return torch.cat([tensor[half:], tensor[:half]], dim=0)


def transforms(heads: int) -> dict[str, Transform]:
    return {"rotary_pairs": lambda x: rotary_pairs(x, heads), "swap_halves": swap_halves}


def public_layout(our_keys, rules, prefix: str) -> dict[str, tuple[str, str | None]]:
    """{public name: (our name, transform)} for every tensor of our network; a key no rule covers is a bug."""
    layout = {}
    for key in our_keys:
        for rule in rules:
            public = rule.ours_to_public(key)
            if public is not None:
                layout[prefix + public] = (key, rule.transform)
                break
        else:
            raise AssertionError(f"no public name declared for {key}")
    return layout
