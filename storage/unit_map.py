"""The two maps a campaign can run on, and their hierarchy: levels, parents, children, and where a
unit of before 2025 lies on today's map. Pure and read from the vietnam-provinces package once per
process: the same for every database (the web dashboard and the tallies read it alike).

- `2025`: today's two levels (34 provinces, 3,321 communes).
- `pre2025`: the map just before 1 July 2025 (63 provinces, 696 districts, 10,051 communes), the
  package's `legacy` module. Not the map of 2021: units merged between 2021 and 2025 are merged in it.

A code means nothing without its scheme (27937 is a township before 2025 and a commune today): a
`Unit` carries both, and every function here takes the scheme.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

COUNTRY_CODE = "VN"
SCHEME_2025 = "2025"
SCHEME_PRE2025 = "pre2025"
SCHEMES = (SCHEME_2025, SCHEME_PRE2025)
DEFAULT_SCHEME = SCHEME_2025
# The levels of each scheme, from the top.
LEVELS = {
    SCHEME_2025: ("country", "province", "commune"),
    SCHEME_PRE2025: ("country", "province", "district", "commune"),
}
# A code's width at each level (zero-padded GSO codes).
WIDTH = {"province": 2, "district": 3, "commune": 5}


def check_scheme(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown units scheme {scheme!r}: {' or '.join(SCHEMES)}")
    return scheme


def unit_level(code: str) -> str:
    """ "country", "province", "district" or "commune" from a padded code's shape ("VN", "01",
    "213", "00070"). Districts exist only in `pre2025`; the shape alone cannot say which scheme."""
    if code == COUNTRY_CODE:
        return "country"
    if code.isdigit():
        for level, width in WIDTH.items():
            if len(code) == width:
                return level
    raise ValueError(f"not a unit code: {code!r}")


def pad_unit_code(code: str, scheme: str = DEFAULT_SCHEME) -> str:
    """A typed unit code at its level's width: "1" → "01", "167" → "00167" ("213", a district, in
    `pre2025`); "VN" as it is. One or two digits are a province; in `pre2025` three digits are a
    district and four or five a commune; in `2025` three to five are a commune."""
    check_scheme(scheme)
    code = code.strip().upper()
    if code == COUNTRY_CODE:
        return code
    if code.isdigit() and 1 <= len(code) <= 2:
        return code.zfill(2)
    if code.isdigit() and len(code) == 3 and scheme == SCHEME_PRE2025:
        return code
    if code.isdigit() and 3 <= len(code) <= 5:
        return code.zfill(5)
    raise ValueError(f"not a unit code: {code!r}")


@dataclass(frozen=True)
class Unit:
    scheme: str
    code: str
    level: str
    name: str
    division_type: str
    parent: str | None  # None for the country


class UnitMap:
    """One scheme's units with their parents and children."""

    def __init__(self, scheme: str, units: list[Unit]) -> None:
        self.scheme = check_scheme(scheme)
        self.units = {COUNTRY_CODE: Unit(scheme, COUNTRY_CODE, "country", "", "", None)}
        self.units.update({u.code: u for u in units})
        self._children: dict[str, list[str]] = {}
        for unit in self.units.values():
            if unit.parent is not None:
                self._children.setdefault(unit.parent, []).append(unit.code)

    @property
    def levels(self) -> tuple[str, ...]:
        return LEVELS[self.scheme]

    def __contains__(self, code: str) -> bool:
        return code in self.units

    def get(self, code: str) -> Unit | None:
        return self.units.get(code)

    def parent(self, code: str) -> str | None:
        return self.units[code].parent

    def children(self, code: str) -> list[str]:
        return self._children.get(code, [])

    def chain(self, code: str) -> list[str]:
        """The unit and every unit above it, up to the country: "00070" → ["00070", "01", "VN"]."""
        out = [code]
        while (up := self.units[out[-1]].parent) is not None:
            out.append(up)
        return out

    def above(self, code: str, level: str) -> str | None:
        """The unit of `level` that contains `code` (itself when it is of that level)."""
        return next((c for c in self.chain(code) if self.units[c].level == level), None)

    def contains(self, outer: str, inner: str) -> bool:
        return outer in self.chain(inner)

    def communes(self, code: str) -> Iterator[str]:
        """Every commune under the unit (itself when it is one)."""
        if self.units[code].level == "commune":
            yield code
            return
        for child in self.children(code):
            yield from self.communes(child)

    def of_level(self, level: str) -> list[Unit]:
        return [u for u in self.units.values() if u.level == level]


