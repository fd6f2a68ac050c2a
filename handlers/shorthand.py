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
    tokens = tokenize(text, vocabulary)
    # 1. Phrases, longest first at each position, left to right.
    tags: list[tuple[int, Phrase]] = []  # (index of the phrase's first token, phrase)
    i = 0
    while i < len(tokens):
        phrase = _match_at(tokens, i, vocabulary)
        if phrase is None:
            i += 1
            continue
        for t in tokens[i : i + len(phrase.words)]:
            t.role = phrase.category
        tags.append((i, phrase))
        i += len(phrase.words)
    # An address part ("ngõ") is one only before its number; otherwise it is a plain word
    # ("nhà đầu ngõ": the house at the end of the alley).
    for start, phrase in list(tags):
        end = start + len(phrase.words)
        if phrase.category == "household_part" and not (
            end < len(tokens) and tokens[end].kind == "number" and tokens[end].segment == tokens[start].segment
        ):
            tags.remove((start, phrase))
            for t in tokens[start:end]:
                t.role = None

    def next_index(j: int, step: int, segment: int) -> int | None:
        """The next token from j in direction step, skipping fillers, within the segment."""
        j += step
        while 0 <= j < len(tokens) and tokens[j].segment == segment:
            if tokens[j].role != "filler":
                return j
            j += step
        return None

    def take_value(start: int, end: int, title: bool) -> str | None:
        """A hamlet's or household's name after its word: one number, or the words up to the next
        tag, number or separator (fillers included, but not one that comes before a number)."""
        segment = tokens[start].segment

        def free(k: int) -> bool:
            return k < len(tokens) and tokens[k].segment == segment and tokens[k].role in (None, "filler")

        if free(end) and tokens[end].kind == "number":
            tokens[end].role = "value"
            return tokens[end].text
        taken = []
        k = end
        while free(k) and tokens[k].kind == "word":
            taken.append(k)
            k += 1
        while taken and tokens[taken[-1]].role == "filler" and free(k) and tokens[k].kind == "number":
            k = taken.pop()
        if not taken:
            j = next_index(end - 1, 1, segment)
            if j is not None and tokens[j].kind == "number" and tokens[j].role is None:
                tokens[j].role = "value"
                return tokens[j].text
            return None
        for k in taken:
            tokens[k].role = "value"
        words = [tokens[k].text for k in taken]
        return _title(words) if title else " ".join(words)

    hamlet = household = outcome = None
    household_marked = False
    parts: list[str] = []
    counts: dict[str, int] = {}
    repeated: list[str] = []
    unknown: list[str] = []
    pending_counts: list[tuple[int, int, str]] = []
    for start, phrase in tags:
        end = start + len(phrase.words)
        typed = " ".join(t.text for t in tokens[start:end])
        if phrase.category == "hamlet":
            name = take_value(start, end, title=True)
            if name is None:
                unknown.append(typed)
            elif hamlet is None:
                hamlet = f"{phrase.label} {name}"
            else:
                repeated.append("hamlet")
        elif phrase.category in ("household", "household_part"):
            value = take_value(start, end, title=False)
            if value is None:
                unknown.append(typed)
            elif phrase.category == "household_part":
                parts.append(f"{' '.join(phrase.words)} {value}")
            elif household is None:
                household, household_marked = value, True
            else:
                repeated.append("household")
        elif phrase.category in OUTCOME_CATEGORIES:
            if outcome is not None and outcome != phrase.category:
                repeated.append("outcome")
            outcome = phrase.category
        elif phrase.category in COUNT_CATEGORIES:
            pending_counts.append((start, end, phrase.category))

    # 2. Counts claim a number next to their word: the preferred side first, for all of them,
    # then the other side for those still without one.
    claimed: dict[int, int] = {}  # index in pending_counts → token index

    def try_claim(n: int, after: bool) -> None:
        start, end, _category = pending_counts[n]
        j = next_index(end - 1, 1, tokens[start].segment) if after else next_index(start, -1, tokens[start].segment)
        if (
            j is not None
            and tokens[j].kind == "number"
            and tokens[j].role is None
            and _count(tokens[j].text) is not None
        ):
            tokens[j].role = "value"
            claimed[n] = j

    for after_first in (True, False):
        for n, (_, _, category) in enumerate(pending_counts):
            if n not in claimed:
                try_claim(n, after=(category in NUMBER_AFTER) == after_first)
    for n, (start, end, category) in enumerate(pending_counts):
        if n not in claimed:
            unknown.append(" ".join(t.text for t in tokens[start:end]))
            continue
        count = _count(tokens[claimed[n]].text)
        assert count is not None  # try_claim claims only a token that reads as a count
        if category in counts:
            repeated.append(category)
        counts[category] = count

    # 3. What is left: words with no place become the household's description when there is
    # none and they stand together; anything else is not understood.
    runs: list[list[_Token]] = []
    for k, t in enumerate(tokens):
        if t.role is None:
            if (
                runs
                and t.kind == "word"
                and runs[-1][-1].kind == "word"
                and tokens[k - 1] is runs[-1][-1]
                and runs[-1][-1].segment == t.segment
            ):
                runs[-1].append(t)
            else:
                runs.append([t])
    if household is None and len(runs) == 1:
        household = " ".join(t.text for t in runs[0])
    else:
        unknown.extend(" ".join(t.text for t in r) for r in runs)
    if parts:
        household = ", ".join([household, *parts] if household else parts)
    return Parsed(
        hamlet=hamlet,
        household=household,
        outcome=outcome,
        smartphones=counts.get("smartphones"),
        installed_now=counts.get("installed_now"),
        already_installed=counts.get("already_installed"),
        unknown=tuple(unknown),
        repeated=tuple(repeated),
        household_marked=household_marked,
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
    """A household reference as typed at its question, without its leading word ("so 12" → "12")."""
    parsed = parse(text, vocabulary)
    if parsed.household is not None and not parsed.unknown and parsed.hamlet is None:
        return parsed.household
    words = [m.group() for m in _TOKEN.finditer(unicodedata.normalize("NFC", text or "")) if m.lastgroup != "sep"]
    return " ".join(words) if words else None


_vocabularies: dict[int, Vocabulary] = {}


def vocabulary_of(content: Any) -> Vocabulary:
    """The vocabulary of a loaded Content (built once per Content)."""
    key = id(content)
    if key not in _vocabularies:
        _vocabularies[key] = Vocabulary.from_section(content.section("shorthand"))
    return _vocabularies[key]
