"""Accent folding for search: "Hoà", "Hòa", "HOA" and decomposed input all become "hoa"."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Lowercase ASCII words separated by single spaces; accents, tone marks and đ removed.

    Removing every mark makes old and new tone placement (Hòa/Hoà, Thụy/Thuỵ) and NFD input
    compare equal without a table of variants.
    """
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return _NON_WORD.sub(" ", text).strip()
