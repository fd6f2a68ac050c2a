"""The units before the 2025 merger (63 provinces, their districts and 10,051 communes) and the
package's crosswalk to today's communes: to find a commune by the name people still use, and to
convert a code between the two schemes.

Everything here comes from vietnam-provinces (its `legacy` data and its 2025 conversion table), read
once per process: it is the same for every database. The crosswalk's `is_partly_merged` flag (only
part of the old commune went to a new one) is read from the package's conversion module, which the
public API (`Ward.search_from_legacy`, `Ward.get_legacy_sources`) does not expose.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from storage.folding import fold

# Words before a name, folded: dropped to compare names, and accepted around a district or province.
COMMUNE_WORDS = ("thi tran ", "phuong ", "xa ", "tt ", "p ", "x ")
DISTRICT_WORDS = ("huyen ", "quan ", "thi xa ", "thanh pho ", "tx ", "tp ", "q ", "h ")
PROVINCE_WORDS = ("thanh pho ", "tinh ", "tp ")


def strip_words(folded: str, words: Iterable[str]) -> str:
    for word in words:
        if folded.startswith(word) and len(folded) > len(word):
            return folded[len(word) :]
    return folded


@dataclass(frozen=True)
class FormerCommune:
    """A commune as it was before 1 July 2025, and where it went."""

    code: str  # five digits, as GSO numbered it then
    name: str
    district_code: str  # three digits
    district_name: str
    province_code: str  # two digits, of the 63 provinces
    province_name: str
    # Today's communes it went to, each with whether only part of it went there.
    became: tuple[tuple[str, bool], ...]

    @property
    def split(self) -> bool:
        return len(self.became) > 1


@dataclass(frozen=True)
class TodaysSource:
    """One former commune that (wholly or partly) makes up a commune of today."""

    former: FormerCommune
    partly: bool


class FormerIndex:
    """Former communes by folded name; `find` reads "name[, district][, province]" in any spelling."""

    def __init__(self, communes: Iterable[FormerCommune], province_keys: dict[str, list[str]]) -> None:
        self.by_code = {c.code: c for c in communes}
        self.by_key: dict[str, list[FormerCommune]] = defaultdict(list)
        self.became_from: dict[str, list[TodaysSource]] = defaultdict(list)
        for commune in self.by_code.values():
            self.by_key[strip_words(fold(commune.name), COMMUNE_WORDS)].append(commune)
            for code, partly in commune.became:
                self.became_from[code].append(TodaysSource(commune, partly))
        # Today's province codes → their folded names, to accept "Đức Hòa Hạ, Tây Ninh" too.
        self.province_keys = province_keys

    def __len__(self) -> int:
        return len(self.by_code)

    def get(self, code: str) -> FormerCommune | None:
        return self.by_code.get(code)

    def sources_of(self, code: str) -> list[TodaysSource]:
        """The former communes a commune of today was made of (the reverse of `became`)."""
        return self.became_from.get(code, [])

    def find(self, folded: str, limit: int = 50) -> list[FormerCommune]:
        """Former communes named by the folded text: the longest leading run of words that is a
        former commune's name, the rest naming its district and/or province (old or today's)."""
        words = strip_words(folded, COMMUNE_WORDS).split()
        for n in range(len(words), 0, -1):
            candidates = self.by_key.get(" ".join(words[:n]))
            if not candidates:
                continue
            rest = " ".join(words[n:])
            hits = [c for c in candidates if self._places_match(c, rest)]
            if hits:
                return hits[:limit]
        return []

    def _places_match(self, commune: FormerCommune, rest: str) -> bool:
        if not rest:
            return True
        districts = _variants(fold(commune.district_name), DISTRICT_WORDS)
        provinces = _variants(fold(commune.province_name), PROVINCE_WORDS)
        for code, _ in commune.became:
            for key in self.province_keys.get(code, []):
                provinces |= _variants(key, PROVINCE_WORDS)
        if rest in districts or rest in provinces:
            return True
        return any(f"{d} {p}" == rest or f"{p} {d}" == rest for d in districts for p in provinces)


def _variants(folded: str, words: tuple[str, ...]) -> set[str]:
    bare = strip_words(folded, words)
    return {bare, folded} | {word + bare for word in words}


@functools.cache
def former_communes() -> tuple[FormerCommune, ...]:
    """All former communes from the package, with where each went (read once: about a second)."""
    from vietnam_provinces._ward_conversion_2025 import OLD_TO_NEW
    from vietnam_provinces.legacy import District, Province, Ward

    districts = {d.code.value: d for d in District.iter_all()}
    provinces = {p.code.value: p for p in Province.iter_all()}
    out = []
    for ward in Ward.iter_all():
        district = districts[ward.district_code.value]
        province = provinces[district.province_code.value]
        entry = OLD_TO_NEW.get(ward.code.value)
        became: tuple[tuple[str, bool], ...] = ()
        if entry is not None:
            partly = entry.old_ward.is_partly_merged
            became = tuple((f"{new.code:05d}", partly) for new in entry.new_wards)
        out.append(
            FormerCommune(
                code=f"{ward.code.value:05d}",
                name=ward.name,
                district_code=f"{district.code.value:03d}",
                district_name=district.name,
                province_code=f"{province.code.value:02d}",
                province_name=province.name,
                became=became,
            )
        )
    return tuple(out)


def former_province(code: str) -> tuple[str, list[str]] | None:
    """A province before 2025 by its two-digit code: (its name, today's provinces it went to)."""
    from vietnam_provinces import Province as Todays
    from vietnam_provinces.legacy import Province, ProvinceCode

    try:
        old = Province.from_code(ProvinceCode(int(code)))
    except ValueError:
        return None
    return old.name, [f"{p.province.code.value:02d}" for p in Todays.search_from_legacy(code=int(code))]


def province_sources(code: str) -> list[tuple[str, str]]:
    """The provinces before 2025 that make up today's province `code`: (code, name) each."""
    from vietnam_provinces import Province, ProvinceCode

    try:
        today = Province.from_code(ProvinceCode(int(code)))
    except ValueError:
        return []
    return [(f"{p.code.value:02d}", p.name) for p in today.get_legacy_sources()]
