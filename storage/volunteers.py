"""Volunteer registrations and invites: a coordinator's invite makes a volunteer active at once;
without one, a registration waits for a coordinator of that commune."""

from __future__ import annotations

import datetime as dt
import enum
import re
import secrets
import unicodedata

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, roles
from storage.db import rows_changed
from storage.models import Volunteer, VolunteerInvite
from storage.roles import Role
from texts.formats import LOCAL_TIMEZONE

# Easy to read aloud and to type on a phone: no 0/O, 1/I/L.
INVITE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
INVITE_LENGTH = 8
INVITE_LIFETIME = dt.timedelta(days=7)
NAME_MAX = 80
TEAM_MAX = 80


class Status(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    REFUSED = "refused"
    INACTIVE = "inactive"


class InviteState(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
# Vietnamese mobile numbers: 03x, 05x, 07x, 08x, 09x and eight more digits.
_VN_MOBILE = re.compile(r"[35789]\d{8}")


def normalize_phone(text: str, any_country: bool = False) -> str | None:
    """ "0912 345 678", "+84 912.345.678", "84912345678" → "+84912345678"; None if not a phone.

    Typed numbers must be Vietnamese mobiles. A number shared with the messenger's contact button
    is the person's own verified number: `any_country` accepts it in international form.
    """
    raw = _PHONE_SEPARATORS.sub("", text or "")
    plus = raw.startswith("+")
    digits = raw[1:] if plus else raw
    if not digits.isdigit() or not digits.isascii():
        return None
    if digits.startswith("84") and _VN_MOBILE.fullmatch(digits[2:]):
        return "+" + digits
    if not plus and digits.startswith("0") and _VN_MOBILE.fullmatch(digits[1:]):
        return "+84" + digits[1:]
    if any_country and 8 <= len(digits) <= 15 and not digits.startswith("0"):
        return "+" + digits
    return None


def clean_name(text: str, limit: int = NAME_MAX) -> str | None:
    """A display name or team as typed, NFC, spaces collapsed; None when empty or too long.

    NFC: a name typed decomposed (some keyboards send "e" + U+0302 + U+0303 for U+1EC5) is stored,
    sorted and compared as the same name typed composed."""
    name = " ".join(unicodedata.normalize("NFC", text or "").split())
    if not name or len(name) > limit or name.startswith("/"):
        return None
    return name


# --- invites ---


def invite_state(invite: VolunteerInvite, now: dt.datetime) -> InviteState:
    if invite.revoked_at is not None:
        return InviteState.REVOKED
    if invite.expires_at <= now:
        return InviteState.EXPIRED
    return InviteState.ACTIVE


def normalize_code(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", text or "").upper()


async def create_invite(
    session: AsyncSession,
    commune_code: str,
    created_by: int | None,
    now: dt.datetime,
    lifetime: dt.timedelta = INVITE_LIFETIME,
) -> VolunteerInvite:
    """A new invite for the commune; the commune's earlier invites stop working (a leaked code is
    replaced by making a new one)."""
    await revoke_invites(session, commune_code, now)
    while True:
        code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))
        if await find_invite(session, code) is None:
            break
    invite = VolunteerInvite(
        code=code, commune_code=commune_code, created_by=created_by, created_at=now, expires_at=now + lifetime, uses=0
    )
    session.add(invite)
    await session.flush()
    return invite


async def revoke_invites(session: AsyncSession, commune_code: str, now: dt.datetime) -> int:
    stmt = (
        update(VolunteerInvite)
        .where(VolunteerInvite.commune_code == commune_code, VolunteerInvite.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return rows_changed(await session.execute(stmt))


async def active_invite(session: AsyncSession, commune_code: str, now: dt.datetime) -> VolunteerInvite | None:
    stmt = (
        select(VolunteerInvite)
        .where(
            VolunteerInvite.commune_code == commune_code,
            VolunteerInvite.revoked_at.is_(None),
            VolunteerInvite.expires_at > now,
        )
        .order_by(VolunteerInvite.created_at.desc())
        .limit(1)
    )
    return (await session.scalars(stmt)).first()


async def find_invite(session: AsyncSession, code: str) -> VolunteerInvite | None:
    code = normalize_code(code)
    if not code:
        return None
    return (await session.scalars(select(VolunteerInvite).where(VolunteerInvite.code == code))).one_or_none()


# --- registrations ---


async def registration(session: AsyncSession, user_id: int, commune_code: str) -> Volunteer | None:
    stmt = select(Volunteer).where(Volunteer.user_id == user_id, Volunteer.commune_code == commune_code)
    return (await session.scalars(stmt)).one_or_none()


async def registrations_of(session: AsyncSession, user_id: int) -> list[Volunteer]:
    stmt = select(Volunteer).where(Volunteer.user_id == user_id).order_by(Volunteer.registered_at)
    return list((await session.scalars(stmt)).all())


async def register(
    session: AsyncSession,
    user_id: int,
    commune_code: str,
    *,
    display_name: str,
    phone: str,
    team: str,
    now: dt.datetime,
    invite: VolunteerInvite | None = None,
) -> Volunteer:
    """Record (or renew) a registration. With a working invite the volunteer is active at once
    (the volunteer role is granted, on behalf of the invite's maker); otherwise it is pending."""
    row = await registration(session, user_id, commune_code)
    if row is None:
        row = Volunteer(user_id=user_id, commune_code=commune_code, registered_at=now)
        session.add(row)
    row.display_name, row.phone, row.team = display_name, phone, team
    if invite is not None and invite_state(invite, now) is InviteState.ACTIVE and invite.commune_code == commune_code:
        row.status = Status.ACTIVE.value
        row.invite_id = invite.id
        row.decided_at, row.decided_by = now, invite.created_by
        await session.flush()
        # In SQL, so two people joining at once both count.
        await session.execute(
            update(VolunteerInvite).where(VolunteerInvite.id == invite.id).values(uses=VolunteerInvite.uses + 1)
        )
        await roles.grant(session, user_id, Role.VOLUNTEER, commune_code, by=invite.created_by)
    elif row.status != Status.ACTIVE.value:
        row.status = Status.PENDING.value
        row.registered_at = now
        row.decided_at = row.decided_by = None
    await session.flush()
    return row


async def ensure_profile(
    session: AsyncSession, user_id: int, commune_code: str, display_name: str, now: dt.datetime
) -> Volunteer:
    """The registration of someone made a volunteer without registering (granted from the command
    line): active, named as the grant named them until they register themselves (which keeps it
    active and fills in their name and phone). So the desk, the tallies and the volunteer list
    count and show them like any volunteer."""
    row = await registration(session, user_id, commune_code)
    if row is None:
        row = Volunteer(
            user_id=user_id,
            commune_code=commune_code,
            display_name=display_name[:NAME_MAX],
            phone="",
            team="",
            registered_at=now,
        )
        session.add(row)
    if row.status != Status.ACTIVE.value:
        row.status = Status.ACTIVE.value
        row.decided_at, row.decided_by = now, None
    await session.flush()
    return row


async def end_profile(session: AsyncSession, user_id: int, commune_code: str, now: dt.datetime) -> bool:
    """A volunteer role revoked from the command line: their registration stops being active
    (their visits stay); False when there was no active one."""
    row = await registration(session, user_id, commune_code)
    if row is None or row.status != Status.ACTIVE.value:
        return False
    row.status = Status.INACTIVE.value
    row.decided_at, row.decided_by = now, None
    return True


async def decide(
    session: AsyncSession, volunteer: Volunteer, approve: bool, by: int, now: dt.datetime, source: str = "chat"
) -> bool:
    """Approve or refuse a pending registration; False when it was no longer pending (another
    coordinator decided first), so nothing is changed. `source`: the door it came by (chat, web)."""
    await _lock(session, volunteer)
    if volunteer.status != Status.PENDING.value:
        return False
    volunteer.status = (Status.ACTIVE if approve else Status.REFUSED).value
    volunteer.decided_at, volunteer.decided_by = now, by
    await audit.record(
        session,
        "volunteer_approved" if approve else "volunteer_refused",
        actor=by,
        source=source,
        unit_code=volunteer.commune_code,
        user=volunteer.user_id,
    )
    if approve:
        await roles.grant(session, volunteer.user_id, Role.VOLUNTEER, volunteer.commune_code, by=by, source=source)
    return True


async def set_active(
    session: AsyncSession, volunteer: Volunteer, active: bool, by: int, now: dt.datetime, source: str = "chat"
) -> bool:
    """Deactivate (past visits stay) or reactivate a volunteer; False when nothing changed."""
    await _lock(session, volunteer)
    wanted = Status.ACTIVE if active else Status.INACTIVE
    if volunteer.status == wanted.value:
        return False
    if not active and volunteer.status != Status.ACTIVE.value:
        return False
    volunteer.status = wanted.value
    volunteer.decided_at, volunteer.decided_by = now, by
    await audit.record(
        session,
        "volunteer_reactivated" if active else "volunteer_deactivated",
        actor=by,
        source=source,
        unit_code=volunteer.commune_code,
        user=volunteer.user_id,
    )
    if active:
        await roles.grant(session, volunteer.user_id, Role.VOLUNTEER, volunteer.commune_code, by=by, source=source)
    else:
        await roles.revoke(session, volunteer.user_id, Role.VOLUNTEER, volunteer.commune_code, by=by, source=source)
    return True


async def _lock(session: AsyncSession, volunteer: Volunteer) -> None:
    """Re-read the registration under a row lock: two coordinators deciding at once take turns,
    and the second sees the first one's decision."""
    await session.refresh(volunteer, with_for_update=True)


async def of_commune(session: AsyncSession, commune_code: str, status: Status | None = None) -> list[Volunteer]:
    stmt = select(Volunteer).where(Volunteer.commune_code == commune_code)
    if status is not None:
        stmt = stmt.where(Volunteer.status == status.value)
    return list((await session.scalars(stmt.order_by(Volunteer.display_name, Volunteer.id))).all())


async def names(session: AsyncSession, user_ids: set[int], commune_code: str | None = None) -> dict[int, str]:
    """Display names by person (their registration in `commune_code` first when they have several)."""
    if not user_ids:
        return {}
    stmt = select(Volunteer).where(Volunteer.user_id.in_(user_ids)).order_by(Volunteer.registered_at)
    found: dict[int, str] = {}
    for row in (await session.scalars(stmt)).all():
        if row.user_id not in found or row.commune_code == commune_code:
            found[row.user_id] = row.display_name
    return found


async def active_per_commune(session: AsyncSession, as_of: dt.date) -> dict[str, dict[str, int]]:
    """Volunteers per commune who are active now and were already active by the end of `as_of`
    (for tallies). Deactivations keep no history, so for a past date someone deactivated since
    is not counted: a slight undercount, never a volunteer who had not joined yet."""
    cutoff = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=LOCAL_TIMEZONE)
    stmt = (
        select(Volunteer.commune_code, func.count())
        .where(
            Volunteer.status == Status.ACTIVE.value,
            func.coalesce(Volunteer.decided_at, Volunteer.registered_at) < cutoff,
        )
        .group_by(Volunteer.commune_code)
    )
    return {code: {"active_volunteers": int(n)} for code, n in (await session.execute(stmt)).all()}
