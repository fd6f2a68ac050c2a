"""Check-in venues and their check-ins: registration, codes and revocation, counting, the CSV log."""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import ColumnElement, Table, bindparam, case, func, insert, null, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from storage import audit, direct
from storage.counters import add_counts, as_date, bump, local_day_sql
from storage.csv_rows import known_communes, read_rows
from storage.db import INSERTS_ONLY, is_postgres, rows_of
from storage.models import CheckIn, RevokedVenueCode, Venue, VenueDailyCount
from storage.venue_codes import new_code
from texts.formats import LOCAL_TIMEZONE, local_date

# The kinds of place the provinces' letters name; their labels are content (venue.kinds.<kind>).
VENUE_KINDS = (
    "government_office",
    "public_service_centre",
    "school",
    "market",
    "enterprise",
    "health_facility",
    "bus_station",
    "restaurant_hotel",
    "tourist_site",
    "other",
)
# A visitor scanning again within this time is already checked in: counted once.
CHECK_IN_WINDOW = dt.timedelta(minutes=30)
NAME_MAX = 200
ADDRESS_MAX = 300
VENUE_METRICS = ("checkins", "answered", "already_installed")


def clean_text(text: str | None, limit: int) -> str:
    """NFC, single spaces, at most `limit` characters: what we store of a typed name or address."""
    text = " ".join(unicodedata.normalize("NFC", text or "").split())
    return text[:limit].rstrip()


# --- venues --------------------------------------------------------------------------------------


async def _unused_code(session: AsyncSession) -> str:
    """A fresh code used by no venue, now or before (an old poster must never reach a new venue)."""
    while True:
        code = new_code()
        taken = await session.scalar(select(func.count()).select_from(Venue).where(Venue.code == code))
        revoked = await session.get(RevokedVenueCode, code)
        if not taken and revoked is None:
            return code


async def create_venue(
    session: AsyncSession,
    *,
    name: str,
    kind: str,
    commune_code: str,
    address: str,
    latitude: float | None = None,
    longitude: float | None = None,
    manager_user_id: int | None = None,
) -> Venue:
    if kind not in VENUE_KINDS:
        raise ValueError(f"unknown venue kind {kind!r}")
    venue = Venue(
        code=await _unused_code(session),
        name=clean_text(name, NAME_MAX),
        kind=kind,
        commune_code=commune_code,
        address=clean_text(address, ADDRESS_MAX),
        latitude=latitude,
        longitude=longitude,
        manager_user_id=manager_user_id,
    )
    session.add(venue)
    await session.flush()
    return venue


@dataclass(frozen=True)
class CodeLookup:
    venue: Venue | None
    revoked: bool = False


async def find_by_code(session: AsyncSession, code: str) -> CodeLookup:
    """The venue a code names; `revoked` when it is a former code of a venue (an old poster)."""
    venue = (await session.scalars(select(Venue).where(Venue.code == code))).one_or_none()
    if venue is not None:
        return CodeLookup(venue)
    old = await session.get(RevokedVenueCode, code)
    if old is not None:
        return CodeLookup(await session.get(Venue, old.venue_id), revoked=True)
    return CodeLookup(None)


async def managed_venue(session: AsyncSession, venue_id: int, user_id: int) -> Venue | None:
    """The venue if this person manages it (registered it); None otherwise."""
    venue = await session.get(Venue, venue_id)
    return venue if venue is not None and venue.manager_user_id == user_id else None


async def venues_of(session: AsyncSession, user_id: int) -> list[Venue]:
    stmt = select(Venue).where(Venue.manager_user_id == user_id).order_by(Venue.created_at, Venue.id)
    return list((await session.scalars(stmt)).all())


async def manages_venues(session: AsyncSession, user_id: int) -> bool:
    stmt = select(Venue.id).where(Venue.manager_user_id == user_id).limit(1)
    return (await session.scalar(stmt)) is not None


