"""Moving stored unit codes to a new data version: matched by normalised name and province, reported, never guessed.

A calendar version of vietnam-provinces may give a commune another code (Phường Cầu Giấy 167 → 166)
or a code another commune (226 was Phường Kim Liên, is Phường Văn Miếu - Quốc Tử Giám). Writing the
new names over the stored codes would move a commune's venues, figures and roles onto its
neighbour. So the old side is what the database holds (its communes' names), the new side is the
package data, and each stored code follows its commune's name within its province. A code whose
name matches no new commune, or several, and that something refers to, stops the upgrade until the
operator decides (`bluezone-bot units upgrade --map OLD=NEW`).
"""

from __future__ import annotations

import logging
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_insert
from storage.models import Base, Commune, Conversation, District, Province
from storage.unit_map import SCHEME_2025

log = logging.getLogger(__name__)

# Vietnamese tone marks (as combining characters after NFD): where a word carries its tone differs
# between the old and new spelling rules (Thuỷ/Thủy, Hoà/Hòa); the vowel shapes (â, ă, ơ, ư) do not.
_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
_SAME_CHARACTER = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'", "–": "-", "—": "-", "‐": "-"})
_DIVISION_WORDS = ("thành phố ", "tỉnh ", "đặc khu ", "phường ", "xã ", "thị trấn ")
# A temporary code for a commune on its way to a new code: not a GSO code, five characters.
_TEMPORARY_PREFIX = "~"


def name_key(name: str) -> str:
    """A unit's name as compared across data versions: NFC, one space between words, lower case,
    one apostrophe and one dash, and each word's tone mark at a fixed place (after its letters), so
    "Xã  Đàm Thuỷ", "Xã Đàm Thủy" and "xã đàm thủy" compare equal while "Phú" and "Phù" do not."""
    words = []
    for word in unicodedata.normalize("NFD", name.translate(_SAME_CHARACTER)).casefold().split():
        tones = "".join(ch for ch in word if ch in _TONES)
        words.append(unicodedata.normalize("NFC", "".join(ch for ch in word if ch not in _TONES) + tones))
    return " ".join(words)


def bare_key(name: str) -> str:
    """`name_key` without the division word ("Tỉnh Cao Bằng" and "Cao Bằng" are one province)."""
    key = name_key(name)
    for word in (name_key(w) for w in _DIVISION_WORDS):
        if key.startswith(word + " "):
            return key[len(word) + 1 :]
    return key


@dataclass(frozen=True)
class UnitRow:
    code: str
    name: str
    division_type: str
    province_code: str = ""  # "" for a province


@dataclass(frozen=True)
class CodeChange:
    old: UnitRow
    new: UnitRow
    references: int  # stored rows that named the old code


@dataclass(frozen=True)
class Unresolved:
    old: UnitRow
    candidates: tuple[UnitRow, ...]
    references: int
    why: str  # "no match", "several matches", "same target as another"


@dataclass
class RemapPlan:
    """What loading `to_version` over the stored units does; `blocked` when the operator must decide."""

    from_version: str | None
    to_version: str
    moved: list[CodeChange] = field(default_factory=list)  # same name, another code
    renamed: list[CodeChange] = field(default_factory=list)  # same code, the name spelled otherwise
    decided: list[CodeChange] = field(default_factory=list)  # the operator's --map
    unresolved: list[Unresolved] = field(default_factory=list)  # stored rows refer to it: blocks
    dropped: list[Unresolved] = field(default_factory=list)  # no longer in the data, nothing stored
    province_problems: list[str] = field(default_factory=list)
    added: int = 0  # codes in the new data that no stored unit had

    @property
    def blocked(self) -> bool:
        return bool(self.unresolved or self.province_problems)

    @property
    def mapping(self) -> dict[str, str]:
        """Old commune code → new, for every code that changes."""
        return {c.old.code: c.new.code for c in (*self.moved, *self.decided) if c.old.code != c.new.code}

    def report(self) -> list[str]:
        lines = [
            f"units: vietnam-provinces {self.from_version or 'unknown'} → {self.to_version}: "
            f"{len(self.moved) + len(self.decided)} code(s) moved, {len(self.renamed)} renamed in place, "
            f"{len(self.dropped)} dropped (nothing stored), {self.added} new, {len(self.unresolved)} to decide"
        ]
        lines += [f"province: {problem}" for problem in self.province_problems]
        for change in sorted(self.moved, key=lambda c: c.old.code):
            lines.append(f"moved {_describe(change)}")
        for change in sorted(self.decided, key=lambda c: c.old.code):
            lines.append(f"decided {_describe(change)}")
        for change in sorted(self.renamed, key=lambda c: c.old.code):
            lines.append(f"renamed {change.old.code} {change.old.name!r} → {change.new.name!r}")
        for gone in sorted(self.dropped, key=lambda u: u.old.code):
            lines.append(f"dropped {gone.old.code} {gone.old.name} ({gone.why}; nothing stored)")
        for item in sorted(self.unresolved, key=lambda u: u.old.code):
            options = ", ".join(f"{c.code} {c.name}" for c in item.candidates) or "none"
            lines.append(
                f"TO DECIDE {item.old.code} {item.old.name} (province {item.old.province_code}): {item.why}, "
                f"{item.references} stored row(s); candidates: {options}; "
                f"decide with --map {item.old.code}=NEWCODE"
            )
        return lines


