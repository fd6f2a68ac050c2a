"""Roles over administrative units, and the one permission check every flow makes.

The hierarchy: an admin covers everything; a province officer covers their province, its
districts and communes; a district officer (on the pre-2025 map, which has districts) their
district and its communes; a coordinator their commune; a volunteer their commune. Roles are
ranked (volunteer < coordinator < district officer < province officer < admin): `check(session,
user, Role.COORDINATOR, "00070")` allows a coordinator of 00070, an officer of its district or
province, or an admin. Checks read the database: a
person's grants are read once per transaction (a /start's menu asks six times) and read again
after anything in it grants, revokes or deletes a role, and in the next transaction.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from storage import audit
from storage.db import BotSession, dialect_insert, rows_changed
from storage.models import Commune, District, RoleGrant, Volunteer, utcnow
from storage.units import COUNTRY_CODE, known_unit, unit_level


class Role(enum.StrEnum):
    VOLUNTEER = "volunteer"
    COORDINATOR = "coordinator"
    DISTRICT_OFFICER = "district_officer"
    PROVINCE_OFFICER = "province_officer"
    ADMIN = "admin"


RANK = {Role.VOLUNTEER: 1, Role.COORDINATOR: 2, Role.DISTRICT_OFFICER: 3, Role.PROVINCE_OFFICER: 4, Role.ADMIN: 5}
# The kind of unit each role is held over.
LEVEL = {
    Role.VOLUNTEER: "commune",
    Role.COORDINATOR: "commune",
    Role.DISTRICT_OFFICER: "district",
    Role.PROVINCE_OFFICER: "province",
    Role.ADMIN: "country",
}
# The least role that sees a unit's figures (its tally, its daily report): the role held over
# that kind of unit. Volunteers see their own results, not the commune's figures.
VIEWER = {
    "commune": Role.COORDINATOR,
    "district": Role.DISTRICT_OFFICER,
    "province": Role.PROVINCE_OFFICER,
    "country": Role.ADMIN,
}


class Refusal(enum.StrEnum):
    """Why a check said no, from the most to the least telling."""

    TOO_LOW = "too_low"  # a role over this unit (or elsewhere), but a lesser one
    OTHER_UNIT = "other_unit"  # the role, but over other units (listed in Decision.units)
    ENDED = "ended"  # held the role here once; it was revoked (a deactivated volunteer)
    PENDING = "pending"  # registered as a volunteer, waiting for a coordinator's approval
    NO_ROLE = "no_role"  # no role at all: a citizen


@dataclass(frozen=True)
class Grant:
    user_id: int
    role: Role
    unit_code: str
    granted_at: dt.datetime
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    refusal: Refusal | None = None
    units: tuple[str, ...] = ()  # OTHER_UNIT: where the role is held

    def __bool__(self) -> bool:
        return self.allowed


def _grant(row: RoleGrant) -> Grant:
    return Grant(row.user_id, Role(row.role), row.unit_code, row.granted_at, row.revoked_at)


# --- the grants read in this transaction: {user id: every grant, revoked ones included} ---

_READ = "roles.grants_read"


def _forget(session: Session | AsyncSession) -> None:
    session.info.pop(_READ, None)


@event.listens_for(BotSession, "after_transaction_end")
def _on_transaction_end(session: Session, _transaction: SessionTransaction) -> None:
    # Commit, rollback, a savepoint's end (a failed handler's writes undone), or a flush of
    # pending changes (which may be role grants): read again.
    _forget(session)


@event.listens_for(BotSession, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    # Any INSERT, UPDATE or DELETE of role grants (a grant, the erasure of a person's data).
    table = getattr(state.statement, "table", None)  # an annotated copy of the Table: by name
    writes = state.is_insert or state.is_update or state.is_delete
    if writes and getattr(table, "name", None) == RoleGrant.__tablename__:
        _forget(state.session)


async def unit_exists(session: AsyncSession, unit_code: str) -> bool:
    """A unit of the database's map (roles are held over its units only)."""
    return await known_unit(session, unit_code)


