"""Inverse STFT with "same" padding (Vocos' ISTFT head): T frames give exactly T * hop samples, the
overlap-add trimmed by (n_fft - hop) / 2 at both ends and divided by the window envelope of the T frames.

torch.istft only trims n_fft / 2 (center=True), and with center=False it refuses the near-zero envelope
at the edges. So one silent frame is put in front: torch.istft then reaches hop / 2 samples further back,
past the start we need, and its envelope stays well above zero. The silent frame adds nothing to the
overlap-add but adds its window to the envelope over its n_fft samples; those samples are multiplied
back by (envelope with it) / (envelope without it).
"""
from __future__ import annotations

import math

import torch


def _envelope(positions: torch.Tensor, frames: int, hop: int, window_sq: torch.Tensor) -> torch.Tensor:
    """Sum over frames k < `frames` of window_sq[n - k * hop] at the sample positions `positions`."""
    n_fft = window_sq.shape[0]
    total = torch.zeros(positions.shape, dtype=window_sq.dtype, device=window_sq.device)
    for k in range(min(frames, math.ceil((int(positions.max()) + 1) / hop))):
        idx = positions - k * hop
        inside = (idx >= 0) & (idx < n_fft)
        total = total + torch.where(inside, window_sq[idx.clamp(0, n_fft - 1)], torch.zeros_like(total))
    return total


def istft_same(spec: torch.Tensor, n_fft: int, hop: int, window: torch.Tensor) -> torch.Tensor:
    """`spec` complex `[B, n_fft // 2 + 1, T]` -> `[B, T * hop]`."""
    if (n_fft - hop) % 2:
        raise ValueError(f"'same' padding needs n_fft - hop even, got {n_fft} and {hop}")
    frames = spec.shape[-1]
    trim = (n_fft - hop) // 2
    skip = hop + trim - n_fft // 2   # our first sample in torch.istft's output (it starts at n_fft // 2)
    silent = torch.zeros_like(spec[..., :1])
    wave = torch.istft(torch.cat([silent, spec], dim=-1), n_fft, hop_length=hop, win_length=n_fft, window=window,
                       center=True, length=skip + frames * hop)[:, skip:]
    # samples trim .. n_fft - hop of the overlap-add (ours 0 .. n_fft - hop - trim) also got the silent frame's window
    reach = min(n_fft - hop - trim, frames * hop)
    if reach > 0:
        positions = torch.arange(trim, trim + reach, device=spec.device)
        window_sq = window.to(wave.dtype).square()
        without = _envelope(positions, frames, hop, window_sq)
        with_silent = without + window_sq[positions + hop]
        wave = torch.cat([wave[:, :reach] * (with_silent / without), wave[:, reach:]], dim=1)
    return wave
