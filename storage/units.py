"""Administrative units: loading the 34 provinces and 3,321 communes, and finding a commune by name."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_insert
from storage.folding import fold
from storage.models import Commune, Province, UnitSource, utcnow
from storage.unit_upgrade import (
    RemapPlan,
    UnitRow,
    UnitsUpgradeBlocked,
    apply_remap,
    plan_remap,
    reference_counts,
    upsert_communes,
    upsert_provinces,
)

log = logging.getLogger(__name__)

COUNTRY_CODE = "VN"
# The scheme of today's units in unit_sources (the pre-2025 one will have its own row).
SCHEME = "2025"
PACKAGE = "vietnam-provinces"

# Words people put before a name; dropped from both the names and the query.
_COMMUNE_PREFIXES = ("dac khu ", "thi tran ", "phuong ", "xa ", "tt ", "p ", "x ")
_PROVINCE_PREFIXES = ("thanh pho ", "tinh ", "tp ")


def unit_level(code: str) -> str:
    """ "country", "province" or "commune" from a GSO code's shape ("VN", "01", "00070")."""
    if code == COUNTRY_CODE:
        return "country"
    if len(code) == 2 and code.isdigit():
        return "province"
    if len(code) == 5 and code.isdigit():
        return "commune"
    raise ValueError(f"not a unit code: {code!r}")


def _strip_prefix(folded: str, prefixes: Iterable[str]) -> str:
    for prefix in prefixes:
        if folded.startswith(prefix) and len(folded) > len(prefix):
            return folded[len(prefix) :]
    return folded


def division_data() -> list[dict]:
    """The nested provinces → wards data shipped by the vietnam-provinces package."""
    from vietnam_provinces import NESTED_DIVISIONS_JSON_PATH

    return json.loads(NESTED_DIVISIONS_JSON_PATH.read_text(encoding="utf-8"))


def package_version() -> tuple[str, str]:
    """(the vietnam-provinces version, its data retrieval date): what the README and the database name."""
    import vietnam_provinces

    return vietnam_provinces.__version__, vietnam_provinces.__data_version__


def pad_unit_code(code: str) -> str:
    """A typed unit code at its level's width: "1" → "01", "167" → "00167"; "VN" as it is.
    One or two digits are a province, three to five a commune; anything else is refused."""
    code = code.strip().upper()
    if code == COUNTRY_CODE:
        return code
    if code.isdigit() and 1 <= len(code) <= 2:
        return code.zfill(2)
    if code.isdigit() and 3 <= len(code) <= 5:
        return code.zfill(5)
    raise ValueError(f"not a unit code: {code!r}")


def _rows(data: list[dict]) -> tuple[list[dict], list[dict]]:
    provinces = [{"code": f"{p['code']:02d}", "name": p["name"], "division_type": p["division_type"]} for p in data]
    communes = [
        {
            "code": f"{w['code']:05d}",
            "name": w["name"],
            "division_type": w["division_type"],
            "province_code": f"{p['code']:02d}",
        }
        for p in data
        for w in p["wards"]
    ]
    return provinces, communes


async def stored_version(session: AsyncSession) -> str | None:
    """The vietnam-provinces version the stored units were loaded from (None: not loaded yet)."""
    return await session.scalar(select(UnitSource.version).where(UnitSource.scheme == SCHEME))


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
) -> tuple[int, int]:
    """Load the provinces and communes, and record their data version; returns (provinces, communes).

    Reloading the same version only rewrites the rows. Over units of another version, every stored
    code first follows its commune to the new code (storage/unit_upgrade.py, logged as a report);
    where that cannot be decided, UnitsUpgradeBlocked is raised and nothing changes.
    """
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
    record = dialect_insert(session, UnitSource).values(
        scheme=SCHEME, package=PACKAGE, version=version[0], data_date=version[1], loaded_at=utcnow()
    )
    await session.execute(
        record.on_conflict_do_update(
            index_elements=["scheme"],
            set_={c: record.excluded[c] for c in ("package", "version", "data_date", "loaded_at")},
        )
    )
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


@dataclass(frozen=True)
class Match:
    commune: CommuneEntry
    rank: int  # 0 exact, 1 prefix, 2 word prefix, 3 fuzzy
    score: float


class CommuneIndex:
    """In-memory commune search over all 3,321 communes (well under 5 ms a query).

    Ranked: exact name before prefix before a word prefix before fuzzy; ties by score then name.
    A query "Tân Phú, Đồng Nai" (or a `province_code`) keeps one province's communes only.
    """

    def __init__(self, entries: Iterable[CommuneEntry], provinces: dict[str, str]) -> None:
        self.entries = sorted(entries, key=lambda e: (e.key, e.province_code))
        self.by_code = {e.code: e for e in self.entries}
        self.provinces = provinces
        self._province_keys = {code: _strip_prefix(fold(name), _PROVINCE_PREFIXES) for code, name in provinces.items()}
        self._keys = [e.key for e in self.entries]

    @classmethod
    async def load(cls, session: AsyncSession) -> CommuneIndex:
        provinces = {p.code: p.name for p in (await session.scalars(select(Province))).all()}
        rows = (await session.scalars(select(Commune))).all()
        return cls(
            (
                CommuneEntry(
                    c.code,
                    c.name,
                    c.division_type,
                    c.province_code,
                    provinces.get(c.province_code, ""),
                    _strip_prefix(fold(c.name), _COMMUNE_PREFIXES),
                )
                for c in rows
            ),
            provinces,
        )

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

    def find_province(self, text: str) -> str | None:
        key = _strip_prefix(fold(text), _PROVINCE_PREFIXES)
        if not key:
            return None
        for code, pkey in self._province_keys.items():
            if pkey == key:
                return code
        for code, pkey in self._province_keys.items():
            if pkey.startswith(key):
                return code
        return None

    def search(self, query: str, province_code: str | None = None, limit: int = 50) -> list[Match]:
        name_part, _, province_part = query.partition(",")
        if province_part.strip() and province_code is None:
            province_code = self.find_province(province_part)
            if province_code is None:
                return []
        key = _strip_prefix(fold(name_part), _COMMUNE_PREFIXES)
        if not key:
            return []
        if key.isdigit():
            entry = self.by_code.get(key.zfill(5))
            return [Match(entry, 0, 100.0)] if entry else []

        entries = self.entries
        keys = self._keys
        if province_code:
            entries = [e for e in entries if e.province_code == province_code]
            keys = [e.key for e in entries]
        found: dict[str, Match] = {}
        word_key = " " + key
        for entry in entries:
            if entry.key == key:
                found[entry.code] = Match(entry, 0, 100.0)
            elif entry.key.startswith(key):
                found[entry.code] = Match(entry, 1, 100.0 * len(key) / len(entry.key))
            elif word_key in " " + entry.key:
                found[entry.code] = Match(entry, 2, 100.0 * len(key) / len(entry.key))
        if len(found) < limit and len(key) >= 3:
            # Typos ("tan phuu", "hoan kim"): rapidfuzz over the folded names.
            for _, score, i in process.extract(key, keys, scorer=fuzz.ratio, score_cutoff=80, limit=limit):
                entry = entries[i]
                if entry.code not in found:
                    found[entry.code] = Match(entry, 3, score)
        matches = sorted(found.values(), key=lambda m: (m.rank, -m.score, m.commune.key, m.commune.code))
        return matches[:limit]
