"""The neural text encoder: tokens of a turn, read together with the previous turns of the conversation,
become one embedding per token for the speech generator (docs/architecture.md).

Each token carries three learned vectors: its symbol, its speaker's role (person A or B) and, for the
tokens of earlier turns, a "context" flag. ConvNeXt blocks mix neighbouring tokens, so the start of a
turn hears how the previous one ended; a pooled summary of the context reaches every token of the turn
(zero at initialisation, learned). The caller keeps only the current turn's positions.

Inference goes through `NeuralTextEncoder.encode`; training through `turn_inputs` + `encode_batch`,
which pad a batch and return the current turns' embeddings with gradients.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ....errors import TavidError
from ....runtime import Runtime
from ....types import Dialogue, EncodedText, EncodedTurn, Turn
from ...protocols import TextEncoder
from ...shared.text import check_readable, normalize_text, renumber_backchannels
from ..common.inference import autocast
from ..common.layers import ConvNeXtBlock, masked
from .config import TextEncoderConfig
from .tokens import PAD, SPACE, VOCAB_VERSION, Tokenizer, vocab_fingerprint

log = logging.getLogger("tavid")
NUM_ROLES = 2


class TextEncoderNet(nn.Module):
    """tokens, roles, context flags `[B, L]` -> embeddings `[B, L, cfg.dim]` (zero where `mask` is False)."""

    def __init__(self, cfg: TextEncoderConfig, vocab_size: int):
        super().__init__()
        self.cfg = cfg
        self.vocab_size = vocab_size
        self.token = nn.Embedding(vocab_size, cfg.dim, padding_idx=PAD)
        self.role = nn.Embedding(NUM_ROLES, cfg.dim)
        self.context = nn.Parameter(torch.randn(cfg.dim))
        self.blocks = nn.ModuleList(ConvNeXtBlock(cfg.dim, 2 * cfg.dim, cfg.kernel) for _ in range(cfg.layers))
        # The convolutions reach only a few tokens into the turn; this carries the gist of the context to all
        # of it. Zero-initialised: an untrained encoder behaves as the plain ConvNeXt stack.
        self.context_summary = nn.Linear(cfg.dim, cfg.dim)
        nn.init.zeros_(self.context_summary.weight)
        nn.init.zeros_(self.context_summary.bias)
        self.norm = nn.LayerNorm(cfg.dim)

    def forward(self, tokens: torch.Tensor, roles: torch.Tensor, is_context: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        flag = is_context.unsqueeze(-1).to(self.context.dtype)
        x = masked(self.token(tokens) + self.role(roles) + flag * self.context, mask)
        for block in self.blocks:
            x = block(x, mask)
        in_context = (is_context & mask).unsqueeze(-1).to(x.dtype)
        pooled = (x * in_context).sum(1) / in_context.sum(1).clamp(min=1.0)
        x = x + self.context_summary(pooled).unsqueeze(1)
        return masked(self.norm(x), mask)


# ------------------------------------------------------------------------------------------ inputs
@dataclass(frozen=True, eq=False)
class TurnInputs:
    """One row for the net: a turn's tokens after its context. `current` is the turn's slice."""

    tokens: np.ndarray      # int64 [L]
    roles: np.ndarray       # int64 [L], 0 = person A, 1 = person B
    is_context: np.ndarray  # bool [L], True for tokens of previous turns (and their separators)
    current: slice

    def __len__(self) -> int:
        return len(self.tokens)


def assemble(rows: Sequence[Sequence[int]], speakers: Sequence[int], index: int, context_turns: int,
             max_tokens: int, where: str | None = None) -> TurnInputs:
    """`turn_inputs` for turns already tokenised (`rows[j]` the tokens of turn j)."""
    current = list(rows[index])
    if len(current) > max_tokens:
        raise TavidError(f"turn {index + 1} has {len(current)} tokens, more than the {max_tokens} the text "
                         "encoder reads at once", where=where or f"turn {index + 1}",
                         fix="Split it into shorter turns of the same speaker.")
    tokens: list[int] = []
    roles: list[int] = []
    for j in range(max(0, index - context_turns), index):
        tokens += list(rows[j]) + [SPACE]  # the space parts one turn from the next
        roles += [speakers[j]] * (len(rows[j]) + 1)
    cut = max(0, len(tokens) - (max_tokens - len(current)))  # the oldest tokens go first
    if 0 < cut < len(tokens) and tokens[cut - 1] != SPACE:  # and no half word is left at the front
        cut = next((k + 1 for k in range(cut, len(tokens)) if tokens[k] == SPACE), len(tokens))
    tokens, roles = tokens[cut:], roles[cut:]
    start = len(tokens)
    return TurnInputs(
        tokens=np.asarray(tokens + current, np.int64),
        roles=np.asarray(roles + [speakers[index]] * len(current), np.int64),
        is_context=np.arange(start + len(current)) < start,
        current=slice(start, start + len(current)))


def turn_inputs(tokenizer: Tokenizer, turns: Sequence[tuple[int, str]], index: int, context_turns: int,
                max_tokens: int, where: str | None = None) -> TurnInputs:
    """The net's input for turn `index` of `turns` ((speaker, text) pairs), with up to `context_turns`
    previous turns in front, each followed by a space token. Over `max_tokens` the oldest context goes
    first (whole words); a turn that alone exceeds `max_tokens` is an error naming it (`where`)."""
    first = max(0, index - context_turns)
    rows = [[] for _ in range(first)] + [tokenizer.encode(text) for _, text in turns[first:index + 1]]
    return assemble(rows, [s for s, _ in turns[:index + 1]], index, context_turns, max_tokens, where)


def collate(inputs: Sequence[TurnInputs], device: torch.device | str | None = None
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """tokens, roles, is_context, mask `[B, L]` of rows padded on the right."""
    length = max((len(r) for r in inputs), default=0)
    tokens = np.full((len(inputs), length), PAD, np.int64)
    roles = np.zeros((len(inputs), length), np.int64)
    context = np.zeros((len(inputs), length), bool)
    mask = np.zeros((len(inputs), length), bool)
    for b, row in enumerate(inputs):
        n = len(row)
        tokens[b, :n], roles[b, :n], context[b, :n], mask[b, :n] = row.tokens, row.roles, row.is_context, True
    return tuple(torch.from_numpy(a).to(device) for a in (tokens, roles, context, mask))


def encode_batch(net: TextEncoderNet, inputs: Sequence[TurnInputs]) -> tuple[torch.Tensor, torch.Tensor]:
    """The current turns' embeddings of a batch, `[B, Lmax, dim]` left-aligned, and their mask `[B, Lmax]`.

    For training the speech generator together with the encoder: no inference mode, so gradients flow.
    Build each row with `turn_inputs` (a transcript without context: `turn_inputs(tok, [(speaker, text)],
    0, 0, cfg.max_tokens)`); tensors go to the device of the net's parameters."""
    device = next(net.parameters()).device
    out = net(*collate(inputs, device))
    lengths = torch.tensor([r.current.stop - r.current.start for r in inputs], device=device)
    starts = torch.tensor([r.current.start for r in inputs], device=device)
    width = int(lengths.max()) if len(inputs) else 0
    steps = torch.arange(width, device=device)
    mask = steps[None] < lengths[:, None]
    index = (starts[:, None] + steps[None]).clamp(max=max(out.shape[1] - 1, 0))
    picked = torch.gather(out, 1, index.unsqueeze(-1).expand(-1, -1, out.shape[-1]))
    return masked(picked, mask), mask


