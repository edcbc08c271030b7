"""Tokens and the neural text encoder (tiny config): real espeak-ng phonemes, real dialogues."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from tavid_core.dialogue import parse_script
from tavid_core.engines.neural.speech.config import speech_config
from tavid_core.engines.neural.speech.text_encoder import (NeuralTextEncoder, TextEncoderNet, collate, encode_batch,
                                                           turn_inputs)
from tavid_core.engines.neural.speech.tokens import SPACE, SYMBOLS, UNKNOWN, VOCAB_VERSION, Tokenizer, vocab_fingerprint
from tavid_core.engines.shared.espeak import phonemize
from tavid_core.engines.shared.text import normalize_text
from tavid_core.errors import ScriptError, TavidError
from tavid_core.types import Dialogue, Turn

CFG = speech_config("tiny").text
PARAGRAPH = ("It was a bright cold day in April, and the clocks were striking thirteen. Winston Smith, his chin "
             "nuzzled into his breast in an effort to escape the vile wind, slipped quickly through the glass doors "
             "of Victory Mansions, though not quickly enough to prevent a swirl of gritty dust from entering along "
             "with him. Would you measure the pleasure of June's thoughtful judge?")
TURNS = [(0, "Hello there, how are you doing today?"), (1, "Maybe a bit tired, but happy to be here."),
         (0, "Good to hear. What kept you up so late?")]


@pytest.fixture(scope="module")
def encoder():
    return NeuralTextEncoder.build(CFG, seed=1)


@pytest.fixture(scope="module")
def trained_like():
    """An encoder whose residual branches and context summary are open, as after training (at
    initialisation the layer scales are 1e-6 and the summary is zero)."""
    enc = NeuralTextEncoder.build(CFG, seed=2)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for block in enc.net.blocks:
            block.gamma.fill_(1.0)
        enc.net.context_summary.weight.copy_(torch.randn(CFG.dim, CFG.dim, generator=gen) / CFG.dim ** 0.5)
    return enc


def run(net, rows):
    with torch.no_grad():
        return net(*collate(rows))


def test_vocabulary_is_fixed():
    # ids are what a checkpoint's embedding table is indexed by: a change must bump VOCAB_VERSION
    assert (VOCAB_VERSION, len(SYMBOLS), vocab_fingerprint()) == (1, 714, "cd59875c081791ed")
    assert SYMBOLS[:3] == ("<pad>", "<unk>", " ")
    assert all(s in SYMBOLS for s in "ˈˌːɚᵻʔ̃͡,.?!")


def test_phoneme_tokens_round_trip_english():
    tok = Tokenizer("phoneme")
    symbols = tok.symbols(PARAGRAPH)
    ids = tok.encode(PARAGRAPH)
    assert UNKNOWN not in ids and not tok.unknown
    assert tok.decode(ids) == symbols and len(ids) == len(symbols)
    # espeak's own phonemes, with the punctuation it drops kept as tokens at the same places
    assert " ".join(re.sub(r"[,.?]", " ", symbols).split()) == phonemize(PARAGRAPH)
    assert symbols.startswith("ɪt wʌzɐ bɹˈaɪt kˈoʊld dˈeɪ ɪn ˈeɪpɹəl, ænd")
    assert symbols.count(" ") + 1 == len(symbols.split(" "))  # single spaces between words
    assert tok.symbols("You are here?") != tok.symbols("You are here.")
    assert tok.symbols("Don't pay 1,000 dollars.") == "dˈoʊnt pˈeɪ wˈʌn θˈaʊzənd dˈɑːlɚz."


def test_phoneme_tokens_cover_european_languages():
    samples = {"de": "Schön, dass Sie hier sind. Ich möchte ein Brötchen.",
               "fr": "Très bien, merci. Un bon vin blanc.",
               "es": "Hola, ¿cómo estás? El perro corre.", "it": "Gli gnocchi, grazie.", "pt": "Não, mãe.",
               "nl": "Goedemorgen, hoe gaat het?", "pl": "Dzień dobry, szczęście.", "sv": "Sju sjösjuka sjömän.",
               "cs": "Řeřicha.", "ru": "Привет, как дела?"}
    for language, text in samples.items():
        tok = Tokenizer("phoneme", language)
        ids = tok.encode(text)
        assert UNKNOWN not in ids, (language, tok.unknown)
        assert tok.decode(ids) == tok.symbols(text)
    assert "¿" in Tokenizer("phoneme", "es").symbols(samples["es"])


def test_char_tokens_round_trip_and_count_unknowns():
    tok = Tokenizer("char")
    text = "Hello  there, Zoë — it's 9 o'clock; ça va?"
    ids = tok.encode(text)
    assert tok.decode(ids) == "Hello there, Zoë — it's 9 o'clock; ça va?"
    assert ids.count(SPACE) == 8 and UNKNOWN not in ids
    ids = tok.encode("tea ☕ 北京")
    assert ids.count(UNKNOWN) == 3 and tok.unknown == {"☕": 1, "北": 1, "京": 1}
    with pytest.raises(TavidError, match="unknown token kind 'bytes'"):
        Tokenizer("bytes")


def test_padding_does_not_change_the_output(trained_like):
    tok, net = trained_like.tokenizer, trained_like.net
    row = turn_inputs(tok, TURNS, 2, 1, 512)
    short = turn_inputs(tok, [(0, "Good.")], 0, 0, 512)
    alone = run(net, [row])[0]
    padded = run(net, [row, short, short])  # row is the longest: the others are padded
    shorter = run(net, [short])[0]
    assert alone.shape == (len(row), CFG.dim)
    assert torch.allclose(padded[0], alone, atol=1e-6)
    assert torch.allclose(padded[1, :len(short)], shorter, atol=1e-6)
    assert padded[1, len(short):].abs().max() == 0


def test_context_reaches_the_current_turn(trained_like, encoder):
    tok = trained_like.tokenizer
    other = [(0, "Something else entirely, my friend."), TURNS[1], TURNS[2]]
    a, b = turn_inputs(tok, TURNS, 1, 1, 512), turn_inputs(tok, other, 1, 1, 512)
    assert np.array_equal(a.tokens[a.current], b.tokens[b.current]) and len(a) != len(b)
    assert a.is_context[:a.current.start].all() and not a.is_context[a.current].any()
    assert set(a.roles[:a.current.start - 1]) == {0} and set(a.roles[a.current]) == {1}

    def change(enc):
        oa, ob = run(enc.net, [a])[0, a.current], run(enc.net, [b])[0, b.current]
        return (oa - ob).abs().amax(dim=-1)

    diff = change(trained_like)
    assert diff.min() > 1e-3  # the summary reaches every token, the convolutions the first ones more
    assert diff[:3].mean() > diff[-10:].mean()
    with torch.no_grad():  # without the summary only the receptive field of the convolutions hears it
        summary = trained_like.net.context_summary.weight.clone()
        trained_like.net.context_summary.weight.zero_()
        try:
            local = change(trained_like)
        finally:
            trained_like.net.context_summary.weight.copy_(summary)
    reach = CFG.layers * (CFG.kernel // 2)
    assert local[0] > 1e-3 and local[reach:].max() < 1e-6
    # the current turn alone (no context) differs from the same turn read after a previous one
    alone = turn_inputs(tok, TURNS, 1, 0, 512)
    assert not torch.allclose(run(trained_like.net, [alone])[0], run(trained_like.net, [a])[0, a.current])


def test_context_truncation_drops_the_oldest_first():
    tok = Tokenizer("phoneme")
    rows = [tok.encode(text) for _, text in TURNS]
    full = turn_inputs(tok, TURNS, 2, 2, 512)
    assert len(full) == len(rows[0]) + len(rows[1]) + len(rows[2]) + 2
    limit = len(rows[2]) + len(rows[1]) // 2 + 1
    cut = turn_inputs(tok, TURNS, 2, 2, limit)
    context = cut.tokens[:cut.current.start]
    assert len(cut) <= limit and 0 < len(context) < len(rows[1])
    assert list(context) == rows[1][-(len(context) - 1):] + [SPACE]  # the newest turn's end survives
    words = tok.decode(context[:-1]).split(" ")  # whole words only
    assert words == tok.symbols(TURNS[1][1]).split(" ")[-len(words):]
    assert set(cut.roles[:cut.current.start]) == {1}
    assert list(cut.tokens[cut.current]) == rows[2]
    only = turn_inputs(tok, TURNS, 2, 2, len(rows[2]))
    assert only.current == slice(0, len(rows[2])) and not only.is_context.any()
    with pytest.raises(TavidError, match=f"turn 3 has {len(rows[2])} tokens, more than the 10 "):
        turn_inputs(tok, TURNS, 2, 2, 10)


def test_encoder_on_a_dialogue(encoder, runtime, short_dialogue):
    first = encoder.encode(short_dialogue, runtime=runtime)
    again = encoder.encode(short_dialogue, runtime=runtime)
    assert first.encoder == "tavid-text" and len(first.turns) == len(short_dialogue.turns) == 3
    for turn, source, other in zip(first.turns, short_dialogue.turns, again.turns):
        tokens = encoder.tokenizer.encode(normalize_text(source.text))
        assert turn.embedding.dtype == np.float32 and turn.embedding.shape == (len(tokens), CFG.dim)
        assert turn.phonemes == encoder.tokenizer.decode(tokens) and turn.text == normalize_text(source.text)
        assert np.array_equal(turn.embedding, other.embedding)
        assert np.isfinite(turn.embedding).all() and turn.embedding.std() > 0.5  # layer-normed, not collapsed
    assert first.turns[2].phonemes == "ɡˈʊd tə hˈɪɹ."
    assert first.info == {"tokens": "phoneme", "language": "en-us", "vocab_version": 1, "unknown_symbols": 0}
    assert encoder.describe() == {"name": "tavid-text", "family": "neural", "tokens": "phoneme", "language": "en-us",
                                  "vocab_version": 1, "vocab": vocab_fingerprint()}
    assert encoder.family == "neural" and encoder.modules() == [encoder.net]


def test_backchannels_get_their_own_embeddings(encoder, runtime):
    dialogue = parse_script("A: I flew to Boston [mm-hm] last year, and it rained.\nB: Oh no.\n")
    encoded = encoder.encode(dialogue, runtime=runtime)
    turn = encoded.turns[0]
    assert len(turn.backchannels) == 1 and turn.backchannels[0].after_words == 4
    (reply,) = turn.backchannel_embeddings
    said = encoder.tokenizer.encode(normalize_text(turn.backchannels[0].text))
    assert reply.shape == (len(said), CFG.dim) and reply.dtype == np.float32
    assert encoded.turns[1].backchannel_embeddings == ()


def test_encode_batch_matches_the_engine_and_trains(encoder, runtime):
    tok, net = encoder.tokenizer, encoder.net
    rows = [turn_inputs(tok, TURNS, i, CFG.context_turns, CFG.max_tokens) for i in range(3)]
    out, mask = encode_batch(net, rows)
    lengths = [r.current.stop - r.current.start for r in rows]
    assert out.shape == (3, max(lengths), CFG.dim) and mask.sum(1).tolist() == lengths
    dialogue = Dialogue(("A", "B"), tuple(Turn(s, t) for s, t in TURNS))
    engine = encoder.encode(dialogue, runtime=runtime)
    for b, turn in enumerate(engine.turns):
        assert np.allclose(out[b, :lengths[b]].detach().numpy(), turn.embedding, atol=1e-5)
        assert not out[b, lengths[b]:].any()
    out.pow(2).mean().backward()
    assert net.token.weight.grad is not None and net.token.weight.grad.abs().sum() > 0
    net.zero_grad(set_to_none=True)


def test_unreadable_turns_are_refused_like_the_builtin_encoder(encoder, engines, runtime):
    dialogue = parse_script("A: Hello.\nB: I flew to 北京 last year.")
    with pytest.raises(ScriptError) as builtin:
        engines.text_encoder.encode(dialogue, runtime=runtime)
    with pytest.raises(ScriptError) as neural:
        encoder.encode(dialogue, runtime=runtime)
    assert str(neural.value) == str(builtin.value)
    message = str(neural.value)
    assert "line 2" in message and "'北京'" in message and "they read English" in message


def test_a_turn_over_the_token_limit_is_refused(encoder, runtime):
    text = "Well, we talked about the weather and the news. " * 220
    assert len(encoder.tokenizer.encode(text)) >= 10_000
    dialogue = Dialogue(("A", "B"), (Turn(0, "Hi."), Turn(1, text)))
    with pytest.raises(TavidError, match=r"^turn 2: turn 2 has \d+ tokens, more than the 512 the text encoder"):
        encoder.encode(dialogue, runtime=runtime)


def test_mismatched_parts_are_refused():
    with pytest.raises(TavidError, match="reads phoneme tokens but the tokenizer makes char"):
        NeuralTextEncoder(TextEncoderNet(CFG, len(SYMBOLS)), Tokenizer("char"), CFG)
    with pytest.raises(TavidError, match="knows 100 symbols"):
        NeuralTextEncoder(TextEncoderNet(CFG, 100), Tokenizer("phoneme"), CFG)


def test_unknown_symbols_are_counted_and_reported(runtime, caplog):
    from dataclasses import replace
    encoder = NeuralTextEncoder.build(replace(CFG, tokens="char"), seed=0)
    dialogue = Dialogue(("A", "B"), (Turn(0, "Tea for two, № 5."), Turn(1, "Sure™, see you.")))
    with caplog.at_level("WARNING", logger="tavid"):
        encoded = encoder.encode(dialogue, runtime=runtime)
    assert encoded.info["unknown_symbols"] == 2 and encoded.info["tokens"] == "char"
    assert encoded.turns[0].phonemes is None and encoded.turns[0].embedding.shape == (17, CFG.dim)
    assert "2 symbols" in caplog.text and "№™" in caplog.text
