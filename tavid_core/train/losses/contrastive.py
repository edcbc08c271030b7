"""Cross-modal losses that pull a face's embedding toward the voice embedding of the same person.

`face_voice_contrastive_loss` is a symmetric InfoNCE (CLIP-style) over cosine similarities in which
every face-voice pair of the same speaker counts as a match, so a batch may hold several clips of one
speaker without the loss pushing that speaker's embeddings apart (supervised-contrastive form: the
log-probabilities of all matches of a row are averaged).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _check(face_emb: torch.Tensor, voice_emb: torch.Tensor) -> None:
    if face_emb.ndim != 2 or face_emb.shape != voice_emb.shape:
        raise ValueError(f"expected two [B, D] embeddings of one shape, got {tuple(face_emb.shape)} and "
                         f"{tuple(voice_emb.shape)}")


def face_voice_contrastive_loss(face_emb: torch.Tensor, voice_emb: torch.Tensor, speaker_ids: torch.Tensor,
                                temperature: float) -> torch.Tensor:
    """Mean of the face->voice and voice->face multi-positive InfoNCE losses.

    Row i of `face_emb` and `voice_emb` come from the clip of speaker `speaker_ids[i]`; a face and a voice
    with the same id are a match, whatever their rows. Lower `temperature` sharpens the softmax."""
    _check(face_emb, voice_emb)
    if speaker_ids.shape != face_emb.shape[:1]:
        raise ValueError(f"expected {face_emb.shape[0]} speaker ids, got shape {tuple(speaker_ids.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    f = F.normalize(face_emb.float(), dim=-1)
    v = F.normalize(voice_emb.float(), dim=-1)
    logits = f @ v.T / temperature
    positive = (speaker_ids[:, None] == speaker_ids[None, :]).float()  # symmetric; the diagonal is always set

    def one_way(scores: torch.Tensor) -> torch.Tensor:
        log_prob = F.log_softmax(scores, dim=1)
        return (-(log_prob * positive).sum(dim=1) / positive.sum(dim=1)).mean()

    return (one_way(logits) + one_way(logits.T)) / 2


def embedding_match_loss(face_emb: torch.Tensor, voice_emb: torch.Tensor) -> torch.Tensor:
    """Mean of 1 - cosine(face, voice) over rows: a direct pull of each face onto its own voice.
    Pass `voice_emb.detach()` to move only the faces toward a voice space trained elsewhere."""
    _check(face_emb, voice_emb)
    return (1.0 - F.cosine_similarity(face_emb.float(), voice_emb.float(), dim=-1)).mean()
