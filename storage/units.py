"""Administrative units: loading a scheme's units (today's 34 provinces and 3,321 communes, or the
pre-2025 map's 63, 696 districts and 10,051 communes) into the database, and finding a commune by name."""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_insert
from storage.folding import fold
from storage.legacy_units import FormerCommune, FormerIndex, former_communes
from storage.models import Commune, District, Province, UnitSource, utcnow
from storage.unit_map import COUNTRY_CODE as COUNTRY_CODE  # where most modules have always found it
from storage.unit_map import (
    DEFAULT_SCHEME,
    SCHEME_2025,
    SCHEME_PRE2025,
    check_scheme,
    former_unit_rows,
    unit_level,
    unit_map,
)
from storage.unit_map import pad_unit_code as pad_unit_code  # where the commands have always found it
from storage.unit_upgrade import (
    RemapPlan,
    UnitRow,
    UnitsUpgradeBlocked,
    apply_remap,
    plan_remap,
    reference_counts,
    upsert_communes,
    upsert_districts,
    upsert_provinces,
)

log = logging.getLogger(__name__)

# Today's scheme: the one whose package version can change the codes (storage/unit_upgrade.py).
SCHEME = SCHEME_2025
PACKAGE = "vietnam-provinces"

# Words people put before a name; dropped from both the names and the query.
_COMMUNE_PREFIXES = ("dac khu ", "thi tran ", "phuong ", "xa ", "tt ", "p ", "x ")
_PROVINCE_PREFIXES = ("thanh pho ", "tinh ", "tp ")


def _strip_prefix(folded: str, prefixes: Iterable[str]) -> str:
    for prefix in prefixes:
        if folded.startswith(prefix) and len(folded) > len(prefix):
            return folded[len(prefix) :]
    return folded


def province_key(name: str) -> str:
    """A province's name folded, without its "tỉnh/thành phố" prefix: "Tp. Hồ Chí Minh" → "ho chi minh"."""
    return _strip_prefix(fold(name), _PROVINCE_PREFIXES)


def division_data() -> list[dict]:
    """The nested provinces → wards data shipped by the vietnam-provinces package."""
    from vietnam_provinces import NESTED_DIVISIONS_JSON_PATH

    return json.loads(NESTED_DIVISIONS_JSON_PATH.read_text(encoding="utf-8"))


def package_version() -> tuple[str, str]:
    """(the vietnam-provinces version, its data retrieval date): what the README and the database name."""
    import vietnam_provinces

    return vietnam_provinces.__version__, vietnam_provinces.__data_version__


def _rows(data: list[dict]) -> tuple[list[dict], list[dict]]:
    provinces = [
        {"code": f"{p['code']:02d}", "scheme": SCHEME, "name": p["name"], "division_type": p["division_type"]}
        for p in data
    ]
    communes = [
        {
            "code": f"{w['code']:05d}",
            "scheme": SCHEME,
            "name": w["name"],
            "division_type": w["division_type"],
            "province_code": f"{p['code']:02d}",
            "district_code": None,
        }
        for p in data
        for w in p["wards"]
    ]
    return provinces, communes


async def stored_version(session: AsyncSession, scheme: str = SCHEME) -> str | None:
    """The vietnam-provinces version the stored units of `scheme` were loaded from (None: not loaded)."""
    return await session.scalar(select(UnitSource.version).where(UnitSource.scheme == scheme))


async def database_scheme(session: AsyncSession) -> str:
    """The scheme of the database's units: every unit code stored outside figures and targets is
    of it. Today's map until units are loaded."""
    return await session.scalar(select(Province.scheme).limit(1)) or DEFAULT_SCHEME


async def known_unit(session: AsyncSession, code: str, scheme: str | None = None) -> bool:
    """Whether `code` is a unit of `scheme` (the database's by default): read from the database's
    unit tables for its own scheme, from the package's map for the other one."""
    try:
        level = unit_level(code)
    except ValueError:
        return False
    if level == "country":
        return True
    if scheme is not None and scheme != await database_scheme(session):
        return code in unit_map(check_scheme(scheme))
    model = {"province": Province, "district": District, "commune": Commune}[level]
    return await session.get(model, code) is not None