def _describe(change: CodeChange) -> str:
    rows = f"{change.references} stored row(s)"
    if name_key(change.old.name) == name_key(change.new.name):
        return f"{change.old.code} → {change.new.code} {change.new.name} ({rows})"
    return f"{change.old.code} {change.old.name} → {change.new.code} {change.new.name} ({rows})"


class UnitsUpgradeBlocked(Exception):
    """Stored codes whose commune cannot be told apart in the new data: nothing was changed."""

    def __init__(self, plan: RemapPlan) -> None:
        super().__init__(f"{len(plan.unresolved) + len(plan.province_problems)} unit code(s) need a decision")
        self.plan = plan


def unit_columns() -> list[Column[Any]]:
    """Every column that stores a unit code: foreign keys to communes and provinces, and the
    `unit_code` columns (the country, a province or a commune) of roles, targets and the like."""
    found = []
    for table in Base.metadata.sorted_tables:
        if table.name in ("communes", "districts", "provinces", "unit_sources"):
            continue
        for column in table.columns:
            refers = any(fk.column.table.name in ("communes", "districts", "provinces") for fk in column.foreign_keys)
            if refers or column.name == "unit_code":
                found.append(column)
    return found


async def reference_counts(session: AsyncSession) -> Counter[str]:
    """How many stored rows name each unit code."""
    counts: Counter[str] = Counter()
    for column in unit_columns():
        count = func.count().label("n")
        rows = await session.execute(select(column, count).where(column.is_not(None)).group_by(column))
        for row in rows:
            counts[str(row[0])] += row.n
    return counts


def plan_remap(
    old_provinces: Iterable[UnitRow],
    old_communes: Iterable[UnitRow],
    new_provinces: Iterable[UnitRow],
    new_communes: Iterable[UnitRow],
    references: Mapping[str, int],
    *,
    from_version: str | None,
    to_version: str,
    decisions: Mapping[str, str] | None = None,
) -> RemapPlan:
    """Match each stored commune to the new data by normalised name within its province."""
    plan = RemapPlan(from_version, to_version)
    plan.province_problems.extend(_province_problems(old_provinces, new_provinces))
    index = _NewCommunes(new_communes)
    decisions = dict(decisions or {})
    matched: dict[str, CodeChange] = {}
    for old in old_communes:
        refs = references.get(old.code, 0)
        if old.code in decisions:
            change = _decided(old, index.by_code.get(decisions.pop(old.code)), refs, plan)
        else:
            change = _matched(old, index, refs, plan)
        if change is not None:
            matched[old.code] = change
    for code in decisions:
        plan.province_problems.append(f"--map {code}=… names no stored commune")
    _refuse_merges(plan, matched.values())
    targets = {change.new.code for change in matched.values()}
    plan.added = len([code for code in index.by_code if code not in targets])
    return plan


def _province_problems(old_provinces: Iterable[UnitRow], new_provinces: Iterable[UnitRow]) -> list[str]:
    """Province codes have not changed since 2025; a data version that changes them needs its own
    migration rather than a guess here."""
    new_by_code = {p.code: p for p in new_provinces}
    problems = []
    for province in old_provinces:
        new = new_by_code.get(province.code)
        if new is None or bare_key(new.name) != bare_key(province.name):
            now = f"{new.name!r}" if new else "gone"
            problems.append(f"{province.code} {province.name!r} is now {now}")
    return problems


class _NewCommunes:
    """The new data's communes by code, and by normalised name within their province."""

    def __init__(self, communes: Iterable[UnitRow]) -> None:
        self.by_code = {c.code: c for c in communes}
        self.by_name: dict[tuple[str, str], list[UnitRow]] = defaultdict(list)
        self.by_bare_name: dict[tuple[str, str], list[UnitRow]] = defaultdict(list)
        for commune in self.by_code.values():
            self.by_name[commune.province_code, name_key(commune.name)].append(commune)
            self.by_bare_name[commune.province_code, bare_key(commune.name)].append(commune)

    def named_as(self, old: UnitRow) -> list[UnitRow]:
        found = self.by_name.get((old.province_code, name_key(old.name)), [])
        if not found:  # a xã that became a phường keeps its name but not its division word
            found = self.by_bare_name.get((old.province_code, bare_key(old.name)), [])
        return found


def _decided(old: UnitRow, target: UnitRow | None, refs: int, plan: RemapPlan) -> CodeChange | None:
    """The operator's --map OLD=NEW for this commune."""
    if target is None:
        plan.unresolved.append(Unresolved(old, (), refs, "the --map target is not a commune code"))
        return None
    change = CodeChange(old, target, refs)
    plan.decided.append(change)
    return change