async def venues_in_commune(session: AsyncSession, commune_code: str | None) -> list[Venue]:
    """A commune's venues by name; every commune's (by commune, then name) when None."""
    stmt = select(Venue).order_by(Venue.commune_code, Venue.name, Venue.id)
    if commune_code is not None:
        stmt = stmt.where(Venue.commune_code == commune_code)
    return list((await session.scalars(stmt)).all())


async def revoke(
    session: AsyncSession, venue: Venue, now: dt.datetime, by: int | None = None, source: str | None = None
) -> str:
    """Retire the venue's code (its posters stop working) and issue a new one; audited, by `source`
    (chat when someone did it, the command line when nobody did)."""
    old = venue.code
    session.add(RevokedVenueCode(code=old, venue_id=venue.id, revoked_at=now))
    await session.flush()
    venue.code = await _unused_code(session)
    await session.flush()
    await audit.record(
        session,
        "venue_revoked",
        actor=by,
        source=source or ("chat" if by else "cli"),
        unit_code=venue.commune_code,
        venue=venue.name,
        old_code=old,
        new_code=venue.code,
    )
    return venue.code


async def former_code(session: AsyncSession, venue_id: int) -> str | None:
    """The venue's code before its latest revocation (None when it was never revoked)."""
    stmt = (
        select(RevokedVenueCode.code)
        .where(RevokedVenueCode.venue_id == venue_id)
        .order_by(RevokedVenueCode.revoked_at.desc())
        .limit(1)
    )
    return await session.scalar(stmt)


# --- check-ins -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckInResult:
    check_in: CheckIn
    new: bool  # False: the same visitor within CHECK_IN_WINDOW, counted once


async def record_check_in(
    session: AsyncSession, venue: Venue, visitor: str, channel: str, now: dt.datetime, *, first_contact: bool = False
) -> CheckInResult:
    """Record a check-in, unless this visitor checked in here within the last 30 minutes.

    `first_contact`: the visitor was created in this transaction (a person's first update), so
    no earlier check-in of theirs can exist and none is looked for."""
    if not first_contact:
        # Two taps of one visitor (two web requests) take turns. On PostgreSQL a lock of this
        # visitor at this venue (not the venue's row, which made every visitor's check-in there
        # wait for the one before it to commit); SQLite's transactions take turns already.
        if is_postgres(session):
            await session.execute(_VISITOR_LOCK, {"venue_id": venue.id, "visitor": visitor})
        recent = (
            await session.scalars(
                _RECENT_CHECK_IN, {"venue_id": venue.id, "visitor": visitor, "since": now - CHECK_IN_WINDOW}
            )
        ).one_or_none()
        if recent is not None:
            return CheckInResult(recent, new=False)
    check_in = CheckIn(venue_id=venue.id, visitor=visitor, channel=channel, checked_in_at=now, already_installed=None)
    session.add(check_in)
    await session.flush()
    await _count_check_in(session, venue, now)
    return CheckInResult(check_in, new=True)


async def _count_check_in(session: AsyncSession, venue: Venue, now: dt.datetime) -> None:
    day = local_date(now)
    await bump(session, venue.commune_code, day, checkins=1)
    await add_counts(session, VenueDailyCount, {"venue_id": venue.id, "day": day}, VENUE_METRICS, {"checkins": 1})


async def check_in_by_code(
    session: AsyncSession, code: str, visitor: str, channel: str, now: dt.datetime, *, first_contact: bool = False
) -> tuple[CodeLookup, CheckInResult | None]:
    """The venue a code names (find_by_code) and the visitor's check-in there (record_check_in);
    no check-in at an unknown code or an old poster's (revoked) one.

    A first contact's check-in (a poster scanned by someone new: a campaign's launch) on PostgreSQL
    reads the venue and inserts the check-in in one statement, a round trip less."""
    if first_contact and is_postgres(session):
        params = {"f_code": code, "f_visitor": visitor, "f_channel": channel, "f_now": now}
        inserted = await direct.rows(session, _VENUE_AND_FIRST_CHECK_IN, params)
        if inserted:
            venue: Venue = direct.entity(session, Venue, inserted[0][:-1])
            check_in_id: int = inserted[0][-1]
            check_in = CheckIn(
                id=check_in_id,
                venue_id=venue.id,
                visitor=visitor,
                channel=channel,
                checked_in_at=now,
                already_installed=None,
            )
            make_transient_to_detached(check_in)  # the row as inserted, known without reading it back
            session.add(check_in)
            await _count_check_in(session, venue, now)
            return CodeLookup(venue), CheckInResult(check_in, new=True)
    found = await find_by_code(session, code)
    if found.venue is None or found.revoked:
        return found, None
    return found, await record_check_in(session, found.venue, visitor, channel, now, first_contact=first_contact)