class UnitsSchemeMismatch(Exception):
    """The database's stored rows refer to units of one scheme and another was asked for."""

    def __init__(self, stored: str, wanted: str, references: int) -> None:
        super().__init__(
            f"this database's {references} stored row(s) refer to units of the {stored!r} map; it cannot "
            f"run on the {wanted!r} map (a code means another unit there): use a new database, or UNITS={stored}"
        )
        self.stored, self.wanted = stored, wanted


async def _switch_scheme(session: AsyncSession, stored: str, wanted: str) -> None:
    """Empty the unit tables for another scheme's units, unless anything refers to them."""
    references = sum((await reference_counts(session)).values())
    if references:
        raise UnitsSchemeMismatch(stored, wanted, references)
    await session.execute(delete(Commune))
    await session.execute(delete(District))
    await session.execute(delete(Province))
    await session.execute(delete(UnitSource))


async def _record_source(session: AsyncSession, scheme: str, version: tuple[str, str]) -> None:
    record = dialect_insert(session, UnitSource).values(
        scheme=scheme, package=PACKAGE, version=version[0], data_date=version[1], loaded_at=utcnow()
    )
    await session.execute(
        record.on_conflict_do_update(
            index_elements=["scheme"],
            set_={c: record.excluded[c] for c in ("package", "version", "data_date", "loaded_at")},
        )
    )


async def plan_units(
    session: AsyncSession,
    data: list[dict] | None = None,
    version: tuple[str, str] | None = None,
    decisions: dict[str, str] | None = None,
) -> RemapPlan:
    """What loading `data` (the package's, by default) would do to the stored codes; changes nothing."""
    data = division_data() if data is None else data
    version = package_version() if version is None else version
    provinces, communes = _rows(data)
    old_provinces = [UnitRow(p.code, p.name, p.division_type) for p in (await session.scalars(select(Province))).all()]
    old_communes = [
        UnitRow(c.code, c.name, c.division_type, c.province_code)
        for c in (await session.scalars(select(Commune))).all()
    ]
    return plan_remap(
        old_provinces,
        old_communes,
        [UnitRow(p["code"], p["name"], p["division_type"]) for p in provinces],
        [UnitRow(c["code"], c["name"], c["division_type"], c["province_code"]) for c in communes],
        await reference_counts(session),
        from_version=await stored_version(session),
        to_version=version[0],
        decisions=decisions,
    )


async def load_units(
    session: AsyncSession,
    data: list[dict] | None = None,
    version: tuple[str, str] | None = None,
    decisions: dict[str, str] | None = None,
    scheme: str = DEFAULT_SCHEME,
) -> tuple[int, int]:
    """Load a scheme's units, and record their data version; returns (provinces, communes).

    Reloading the same version only rewrites the rows. Over today's units of another version, every
    stored code first follows its commune to the new code (storage/unit_upgrade.py, logged as a
    report); where that cannot be decided, UnitsUpgradeBlocked is raised and nothing changes. Over
    units of the other scheme, the tables are emptied first, or UnitsSchemeMismatch is raised when
    anything stored refers to them.
    """
    stored = await database_scheme(session) if await session.scalar(select(Province.code).limit(1)) else None
    if stored is not None and stored != check_scheme(scheme):
        await _switch_scheme(session, stored, scheme)
    if scheme == SCHEME_PRE2025:
        return await _load_former(session, version)
    data = division_data() if data is None else data
    version = package_version() if version is None else version
    provinces, communes = _rows(data)
    has_units = bool(await session.scalar(select(func.count()).select_from(Commune)))
    if has_units and (await stored_version(session) != version[0] or decisions):
        plan = await plan_units(session, data, version, decisions)
        if plan.blocked:
            raise UnitsUpgradeBlocked(plan)
        for line in plan.report():
            log.warning("%s", line)
        await upsert_provinces(session, provinces)
        await apply_remap(session, plan, communes)
    else:
        await upsert_provinces(session, provinces)
        await upsert_communes(session, communes)
    await _record_source(session, SCHEME, version)
    return await _counts(session)


