"""Reads a typed message for what it asks: ranks the FAQ's answers and the menu entries that
content/vi/search.toml opens by words (BM25, bm25s), and tells greetings and thanks apart."""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import bm25s
import numpy as np

from handlers.phone_writing import Vocabulary

# bm25s sets its own logger to DEBUG when imported (so the service's level does not apply) and
# announces every index it builds: put it back under the root logger's level.
logging.getLogger("bm25s").setLevel(logging.NOTSET)

# How much each field of a candidate counts: the question's title and its keywords say what it
# answers; the answer's text only helps (it mentions neighbouring subjects). A keyword found
# whole, in order, in the message is the surest sign; it scores per word it has.
TITLE_WEIGHT = 1.0
KEYWORDS_WEIGHT = 1.0
ANSWER_WEIGHT = 0.3
PHRASE_BONUS = 1.0
# Below this, or with no telling word in common, a message is not understood; the title and
# keywords alone must weigh MIN_FOCUSED.
MIN_SCORE = 2.0
MIN_FOCUSED = 1.0
# A keyword is found with up to this many other words inside it ("cài [Bluezone] để làm gì").
GAP = 2
# Runners-up within this share of the best are offered with it, as buttons to choose from.
CLOSE = 0.9
MAX_CHOICES = 3


@dataclass(frozen=True)
class Candidate:
    """Something a message can be asking for: an FAQ answer ("faq:q:<id>") or a menu payload."""

    target: str
    title: str = ""
    keywords: Sequence[str] = ()
    answer: str = ""


@dataclass(frozen=True)
class Reading:
    """What a message asks. `targets`: the best first; one means sure, several mean "did you mean
    one of these?", none means nothing matched. `small_talk`: a greeting, thanks, "ok" (its kind)."""

    targets: tuple[str, ...] = ()
    small_talk: str | None = None
    ranked: tuple[tuple[float, str], ...] = field(default=(), compare=False)

    @property
    def understood(self) -> bool:
        return bool(self.targets or self.small_talk)


def _features(words: Sequence[str]) -> list[str]:
    """Single words and word pairs: Vietnamese words are mostly two syllables ("dien thoai",
    "bo nho"), and a pair tells far more than its halves."""
    return [*words, *(f"{a}_{b}" for a, b in itertools.pairwise(words))]


class _Field:
    """One BM25 index over one field of every candidate, kept as each feature's scores: a BM25
    score is the sum of its query features' scores, so a query is a few additions."""

    def __init__(self, documents: list[list[str]]) -> None:
        model = bm25s.BM25(k1=1.2, b=0.75)
        model.index(documents, show_progress=False)
        self.size = len(documents)
        self.vectors = {
            feature: np.asarray(model.get_scores([feature]), dtype=np.float64)
            for feature in model.vocab_dict
            if feature
        }

    def scores(self, query: Iterable[str]) -> np.ndarray:
        total = np.zeros(self.size, dtype=np.float64)
        for feature in query:
            vector = self.vectors.get(feature)
            if vector is not None:
                total += vector
        return total


@dataclass(frozen=True)
class _Query:
    """A message as the ranker reads it."""

    words: list[str]
    features: list[str]  # its words and word pairs, each once
    marks: dict[str, set[str | None]]  # its telling words, with the diacritics typed

    @functools.cached_property
    def padded(self) -> tuple[str, ...]:
        return tuple(self.words)

    @functools.cached_property
    def present(self) -> set[str]:
        return set(self.words)

    @functools.cached_property
    def parts(self) -> dict[str, set[str]]:
        return {f: set(f.split("_")) for f in self.features}


def _read_all(vocabulary: Vocabulary, pieces: Iterable[str]) -> list[tuple[str, ...]]:
    return [tuple(vocabulary.read(p)) for p in pieces]


def _phrases(keywords: list[list[str]]) -> list[tuple[str, ...]]:
    """The keywords as word sequences, each once."""
    return list(dict.fromkeys(tuple(k) for k in keywords if k))


def _words(title: list[str], keywords: list[list[str]]) -> set[str]:
    return set(title) | {w for k in keywords for w in k}


def _pairs(title: list[str], keywords: list[list[str]]) -> set[tuple[str, str]]:
    """The word pairs of the title and keywords (one word of two syllables, "man hinh")."""
    return {p for words in (title, *keywords) for p in itertools.pairwise(words)}