@functools.cache
def unit_map(scheme: str) -> UnitMap:
    """The package's map of a scheme (read once per process)."""
    if check_scheme(scheme) == SCHEME_2025:
        return UnitMap(scheme, _todays_units())
    return UnitMap(scheme, _former_units())


def _todays_units() -> list[Unit]:
    from storage.units import division_data

    units = []
    for p in division_data():
        province = f"{p['code']:02d}"
        units.append(Unit(SCHEME_2025, province, "province", p["name"], p["division_type"], COUNTRY_CODE))
        units.extend(
            Unit(SCHEME_2025, f"{w['code']:05d}", "commune", w["name"], w["division_type"], province)
            for w in p["wards"]
        )
    return units


def former_unit_rows() -> tuple[list[dict], list[dict], list[dict]]:
    """The `pre2025` provinces, districts and communes as rows for the database's unit tables."""
    from vietnam_provinces.legacy import District, Province, Ward

    provinces = [
        {"code": f"{p.code.value:02d}", "name": p.name, "division_type": p.division_type.value}
        for p in Province.iter_all()
    ]
    districts = [
        {
            "code": f"{d.code.value:03d}",
            "name": d.name,
            "division_type": d.division_type.value,
            "province_code": f"{d.province_code.value:02d}",
        }
        for d in District.iter_all()
    ]
    province_of = {d["code"]: d["province_code"] for d in districts}
    communes = []
    for w in Ward.iter_all():
        district = f"{w.district_code.value:03d}"
        communes.append(
            {
                "code": f"{w.code.value:05d}",
                "name": w.name,
                "division_type": w.division_type.value,
                "province_code": province_of[district],
                "district_code": district,
            }
        )
    return provinces, districts, communes


def _former_units() -> list[Unit]:
    provinces, districts, communes = former_unit_rows()
    return [
        *(Unit(SCHEME_PRE2025, p["code"], "province", p["name"], p["division_type"], COUNTRY_CODE) for p in provinces),
        *(
            Unit(SCHEME_PRE2025, d["code"], "district", d["name"], d["division_type"], d["province_code"])
            for d in districts
        ),
        *(
            Unit(SCHEME_PRE2025, c["code"], "commune", c["name"], c["division_type"], c["district_code"])
            for c in communes
        ),
    ]


# --- history: a unit of before 2025 on today's map ---------------------------------------------


@functools.cache
def _todays_home_of_former_communes() -> dict[str, str]:
    """Each former commune → the smallest 2025 unit that wholly contains it: the commune it went
    to whole, else the one province all its parts went to, else the country."""
    from storage.legacy_units import former_communes, former_province

    today = unit_map(SCHEME_2025)
    out: dict[str, str] = {}
    for former in former_communes():
        if len(former.became) == 1 and not former.became[0][1] and former.became[0][0] in today:
            out[former.code] = former.became[0][0]
            continue
        provinces = {today.above(code, "province") or COUNTRY_CODE for code, _ in former.became if code in today}
        if not former.became or any(partly for _, partly in former.became):
            # Part of it went somewhere the crosswalk does not list: trust only its province's fate.
            known = former_province(former.province_code)
            provinces |= set(known[1]) if known else {COUNTRY_CODE}
        out[former.code] = provinces.pop() if len(provinces) == 1 else COUNTRY_CODE
    return out


def smallest_common(today: UnitMap, codes: set[str]) -> str:
    """The smallest unit of `today` containing every one of `codes`."""
    if not codes:
        return COUNTRY_CODE
    chains = [today.chain(c) for c in codes]
    for candidate in chains[0]:
        if all(candidate in chain for chain in chains[1:]):
            return candidate
    return COUNTRY_CODE


@functools.cache
def carried_into_2025(code: str) -> str:
    """The smallest 2025 unit that wholly contains the `pre2025` unit `code` (often the province):
    where its figures are shown on today's map, never split by an invented ratio."""
    if code == COUNTRY_CODE:
        return code
    former = unit_map(SCHEME_PRE2025)
    if code not in former:
        raise LookupError(code)
    homes = _todays_home_of_former_communes()
    return smallest_common(unit_map(SCHEME_2025), {homes[c] for c in former.communes(code)})


def carry(code: str, from_scheme: str, to_scheme: str) -> str | None:
    """Where a unit of `from_scheme` lies on `to_scheme`'s map; None where no unit of it wholly
    contains the old one in a way we can tell (today's units are not inside the older ones)."""
    if from_scheme == to_scheme:
        return code
    if (from_scheme, to_scheme) == (SCHEME_PRE2025, SCHEME_2025):
        return carried_into_2025(code)
    return COUNTRY_CODE if code == COUNTRY_CODE else None
