"""What people send, read safely: numbers in typed text and button payloads, text cleaned on its
way in, and what a name needs. Self-contained (the standard library only), so any layer may use it."""

from __future__ import annotations

import re
import unicodedata

# Ids as the database stores them: INTEGER on PostgreSQL (int4); the few BIGINT ids (check-ins)
# pass `most=BIGINT_MAX`. A larger id is no id of ours, and asking for it would fail in the driver.
INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1

# Full-width digits (a Chinese or Japanese keyboard layout) are the digits people meant.
_FULL_WIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


def number(text: str | None, most: int) -> int | None:
    """A whole number from 0 to `most`, written in ASCII digits (full-width ones too), spaces around
    it ignored; None for anything else. "²", "①" or "٣" pass `str.isdigit()` and are not numbers
    here; a value above `most` (a 5,000-digit "id") is None before any big integer is made."""
    digits = (text or "").strip().translate(_FULL_WIDTH)
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    digits = digits.lstrip("0") or "0"
    if len(digits) > len(str(most)):
        return None
    value = int(digits)
    return value if value <= most else None


def record_id(text: str | None, most: int = INT_MAX) -> int | None:
    """A database id from a button payload (1 to `most`); None for anything else: a forged or
    mangled button then gets the flow's "this button is old" answer."""
    value = number(text, most)
    return value if value else None


# Line breaks other than "\n": Windows' and old Mac's, and Unicode's own separators. Typed text
# keeps its lines (shorthand written one visit a line, announcements) as "\n".
_LINE_BREAKS = re.compile("\r\n|[\r\u2028\u2029]")

# Removed from everything typed: control characters (C0, DEL, C1) but "\n" and "\t" (U+0000
# cannot be stored in PostgreSQL text at all); bidirectional controls, which make a name show
# reversed ("\u202eKFC lanif"); invisible spaces that make lookalikes of names and commands
# (zero-width space, word joiner, a byte-order mark pasted in front); and lone surrogates, which
# a JSON payload can carry but no database can store. The zero-width joiner and non-joiner stay:
# emoji sequences (a family is three emoji joined by U+200D) and some scripts need them, and a
# name of nothing else is refused anyway.
_CONTROLS = [c for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) not in "\n\t"]
_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_INVISIBLE = [0x200B, 0x2060, 0xFEFF]
_SURROGATES = range(0xD800, 0xE000)
_REMOVED = dict.fromkeys([*_CONTROLS, *_BIDI, *_INVISIBLE, *_SURROGATES])


def clean(text: str | None) -> str | None:
    """Typed text (or a payload) as the rest of the bot may trust it: line breaks as "\\n", the
    characters above removed, and NFC, so that a letter typed decomposed (a base letter and its
    combining marks) is stored, compared and searched as the same letter typed composed."""
    if text is None:
        return None
    text = _LINE_BREAKS.sub("\n", text).translate(_REMOVED)
    return unicodedata.normalize("NFC", text)


def is_name(text: str) -> bool:
    """A name (of a venue, a volunteer, a team) needs at least one letter or digit: one made of
    emoji, punctuation or invisible characters would show as nothing on a poster or a list."""
    return any(ch.isalnum() for ch in text)
