"""Words of a text without Chinese characters, cut as rjieba (jieba-rs 0.11, F5-TTS's segmenter) cuts
them, so English needs neither rjieba nor its dictionary.

For such text jieba's segmentation is simple: runs of ASCII letters, digits and `+#&._%-` are cut into
jieba's few ASCII dictionary words and, between them, words of letters and digits joined by single `.`,
`-` or `_` (with one `%` after them), the other characters of the run grouped; every other character is a
word of its own ("\r\n" one word). Checked against rjieba 0.2.2 on 500,000 random and real strings, with
no difference.
"""
from __future__ import annotations

import re
import string

_RUN = frozenset(string.ascii_letters + string.digits + "+#&._%-")
DICTIONARY = ("AT&T", "C++", "c++", "C#", "c#")   # jieba's dictionary words made of ASCII only
_WORD = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*%?")


def _unknown_run(run: str) -> list[str]:
    """A run of characters no dictionary word covers: its words and the groups between them."""
    out, at = [], 0
    for m in _WORD.finditer(run):
        if m.start() > at:
            out.append(run[at:m.start()])
        out.append(m.group())
        at = m.end()
    if at < len(run):
        out.append(run[at:])
    return out


def _cut_run(run: str) -> list[str]:
    out, pending, i = [], "", 0
    while i < len(run):
        word = next((w for w in DICTIONARY if run.startswith(w, i)), None)  # they never overlap
        if word is None:
            pending += run[i]
            i += 1
            continue
        out += _unknown_run(pending) if len(pending) > 1 else list(pending)
        out.append(word)
        pending, i = "", i + len(word)
    return out + (_unknown_run(pending) if len(pending) > 1 else list(pending))


def cut(text: str) -> list[str]:
    """The words of `text` (which has no Chinese characters), in order; they join back to `text`."""
    out, i = [], 0
    while i < len(text):
        if text[i] in _RUN:
            j = i
            while j < len(text) and text[j] in _RUN:
                j += 1
            out += _cut_run(text[i:j])
        else:
            j = i + (2 if text.startswith("\r\n", i) else 1)
            out.append(text[i:j])
        i = j
    return out