async def _load_former(session: AsyncSession, version: tuple[str, str] | None) -> tuple[int, int]:
    """The pre-2025 map: frozen in the package's legacy module, so reloading only rewrites the rows."""
    provinces, districts, communes = former_unit_rows()
    await upsert_provinces(session, [{**p, "scheme": SCHEME_PRE2025} for p in provinces])
    await upsert_districts(session, [{**d, "scheme": SCHEME_PRE2025} for d in districts])
    await upsert_communes(session, [{**c, "scheme": SCHEME_PRE2025} for c in communes])
    await _record_source(session, SCHEME_PRE2025, package_version() if version is None else version)
    return await _counts(session)


async def _counts(session: AsyncSession) -> tuple[int, int]:
    n_provinces = await session.scalar(select(func.count()).select_from(Province))
    n_communes = await session.scalar(select(func.count()).select_from(Commune))
    return n_provinces or 0, n_communes or 0


@dataclass(frozen=True)
class CommuneEntry:
    code: str
    name: str
    division_type: str
    province_code: str
    province_name: str
    key: str  # folded name without its "xã/phường" prefix
    district_code: str = ""  # on the pre-2025 map, where same-named communes are told apart by it
    district_name: str = ""


# How a match was found, best first.
EXACT = 0  # the name of today's commune
FORMER = 1  # the name of a commune before the 2025 merger, answered with today's
PREFIX = 2
WORD_PREFIX = 3
FUZZY = 4  # a typo ("hoan kim"): a near name, not the same name


@dataclass(frozen=True)
class Match:
    commune: CommuneEntry
    rank: int  # EXACT, FORMER, PREFIX, WORD_PREFIX or FUZZY
    score: float
    former: FormerCommune | None = None  # for FORMER: the old commune the name was found as
    partly: bool = False  # for FORMER: only part of the old commune went to this one

    @property
    def former_name(self) -> str:
        """The former commune with its district, as people knew it: "Xã Đức Hòa Hạ, Huyện Đức Hòa"."""
        return f"{self.former.name}, {self.former.district_name}" if self.former else ""


# What people call a province besides its name (folded).
_PROVINCE_ALIASES = {"79": ("hcm", "tp hcm", "tphcm", "sai gon", "sg"), "01": ("hn",)}


