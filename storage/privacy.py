"""Personal data (Decree 13/2023/NĐ-CP): erasing a person on request, and purging old check-ins.

What a person is made of in this database, in one place: when a table gains personal data, it
is listed here, and the erasure test checks nothing of the person is left.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    LOCAL_TIMEZONE,
    Account,
    CheckIn,
    DataPurge,
    LinkCode,
    ReportSubscription,
    RoleGrant,
    User,
    Venue,
    VisitDraft,
    Volunteer,
    utcnow,
)

# Rows that are the person's own and go entirely (accounts take their conversations and unsent
# messages with them).
OWN_ROWS = [
    (Account, Account.user_id),
    (Volunteer, Volunteer.user_id),
    (RoleGrant, RoleGrant.user_id),
    (ReportSubscription, ReportSubscription.user_id),
    (VisitDraft, VisitDraft.user_id),
    (LinkCode, LinkCode.user_id),
]
# References kept for the campaign's counts and records, which after erasure point at an
# anonymous row: self-reported installs, visits logged as a volunteer, audit entries, figures.


async def erase_person(session: AsyncSession, user_id: int) -> None:
    """Delete what identifies the person; keep the anonymous counts (their install, the visits
    they logged, their check-ins) so that no tally changes."""
    for model, column in OWN_ROWS:
        await session.execute(delete(model).where(column == user_id))
    # Check-ins stay counted, and numbered in the venue's export, under a key that leads nowhere.
    await session.execute(
        update(CheckIn).where(CheckIn.visitor == f"u:{user_id}").values(visitor=f"x:{secrets.token_hex(8)}")
    )
    await session.execute(update(Venue).where(Venue.manager_user_id == user_id).values(manager_user_id=None))
    await session.execute(
        update(User).where(User.id == user_id).values(commune_code=None, erased_at=utcnow(), opted_out_at=utcnow())
    )


async def purge_check_ins(session: AsyncSession, before: dt.date) -> int:
    """Delete check-ins of local days before `before`; their counts stay in the counters."""
    cutoff = dt.datetime.combine(before, dt.time(), tzinfo=LOCAL_TIMEZONE)
    result = await session.execute(delete(CheckIn).where(CheckIn.checked_in_at < cutoff))
    if result.rowcount:
        session.add(DataPurge(kind="check_ins", before=before, rows=result.rowcount, at=utcnow()))
    return result.rowcount


async def purged_before(session: AsyncSession, kind: str) -> dt.date | None:
    """Raw rows of this kind before this date were purged (their counters are the record)."""
    return await session.scalar(select(func.max(DataPurge.before)).where(DataPurge.kind == kind))