def _marks(candidate: Candidate, vocabulary: Vocabulary) -> dict[str, set[str | None]]:
    """Each word of the candidate's title and keywords, with the diacritics it is written with."""
    known: dict[str, set[str | None]] = {}
    for piece in (candidate.title, *candidate.keywords):
        for w, m in vocabulary.read_marked(piece):
            known.setdefault(w, set()).add(m)
    return known


def _fields(
    titles: list[list[str]], keywords: list[list[list[str]]], answers: list[list[str]]
) -> list[tuple[float, _Field, bool]]:
    """The three weighted indexes; the flag says whether the field counts as evidence."""
    return [
        (TITLE_WEIGHT, _Field([_features(t) for t in titles]), True),
        # Each keyword feature once: spellings of one word ("bluetooth", "blutut") read alike.
        (KEYWORDS_WEIGHT, _Field([list(dict.fromkeys(f for k in ks for f in _features(k))) for ks in keywords]), True),
        (ANSWER_WEIGHT, _Field([_features(a) for a in answers]), False),
    ]


class Ranker:
    def __init__(
        self,
        candidates: Sequence[Candidate],
        vocabulary: Vocabulary,
        stopwords: Iterable[str],
        small_talk: Mapping[str, Sequence[str]],
        fillers: Iterable[str] = (),
    ) -> None:
        self.vocabulary = vocabulary
        self.targets = [c.target for c in candidates]
        self.intent = [not c.target.startswith("faq:") for c in candidates]
        self.stopwords = {w for words in _read_all(vocabulary, stopwords) for w in words}
        titles = [vocabulary.read(c.title) for c in candidates]
        keywords = [[vocabulary.read(k) for k in c.keywords] for c in candidates]
        answers = [vocabulary.read(c.answer) for c in candidates]
        self.phrases = [_phrases(ks) for ks in keywords]
        # The words that may make a candidate eligible: its title's and keywords' (its answer
        # mentions too much besides: a question about Wi-Fi speed is not about Bluetooth).
        self.words = [_words(t, ks) for t, ks in zip(titles, keywords, strict=True)]
        self.marks = [_marks(c, vocabulary) for c in candidates]
        self.pairs = [_pairs(t, ks) for t, ks in zip(titles, keywords, strict=True)]
        self.fields = _fields(titles, keywords, answers)
        # Small talk: kinds in the content's order (thanks before greetings: "chào, cảm ơn nhé"
        # is thanks), each a set of phrases; a message made of nothing else is small talk.
        self.small_talk = [(kind, _read_all(vocabulary, phrases)) for kind, phrases in small_talk.items()]
        self.fillers = {w for words in _read_all(vocabulary, fillers) for w in words}

    def rank(self, text: str) -> list[tuple[float, str]]:
        """Every candidate `text` says enough about (`_eligible`), best first, with its score."""
        return self._rank(self.vocabulary.read_marked(text))

    def _rank(self, marked: list[tuple[str, str | None]]) -> list[tuple[float, str]]:
        words = [w for w, _ in marked]
        if not words:
            return []
        query = _Query(words, list(dict.fromkeys(_features(words))), self._typed_marks(marked))
        total = np.zeros(len(self.targets), dtype=np.float64)
        for weight, index, _ in self.fields:
            total += weight * index.scores(query.features)
        ranked = []
        for i, target in enumerate(self.targets):
            bonus = self._bonus_if_eligible(i, query)
            if bonus is not None:
                ranked.append((float(total[i]) + bonus, target))
        ranked.sort(key=lambda r: -r[0])
        return ranked

    def _typed_marks(self, marked: list[tuple[str, str | None]]) -> dict[str, set[str | None]]:
        """Each telling word typed, with the diacritics it was typed with (None: without)."""
        typed: dict[str, set[str | None]] = {}
        for w, m in marked:
            if w not in self.stopwords:
                typed.setdefault(w, set()).add(m)
        return typed

    def _bonus_if_eligible(self, i: int, query: _Query) -> float | None:
        """Candidate `i`'s bonus for its keywords found whole, or None when the message does not
        say enough about it to be answered with it."""
        # The telling words this candidate has, as typed: "tiền" is not the "tiện" of its title.
        telling = {
            w
            for w, ms in query.marks.items()
            if w in self.words[i] and (None in ms or ms & self.marks[i].get(w, set()))
        }
        # The weight of the telling words and pairs on the title and keywords: common words
        # ("làm sao", "số") add to the ranking, never to the evidence.
        evidence = [f for f in query.features if telling & query.parts[f]]
        focused = sum(weight * float(index.scores(evidence)[i]) for weight, index, counted in self.fields if counted)
        found = [p for p in self.phrases[i] if p[0] in query.present and _contains(query.padded, p)]
        # A menu entry is only ever found by its keywords, so a found one weighs double.
        bonus = PHRASE_BONUS * sum(len(p) for p in found) * (2 if self.intent[i] else 1)
        pairs = {p for p in itertools.pairwise(query.words) if telling & set(p)}
        return bonus if self._eligible(i, found, telling, pairs, focused + bonus) else None

    def _eligible(
        self, i: int, found: list[tuple[str, ...]], telling: set[str], pairs: set[tuple[str, str]], focused: float
    ) -> bool:
        """Whether the message says enough about candidate `i` to be answered with it. A menu
        entry opens a whole flow: one of its keywords must be there. An answer needs a telling word
        of its title or keywords (or a keyword of several common words: "la gi"), and enough
        weight on its title and keywords alone: its answer's text mentions much besides."""
        if self.intent[i]:
            return bool(found)
        if focused < MIN_FOCUSED:
            return False
        # One shared word alone is not enough unless it is a keyword by itself ("pin", "gps"):
        # folded, "bao" is "báo" (a warning) and "bao" (how much), "số" a number or a count.
        if any(len(p) > 1 or p[0] in telling for p in found):
            return True
        # Two telling words, unless they are one word of two syllables: "man hinh" (screen)
        # alone says nothing of whether it is about the app.
        joined = {w for p in pairs & self.pairs[i] for w in p}
        return len(telling - joined) + bool(joined & telling) >= 2

    def small_talk_kind(self, text: str) -> str | None:
        return self._small_talk_kind(self.vocabulary.read(text))

    def _small_talk_kind(self, words: list[str]) -> str | None:
        if not words:
            return None
        found = None
        covered = [w in self.fillers for w in words]
        for kind, phrases in self.small_talk:
            for phrase in phrases:
                for start in _occurrences(words, phrase):
                    covered[start : start + len(phrase)] = [True] * len(phrase)
                    found = found or kind
        return found if found and all(covered) else None

    def read(self, text: str) -> Reading:
        """Small talk, or the candidates `text` asks for: the best, with those close to it."""
        marked = self.vocabulary.read_marked(text)
        kind = self._small_talk_kind([w for w, _ in marked])
        if kind:
            return Reading(small_talk=kind)
        ranked = [r for r in self._rank(marked) if r[0] >= MIN_SCORE]
        if not ranked:
            return Reading(ranked=tuple(ranked))
        # A menu entry's narrower form, when found at all, is what was meant: "hướng dẫn cài
        # trên iphone" opens the iPhone guide, not the choice of platform.
        narrower = [r for r in ranked if r[1].startswith(f"{ranked[0][1]}:")]
        if narrower:
            ranked.remove(narrower[0])
            ranked[0] = (ranked[0][0], narrower[0][1])
        best = ranked[0][0]
        close = [target for score, target in ranked[:MAX_CHOICES] if score >= CLOSE * best]
        return Reading(targets=tuple(close), ranked=tuple(ranked))


def _occurrences(words: Sequence[str], phrase: tuple[str, ...]) -> list[int]:
    n = len(phrase)
    return [i for i in range(len(words) - n + 1) if n and tuple(words[i : i + n]) == phrase]


def _contains(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    """`phrase` in `words`, in order, with at most GAP other words inside it."""
    if not phrase:
        return False
    for start in (i for i, w in enumerate(words) if w == phrase[0]):
        at, skipped = start, 0
        for word in phrase[1:]:
            nxt = next((j for j in range(at + 1, min(len(words), at + 2 + GAP - skipped)) if words[j] == word), None)
            if nxt is None:
                break
            skipped += nxt - at - 1
            at = nxt
        else:
            return True
    return False
