"""Household visits: the checks a visit must pass, saving it exactly once, corrections and
deletions with their history, and the counters that follow every change.

Counters (storage.counters, table commune_daily_counts) — what each visit adds to its commune on
its local day (storage.models.local_date of the moment it was saved):

- A first visit to a household (``revisit_of`` is None):
  households_visited +1; smartphones_seen +S; installs_helped +I; already_installed +A; and +1 to
  the counter of its outcome when that outcome has one (no_smartphone, refused, nobody_home).
- A return visit (the volunteer confirmed it is the household visited before): revisits +1;
  installs_helped +I; smartphones_seen +max(0, S - S0); already_installed +max(0, A - C0); its
  outcome's counter +1 and the earlier outcome's counter -1. S0 is the most smartphones and C0
  the most phones covered (installed with help or already having the app) at any earlier visit
  of the household; with the outcome of the visit returned to, they are copied onto the return
  visit when it is saved (its baseline, storage.visits.baseline).

S, I, A are the household's smartphones, phones installed now with the volunteer's help, and
phones that already had the app. So, summed over any period from the campaign's start:
households_visited counts distinct households (a return visit is never a new one);
smartphones_seen counts their phones once; installs_helped counts every install; no_smartphone,
refused and nobody_home count households by their latest outcome (a day's value can be negative: a
household found at home on a return visit leaves nobody_home). helped / already installed have no
outcome counter: installs_helped and already_installed carry them.

A household is (commune, hamlet, normalised house reference); visits without a reference are
not one. Across all its visits, installs never exceed its smartphones (the most seen at any of
them): save_visit and correct_visit raise HouseholdFull rather than store more. A return visit's
baseline carries the phones known to have the app (covered so far plus each installed since), so
a return visit has room for max(S, S0) - C0 installs and no phone is installed twice.

A correction adds the difference of the two contributions (to the visit's own commune and day,
which a correction does not change); a deletion subtracts the contribution. A visit that a later
return visit points at cannot be deleted (that visit's baseline would dangle): correct it instead.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import secrets
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.counters import bump
from storage.db import dialect_insert, rows_changed, rows_of
from storage.folding import fold
from storage.models import Visit, VisitDraft, VisitRevision
from texts.formats import local_date

MAX_PER_HOUSEHOLD = 20
CHANGE_WINDOW = dt.timedelta(hours=24)
DRAFT_LIFETIME = dt.timedelta(days=3)
HAMLET_MAX = 80
HOUSEHOLD_MAX = 120
# 3 decimals of a degree: 111 m north-south, about 104 m east-west at Vietnam's latitudes.
LOCATION_DECIMALS = 3


class Outcome(enum.StrEnum):
    HELPED = "helped"  # helped install on at least one phone
    ALREADY = "already"  # the household's phones already had the app
    NO_SMARTPHONE = "no_smartphone"
    REFUSED = "refused"
    NOBODY_HOME = "nobody_home"  # to come back


# The outcomes counted as households (storage.counters metric of the same name).
OUTCOME_COUNTERS = {
    Outcome.NO_SMARTPHONE: "no_smartphone",
    Outcome.REFUSED: "refused",
    Outcome.NOBODY_HOME: "nobody_home",
}
COUNT_FIELDS = ("smartphones", "installed_now", "already_installed")


class Problem(enum.StrEnum):
    """Why a visit's figures do not add up; each has a message saying what to fix."""

    RANGE = "range"  # a count outside 0–20
    SUM = "sum"  # installed now + already had > smartphones
    HELPED_NONE = "helped_none"  # "helped install" with no phone installed
    ALREADY_NONE = "already_none"  # "already installed" with no phone that had it
    ALREADY_HELPED = "already_helped"  # "already installed" but phones were installed now
    NO_PHONE_COUNTS = "no_phone_counts"  # "no smartphone" with phones counted
    NOBODY_COUNTS = "nobody_counts"  # "nobody home" with phones counted
    REFUSED_INSTALLED = "refused_installed"  # "refused" but phones were installed now
    REFUSED_NOTHING = "refused_nothing"  # "refused" with no phone left to install on


