"""A Vocos-style vocoder: log-mel `[B, T, n_mels]` -> waveform `[B, (T-1) * hop]`.

A ConvNeXt backbone runs at the frame rate and predicts, for every frame, the log-magnitude and phase of
an STFT with the mel's own `n_fft` and `hop`; `torch.istft` turns that spectrum into sound. Nothing is
upsampled inside the network, so it is small and fast, and because the iSTFT is the exact inverse of
the STFT that `LogMel` uses, `LogMel(vocoder(mel))` has the same T frames as `mel`.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ....errors import TavidError
from ..common.layers import ConvNeXtBlock, masked
from .config import MelConfig, VocoderConfig

EMBED_KERNEL = 7
FADE_FRAMES = 4  # cross-fade between neighbouring chunks of `vocode`, in frames


class Vocoder(nn.Module):
    def __init__(self, cfg: VocoderConfig, mel: MelConfig):
        super().__init__()
        self.cfg, self.mel_cfg = cfg, mel
        self.embed = nn.Conv1d(mel.n_mels, cfg.dim, EMBED_KERNEL, padding=EMBED_KERNEL // 2)
        self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.blocks = nn.ModuleList(ConvNeXtBlock(cfg.dim, cfg.intermediate, cfg.kernel) for _ in range(cfg.layers))
        self.final_norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.head = nn.Linear(cfg.dim, mel.n_fft + 2)  # log-magnitude and phase of n_fft // 2 + 1 bins
        self.register_buffer("window", torch.hann_window(mel.n_fft), persistent=False)
        # With a hann window the STFT of a signal in [-1, 1] never exceeds sum(window) = n_fft / 2; the
        # clamp (a little above that) only stops exp() from overflowing early in training.
        self.max_log_magnitude = math.log(mel.n_fft)

    @property
    def context_frames(self) -> int:
        """How many frames either side one output frame depends on: the input convolution, the ConvNeXt
        kernels and the iSTFT window (a sample is made by the frames within n_fft / 2 of it)."""
        return (EMBED_KERNEL // 2 + self.cfg.layers * (self.cfg.kernel // 2)
                + math.ceil(self.mel_cfg.n_fft / 2 / self.mel_cfg.hop))

    def num_samples(self, frames: int) -> int:
        return (frames - 1) * self.mel_cfg.hop

    def check(self, mel: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """Shape errors in the user's words rather than a convolution's."""
        n = self.mel_cfg.n_mels
        if not isinstance(mel, torch.Tensor) or mel.ndim != 3 or mel.shape[-1] != n:
            shape = tuple(mel.shape) if isinstance(mel, torch.Tensor) else type(mel).__name__
            raise TavidError(f"expected a log-mel of shape [B, T, {n}], got {shape}", where="vocoder mel",
                             fix=f"This vocoder was trained on {n}-bin mels at {self.mel_cfg.sample_rate} Hz; "
                                 "use the speech model it was trained with.")
        if mel.shape[1] < 2:
            raise TavidError(f"the mel has {mel.shape[1]} frame(s); the vocoder needs at least 2",
                             where="vocoder mel")
        if mask is not None and tuple(mask.shape) != tuple(mel.shape[:2]):
            raise TavidError(f"the mask has shape {tuple(mask.shape)}, expected [B, T] = {tuple(mel.shape[:2])}",
                             where="vocoder mask")

    def forward(self, mel: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """`mel` `[B, T, n_mels]` (as `LogMel` makes it), `mask` `[B, T]` True on real frames ->
        `[B, (T-1) * hop]`. The samples after a padded item's last real frame are zero; its others match
        vocoding it alone, except the last n_fft / 2, where the iSTFT's window normalisation also counts
        the (silent) padded frames."""
        self.check(mel, mask)
        x = self.embed(masked(mel, mask).transpose(1, 2).to(self.embed.weight.dtype)).transpose(1, 2)
        x = masked(self.norm(x), mask)
        for block in self.blocks:
            x = block(x, mask)
        return self._synthesise(self.final_norm(x), mask)

    def _synthesise(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Frame features -> spectrum -> sound, in float32 even under autocast: the phase and the
        overlap-add lose audible detail in half precision."""
        frames = x.shape[1]
        with torch.autocast(device_type=x.device.type, enabled=False):
            out = self.head(x.to(self.head.weight.dtype)).float()
            log_mag, phase = out.transpose(1, 2).chunk(2, dim=1)          # [B, n_fft//2 + 1, T] each
            mag = torch.exp(log_mag.clamp(max=self.max_log_magnitude))
            spec = torch.complex(mag * torch.cos(phase), mag * torch.sin(phase))
            if mask is not None:
                spec = spec * mask[:, None, :].to(spec.real.dtype)
            wave = torch.istft(spec, self.mel_cfg.n_fft, hop_length=self.mel_cfg.hop, win_length=self.mel_cfg.n_fft,
                               window=self.window.float(), center=True, length=self.num_samples(frames))
        if mask is not None:
            # a real prefix of L frames makes (L - 1) * hop samples, as it would alone
            ends = (mask.sum(dim=1, keepdim=True) - 1).clamp(min=0) * self.mel_cfg.hop
            wave = wave * (torch.arange(wave.shape[1], device=wave.device)[None] < ends)
        return wave

    @torch.inference_mode()
    def vocode(self, mel: torch.Tensor, chunk_frames: int = 1024, mask: torch.Tensor | None = None) -> torch.Tensor:
        """`forward` for mels of any length with flat memory: at most `chunk_frames + 2 * (context_frames
        + FADE_FRAMES)` frames go through the network at once, whatever T is.

        Overlap: each chunk keeps `chunk_frames` frames of sound plus FADE_FRAMES either side, and is computed
        with `context_frames` more frames either side (the network's whole receptive field), so the samples it
        keeps are the ones a one-shot pass makes, up to float rounding. Neighbours overlap by 2 * FADE_FRAMES
        frames, blended with complementary raised-cosine weights, so even a rounding difference cannot click.
        """
        self.check(mel, mask)
        if chunk_frames < 4 * FADE_FRAMES:
            raise TavidError(f"chunk_frames must be at least {4 * FADE_FRAMES}, got {chunk_frames}",
                             where="vocoder chunk_frames")
        total, hop = mel.shape[1], self.mel_cfg.hop
        ctx, fade = self.context_frames, FADE_FRAMES
        spans = self.num_samples(total) // hop  # hops of sound: frame intervals here, frames with "same" padding
        count = math.ceil(spans / chunk_frames)
        if count <= 1:
            return self(mel, mask)
        # evenly spaced boundaries: every core is at least chunk_frames / 2 >= 2 * FADE_FRAMES frames long
        edges = [round(k * spans / count) for k in range(count + 1)]
        out = torch.zeros(mel.shape[0], self.num_samples(total), device=mel.device, dtype=torch.float32)
        ramp_len = 2 * fade * hop
        ramp = torch.sin(0.5 * math.pi * (torch.arange(ramp_len, device=mel.device, dtype=torch.float32) + 0.5)
                         / ramp_len) ** 2
        for k in range(count):
            keep_a = max(0, edges[k] - fade)                 # kept frames [keep_a, keep_b): sound keep_a*hop..
            keep_b = min(spans, edges[k + 1] + fade)
            first = max(0, keep_a - ctx)                     # frames fed to the network, inclusive
            last = min(total - 1, keep_b + ctx)
            piece = self(mel[:, first:last + 1], None if mask is None else mask[:, first:last + 1])
            piece = piece[:, (keep_a - first) * hop:(keep_b - first) * hop].float()
            weight = torch.ones(piece.shape[1], device=mel.device)
            if k > 0:
                weight[:ramp_len] = ramp
            if k < count - 1:
                weight[-ramp_len:] = weight[-ramp_len:] * ramp.flip(0)
            out[:, keep_a * hop:keep_b * hop] += piece * weight
        return out