# Built once (see storage.db.claim_statement): they run on every check-in.
_VISITOR_LOCK = select(func.pg_advisory_xact_lock(bindparam("venue_id"), func.hashtext(bindparam("visitor"))))
_RECENT_CHECK_IN = (
    select(CheckIn)
    .where(
        CheckIn.venue_id == bindparam("venue_id"),
        CheckIn.visitor == bindparam("visitor"),
        CheckIn.checked_in_at > bindparam("since"),
    )
    .order_by(CheckIn.checked_in_at.desc())
    .limit(1)
)
_VENUE_OF_CODE = select(Venue).where(Venue.code == bindparam("f_code")).cte("venue_of_code")
_FIRST_CHECK_IN = (
    insert(CheckIn)
    .from_select(
        ["venue_id", "visitor", "channel", "checked_in_at", "already_installed"],
        select(
            _VENUE_OF_CODE.c.id,
            bindparam("f_visitor", type_=CheckIn.visitor.type),
            bindparam("f_channel", type_=CheckIn.channel.type),
            bindparam("f_now", type_=CheckIn.checked_in_at.type),
            null(),
        ).select_from(_VENUE_OF_CODE),
    )
    .returning(CheckIn.id)
    .cte("first_check_in")
)
# PostgreSQL: the venue of a code, and a check-in there inserted in the same statement (no row:
# no venue has this code now).
_VENUE_AND_FIRST_CHECK_IN = (
    # The venue's columns in its table's order (see direct.entity), then the check-in's id.
    select(*(_VENUE_OF_CODE.c[column.name] for column in Venue.__table__.columns), _FIRST_CHECK_IN.c.id)
    .select_from(_VENUE_OF_CODE.join(_FIRST_CHECK_IN, true()))
    .execution_options(**{INSERTS_ONLY: True})
)
_CHECK_IN_WITH_COMMUNE = (
    select(CheckIn, Venue.commune_code)
    .join(Venue, Venue.id == CheckIn.venue_id)
    .where(CheckIn.id == bindparam("check_in_id"))
    .with_for_update(of=CheckIn)
)


async def answer_installed(session: AsyncSession, check_in_id: int, visitor: str, installed: bool) -> bool:
    """Store the visitor's answer on their check-in (a changed answer moves the counts); False
    when the check-in is not this visitor's."""
    if is_postgres(session):
        # One statement: the answer stored, with what it was before and the venue's commune.
        params = {"a_check_in": check_in_id, "a_visitor": visitor, "a_installed": installed}
        found = await direct.rows(session, _ANSWER, params)
        if not found:
            return False
        venue_id: int = found[0][0]
        checked_in_at: dt.datetime = found[0][1]
        before: bool | None = found[0][2]
        commune_code: str = found[0][3]
        stored = session.identity_map.get(session.identity_key(CheckIn, check_in_id))
        if stored is not None:  # loaded in this session: it sees its new answer
            set_committed_value(stored, "already_installed", installed)
    else:
        row = (await session.execute(_CHECK_IN_WITH_COMMUNE, {"check_in_id": check_in_id})).one_or_none()
        if row is None or row[0].visitor != visitor:
            return False
        check_in, commune_code = row
        venue_id, checked_in_at, before = check_in.venue_id, check_in.checked_in_at, check_in.already_installed
        check_in.already_installed = installed
    if before is installed:
        return True
    day = local_date(checked_in_at)
    delta_installed = int(installed) - int(bool(before))
    await bump(session, commune_code, day, checkins_already_installed=delta_installed)
    await add_counts(
        session,
        VenueDailyCount,
        {"venue_id": venue_id, "day": day},
        VENUE_METRICS,
        {"answered": int(before is None), "already_installed": delta_installed},
    )
    return True