def _matched(old: UnitRow, index: _NewCommunes, refs: int, plan: RemapPlan) -> CodeChange | None:
    """The one new commune of the old one's name in its province; else recorded as unresolved
    (stored rows point to it) or dropped (nothing does)."""
    candidates = index.named_as(old)
    if len(candidates) == 1:
        change = CodeChange(old, candidates[0], refs)
        if change.new.code != old.code:
            plan.moved.append(change)
        elif change.new.name != old.name:
            plan.renamed.append(change)
        return change
    why = "several matches" if candidates else "no match"
    if not candidates and old.code in index.by_code:
        candidates = [index.by_code[old.code]]  # what the code means now, for the operator to judge
    (plan.unresolved if refs else plan.dropped).append(Unresolved(old, tuple(candidates), refs, why))
    return None


def _refuse_merges(plan: RemapPlan, changes: Iterable[CodeChange]) -> None:
    """Two stored communes must not land on one: that would merge their figures."""
    by_target: dict[str, list[CodeChange]] = defaultdict(list)
    for change in changes:
        by_target[change.new.code].append(change)
    for colliding in by_target.values():
        if len(colliding) < 2:
            continue
        for change in colliding:
            for group in (plan.moved, plan.renamed, plan.decided):
                if change in group:
                    group.remove(change)
            plan.unresolved.append(Unresolved(change.old, (change.new,), change.references, "same target as another"))


async def apply_remap(session: AsyncSession, plan: RemapPlan, new_communes: list[dict]) -> None:
    """Move every stored code as planned and write the new communes, in the caller's transaction.

    Codes can rotate (1537 → 1558 → 1561 → 1537), and unique keys include the commune (one daily
    count per commune and day), so each moving code first goes to a temporary commune row and only
    then to its new code: no statement ever makes two rows collide.
    """
    if plan.blocked:
        raise UnitsUpgradeBlocked(plan)
    mapping = plan.mapping
    columns = unit_columns()
    temporary = {old: f"{_TEMPORARY_PREFIX}{i:04d}" for i, old in enumerate(sorted(mapping))}
    if mapping:
        olds = (await session.scalars(select(Commune).where(Commune.code.in_(list(mapping))))).all()
        await session.execute(
            dialect_insert(session, Commune).values(
                [
                    {
                        "code": temporary[c.code],
                        "name": c.name,
                        "division_type": c.division_type,
                        "province_code": c.province_code,
                    }
                    for c in olds
                ]
            )
        )
        await _move(session, columns, temporary)
    await upsert_communes(session, new_communes)
    if mapping:
        await _move(session, columns, {temporary[old]: new for old, new in mapping.items()})
        await session.execute(delete(Commune).where(Commune.code.in_(list(temporary.values()))))
    if mapping:
        await _move_in_conversations(session, mapping)
    new_codes = {row["code"] for row in new_communes}
    stale = [code for code in (await session.scalars(select(Commune.code))).all() if code not in new_codes]
    for start in range(0, len(stale), 500):
        await session.execute(delete(Commune).where(Commune.code.in_(stale[start : start + 500])))


async def _move_in_conversations(session: AsyncSession, mapping: dict[str, str]) -> None:
    """Codes in open conversations: a draft's picked commune, a numbered menu's "commune:00226".
    A form half filled before the upgrade must not be saved on the neighbour after it."""
    rows = await session.scalars(select(Conversation).where(Conversation.state.is_not(None)))
    for conversation in rows.all():
        draft, menu = _moved_in(conversation.draft, mapping), _moved_in(conversation.menu, mapping)
        if draft != conversation.draft or menu != conversation.menu:
            conversation.draft, conversation.menu = draft, menu
    await session.flush()


def _moved_in(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _moved_in(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_moved_in(v, mapping) for v in value]
    if isinstance(value, str):
        head, sep, code = value.rpartition(":")
        if code in mapping:
            return head + sep + mapping[code]
    return value


async def _move(session: AsyncSession, columns: list[Column[Any]], mapping: dict[str, str]) -> None:
    for column in columns:
        stmt = update(column.table).where(column.in_(list(mapping)))
        if "scheme" in column.table.columns:
            # Figures and targets recorded on the pre-2025 map keep their codes: only today's move.
            stmt = stmt.where(column.table.columns["scheme"] == SCHEME_2025)
        await session.execute(
            stmt.values({column.name: case(mapping, value=column)}).execution_options(synchronize_session=False)
        )


async def upsert_provinces(session: AsyncSession, rows: list[dict]) -> None:
    await _upsert(session, Province, rows, ("scheme", "name", "division_type"))


async def upsert_districts(session: AsyncSession, rows: list[dict]) -> None:
    await _upsert(session, District, rows, ("scheme", "name", "division_type", "province_code"))


async def upsert_communes(session: AsyncSession, rows: list[dict]) -> None:
    await _upsert(session, Commune, rows, ("scheme", "name", "division_type", "province_code", "district_code"))


async def _upsert(session: AsyncSession, model: type[Base], rows: list[dict], columns: tuple[str, ...]) -> None:
    for start in range(0, len(rows), 500):
        stmt = dialect_insert(session, model).values(rows[start : start + 500])
        stmt = stmt.on_conflict_do_update(index_elements=["code"], set_={c: stmt.excluded[c] for c in columns})
        await session.execute(stmt)
