"""How long F5-TTS makes its speech, how it prepares the prompt's transcript, and how it cuts long texts
(the rules of f5_tts.infer.utils_infer, as facts).

The new speech gets as many frames per UTF-8 byte of its text as the prompt has per byte of its
transcript; texts under 10 bytes are spoken as if at speed 0.3 (they would be too short otherwise). The
sampler then makes sure there is at least one frame more than the longer of the text (in symbols) and the
prompt (in frames). A text too long for one generation (prompt + speech about 22 s) is cut into chunks at
sentence and clause ends, each spoken after the same prompt.
"""
from __future__ import annotations

import re

from .config import CHUNK_SECONDS, MAX_FRAMES

# a break after Western punctuation followed by spaces, or right after CJK punctuation
_SENTENCE_END = re.compile(r"(?<=[;:,.!?])\s+|(?<=[；：，。！？])")


def normalise_ref_text(ref_text: str) -> str:
    """The prompt's transcript as the reference feeds it: ending in ". " (or "。"), and then, if its last
    character is a single byte, one more space, so a typical transcript ends in ".  " (two spaces)."""
    if not ref_text.endswith(". ") and not ref_text.endswith("。"):
        ref_text += " " if ref_text.endswith(".") else ". "
    if len(ref_text[-1].encode("utf-8")) == 1:
        ref_text += " "
    return ref_text


def total_frames(ref_samples: int, ref_text: str, gen_text: str, *, speed: float = 1.0, hop: int = 256) -> int:
    """Frames of prompt + new speech to sample (`ref_text` already normalised)."""
    ref_frames = ref_samples // hop
    ref_bytes = len(ref_text.encode("utf-8"))
    gen_bytes = len(gen_text.encode("utf-8"))
    local_speed = 0.3 if gen_bytes < 10 else speed
    return ref_frames + int(ref_frames / max(ref_bytes, 1) * gen_bytes / local_speed)


def sampled_frames(requested: int, text_symbols: int, prompt_frames: int) -> int:
    """What the sampler makes: at least one frame more than the text or the prompt, at most MAX_FRAMES."""
    return min(max(max(text_symbols, prompt_frames) + 1, requested), MAX_FRAMES)


def chunk_bytes(ref_text: str, ref_seconds: float, speed: float = 1.0) -> int:
    """The most UTF-8 bytes of new text per generation: what fills CHUNK_SECONDS at the prompt's pace."""
    return int(len(ref_text.encode("utf-8")) / ref_seconds * (CHUNK_SECONDS - ref_seconds) * speed)


def chunk_text(text: str, max_bytes: int) -> list[str]:
    """`text` cut at sentence and clause ends into chunks of at most `max_bytes` bytes where it can be (a
    single longer sentence stays whole), greedily from the start."""
    chunks, current = [], ""
    for sentence in _SENTENCE_END.split(text):
        if not sentence:
            continue
        piece = sentence + " " if len(sentence[-1].encode("utf-8")) == 1 else sentence
        if len(current.encode("utf-8")) + len(sentence.encode("utf-8")) <= max_bytes:
            current += piece
        else:
            if current:
                chunks.append(current.strip())
            current = piece
    if current:
        chunks.append(current.strip())
    return chunks