def check_counts(outcome: Outcome | str, smartphones: int, installed_now: int, already_installed: int) -> list[Problem]:
    """What is wrong with these figures for this outcome (empty when they add up)."""
    outcome = Outcome(outcome)
    s, i, a = smartphones, installed_now, already_installed
    if any(not 0 <= n <= MAX_PER_HOUSEHOLD for n in (s, i, a)):
        return [Problem.RANGE]
    problems = []
    if i + a > s:
        problems.append(Problem.SUM)
    if outcome is Outcome.HELPED and i < 1:
        problems.append(Problem.HELPED_NONE)
    elif outcome is Outcome.ALREADY:
        if i > 0:
            problems.append(Problem.ALREADY_HELPED)
        elif a < 1:
            problems.append(Problem.ALREADY_NONE)
    elif outcome is Outcome.NO_SMARTPHONE and (s or i or a):
        problems.append(Problem.NO_PHONE_COUNTS)
    elif outcome is Outcome.NOBODY_HOME and (s or i or a):
        problems.append(Problem.NOBODY_COUNTS)
    elif outcome is Outcome.REFUSED:
        if i > 0:
            problems.append(Problem.REFUSED_INSTALLED)
        elif a >= s:
            problems.append(Problem.REFUSED_NOTHING)
    return problems


def infer_outcome(smartphones: int | None, installed_now: int | None, already_installed: int | None) -> Outcome | None:
    """The outcome the figures alone tell (a shorthand line without an outcome word)."""
    if installed_now:
        return Outcome.HELPED
    if already_installed:
        return Outcome.ALREADY
    return None


# --- what a visit adds to the counters ---


@dataclass(frozen=True)
class Figures:
    """The part of a visit the counters depend on."""

    outcome: str
    smartphones: int
    installed_now: int
    already_installed: int
    revisit: bool = False
    base_outcome: str | None = None
    base_smartphones: int = 0
    base_covered: int = 0

    @classmethod
    def of(cls, visit: Visit | Mapping[str, Any]) -> Figures:
        get = visit.get if isinstance(visit, Mapping) else lambda k, d=None: getattr(visit, k, d)
        return cls(
            outcome=get("outcome") or "",  # always set on a visit and a visit's draft
            smartphones=get("smartphones") or 0,
            installed_now=get("installed_now") or 0,
            already_installed=get("already_installed") or 0,
            revisit=get("revisit_of") is not None,
            base_outcome=get("base_outcome"),
            base_smartphones=get("base_smartphones") or 0,
            base_covered=get("base_covered") or 0,
        )


def contribution(f: Figures) -> dict[str, int]:
    """The counter deltas of one visit (see the module's docstring)."""
    out: dict[str, int] = defaultdict(int)
    out["installs_helped"] += f.installed_now
    if f.revisit:
        out["revisits"] += 1
        out["smartphones_seen"] += max(0, f.smartphones - f.base_smartphones)
        out["already_installed"] += max(0, f.already_installed - f.base_covered)
        if f.base_outcome in OUTCOME_COUNTERS:
            out[OUTCOME_COUNTERS[Outcome(f.base_outcome)]] -= 1
    else:
        out["households_visited"] += 1
        out["smartphones_seen"] += f.smartphones
        out["already_installed"] += f.already_installed
    if f.outcome in OUTCOME_COUNTERS:
        out[OUTCOME_COUNTERS[Outcome(f.outcome)]] += 1
    return {k: v for k, v in out.items() if v}


def baseline(earlier: Visit | Mapping[str, Any]) -> dict[str, Any]:
    """What a return visit is measured against: the earlier visit's outcome, the most phones seen
    at any visit of the household so far, and the phones known to have the app after it (those
    covered before plus those installed at it, or what it found if more), so phones are counted
    once even when a return visit finds fewer of them at home, and never installed twice."""
    f = Figures.of(earlier)
    return {
        "base_outcome": f.outcome,
        "base_smartphones": max(f.smartphones, f.base_smartphones),
        "base_covered": max(f.installed_now + f.already_installed, f.base_covered + f.installed_now),
    }