async def grant(
    session: AsyncSession, user_id: int, role: Role, unit_code: str, by: int | None = None, source: str | None = None
) -> bool:
    """Give `role` over the unit; False when the person already held it. Raises ValueError when
    the unit does not exist or is of the wrong kind for the role (a volunteer of a province).
    `source` for the audit log: chat when someone gave it, the command line when nobody did."""
    role = Role(role)
    try:
        level = unit_level(unit_code)
    except ValueError:
        raise ValueError(f"not a unit code: {unit_code!r}") from None
    if level != LEVEL[role]:
        raise ValueError(f"a {role.value} is held over a {LEVEL[role]}, not a {level} ({unit_code})")
    if not await unit_exists(session, unit_code):
        raise ValueError(f"no {level} with code {unit_code}")
    _forget(session)
    row = await _row(session, user_id, role, unit_code)
    if row is None:
        # ON CONFLICT: the same grant made at once elsewhere (two coordinators approving) is one row.
        stmt = (
            dialect_insert(session, RoleGrant)
            .values(user_id=user_id, role=role.value, unit_code=unit_code, granted_at=utcnow(), granted_by=by)
            .on_conflict_do_nothing(index_elements=["user_id", "role", "unit_code"])
        )
        granted = rows_changed(await session.execute(stmt)) == 1
    else:
        if row.revoked_at is None:
            return False
        row.revoked_at, row.revoked_by = None, None
        row.granted_at, row.granted_by = utcnow(), by
        granted = True
    if granted:
        await audit.record(
            session,
            "grant",
            actor=by,
            source=source or ("chat" if by else "cli"),
            unit_code=unit_code,
            user=user_id,
            role=role.value,
        )
    return granted


async def revoke(
    session: AsyncSession, user_id: int, role: Role, unit_code: str, by: int | None = None, source: str | None = None
) -> bool:
    """End `role` over the unit; False when the person did not hold it."""
    _forget(session)
    row = await _row(session, user_id, Role(role), unit_code)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at, row.revoked_by = utcnow(), by
    await audit.record(
        session,
        "revoke",
        actor=by,
        source=source or ("chat" if by else "cli"),
        unit_code=unit_code,
        user=user_id,
        role=Role(role).value,
    )
    return True


async def _row(session: AsyncSession, user_id: int, role: Role, unit_code: str) -> RoleGrant | None:
    stmt = select(RoleGrant).where(
        RoleGrant.user_id == user_id, RoleGrant.role == role.value, RoleGrant.unit_code == unit_code
    )
    return (await session.scalars(stmt)).one_or_none()


async def grants_of(session: AsyncSession, user_id: int, include_revoked: bool = False) -> list[Grant]:
    grants = session.info.get(_READ, {}).get(user_id)
    if grants is None:
        stmt = select(RoleGrant).where(RoleGrant.user_id == user_id).order_by(RoleGrant.role, RoleGrant.unit_code)
        grants = tuple(_grant(r) for r in (await session.scalars(stmt)).all())
        # Kept after the query: its autoflush (which ends a subtransaction) forgets what was read.
        session.info.setdefault(_READ, {})[user_id] = grants
    return [g for g in grants if include_revoked or g.active]


async def list_grants(session: AsyncSession, unit_code: str | None = None) -> list[Grant]:
    """Every active grant, or those held over one unit."""
    stmt = select(RoleGrant).where(RoleGrant.revoked_at.is_(None))
    if unit_code:
        stmt = stmt.where(RoleGrant.unit_code == unit_code)
    rows = (await session.scalars(stmt.order_by(RoleGrant.unit_code, RoleGrant.role, RoleGrant.user_id))).all()
    return [_grant(r) for r in rows]


async def holders(session: AsyncSession, role: Role, unit_code: str) -> list[int]:
    """The people holding exactly `role` over exactly this unit (a commune's coordinators)."""
    stmt = (
        select(RoleGrant.user_id)
        .where(RoleGrant.role == Role(role).value, RoleGrant.unit_code == unit_code, RoleGrant.revoked_at.is_(None))
        .order_by(RoleGrant.granted_at)
    )
    return list((await session.scalars(stmt)).all())


async def province_of(session: AsyncSession, unit_code: str) -> str | None:
    return (await units_above(session, unit_code))[1]


async def units_above(session: AsyncSession, unit_code: str) -> tuple[str | None, str | None]:
    """(its district, its province): the units a district or province officer's grant must be."""
    level = unit_level(unit_code)
    if level == "province":
        return None, unit_code
    if level == "district":
        district = await session.get(District, unit_code)
        return unit_code, district.province_code if district else None
    if level == "commune":
        commune = await session.get(Commune, unit_code)
        return (commune.district_code, commune.province_code) if commune else (None, None)
    return None, None


