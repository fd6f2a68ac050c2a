"""Personal data (Decree 13/2023/NĐ-CP): erasing a person on request, and purging old check-ins.

What a person is made of in this database, in one place: when a table gains personal data, it
is listed here. tests/handlers/test_erasure_scan.py scans every text and JSON column of every
table (from the metadata, so a table added later is covered) for what identified an erased person.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import rows_changed
from storage.models import (
    Account,
    CheckIn,
    DashboardFeed,
    DashboardLogin,
    DashboardSession,
    DataPurge,
    InboundEvent,
    LinkCode,
    MediaFile,
    OutboxMessage,
    ReportSubscription,
    RoleGrant,
    User,
    Venue,
    VisitDraft,
    Volunteer,
    utcnow,
)
from texts.formats import LOCAL_TIMEZONE

# Rows that are the person's own and go entirely (accounts take their conversations and unsent
# messages with them).
OWN_ROWS = [
    (Account, Account.user_id),
    (Volunteer, Volunteer.user_id),
    (RoleGrant, RoleGrant.user_id),
    (ReportSubscription, ReportSubscription.user_id),
    (VisitDraft, VisitDraft.user_id),
    (LinkCode, LinkCode.user_id),
    # The dashboard's links and browser sessions: erasure signs the person out everywhere.
    (DashboardLogin, DashboardLogin.user_id),
    (DashboardSession, DashboardSession.user_id),
    (DashboardFeed, DashboardFeed.user_id),
]
# References kept for the campaign's counts and records, which after erasure point at an
# anonymous row: self-reported installs, visits logged as a volunteer, audit entries, figures.


async def erase_person(session: AsyncSession, user_id: int, handling: tuple[str, str] | None = None) -> None:
    """Delete what identifies the person; keep the anonymous counts (their install, the visits
    they logged, their check-ins) so that no tally changes.

    `handling` is the (channel, update id) of the update asking for it, when that update came
    through the inbound queue: its stored event goes too. The farewell the engine queues after
    this is deleted once it has gone out (updates.forgotten_when_settled)."""
    current = handling or ("", "")
    accounts = (
        await session.execute(
            select(Account.channel, Account.external_id, Account.chat_id).where(Account.user_id == user_id)
        )
    ).all()
    for channel, external_id, chat_id in accounts:
        # What they typed, stored by the Zalo webhooks: events handled, and this one. An event
        # still waiting (sent after this one) is left to be answered, as from a new person.
        await session.execute(
            delete(InboundEvent).where(
                InboundEvent.channel == channel,
                InboundEvent.user_id == external_id,
                or_(
                    InboundEvent.done_at.is_not(None),
                    (InboundEvent.channel == current[0]) & (InboundEvent.update_id == current[1]),
                ),
            )
        )
        # Messages to their chat (those queued for their accounts also go with the accounts) and
        # the files the messenger fetched for them.
        await session.execute(
            delete(OutboxMessage).where(OutboxMessage.channel == channel, OutboxMessage.chat_id == chat_id)
        )
        await session.execute(delete(MediaFile).where(MediaFile.channel == channel, MediaFile.chat_id == chat_id))
    # Notices that name them (a coordinator asked to approve them), sent or not.
    await session.execute(delete(OutboxMessage).where(OutboxMessage.about_user_id == user_id))
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
    if rows_changed(result):
        session.add(DataPurge(kind="check_ins", before=before, rows=rows_changed(result), at=utcnow()))
    return rows_changed(result)


async def purged_before(session: AsyncSession, kind: str) -> dt.date | None:
    """Raw rows of this kind before this date were purged (their counters are the record)."""
    return await session.scalar(select(func.max(DataPurge.before)).where(DataPurge.kind == kind))
