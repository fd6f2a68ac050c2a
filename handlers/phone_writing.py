"""How people write on phones, read as plain words: accents folded, teencode expanded, letters
held down ("khongggg") squeezed, and the campaign's app name read as the word for "app"."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from storage.folding import fold

# A letter held down: three times or more anywhere ("alooo", "khonggg"), or twice at the end of a
# word ("okk", "dcc"), where no Vietnamese word doubles a letter ("xoong" doubles inside).
_HELD = re.compile(r"([a-z])\1{2,}|([a-z])\2$")


def squeeze(word: str) -> str:
    return _HELD.sub(lambda m: m.group(1) or m.group(2), word)


def _plain(text: str) -> tuple[str, ...]:
    return tuple(fold(text).split())


@dataclass(frozen=True)
class Vocabulary:
    """The rewrites of content/vi/search.toml ([writing]) and the app's names (campaign.toml).

    `words`: one typed word → the words it stands for ("ko" → "khong"; none for "ad"); `phrases`: a run of typed
    words → the words it stands for ("blue zone" → "ung dung"), longest first; `symbols`: emoji and
    the like, which folding would drop, → words ("👍" → "ok").
    """

    words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    phrases: Sequence[tuple[tuple[str, ...], tuple[str, ...]]] = ()
    symbols: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_content(cls, writing: Mapping[str, Any], app_names: Sequence[str], app_word: str) -> Vocabulary:
        words: dict[str, tuple[str, ...]] = {}
        phrases: dict[tuple[str, ...], tuple[str, ...]] = {}
        for meaning, spellings in writing.get("abbreviations", {}).items():
            for spelling in spellings:
                typed = _plain(spelling)
                if len(typed) == 1:
                    words[typed[0]] = _plain(meaning)
                elif typed:
                    phrases[typed] = _plain(meaning)
        for spelling in writing.get("dropped", []):
            words[fold(spelling)] = ()
        for name in app_names:
            typed = _plain(name)
            if typed:
                phrases[typed] = _plain(app_word)
        symbols = {
            symbol: " ".join(_plain(meaning))
            for meaning, found in writing.get("symbols", {}).items()
            for symbol in found
        }
        ordered = sorted(phrases.items(), key=lambda p: -len(p[0]))
        return cls(words, ordered, symbols)

    def read(self, text: str) -> list[str]:
        """The words of `text` as the FAQ's own words would be read: lowercase ASCII, one meaning
        per abbreviation. The same reading is applied to the FAQ, so both sides meet."""
        return [word for word, _ in self.read_marked(text)]

    def read_marked(self, text: str) -> list[tuple[str, str | None]]:
        """Each word read, with the marks it was typed with (`marks()`), or None for a word typed
        without any, or rewritten: folding makes "tien" (money) and "tien" (convenient) one word, and a person
        who typed the marks said which one they meant."""
        for symbol, said in self.symbols.items():
            if symbol in text:
                text = text.replace(symbol, f" {said} ")
        typed: list[tuple[str, str | None]] = []
        for raw in _RAW_WORD.findall(text):
            folded = fold(raw).split()
            # Marks tell words apart only for a word that folds to one word ("0Ð1" folds to two).
            marked = marks(raw) if len(folded) == 1 and not raw.isascii() else None
            typed += [(w if w in self.words else squeeze(w), marked) for w in folded]
        out: list[tuple[str, str | None]] = []
        plain = [w for w, _ in typed]
        i = 0
        starts = {phrase[0] for phrase, _ in self.phrases}
        while i < len(typed):
            for phrase, meaning in self.phrases if plain[i] in starts else ():
                if tuple(plain[i : i + len(phrase)]) == phrase:
                    out += [(w, None) for w in meaning]
                    i += len(phrase)
                    break
            else:
                if typed[i][0] in self.words:
                    out += [(w, None) for w in self.words[typed[i][0]]]
                else:
                    out.append(typed[i])
                i += 1
        return out


_RAW_WORD = re.compile(r"[^\W_]+")
_D_BAR = "\u0111"  # the crossed d, a letter of its own (no combining mark) that folding turns into d


def marks(word: str) -> str:
    """A typed word's identity with its marks, wherever the tone mark was put (the old and new
    placements in "hoa" with a grave accent are one word): its folded letters, its marks sorted."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    found = sorted(ch for ch in decomposed if unicodedata.combining(ch))
    return f"{fold(word)}|{''.join(found)}{'d-' if _D_BAR in word.lower() else ''}"