def covers(grant: Grant, unit_code: str, province_code: str | None, district_code: str | None = None) -> bool:
    """Whether a grant's unit contains `unit_code` (whose province is `province_code`, and
    district `district_code` on the pre-2025 map)."""
    if grant.role is Role.ADMIN:
        return True
    if unit_code == COUNTRY_CODE:
        return False
    if grant.role is Role.PROVINCE_OFFICER:
        return grant.unit_code == province_code
    if grant.role is Role.DISTRICT_OFFICER:
        return grant.unit_code == district_code
    return grant.unit_code == unit_code


async def check(session: AsyncSession, user_id: int, role: Role, unit_code: str) -> Decision:
    """May this person act as `role` (or above) over the unit? With the reason when not."""
    role = Role(role)
    grants = await grants_of(session, user_id, include_revoked=True)
    # Only an officer's grant needs the unit's district and province (a read of the commune).
    needs_above = any(g.role in (Role.PROVINCE_OFFICER, Role.DISTRICT_OFFICER) for g in grants)
    district, province = await units_above(session, unit_code) if needs_above else (None, None)
    decision = decide(grants, role, unit_code, province, district)
    if decision is not None:
        return decision
    if role is Role.VOLUNTEER and await _pending(session, user_id):
        return Decision(False, Refusal.PENDING)
    if any(g.active for g in grants):
        return Decision(False, Refusal.TOO_LOW)
    return Decision(False, Refusal.NO_ROLE)


def decide(
    grants: Sequence[Grant], role: Role, unit_code: str, province: str | None, district: str | None = None
) -> Decision | None:
    """What the person's grants (revoked ones included) say about `role` over the unit; None when
    they say nothing (no grant of that rank ever covered it): the caller looks further."""
    active = [g for g in grants if g.active]
    enough = [g for g in active if RANK[g.role] >= RANK[role]]
    if any(covers(g, unit_code, province, district) for g in enough):
        return Decision(True)
    if any(covers(g, unit_code, province, district) for g in active):
        return Decision(False, Refusal.TOO_LOW)
    if enough:
        return Decision(False, Refusal.OTHER_UNIT, tuple(sorted({g.unit_code for g in enough})))
    ended = [g for g in grants if not g.active and RANK[g.role] >= RANK[role]]
    if any(covers(g, unit_code, province, district) for g in ended):
        return Decision(False, Refusal.ENDED)
    return None


def viewer_role(unit_code: str) -> Role:
    """The role needed over `unit_code` to see its figures (checked with `check`)."""
    return VIEWER[unit_level(unit_code)]


async def may_view(session: AsyncSession, user_id: int, unit_code: str) -> Decision:
    return await check(session, user_id, viewer_role(unit_code), unit_code)


async def _pending(session: AsyncSession, user_id: int) -> bool:
    stmt = select(Volunteer.id).where(Volunteer.user_id == user_id, Volunteer.status == "pending").limit(1)
    return (await session.scalar(stmt)) is not None


async def communes_for(session: AsyncSession, user_id: int, role: Role) -> list[str]:
    """The communes this person holds `role` (or a higher commune-level role) over directly."""
    rank = RANK[Role(role)]
    codes = {
        g.unit_code for g in await grants_of(session, user_id) if LEVEL[g.role] == "commune" and RANK[g.role] >= rank
    }
    return sorted(codes)


async def viewable_units(session: AsyncSession, user_id: int) -> list[str]:
    """The units whose figures the person sees by their roles: the country, their provinces,
    their communes (biggest first). Volunteers see their own results, not a unit's figures."""
    grants = [g for g in await grants_of(session, user_id) if g.role is not Role.VOLUNTEER]
    units: list[str] = []
    for g in sorted(grants, key=lambda g: (-RANK[g.role], g.unit_code)):
        if g.unit_code not in units:
            units.append(g.unit_code)
    return units


async def has_any(session: AsyncSession, user_id: int, roles: set[Role] | None = None) -> bool:
    """Whether the person holds any active role (or one of `roles`): for showing menu entries."""
    return any(roles is None or g.role in roles for g in await grants_of(session, user_id))
