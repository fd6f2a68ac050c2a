"""What people send, read safely: numbers in typed text and button payloads. Self-contained (the
standard library only), so any layer may use it."""

from __future__ import annotations

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
