"""Typed values a handler puts into a Text, so the renderer formats them for the locale."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from typing import Any


@dataclass(frozen=True)
class Percent:
    """A share shown as a percentage, truncated (never rounded up) to `digits` decimals.

    Truncation matters: a commune at 59.996% must never be shown as having reached 60%.
    """

    value: Fraction
    digits: int = 2

    @classmethod
    def of(cls, numerator: int, denominator: int, digits: int = 2) -> Percent | None:
        if not denominator:
            return None
        return cls(Fraction(numerator, denominator), digits)

    @classmethod
    def target(cls, value: Fraction) -> Percent:
        """A target as officials write it: 60%, 62,5%; two decimals (truncated) at most."""
        for digits in (0, 1):
            if (value * 10 ** (digits + 2)).denominator == 1:
                return cls(value, digits)
        return cls(value, 2)

    def truncated(self) -> Decimal:
        """The fraction (0.4759 for 47.59%), cut after `digits` decimals of the percentage."""
        exact = Decimal(self.value.numerator) / Decimal(self.value.denominator)
        step = Decimal(1).scaleb(-(self.digits + 2))
        return exact.quantize(step, rounding=ROUND_DOWN)


@dataclass(frozen=True)
class Join:
    """Several values (Texts or data) shown as one: a list inside a message."""

    items: tuple[Any, ...]
    separator: str = "\n\n"


@dataclass(frozen=True)
class Day:
    """A day shown with its weekday: "Chủ nhật, ngày 6/12/2026" (a plain date is "6/12/2026")."""

    date: dt.date


@dataclass(frozen=True)
class SpokenDate:
    """A day as an announcer reads it aloud: "ngày 6 tháng 12 năm 2026" (the loudspeaker script)."""

    date: dt.date


@dataclass(frozen=True)
class Phone:
    """A phone number shown as people write it: "0912 345 678", not "+84912345678"."""

    number: str


@dataclass(frozen=True)
class Divisions:
    """The kinds of unit an aggregate counts, named as a count names them: "xã" when all are of one
    kind, "xã, phường" when mixed. `kinds` are division types as the units data writes them."""

    kinds: frozenset[str]