def difference(new: Mapping[str, int], old: Mapping[str, int]) -> dict[str, int]:
    keys = set(new) | set(old)
    return {k: new.get(k, 0) - old.get(k, 0) for k in keys if new.get(k, 0) != old.get(k, 0)}


# --- values as people type them ---


def hamlet_key(hamlet: str) -> str:
    """A hamlet's identity in its commune: each word's letters (d-with-stroke kept) followed by its
    marks in a fixed order, so the old and new placement of a tone mark are one hamlet while names
    that differ only in their marks are two. Unaccented names key as themselves; they join an
    accented hamlet through `resolve_hamlet`."""
    words: list[list[str]] = [[]]
    for ch in unicodedata.normalize("NFD", hamlet.lower()):
        if ch.isalnum() or unicodedata.combining(ch):
            words[-1].append(ch)
        elif words[-1]:
            words.append([])
    keys = []
    for word in filter(None, words):
        letters = "".join(ch for ch in word if not unicodedata.combining(ch))
        marks = "".join(sorted(ch for ch in word if unicodedata.combining(ch)))
        keys.append(letters + marks)
    return " ".join(keys)[:HAMLET_MAX]


def household_key(household: str) -> str:
    return fold(household)[:HOUSEHOLD_MAX]


def round_location(latitude: float, longitude: float) -> tuple[float, float] | None:
    """The location rounded to about 100 m; None when it is not a place on Earth."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    return round(latitude, LOCATION_DECIMALS), round(longitude, LOCATION_DECIMALS)


# --- drafts: a summary shown and not yet saved ---

FIELDS = (
    "commune_code",
    "hamlet",
    "household",
    "outcome",
    "smartphones",
    "installed_now",
    "already_installed",
    "latitude",
    "longitude",
)


def new_token() -> str:
    return secrets.token_urlsafe(9)[:12]


async def create_draft(
    session: AsyncSession, user_id: int, data: Mapping[str, Any], now: dt.datetime, visit_id: int | None = None
) -> str:
    """Keep a visit shown as a summary; its token goes into the summary's buttons."""
    await session.execute(
        delete(VisitDraft).where(VisitDraft.user_id == user_id, VisitDraft.created_at < now - DRAFT_LIFETIME)
    )
    token = new_token()
    session.add(VisitDraft(token=token, user_id=user_id, visit_id=visit_id, data=dict(data), created_at=now))
    await session.flush()
    return token


async def get_draft(session: AsyncSession, token: str, user_id: int) -> VisitDraft | None:
    draft = await session.get(VisitDraft, token)
    return draft if draft is not None and draft.user_id == user_id else None


async def update_draft(session: AsyncSession, draft: VisitDraft, data: Mapping[str, Any]) -> None:
    draft.data = {**draft.data, **data}


async def claim_draft(session: AsyncSession, token: str, user_id: int) -> bool:
    """Take the draft for saving; False when another tap (or worker) took it first."""
    stmt = delete(VisitDraft).where(VisitDraft.token == token, VisitDraft.user_id == user_id)
    return rows_changed(await session.execute(stmt)) == 1


# --- saving, correcting, deleting ---


async def by_token(session: AsyncSession, token: str) -> Visit | None:
    return (await session.scalars(select(Visit).where(Visit.token == token))).one_or_none()


async def revision_by_token(session: AsyncSession, token: str) -> VisitRevision | None:
    return (await session.scalars(select(VisitRevision).where(VisitRevision.token == token))).one_or_none()


def _same_household(commune_code: str, hamlet_key_: str, household_key_: str) -> list[Any]:
    return [
        Visit.commune_code == commune_code,
        Visit.hamlet_key == hamlet_key_,
        Visit.household_key == household_key_,
        Visit.deleted_at.is_(None),
    ]


