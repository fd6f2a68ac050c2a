"""The one-line shorthand for a visit ("thon 3, so 12, 4 may, cai 3, co san 1"): a pure parser.

Order-free; accents and case optional; numbers are tagged by the word next to them. The words
themselves live in content/vi/shorthand.toml and come in as a `Vocabulary`, so this module holds
no Vietnamese.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from storage.folding import fold
from texts.content import Content
from texts.user_input import number

# Categories of phrase, in the order they win a tie between phrases of the same length.
OUTCOME_CATEGORIES = ("no_smartphone", "nobody_home", "refused")
COUNT_CATEGORIES = ("smartphones", "installed_now", "already_installed")
CATEGORIES = (*OUTCOME_CATEGORIES, *COUNT_CATEGORIES, "hamlet", "household", "household_part", "filler")
# Counts that take the number after their word first (the others take the one before first).
NUMBER_AFTER = {"installed_now", "already_installed"}

_TOKEN = re.compile(
    r"(?P<number>\d+(?:[A-Za-z](?![A-Za-z]))?(?:/\d+(?:[A-Za-z](?![A-Za-z]))?)*)"
    r"|(?P<word>[^\W\d_]+)"
    r"|(?P<sep>[,;|.:+\-\u2013\u2014\n])"
)


@dataclass(frozen=True)
class Phrase:
    words: tuple[str, ...]  # lowercase NFC, as written in the vocabulary
    folded: tuple[str, ...]
    category: str
    label: str = ""  # hamlet kinds: how the kind is shown


@dataclass(frozen=True)
class Vocabulary:
    phrases: tuple[Phrase, ...]
    abbreviations: Mapping[str, str] = field(default_factory=dict)  # folded short form → word

    def __post_init__(self) -> None:
        by_first: dict[str, list[Phrase]] = {}
        for phrase in self.phrases:  # keeps the longest-first order within each list
            by_first.setdefault(phrase.folded[0], []).append(phrase)
        object.__setattr__(self, "_by_first", {k: tuple(v) for k, v in by_first.items()})

    def starting_with(self, folded_word: str) -> tuple[Phrase, ...]:
        return self._by_first.get(folded_word, ())  # type: ignore[attr-defined]

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> Vocabulary:
        """Built from content/vi/shorthand.toml (`content.section("shorthand")`)."""
        phrases: list[Phrase] = []

        def add(words: list[str], category: str, label: str = "") -> None:
            for w in words:
                parts = tuple(unicodedata.normalize("NFC", p).lower() for p in w.split())
                if parts:
                    phrases.append(Phrase(parts, tuple(fold(p) for p in parts), category, label))

        for kind in section.get("hamlet_kinds", []):
            add(kind["words"], "hamlet", kind["label"])
        add(section.get("household", []), "household")
        add(section.get("household_parts", []), "household_part")
        for category in (*OUTCOME_CATEGORIES, *COUNT_CATEGORIES):
            add(section.get(category, []), category)
        add(section.get("fillers", []), "filler")
        # Longest first; among equals, the category order above.
        phrases.sort(key=lambda p: (-len(p.words), CATEGORIES.index(p.category)))
        abbreviations = {
            fold(k): unicodedata.normalize("NFC", v).lower() for k, v in section.get("abbreviations", {}).items()
        }
        return cls(tuple(phrases), abbreviations)


@dataclass
class _Token:
    kind: str  # "number" | "word" | "sep"
    text: str  # as typed
    lower: str  # lowercase NFC (after expanding an abbreviation)
    folded: str
    segment: int  # separators split the line into segments
    role: str | None = None  # what claimed it: a category, "value", "name"


@dataclass(frozen=True)
class Parsed:
    """What a line said. None means "not said"; `unknown` lists the parts not understood."""

    hamlet: str | None = None
    household: str | None = None
    outcome: str | None = None
    smartphones: int | None = None
    installed_now: int | None = None
    already_installed: int | None = None
    unknown: tuple[str, ...] = ()
    repeated: tuple[str, ...] = ()  # counts or outcomes given twice (ambiguous)
    household_marked: bool = False  # the household came after its word, not from leftovers

    @property
    def counts_given(self) -> bool:
        return any(v is not None for v in (self.smartphones, self.installed_now, self.already_installed))

    @property
    def is_visit(self) -> bool:
        """A visit line: where (hamlet or household) and what (an outcome or a count)."""
        return (self.hamlet is not None or self.household_marked) and (self.outcome is not None or self.counts_given)


def _has_marks(lower: str) -> bool:
    return lower != fold(lower).replace(" ", "")


def tokenize(text: str, vocabulary: Vocabulary) -> list[_Token]:
    tokens: list[_Token] = []
    segment = 0
    for m in _TOKEN.finditer(unicodedata.normalize("NFC", text or "")):
        if m.lastgroup == "sep":
            segment += 1
            continue
        raw = m.group()
        lower = raw.lower()
        folded = fold(lower).replace(" ", "")
        if m.lastgroup == "word" and folded in vocabulary.abbreviations:
            lower = vocabulary.abbreviations[folded]
            folded = fold(lower).replace(" ", "")
        tokens.append(_Token(m.lastgroup or "", raw, lower, folded, segment))  # every alternative is named
    return tokens


def _word_matches(token: _Token, lower: str, folded: str) -> bool:
    if token.kind != "word" or token.folded != folded:
        return False
    # Typed without accents: any accents match. Typed with accents: they must be these.
    return not _has_marks(token.lower) or token.lower == lower


def _match_at(tokens: list[_Token], i: int, vocabulary: Vocabulary) -> Phrase | None:
    for phrase in vocabulary.starting_with(tokens[i].folded):
        n = len(phrase.words)
        if i + n > len(tokens):
            continue
        window = tokens[i : i + n]
        if any(t.segment != window[0].segment or t.role is not None for t in window):
            continue
        if all(_word_matches(t, w, f) for t, w, f in zip(window, phrase.words, phrase.folded, strict=True)):
            return phrase
    return None


def _title(words: list[str]) -> str:
    """A name as typed; all-lowercase words get a capital, as names are written."""
    return " ".join(w[:1].upper() + w[1:] if w.islower() else w for w in words)


def _count(typed: str) -> int | None:
    """A count's number; beyond six digits it is kept short (still "too many" for a household)."""
    return number(typed[:6], 999_999)


