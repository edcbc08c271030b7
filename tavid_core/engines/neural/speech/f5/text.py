"""F5-TTS's text front end: vocab.txt, and text -> symbols -> ids.

vocab.txt has one symbol per line and its line number is its id; line 0 is a space, which is also what an
unknown symbol becomes. Symbols are single characters (letters, digits, punctuation, CJK, Hangul ...) and
pinyin syllables with a tone digit ("zhong1"). Before anything, ";" becomes "," and curly quotes straight
ones; the text is cut into words; a word of ASCII characters is spelled character by character, after a
space if it is longer than one character and the previous symbol is not a space, colon or quote; Chinese
characters become pinyin (tone 3 style, with tone sandhi), each syllable after a space; other characters
stay as they are.

Text with Chinese characters needs the reference's own tools, rjieba to cut it and pypinyin (the `zh`
extra); any other text is cut by words.py, which cuts it as rjieba does, so English needs neither.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from .....errors import EngineUnavailableError, TavidError
from . import words

UNKNOWN_ID = 0
PAD_ID = -1
_TRANSLATE = str.maketrans({";": ",", "\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})
_NO_SPACE_AFTER = " :'\""
_GET_VOCAB = "Put the vocab.txt published with the checkpoint (SWivid/F5-TTS, F5TTS_v1_Base/vocab.txt) beside it."
ZH_FIX = "Install the optional Chinese tools: pip install 'comfyui-tavid[zh]' (rjieba and pypinyin)."


@dataclass(frozen=True)
class Vocab:
    symbols: tuple[str, ...]
    path: str = "<memory>"

    @property
    def ids(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.symbols)}

    def __len__(self) -> int:
        return len(self.symbols)


def parse_vocab(text: str, path: str = "<memory>") -> Vocab:
    """Each line is a symbol (only the line break is taken off: a line may be a single space)."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines = lines[:-1]   # the final line break
    where = os.path.basename(path)
    if not lines:
        raise TavidError("the vocabulary is empty", where=where, fix=_GET_VOCAB)
    seen: dict[str, int] = {}
    for number, symbol in enumerate(lines):
        if symbol in seen:
            raise TavidError(f"the symbol {symbol!r} is on lines {seen[symbol] + 1} and {number + 1}: the ids after it "
                             "would not be the model's", where=where, fix=_GET_VOCAB)
        seen[symbol] = number
    return Vocab(tuple(lines), path)


def read_vocab(path: str) -> Vocab:
    where = os.path.basename(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise TavidError(f"cannot be read ({e.strerror or e})", where=where, fix=_GET_VOCAB) from None
    try:
        return parse_vocab(raw.decode("utf-8"), path)
    except UnicodeDecodeError:
        raise TavidError("is not UTF-8 text, so it is not a vocab.txt", where=where, fix=_GET_VOCAB) from None


def needs_chinese_tools(text: str) -> bool:
    """Whether the reference would read `text` with jieba's dictionary or pypinyin: CJK ideographs (and the
    few other characters pypinyin reads as Chinese, such as 〇 and private-use characters)."""
    return any(ch == "\u3007" or "\u3100" <= ch <= "\u9fff" or "\ue000" <= ch <= "\ufaff"
               or "\U00020000" <= ch <= "\U0002fa1f" for ch in text)


def _chinese_tools() -> tuple[Callable, Callable]:
    try:
        import rjieba
        from pypinyin import Style, lazy_pinyin
    except ImportError:
        raise EngineUnavailableError("Chinese text needs rjieba and pypinyin, which are not installed",
                                     where="text", fix=ZH_FIX) from None
    return rjieba.cut, lambda text: lazy_pinyin(text, style=Style.TONE3, tone_sandhi=True)


def _is_chinese(ch: str) -> bool:
    return "\u3100" <= ch <= "\u9fff"


class F5TextFrontEnd:
    def __init__(self, vocab: Vocab):
        self.vocab = vocab
        self._ids = vocab.ids

    def symbols(self, text: str) -> list[str]:
        text = text.translate(_TRANSLATE)
        if needs_chinese_tools(text):
            cut, pinyin = _chinese_tools()
        else:
            cut, pinyin = words.cut, lambda word: list(word)   # pypinyin leaves every other character as it is
        out: list[str] = []
        for word in cut(text):
            size = len(word.encode("utf-8"))
            if size == len(word):                       # ASCII only
                if out and size > 1 and out[-1] not in _NO_SPACE_AFTER:
                    out.append(" ")
                out.extend(word)
            elif size == 3 * len(word):                 # three-byte characters only (CJK and the like)
                for ch, syllable in zip(word, pinyin(word)):
                    if _is_chinese(ch):
                        out.append(" ")
                    out.append(syllable)
            else:
                for ch in word:
                    if _is_chinese(ch):
                        out.append(" ")
                        out.extend(pinyin(ch))
                    else:
                        out.append(ch)
        return out

    def unknown(self, text: str) -> list[str]:
        """The symbols of `text` the vocabulary lacks (they are read as a space)."""
        return sorted({s for s in self.symbols(text) if s not in self._ids})

    def encode(self, text: str) -> list[int]:
        return [self._ids.get(s, UNKNOWN_ID) for s in self.symbols(text)]

    def batch(self, texts: Sequence[str]) -> torch.Tensor:
        """`[B, L]` int64 ids, rows padded with -1 on the right."""
        rows = [self.encode(t) for t in texts]
        out = torch.full((len(rows), max((len(r) for r in rows), default=0)), PAD_ID, dtype=torch.long)
        for b, row in enumerate(rows):
            out[b, :len(row)] = torch.tensor(row, dtype=torch.long)
        return out