async def find_duplicate(
    session: AsyncSession, commune_code: str, hamlet: str, household: str, exclude: int | None = None
) -> Visit | None:
    """The latest visit to the same household (commune + hamlet + house reference), however old:
    a household is one across the whole campaign."""
    key = household_key(household)
    if not key:
        return None
    stmt = (
        select(Visit)
        .where(*_same_household(commune_code, hamlet_key(hamlet), key))
        .order_by(Visit.visited_at.desc(), Visit.id.desc())
        .limit(1)
    )
    if exclude is not None:
        stmt = stmt.where(Visit.id != exclude)
    return (await session.scalars(stmt)).first()


class HouseholdFull(ValueError):
    """Installs across a household's visits would be more than its smartphones."""


@dataclass(frozen=True)
class Household:
    """What is recorded of a household: the base a return visit starts from."""

    latest: Visit
    smartphones: int  # the most seen at any visit
    covered: int  # phones known to have the app after the latest visit
    installs: int  # installed with help, over all its visits

    @property
    def room(self) -> int:
        """Phones still without the app, as far as the visits tell."""
        return max(0, self.smartphones - max(self.covered, self.installs))


async def household_of(session: AsyncSession, commune_code: str, hamlet: str, household: str) -> Household | None:
    """The household's record, or None when it has no visit (or no house reference)."""
    latest = await find_duplicate(session, commune_code, hamlet, household)
    if latest is None:
        return None
    installs, most = await _household_totals(
        session, commune_code, latest.hamlet_key, latest.household_key, exclude=None
    )
    base = baseline(latest)
    return Household(
        latest=latest,
        smartphones=max(most, base["base_smartphones"]),
        covered=base["base_covered"],
        installs=installs,
    )


async def _household_totals(
    session: AsyncSession, commune_code: str, hamlet_key_: str, household_key_: str, exclude: int | None
) -> tuple[int, int]:
    """(installs, most smartphones) over the household's visits, but `exclude`."""
    stmt = select(func.coalesce(func.sum(Visit.installed_now), 0), func.coalesce(func.max(Visit.smartphones), 0))
    stmt = stmt.where(*_same_household(commune_code, hamlet_key_, household_key_))
    if exclude is not None:
        stmt = stmt.where(Visit.id != exclude)
    installs, most = (await session.execute(stmt)).one()
    return int(installs), int(most)


async def over_household(session: AsyncSession, data: Mapping[str, Any], exclude: int | None = None) -> bool:
    """Whether a visit with these figures (replacing visit `exclude`, for a correction) would put
    more installs than smartphones on its household over all its visits (a visit without a house
    reference is no household)."""
    values = _columns(data)
    if not values["household_key"] or (exclude is None and not values["installed_now"]):
        return False  # no household; or a new visit installing nothing, which adds no install
    installs, most = await _household_totals(
        session, values["commune_code"], values["hamlet_key"], values["household_key"], exclude
    )
    return installs + values["installed_now"] > max(most, values["smartphones"])


async def save_visit(
    session: AsyncSession,
    token: str,
    volunteer_id: int,
    data: Mapping[str, Any],
    now: dt.datetime,
    revisit_of: Visit | None = None,
) -> Visit | None:
    """Store the visit and bump the counters, once: None when a visit with this token exists."""
    values = _columns(data)
    problems = check_counts(
        values["outcome"], values["smartphones"], values["installed_now"], values["already_installed"]
    )
    if problems:
        raise ValueError(f"visit figures do not add up: {problems}")
    if await over_household(session, values):
        raise HouseholdFull("more installs than smartphones in the household")
    if revisit_of is not None:
        values.update(revisit_of=revisit_of.id, **baseline(revisit_of))
        room = max(values["smartphones"], values["base_smartphones"]) - values["base_covered"]
        if values["installed_now"] > max(0, room):
            raise HouseholdFull(f"{values['installed_now']} installs with room for {room}")
    stmt = (
        dialect_insert(session, Visit)
        .values(token=token, volunteer_id=volunteer_id, visited_at=now, day=local_date(now), **values)
        .on_conflict_do_nothing(index_elements=["token"])
    )
    if rows_changed(await session.execute(stmt)) != 1:
        return None
    visit = await by_token(session, token)
    assert visit is not None
    await bump(session, visit.commune_code, visit.day, **contribution(Figures.of(visit)))
    return visit