class CommuneIndex:
    """In-memory commune search over all 3,321 communes and the 10,051 of before 2025 (well under
    5 ms a query).

    Ranked: today's exact name, a former name (answered with today's commune), a prefix, a word
    prefix, then near names (typos). A province named at either end ("tan phu dong nai", "Hà Nội,
    Hoàn Kiếm", with or without "tỉnh", a comma, "xã/phường") or a `province_code` narrows the
    search to its communes; the whole text is searched as a name as well ("Tân Phú Đông").
    """

    def __init__(
        self,
        entries: Iterable[CommuneEntry],
        provinces: dict[str, str],
        former: FormerIndex | None = None,
        scheme: str = SCHEME_2025,
    ) -> None:
        self.scheme = scheme
        self.entries = sorted(entries, key=lambda e: (e.key, e.province_code))
        # The districts of the pre-2025 map (none on today's): code → (name, province code).
        self.districts: dict[str, tuple[str, str]] = {
            e.district_code: (e.district_name, e.province_code) for e in self.entries if e.district_code
        }
        self.by_code = {e.code: e for e in self.entries}
        self.provinces = provinces
        self._province_keys = {code: _strip_prefix(fold(name), _PROVINCE_PREFIXES) for code, name in provinces.items()}
        # Longest first, so "ha noi" is not taken for the end of a longer name.
        self._province_names = sorted(
            [(key, code) for code, key in self._province_keys.items()]
            + [(alias, code) for code, aliases in _PROVINCE_ALIASES.items() if code in provinces for alias in aliases],
            key=lambda pair: -len(pair[0]),
        )
        self._keys = [e.key for e in self.entries]
        self._word_starts = sorted(
            (e.key[at:], at, n)
            for n, e in enumerate(self.entries)
            for at in [0, *(k + 1 for k, ch in enumerate(e.key) if ch == " ")]
        )
        self._by_province: dict[str, tuple[list[CommuneEntry], list[str]]] = {}
        for entry in self.entries:
            entries, keys = self._by_province.setdefault(entry.province_code, ([], []))
            entries.append(entry)
            keys.append(entry.key)
        self._former = former

    @property
    def former(self) -> FormerIndex:
        """The communes before 2025 (built by `load` in a thread; here on first use otherwise)."""
        if self._former is None:
            self._former = self._build_former()
        return self._former

    def _build_former(self) -> FormerIndex:
        # About a second the first time in a process (the package's legacy tables), then 0.2 s.
        return FormerIndex(
            former_communes(),
            {code: [self._province_keys.get(e.province_code, "")] for code, e in self.by_code.items()},
        )

    @classmethod
    async def load(cls, session: AsyncSession) -> CommuneIndex:
        """The database's communes; on today's map the former ones indexed in a thread, so that
        the first former name typed does not hold up every other conversation of the worker. On
        the pre-2025 map the communes are the former ones: no crosswalk to today's codes, whose
        numbers mean other communes there."""
        provinces = {p.code: p.name for p in (await session.scalars(select(Province))).all()}
        districts = {d.code: d.name for d in (await session.scalars(select(District))).all()}
        rows = (await session.scalars(select(Commune))).all()
        pre2025 = await database_scheme(session) == SCHEME_PRE2025
        index = cls(
            (
                CommuneEntry(
                    c.code,
                    c.name,
                    c.division_type,
                    c.province_code,
                    provinces.get(c.province_code, ""),
                    _strip_prefix(fold(c.name), _COMMUNE_PREFIXES),
                    c.district_code or "",
                    districts.get(c.district_code or "", ""),
                )
                for c in rows
            ),
            provinces,
            FormerIndex([], {}) if pre2025 else None,
            SCHEME_PRE2025 if pre2025 else SCHEME_2025,
        )
        if len(index) and not pre2025:
            index._former = await asyncio.to_thread(index._build_former)
        return index

    @classmethod
    def from_data(cls, data: list[dict] | None = None) -> CommuneIndex:
        """Built straight from the package data (benchmarks, tests that need no database)."""
        data = division_data() if data is None else data
        provinces = {f"{p['code']:02d}": p["name"] for p in data}
        return cls(
            (
                CommuneEntry(
                    f"{w['code']:05d}",
                    w["name"],
                    w["division_type"],
                    f"{p['code']:02d}",
                    p["name"],
                    _strip_prefix(fold(w["name"]), _COMMUNE_PREFIXES),
                )
                for p in data
                for w in p["wards"]
            ),
            provinces,
        )

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, code: str) -> CommuneEntry | None:
        return self.by_code.get(code)

    def has_unit(self, code: str) -> bool:
        """Whether `code` (padded) is a unit of this map: the country, a province, a district, a commune."""
        try:
            level = unit_level(code)
        except ValueError:
            return False
        if level == "province":
            return code in self.provinces
        if level == "district":
            return code in self.districts
        return level == "country" or code in self.by_code

    def parent(self, code: str) -> str | None:
        """The unit just above `code` on this map (a commune's district before 2025, else its province)."""
        level = unit_level(code)
        if level == "commune":
            entry = self.by_code.get(code)
            return (entry.district_code or entry.province_code) if entry else None
        if level == "district":
            district = self.districts.get(code)
            return district[1] if district else None
        return COUNTRY_CODE if level == "province" else None

    def find_province(self, text: str) -> str | None:
        key = _strip_prefix(fold(text), _PROVINCE_PREFIXES)
        if not key:
            return None
        for pkey, code in self._province_names:
            if pkey == key:
                return code
        for code, pkey in self._province_keys.items():
            if pkey.startswith(key):
                return code
        return None

    def province_splits(self, folded: str) -> list[tuple[str, str]]:
        """(province code, the rest) for each province named at the start or the end of the text."""
        splits = []
        for pkey, code in self._province_names:
            rest = None
            if folded.endswith(" " + pkey):
                rest = folded[: -len(pkey) - 1]
                for word in _PROVINCE_PREFIXES:  # "... thanh pho ha noi"
                    if rest.endswith(" " + word.strip()):
                        rest = rest[: -len(word)]
                        break
            else:
                head = _strip_prefix(folded, _PROVINCE_PREFIXES)
                if head.startswith(pkey + " "):
                    rest = head[len(pkey) + 1 :]
            if rest is not None:
                rest = _strip_prefix(rest.strip(), _COMMUNE_PREFIXES)
                if rest:
                    splits.append((code, rest))
        return splits

    def search(self, query: str, province_code: str | None = None, limit: int = 50) -> list[Match]:
        folded = fold(query)
        key = _strip_prefix(folded, _COMMUNE_PREFIXES)
        if not key:
            return []
        if key.isdigit():
            entry = self.by_code.get(key.zfill(5))
            return [Match(entry, EXACT, 100.0)] if entry else []

        found: dict[str, Match] = {}

        def add(match: Match) -> None:
            held = found.get(match.commune.code)
            if held is None or (match.rank, -match.score) < (held.rank, -held.score):
                found[match.commune.code] = match

        for code, rest in self.province_splits(folded):
            if province_code is None or code == province_code:
                for match in self._scan(rest, code, limit):
                    add(match)
        if province_code is not None or "," not in query or not found:
            # The whole text as a name, unless a comma already said which part is the province.
            for match in self._scan(key, province_code, limit):
                add(match)
        if not any(m.rank == EXACT for m in found.values()):
            for former in self.former.find(folded, limit):
                for code, partly in former.became:
                    entry = self.by_code.get(code)
                    if entry and (province_code is None or entry.province_code == province_code):
                        add(Match(entry, FORMER, 100.0, former, partly))
        matches = sorted(found.values(), key=lambda m: (m.rank, -m.score, m.commune.key, m.commune.code))
        return matches[:limit]

    def _scan(self, key: str, province_code: str | None, limit: int) -> list[Match]:
        """Today's communes (of one province, or all) whose name is, starts with, or is near `key`."""
        found: dict[str, Match] = {}
        # Every word start of every name, sorted: names with a word starting with `key` are one
        # contiguous run, found by bisection instead of a pass over all 3,321 names.
        i = bisect.bisect_left(self._word_starts, (key,))
        while i < len(self._word_starts) and self._word_starts[i][0].startswith(key):
            _, at, n = self._word_starts[i]
            i += 1
            entry = self.entries[n]
            if province_code and entry.province_code != province_code:
                continue
            if at == 0 and entry.key == key:
                found[entry.code] = Match(entry, EXACT, 100.0)
            elif at == 0:
                found[entry.code] = Match(entry, PREFIX, 100.0 * len(key) / len(entry.key))
            elif entry.code not in found:
                found[entry.code] = Match(entry, WORD_PREFIX, 100.0 * len(key) / len(entry.key))
        if len(found) < limit and len(key) >= 3:
            # Typos ("tan phuu", "hoan kim"): rapidfuzz over the folded names.
            if province_code:
                entries, keys = self._by_province.get(province_code, ([], []))
            else:
                entries, keys = self.entries, self._keys
            for _, score, j in process.extract(key, keys, scorer=fuzz.ratio, score_cutoff=80, limit=limit):
                entry = entries[j]
                if entry.code not in found:
                    found[entry.code] = Match(entry, FUZZY, score)
        return list(found.values())