def parse(text: str, vocabulary: Vocabulary) -> Parsed:
    """Parse one line. Never raises: what it cannot place is reported in `unknown`."""
    line = _Line(tokenize(text, vocabulary))
    line.tag_phrases(vocabulary)
    line.untag_loose_address_parts()
    line.read_places_and_outcome()
    line.claim_counts()
    line.read_leftovers()
    return line.parsed()


class _Line:
    """A line being parsed: its tokens, the phrases found in them, and what they said so far.
    `parse` runs the steps in order; each claims tokens (sets their role) for the next to skip."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.tags: list[tuple[int, Phrase]] = []  # (index of the phrase's first token, phrase)
        self.pending_counts: list[tuple[int, int, str]] = []  # (start, end, category) of count words
        self.hamlet: str | None = None
        self.household: str | None = None
        self.household_marked = False
        self.outcome: str | None = None
        self.parts: list[str] = []  # address parts (a lane and its number), added to the household
        self.counts: dict[str, int] = {}
        self.repeated: list[str] = []
        self.unknown: list[str] = []

    # 1. Phrases, longest first at each position, left to right.
    def tag_phrases(self, vocabulary: Vocabulary) -> None:
        tokens, i = self.tokens, 0
        while i < len(tokens):
            phrase = _match_at(tokens, i, vocabulary)
            if phrase is None:
                i += 1
                continue
            for t in tokens[i : i + len(phrase.words)]:
                t.role = phrase.category
            self.tags.append((i, phrase))
            i += len(phrase.words)

    def untag_loose_address_parts(self) -> None:
        # An address part ("ngõ") is one only before its number; otherwise it is a plain word
        # ("nhà đầu ngõ": the house at the end of the alley).
        tokens = self.tokens
        for start, phrase in list(self.tags):
            end = start + len(phrase.words)
            if phrase.category == "household_part" and not (
                end < len(tokens) and tokens[end].kind == "number" and tokens[end].segment == tokens[start].segment
            ):
                self.tags.remove((start, phrase))
                for t in tokens[start:end]:
                    t.role = None

    def next_index(self, j: int, step: int, segment: int) -> int | None:
        """The next token from j in direction step, skipping fillers, within the segment."""
        tokens = self.tokens
        j += step
        while 0 <= j < len(tokens) and tokens[j].segment == segment:
            if tokens[j].role != "filler":
                return j
            j += step
        return None

    def _free(self, k: int, segment: int) -> bool:
        tokens = self.tokens
        return k < len(tokens) and tokens[k].segment == segment and tokens[k].role in (None, "filler")

    def take_value(self, start: int, end: int, title: bool) -> str | None:
        """A hamlet's or household's name after its word: one number, or the words up to the next
        tag, number or separator (fillers included, but not one that comes before a number)."""
        tokens, segment = self.tokens, self.tokens[start].segment
        if self._free(end, segment) and tokens[end].kind == "number":
            tokens[end].role = "value"
            return tokens[end].text
        taken = []
        k = end
        while self._free(k, segment) and tokens[k].kind == "word":
            taken.append(k)
            k += 1
        while taken and tokens[taken[-1]].role == "filler" and self._free(k, segment) and tokens[k].kind == "number":
            k = taken.pop()
        if not taken:
            j = self.next_index(end - 1, 1, segment)
            if j is not None and tokens[j].kind == "number" and tokens[j].role is None:
                tokens[j].role = "value"
                return tokens[j].text
            return None
        for k in taken:
            tokens[k].role = "value"
        words = [tokens[k].text for k in taken]
        return _title(words) if title else " ".join(words)

    def read_places_and_outcome(self) -> None:
        """The hamlet, the household (and its address parts) and the outcome; count words wait
        for the next step."""
        for start, phrase in self.tags:
            end = start + len(phrase.words)
            if phrase.category == "hamlet":
                self._hamlet(start, end, phrase)
            elif phrase.category in ("household", "household_part"):
                self._household(start, end, phrase)
            elif phrase.category in OUTCOME_CATEGORIES:
                if self.outcome is not None and self.outcome != phrase.category:
                    self.repeated.append("outcome")
                self.outcome = phrase.category
            elif phrase.category in COUNT_CATEGORIES:
                self.pending_counts.append((start, end, phrase.category))

    def _typed(self, start: int, end: int) -> str:
        return " ".join(t.text for t in self.tokens[start:end])

    def _hamlet(self, start: int, end: int, phrase: Phrase) -> None:
        name = self.take_value(start, end, title=True)
        if name is None:
            self.unknown.append(self._typed(start, end))
        elif self.hamlet is None:
            self.hamlet = f"{phrase.label} {name}"
        else:
            self.repeated.append("hamlet")

    def _household(self, start: int, end: int, phrase: Phrase) -> None:
        value = self.take_value(start, end, title=False)
        if value is not None and phrase.category == "household" and not value[:1].isdigit():
            # A description keeps its leading word (the house by the market); only a number drops it.
            value = f"{self._typed(start, end)} {value}"
        if value is None:
            self.unknown.append(self._typed(start, end))
        elif phrase.category == "household_part":
            self.parts.append(f"{' '.join(phrase.words)} {value}")
        elif self.household is None:
            self.household, self.household_marked = value, True
        else:
            self.repeated.append("household")

    # 2. Counts claim a number next to their word: the preferred side first, for all of them,
    # then the other side for those still without one.
    def claim_counts(self) -> None:
        claimed: dict[int, int] = {}  # index in pending_counts → token index
        for after_first in (True, False):
            for n, (_, _, category) in enumerate(self.pending_counts):
                if n in claimed:
                    continue
                j = self._claim(n, after=(category in NUMBER_AFTER) == after_first)
                if j is not None:
                    claimed[n] = j
        for n, (start, end, category) in enumerate(self.pending_counts):
            if n not in claimed:
                self.unknown.append(self._typed(start, end))
                continue
            count = _count(self.tokens[claimed[n]].text)
            assert count is not None  # _claim claims only a token that reads as a count
            if category in self.counts:
                self.repeated.append(category)
            self.counts[category] = count

    def _claim(self, n: int, after: bool) -> int | None:
        """The number the n-th count word takes on that side (claimed now), if there is one."""
        tokens = self.tokens
        start, end, _category = self.pending_counts[n]
        segment = tokens[start].segment
        j = self.next_index(end - 1, 1, segment) if after else self.next_index(start, -1, segment)
        if j is None or tokens[j].kind != "number" or tokens[j].role is not None or _count(tokens[j].text) is None:
            return None
        tokens[j].role = "value"
        return j

    # 3. What is left: words with no place become the household's description when there is
    # none and they stand together; anything else is not understood.
    def read_leftovers(self) -> None:
        runs: list[list[_Token]] = []
        tokens = self.tokens
        for k, t in enumerate(tokens):
            if t.role is not None:
                continue
            last = runs[-1][-1] if runs else None
            if last is not None and t.kind == "word" and last.kind == "word" and tokens[k - 1] is last:
                if last.segment == t.segment:
                    runs[-1].append(t)
                    continue
            runs.append([t])
        if self.household is None and len(runs) == 1:
            self.household = " ".join(t.text for t in runs[0])
        else:
            self.unknown.extend(" ".join(t.text for t in r) for r in runs)
        if self.parts:
            self.household = ", ".join([self.household, *self.parts] if self.household else self.parts)

    def parsed(self) -> Parsed:
        return Parsed(
            hamlet=self.hamlet,
            household=self.household,
            outcome=self.outcome,
            smartphones=self.counts.get("smartphones"),
            installed_now=self.counts.get("installed_now"),
            already_installed=self.counts.get("already_installed"),
            unknown=tuple(self.unknown),
            repeated=tuple(self.repeated),
            household_marked=self.household_marked,
        )


def parse_hamlet(text: str, vocabulary: Vocabulary) -> str | None:
    """A hamlet as typed at the hamlet question: a kind and a name ("thon 3") is shown with the
    kind's label; a bare name is kept as typed. None when nothing usable was typed."""
    parsed = parse(text, vocabulary)
    if parsed.hamlet is not None and not parsed.unknown:
        return parsed.hamlet
    words = [m.group() for m in _TOKEN.finditer(unicodedata.normalize("NFC", text or "")) if m.lastgroup != "sep"]
    return _title(words) if words else None


def parse_household(text: str, vocabulary: Vocabulary) -> str | None:
    """A household reference as typed at its question: a number without its leading word ("so 12"
    → "12"), a description whole, its leading word kept."""
    parsed = parse(text, vocabulary)
    if parsed.household is not None and not parsed.unknown and parsed.hamlet is None:
        return parsed.household
    words = [m.group() for m in _TOKEN.finditer(unicodedata.normalize("NFC", text or "")) if m.lastgroup != "sep"]
    return " ".join(words) if words else None


def vocabulary_of(content: Content) -> Vocabulary:
    """The vocabulary of a loaded Content, built once and kept with it."""
    return content.derived("shorthand.vocabulary", lambda c: Vocabulary.from_section(c.section("shorthand")))