def _columns(data: Mapping[str, Any]) -> dict[str, Any]:
    hamlet = str(data["hamlet"])[:HAMLET_MAX]
    household = str(data.get("household") or "")[:HOUSEHOLD_MAX]
    return {
        "commune_code": data["commune_code"],
        "hamlet": hamlet,
        "hamlet_key": hamlet_key(hamlet),
        "household": household,
        "household_key": household_key(household),
        "outcome": Outcome(data["outcome"]).value,
        "smartphones": int(data.get("smartphones") or 0),
        "installed_now": int(data.get("installed_now") or 0),
        "already_installed": int(data.get("already_installed") or 0),
        "latitude": data.get("latitude"),
        "longitude": data.get("longitude"),
    }


def snapshot(visit: Visit) -> dict[str, Any]:
    return {k: getattr(visit, k) for k in FIELDS}


def changeable(visit: Visit, now: dt.datetime) -> bool:
    """A volunteer may correct or delete a visit during its first 24 hours."""
    return visit.deleted_at is None and now - visit.visited_at < CHANGE_WINDOW


async def correct_visit(
    session: AsyncSession, visit: Visit, data: Mapping[str, Any], by: int, now: dt.datetime, token: str
) -> VisitRevision:
    """Apply a correction (commune and day unchanged), keep the old figures as history, and move
    the counters by the difference."""
    values = _columns({**data, "commune_code": visit.commune_code})
    problems = check_counts(
        values["outcome"], values["smartphones"], values["installed_now"], values["already_installed"]
    )
    if problems:
        raise ValueError(f"visit figures do not add up: {problems}")
    if await over_household(session, values, exclude=visit.id):
        raise HouseholdFull("more installs than smartphones in the household")
    before_figures = contribution(Figures.of(visit))
    before = snapshot(visit)
    for name, value in values.items():
        setattr(visit, name, value)
    visit.updated_at = now
    revision = VisitRevision(
        visit_id=visit.id,
        token=token,
        action="corrected",
        changed_by=by,
        changed_at=now,
        before=before,
        after=snapshot(visit),
    )
    session.add(revision)
    await session.flush()
    await bump(session, visit.commune_code, visit.day, **difference(contribution(Figures.of(visit)), before_figures))
    await audit.record(
        session, "visit_corrected", actor=by, source="chat", unit_code=visit.commune_code, visit=visit.id
    )
    return revision


async def has_return_visits(session: AsyncSession, visit: Visit) -> bool:
    stmt = select(Visit.id).where(Visit.revisit_of == visit.id, Visit.deleted_at.is_(None)).limit(1)
    return (await session.scalar(stmt)) is not None


async def delete_visit(session: AsyncSession, visit: Visit, by: int, now: dt.datetime) -> bool:
    """Mark the visit deleted (kept, with a history row) and take it out of the counters; False
    when it already was."""
    if visit.deleted_at is not None:
        return False
    visit.deleted_at = now
    session.add(
        VisitRevision(
            visit_id=visit.id, action="deleted", changed_by=by, changed_at=now, before=snapshot(visit), after=None
        )
    )
    minus = {k: -v for k, v in contribution(Figures.of(visit)).items()}
    await bump(session, visit.commune_code, visit.day, **minus)
    await audit.record(session, "visit_deleted", actor=by, source="chat", unit_code=visit.commune_code, visit=visit.id)
    return True


async def history(session: AsyncSession, visit_id: int) -> list[VisitRevision]:
    stmt = (
        select(VisitRevision)
        .where(VisitRevision.visit_id == visit_id)
        .order_by(VisitRevision.changed_at, VisitRevision.id)
    )
    return list((await session.scalars(stmt)).all())


# --- reading ---


async def get_visit(session: AsyncSession, visit_id: int) -> Visit | None:
    return await session.get(Visit, visit_id)


