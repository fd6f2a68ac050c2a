"""How much of an aggregate its figures cover ("figures of 1/96 communes and wards"): one wording
for the summary, the daily report, the chart and the exports."""

from __future__ import annotations

from collections.abc import Iterable

from texts import Divisions, Text, t


def coverage(covered: int, total: int, kinds: Iterable[str]) -> Text:
    """`covered` of `total` units have figures; `kinds` are the units' division types as the units
    data writes them (a province's communes and wards; a district's communes and townships)."""
    return t("tally.coverage", covered=covered, total=total, kinds=Divisions(frozenset(kinds)))