# Core tables, not the ORM classes: an UPDATE naming a mapped class goes through the ORM's bulk
# update, which copies the statement and computes its cache key again on every execution.
_CHECK_IN_TABLE = cast(Table, CheckIn.__table__)
_VENUE_TABLE = cast(Table, Venue.__table__)
_BEFORE = (
    select(_CHECK_IN_TABLE.c.id, _CHECK_IN_TABLE.c.already_installed.label("before"))
    .where(_CHECK_IN_TABLE.c.id == bindparam("a_check_in"))
    .with_for_update()
    .subquery("before")
)
# PostgreSQL: the answer stored in one statement, returning the answer it replaced (read from
# the row, locked, in the subquery: RETURNING sees only the new one) and the venue's commune.
_ANSWER = (
    update(_CHECK_IN_TABLE)
    .where(
        _CHECK_IN_TABLE.c.id == _BEFORE.c.id,
        _CHECK_IN_TABLE.c.visitor == bindparam("a_visitor"),
        _VENUE_TABLE.c.id == _CHECK_IN_TABLE.c.venue_id,
    )
    .values(already_installed=bindparam("a_installed"))
    .returning(
        _CHECK_IN_TABLE.c.venue_id, _CHECK_IN_TABLE.c.checked_in_at, _BEFORE.c.before, _VENUE_TABLE.c.commune_code
    )
)


async def latest_check_in(session: AsyncSession, venue_id: int, visitor: str) -> CheckIn | None:
    stmt = (
        select(CheckIn)
        .where(CheckIn.venue_id == venue_id, CheckIn.visitor == visitor)
        .order_by(CheckIn.checked_in_at.desc(), CheckIn.id.desc())
        .limit(1)
    )
    return (await session.scalars(stmt)).one_or_none()


@dataclass(frozen=True)
class VenueCounts:
    today: int
    last_7_days: int
    total: int
    answered: int
    already_installed: int


async def venue_counts(session: AsyncSession, venue_id: int, today: dt.date) -> VenueCounts:
    """Today, the last 7 days (today included) and all time, from the daily rows."""
    rows = (
        await session.execute(
            select(
                VenueDailyCount.day,
                VenueDailyCount.checkins,
                VenueDailyCount.answered,
                VenueDailyCount.already_installed,
            ).where(VenueDailyCount.venue_id == venue_id)
        )
    ).all()
    week_start = today - dt.timedelta(days=6)
    return VenueCounts(
        today=sum(r.checkins for r in rows if r.day == today),
        last_7_days=sum(r.checkins for r in rows if week_start <= r.day <= today),
        total=sum(r.checkins for r in rows),
        answered=sum(r.answered for r in rows),
        already_installed=sum(r.already_installed for r in rows),
    )


@dataclass(frozen=True)
class LogRow:
    checked_in_at: dt.datetime
    visitor_number: int  # 1 for the venue's first visitor, 2 for the next new one...
    channel: str
    already_installed: bool | None


async def check_in_log(session: AsyncSession, venue_id: int) -> list[LogRow]:
    """The venue's check-ins, oldest first, with visitors numbered anonymously for this venue."""
    stmt = (
        select(CheckIn.checked_in_at, CheckIn.visitor, CheckIn.channel, CheckIn.already_installed)
        .where(CheckIn.venue_id == venue_id)
        .order_by(CheckIn.checked_in_at, CheckIn.id)
    )
    numbers: dict[str, int] = {}
    rows = []
    for when, visitor, channel, installed in (await session.execute(stmt)).all():
        number = numbers.setdefault(visitor, len(numbers) + 1)
        rows.append(LogRow(when, number, channel, installed))
    return rows


# --- the command line's CSV import -----------------------------------------------------------------


IMPORT_COLUMNS = ("name", "type", "commune_code", "address", "latitude", "longitude")
IMPORT_REQUIRED = ("name", "type", "commune_code", "address")