async def recent_of(session: AsyncSession, volunteer_id: int, limit: int = 8, offset: int = 0) -> list[Visit]:
    """The volunteer's visits, latest first (a page of them)."""
    stmt = (
        select(Visit)
        .where(Visit.volunteer_id == volunteer_id, Visit.deleted_at.is_(None))
        .order_by(Visit.visited_at.desc(), Visit.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list((await session.scalars(stmt)).all())


async def count_of(session: AsyncSession, volunteer_id: int) -> int:
    stmt = select(func.count()).where(Visit.volunteer_id == volunteer_id, Visit.deleted_at.is_(None))
    return int(await session.scalar(stmt) or 0)


async def recent_hamlets(session: AsyncSession, commune_code: str, volunteer_id: int, limit: int = 6) -> list[str]:
    """Hamlet names to offer as buttons: the volunteer's last one first, then the commune's most
    recently used ones (one spelling per hamlet)."""
    stmt = (
        select(Visit.hamlet, Visit.hamlet_key, Visit.volunteer_id)
        .where(Visit.commune_code == commune_code, Visit.deleted_at.is_(None))
        .order_by(Visit.visited_at.desc(), Visit.id.desc())
        .limit(300)
    )
    rows = (await session.execute(stmt)).all()
    mine = [r for r in rows if r.volunteer_id == volunteer_id][:1]
    seen: set[str] = set()
    out: list[str] = []
    for row in [*mine, *rows]:
        if row.hamlet_key not in seen:
            seen.add(row.hamlet_key)
            out.append(row.hamlet)
        if len(out) == limit:
            break
    return out


async def hamlets_of(session: AsyncSession, commune_code: str) -> dict[str, str]:
    """The commune's hamlets: key → the spelling first saved (deleted visits included, so a
    hamlet keeps its name while any of its rows remain)."""
    # Grouped in SQL: one row per spelling, not per visit (a commune may have tens of thousands).
    first = func.min(Visit.visited_at).label("first")
    stmt = (
        select(Visit.hamlet_key, Visit.hamlet, first)
        .where(Visit.commune_code == commune_code)
        .group_by(Visit.hamlet_key, Visit.hamlet)
        .order_by(first, Visit.hamlet_key, Visit.hamlet)
    )
    out: dict[str, str] = {}
    for key, name, _ in (await session.execute(stmt)).all():
        out.setdefault(key, name)
    return out


def _bare(key_word: str) -> str:
    return "".join(ch for ch in key_word if not unicodedata.combining(ch)).replace("\u0111", "d")  # d with stroke


def _fits(typed: str, known: str) -> bool:
    """Whether typed words (keys) may mean the known ones: each word the same, or typed without
    its accents. A word typed with accents never means a word with others."""
    a, b = typed.split(), known.split()
    return len(a) == len(b) and all(x == y or (x == _bare(x) and _bare(y) == x) for x, y in zip(a, b, strict=True))


def match_hamlet(typed: str, known: Mapping[str, str]) -> str:
    """The hamlet a typed name means, among `known` (key → name): the same hamlet when the keys
    match; else the one hamlet it matches with its unaccented words read as any accents (ignoring
    a hamlet that itself only fits a fuller spelling). None or several: the name as typed, so
    two names differing only in a tone never merge and their unaccented spelling picks neither."""
    key = hamlet_key(typed)
    if key in known:
        return known[key]
    candidates = [k for k in known if _fits(key, k)]
    fullest = [k for k in candidates if not any(o != k and _fits(k, o) for o in candidates)]
    return known[fullest[0]] if len(fullest) == 1 else typed


def hamlet_ref(key: str) -> str:
    """A short stand-in for a hamlet's key in a button (a key may be longer than a button holds)."""
    return hashlib.sha1(key.encode()).hexdigest()[:10]


async def hamlet_by_ref(session: AsyncSession, commune_code: str, ref: str) -> tuple[str, str] | None:
    """(key, name) of the commune's hamlet with this ref; None when there is none (renamed since)."""
    return next(((k, n) for k, n in (await hamlets_of(session, commune_code)).items() if hamlet_ref(k) == ref), None)


async def rename_target(session: AsyncSession, commune_code: str, old_key: str, typed: str) -> tuple[str, bool]:
    """What renaming the hamlet to `typed` makes it: (the name, whether that merges it into
    another hamlet of the commune, whose name is then kept)."""
    known = await hamlets_of(session, commune_code)
    if old_key in known and hamlet_key(typed) != old_key and _fits(hamlet_key(typed), old_key):
        return known[old_key], False  # its own name typed without accents: never a downgrade
    others = {k: n for k, n in known.items() if k != old_key}
    target = match_hamlet(typed, others)[:HAMLET_MAX]
    return target, hamlet_key(target) in others


async def shared_households(session: AsyncSession, commune_code: str, key_a: str, key_b: str) -> int:
    """How many house references have visits in both hamlets: after a merge each stays its own
    household (its visits are not joined), so a coordinator is told before merging."""
    stmt = (
        select(Visit.household_key)
        .where(Visit.commune_code == commune_code, Visit.hamlet_key.in_((key_a, key_b)), Visit.household_key != "")
        .where(Visit.deleted_at.is_(None))
        .group_by(Visit.household_key)
        .having(func.count(func.distinct(Visit.hamlet_key)) > 1)
    )
    return len((await session.scalars(stmt)).all())


async def resolve_hamlet(session: AsyncSession, commune_code: str, typed: str) -> str:
    """`match_hamlet` among the commune's hamlets."""
    return match_hamlet(typed, await hamlets_of(session, commune_code))


async def rename_hamlet(
    session: AsyncSession,
    commune_code: str,
    old_key: str,
    new_name: str,
    by: int,
    now: dt.datetime,
    source: str = "chat",
) -> int:
    """Rename a hamlet, or merge it into the hamlet whose name `new_name` is (its spelling kept):
    every visit of it moves, deleted ones too. Counters are per commune and day, so they do not
    move. Returns the number of visits moved."""
    known = await hamlets_of(session, commune_code)
    target, merged = await rename_target(session, commune_code, old_key, new_name)
    new_key = hamlet_key(target)
    stmt = (
        update(Visit)
        .where(Visit.commune_code == commune_code, Visit.hamlet_key == old_key)
        .values(hamlet=target, hamlet_key=new_key, updated_at=now)
    )
    moved = rows_changed(await session.execute(stmt, execution_options={"synchronize_session": False}))
    await audit.record(
        session,
        "hamlet_merged" if merged else "hamlet_renamed",
        actor=by,
        source=source,
        unit_code=commune_code,
        old=known.get(old_key, old_key),
        new=target,
        visits=moved,
    )
    return moved


async def last_commune(session: AsyncSession, volunteer_id: int, among: Iterable[str]) -> str | None:
    among = list(among)
    if not among:
        return None
    stmt = (
        select(Visit.commune_code)
        .where(Visit.volunteer_id == volunteer_id, Visit.commune_code.in_(among), Visit.deleted_at.is_(None))
        .order_by(Visit.visited_at.desc(), Visit.id.desc())
        .limit(1)
    )
    return await session.scalar(stmt)


@dataclass
class Totals:
    households: int = 0  # first visits
    revisits: int = 0
    installs: int = 0  # phones installed with help


async def totals(
    session: AsyncSession,
    *,
    volunteer_id: int | None = None,
    commune_code: str | None = None,
    since: dt.date | None = None,
) -> dict[int, Totals]:
    """Visit totals per volunteer (households, return visits, installs), from `since` (a local day)."""
    stmt = select(
        Visit.volunteer_id,
        (Visit.revisit_of.is_not(None)).label("revisit"),
        func.count(),
        func.coalesce(func.sum(Visit.installed_now), 0),
    ).where(Visit.deleted_at.is_(None))
    if volunteer_id is not None:
        stmt = stmt.where(Visit.volunteer_id == volunteer_id)
    if commune_code is not None:
        stmt = stmt.where(Visit.commune_code == commune_code)
    if since is not None:
        stmt = stmt.where(Visit.day >= since)
    stmt = stmt.group_by(Visit.volunteer_id, "revisit")
    out: dict[int, Totals] = defaultdict(Totals)
    for who, revisit, count, installs in (await session.execute(stmt)).all():
        t = out[who]
        if revisit:
            t.revisits += count
        else:
            t.households += count
        t.installs += int(installs)
    return dict(out)


def rank_of(volunteer_id: int, households: Mapping[int, int]) -> tuple[int, int]:
    """(rank, out of) by households visited; equal counts share a rank (1 + how many did more)."""
    mine = households.get(volunteer_id, 0)
    everyone = {**households, volunteer_id: mine}
    return 1 + sum(1 for n in everyone.values() if n > mine), len(everyone)


@dataclass
class HamletSummary:
    hamlet: str
    households: int = 0
    helped: int = 0  # households where at least one phone was installed with help
    installs: int = 0
    no_smartphone: int = 0
    refused: int = 0
    nobody_home: list[str] = field(default_factory=list)  # household references still to revisit


async def hamlet_summaries(session: AsyncSession, commune_code: str) -> list[HamletSummary]:
    """Per hamlet: households, helped, no smartphone, refused (by each household's latest visit),
    and the households whose latest visit found nobody home."""
    stmt = (
        select(Visit)
        .where(Visit.commune_code == commune_code, Visit.deleted_at.is_(None))
        .order_by(Visit.visited_at, Visit.id)
    )
    visits = list((await session.scalars(stmt)).all())
    return summarize(visits)


def summarize(visits: list[Visit]) -> list[HamletSummary]:
    by_id = {v.id: v for v in visits}

    def root(v: Visit) -> int:
        seen = set()
        while v.revisit_of in by_id and v.id not in seen:
            seen.add(v.id)
            v = by_id[v.revisit_of]
        return v.id

    chains: dict[int, list[Visit]] = defaultdict(list)
    for v in visits:  # in visiting order
        chains[root(v)].append(v)
    hamlets: dict[str, HamletSummary] = {}
    for chain in chains.values():
        latest = chain[-1]
        # The first spelling stays: a later spelling of the same hamlet never renames it.
        summary = hamlets.setdefault(latest.hamlet_key, HamletSummary(latest.hamlet))
        summary.households += 1
        installs = sum(v.installed_now for v in chain)
        summary.installs += installs
        summary.helped += installs > 0
        if latest.outcome == Outcome.NO_SMARTPHONE:
            summary.no_smartphone += 1
        elif latest.outcome == Outcome.REFUSED:
            summary.refused += 1
        elif latest.outcome == Outcome.NOBODY_HOME:
            summary.nobody_home.append(latest.household)
    return sorted(hamlets.values(), key=lambda h: fold(h.hamlet))


async def recount(session: AsyncSession) -> dict[tuple[str, dt.date], dict[str, int]]:
    """Every visit counter per commune and day, from the visit rows, in one GROUP BY: the same
    arithmetic as `contribution`, in SQL, for `tally rebuild`."""
    first = Visit.revisit_of.is_(None)

    def when(condition: Any, then: Any) -> Any:
        return func.coalesce(func.sum(case((condition, then), else_=0)), 0)

    def above(value: Any, base: Any) -> Any:
        return case((value > base, value - base), else_=0)

    columns = {
        "households_visited": when(first, 1),
        "revisits": when(~first, 1),
        "smartphones_seen": when(first, Visit.smartphones)
        + when(~first, above(Visit.smartphones, Visit.base_smartphones)),
        "installs_helped": func.coalesce(func.sum(Visit.installed_now), 0),
        "already_installed": when(first, Visit.already_installed)
        + when(~first, above(Visit.already_installed, Visit.base_covered)),
    }
    for outcome, metric in OUTCOME_COUNTERS.items():
        columns[metric] = when(Visit.outcome == outcome.value, 1) - when(
            ~first & (Visit.base_outcome == outcome.value), 1
        )
    stmt = (
        select(Visit.commune_code, Visit.day, *columns.values())
        .where(Visit.deleted_at.is_(None))
        .group_by(Visit.commune_code, Visit.day)
    )
    return {
        (code, day): dict(zip(columns, map(int, values), strict=True))
        for code, day, *values in rows_of(await session.execute(stmt))
    }