# ----------------------------------------------------------------------------------------- engine
class NeuralTextEncoder(TextEncoder):
    """Dialogue -> EncodedText with one `[L, dim]` embedding per turn and per backchannel."""

    name = "tavid-text"
    family = "neural"

    def __init__(self, net: TextEncoderNet, tokenizer: Tokenizer, cfg: TextEncoderConfig,
                 precision: torch.dtype = torch.float32):
        if cfg.tokens != tokenizer.kind:
            raise TavidError(f"the network reads {cfg.tokens} tokens but the tokenizer makes {tokenizer.kind} "
                             "tokens", where="text encoder")
        if net.vocab_size != tokenizer.vocab_size:
            raise TavidError(f"the network knows {net.vocab_size} symbols, the tokenizer {tokenizer.vocab_size} "
                             f"(vocabulary version {VOCAB_VERSION})", where="text encoder",
                             fix="The checkpoint was made by another version of ComfyUI-TAVID: update the pack.")
        self.net = net.eval()
        self.tokenizer = tokenizer
        self.cfg = cfg
        self.precision = precision

    @classmethod
    def build(cls, cfg: TextEncoderConfig, language: str = "en-us", seed: int = 0) -> "NeuralTextEncoder":
        """An untrained encoder with weights drawn from `seed` (for tests and as training's start)."""
        tokenizer = Tokenizer(cfg.tokens, language)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = TextEncoderNet(cfg, tokenizer.vocab_size)
        return cls(net, tokenizer, cfg)

    def modules(self) -> list[nn.Module]:
        return [self.net]

    def encode(self, dialogue: Dialogue, *, runtime: Runtime) -> EncodedText:
        runtime.load(self)
        tok, cfg = self.tokenizer, self.cfg
        unknown_before = Counter(tok.unknown)
        speakers = [t.speaker for t in dialogue.turns]
        rows: list[list[int]] = []
        turns = []
        for number, turn in runtime.steps(enumerate(dialogue.turns, start=1), len(dialogue.turns), "text"):
            text = normalize_text(turn.text)
            check_readable(text, turn, dialogue.speakers[turn.speaker], number, tok.language)
            symbols = tok.symbols(text)
            rows.append(tok.encode_symbols(symbols))
            where = f"line {turn.line}" if turn.line else f"turn {number}"
            batch = [assemble(rows, speakers, number - 1, cfg.context_turns, cfg.max_tokens, where)]
            backchannels = renumber_backchannels(turn.backchannels, turn.text)
            batch += [self._backchannel_inputs(b.after_words, b.text, text, rows, speakers, number, turn, dialogue)
                      for b in backchannels]
            embeddings = self._run(batch, runtime)
            turns.append(EncodedTurn(
                speaker=turn.speaker, text=text, pause_before_s=turn.pause_before_s, tags=turn.tags,
                phonemes=symbols if tok.kind == "phoneme" else None, embedding=embeddings[0],
                backchannels=backchannels, backchannel_embeddings=tuple(embeddings[1:])))
        unseen = tok.unknown - unknown_before
        unknown = sum(unseen.values())
        if unknown:
            log.warning("%d symbols of the dialogue are outside the text encoder's vocabulary (%s) and are read "
                        "as unknown", unknown, "".join(sorted(unseen)))
        return EncodedText(dialogue=dialogue, turns=tuple(turns), encoder=self.name,
                           info={"tokens": tok.kind, "language": tok.language, "vocab_version": VOCAB_VERSION,
                                 "unknown_symbols": unknown})

    def _backchannel_inputs(self, after_words: int, said: str, text: str, rows: list[list[int]],
                            speakers: list[int], number: int, turn: Turn, dialogue: Dialogue) -> TurnInputs:
        """The listener's reply, read after the earlier turns and the words of this turn heard so far."""
        listener = 1 - turn.speaker
        reply = replace(turn, speaker=listener, text=said, backchannels=())  # the check reads a Turn's own text
        said = normalize_text(said)
        check_readable(said, reply, dialogue.speakers[listener], number, self.tokenizer.language)
        heard = " ".join(text.split()[:after_words])
        bc_rows = rows[:-1] + ([self.tokenizer.encode(heard)] if heard else []) + [self.tokenizer.encode(said)]
        bc_speakers = speakers[:number - 1] + ([turn.speaker] if heard else []) + [listener]
        where = f"line {turn.line}" if turn.line else f"turn {number}"
        return assemble(bc_rows, bc_speakers, len(bc_rows) - 1, self.cfg.context_turns, self.cfg.max_tokens, where)

    def _run(self, batch: list[TurnInputs], runtime: Runtime) -> list[np.ndarray]:
        device = runtime.device
        with torch.inference_mode(), autocast(device, self.precision):
            out = self.net(*collate(batch, device)).float().cpu().numpy()
        return [np.ascontiguousarray(out[b, row.current], np.float32) for b, row in enumerate(batch)]

    def describe(self) -> dict:
        return super().describe() | {"tokens": self.tokenizer.kind, "language": self.tokenizer.language,
                                     "vocab_version": VOCAB_VERSION, "vocab": vocab_fingerprint()}