@dataclass
class ImportReport:
    created: list[Venue] = field(default_factory=list)
    updated: list[Venue] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def parse_coordinates(latitude: str | None, longitude: str | None) -> tuple[float | None, float | None]:
    """Both or neither, in range; ValueError otherwise."""
    if not latitude and not longitude:
        return None, None
    lat, lon = float(latitude or "x"), float(longitude or "x")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError("out of range")
    return lat, lon


async def import_csv(session: AsyncSession, text: str, manager_user_id: int | None = None) -> ImportReport:
    """Venues from CSV text (columns: IMPORT_COLUMNS; the first four required), managed in the bot
    by `manager_user_id` when given.

    A row naming a venue already added from the command line (same commune, same name; without a
    manager, or with this one) updates its type, address and position and keeps its code, so a
    corrected file can be re-imported; with a manager, it also gives them the venue.
    """
    report = ImportReport()
    parsed, problem = read_rows(text, IMPORT_REQUIRED)
    if problem:
        report.errors.append(problem)
        return report
    known = await known_communes(session)
    for line, row in parsed:
        code = row["commune_code"]
        name, address, kind = (
            clean_text(row.get("name"), NAME_MAX),
            clean_text(row.get("address"), ADDRESS_MAX),
            row.get("type", ""),
        )
        if code not in known:
            report.errors.append(f"line {line}: unknown commune code {code!r}")
            continue
        if not name or not address:
            report.errors.append(f"line {line}: name and address are required")
            continue
        if kind not in VENUE_KINDS:
            report.errors.append(f"line {line}: unknown type {kind!r} (one of: {', '.join(VENUE_KINDS)})")
            continue
        try:
            lat, lon = parse_coordinates(row.get("latitude"), row.get("longitude"))
        except ValueError:
            report.errors.append(f"line {line}: latitude/longitude must be numbers, both or neither")
            continue
        managers: ColumnElement[bool] = Venue.manager_user_id.is_(None)
        if manager_user_id is not None:
            managers = managers | (Venue.manager_user_id == manager_user_id)
        existing = (
            await session.scalars(
                select(Venue)
                .where(Venue.commune_code == code, Venue.name == name, managers)
                .order_by(Venue.id)
                .limit(1)
            )
        ).one_or_none()
        if existing is not None:
            existing.kind, existing.address, existing.latitude, existing.longitude = kind, address, lat, lon
            if manager_user_id is not None:
                existing.manager_user_id = manager_user_id
            report.updated.append(existing)
            continue
        report.created.append(
            await create_venue(
                session,
                name=name,
                kind=kind,
                commune_code=code,
                address=address,
                latitude=lat,
                longitude=lon,
                manager_user_id=manager_user_id,
            )
        )
    await session.flush()
    return report


async def recount(session: AsyncSession) -> dict[tuple[str, dt.date], dict[str, int]]:
    """The check-in counters per commune and local day, from the check-in rows (`tally rebuild`)."""
    day = local_day_sql(session, CheckIn.checked_in_at)
    stmt = (
        select(
            Venue.commune_code,
            day,
            func.count(),
            func.coalesce(func.sum(case((CheckIn.already_installed.is_(True), 1), else_=0)), 0),
        )
        .join(Venue, Venue.id == CheckIn.venue_id)
        .group_by(Venue.commune_code, day)
    )
    return {
        (code, as_date(d)): {"checkins": int(n), "checkins_already_installed": int(yes)}
        for code, d, n, yes in rows_of(await session.execute(stmt))
    }


async def venues_per_commune(session: AsyncSession, as_of: dt.date) -> dict[str, dict[str, int]]:
    """How many venues each commune had registered by the end of `as_of` (for tallies)."""
    cutoff = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=LOCAL_TIMEZONE)
    stmt = select(Venue.commune_code, func.count()).where(Venue.created_at < cutoff).group_by(Venue.commune_code)
    return {code: {"venues": int(n)} for code, n in (await session.execute(stmt)).all()}
