"""One person on several messengers: one-time link codes, and merging two people into one.

A person's Telegram and Zalo accounts start as two people (two rows of `users`). Linking moves
everything of one person onto the other and deletes the emptied one, without counting anything
twice. PERSON_COLUMNS below is the one place that knows which tables hold a person's rows.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from storage.counters import bump
from storage.db import dialect_insert, rows_changed
from storage.models import Base, CheckIn, LinkAttempt, LinkCode, SelfReportedInstall, User
from texts.formats import local_date

CODE_DIGITS = 8
CODE_TTL = dt.timedelta(minutes=10)
MAX_FAILURES = 5  # wrong codes an account may type per FAILURE_WINDOW before it must wait
FAILURE_WINDOW = dt.timedelta(hours=1)

Merge = Callable[[AsyncSession, int, int], Awaitable[None]]


@dataclass(frozen=True)
class PersonColumn:
    """A column holding a person's id. Merging re-points it from the merged person to the
    survivor; `merge` does that instead for rows a person may have only once (and which count)."""

    table: str
    column: str
    merge: Merge | None = None


async def _merge_installs(session: AsyncSession, survivor: int, merged: int) -> None:
    """Keep the earlier "I have installed it" of the two and un-count the other."""
    rows = (
        await session.scalars(
            select(SelfReportedInstall)
            .where(SelfReportedInstall.user_id.in_([survivor, merged]))
            .order_by(SelfReportedInstall.reported_at, SelfReportedInstall.id)
        )
    ).all()
    if not rows:
        return
    keep, *drop = rows
    for row in drop:
        await bump(session, row.commune_code, local_date(row.reported_at), self_reported_installs=-1)
        await session.delete(row)
    await session.flush()
    keep.user_id = survivor


def _once_per(table_name: str, column: str, *keys: str) -> Merge:
    """For rows a person holds once per `keys` (a role over a unit, a registration in a commune,
    a report subscription): where both people have one, the survivor's stays; the rest move."""

    async def merge(session: AsyncSession, survivor: int, merged: int) -> None:
        table = Base.metadata.tables[table_name]
        theirs = table.alias("survivor_rows")
        duplicate = exists().where(theirs.c[column] == survivor, *(theirs.c[k] == table.c[k] for k in keys))
        await session.execute(delete(table).where(table.c[column] == merged, duplicate))
        await session.execute(update(table).where(table.c[column] == merged).values({column: survivor}))

    return merge


async def _merge_check_ins(session: AsyncSession, survivor: int, merged: int) -> None:
    """Check-ins name their visitor "u:<person>" (not a foreign key): the merged person's move."""
    await session.execute(update(CheckIn).where(CheckIn.visitor == f"u:{merged}").values(visitor=f"u:{survivor}"))


# Every column that refers to a person (users.id). A new per-person table is one line here;
# tests/storage/test_identity.py fails while a foreign key to users.id is missing from this list.
PERSON_COLUMNS: list[PersonColumn] = [
    PersonColumn("accounts", "user_id"),
    PersonColumn("link_codes", "user_id"),
    PersonColumn("self_reported_installs", "user_id", merge=_merge_installs),
    PersonColumn("venues", "manager_user_id"),
    PersonColumn("check_ins", "visitor", merge=_merge_check_ins),
    PersonColumn("role_grants", "user_id", merge=_once_per("role_grants", "user_id", "role", "unit_code")),
    PersonColumn("role_grants", "granted_by"),
    PersonColumn("role_grants", "revoked_by"),
    PersonColumn("volunteers", "user_id", merge=_once_per("volunteers", "user_id", "commune_code")),
    PersonColumn("volunteers", "decided_by"),
    PersonColumn("volunteer_invites", "created_by"),
    PersonColumn("visits", "volunteer_id"),
    PersonColumn("visit_revisions", "changed_by"),
    PersonColumn("visit_drafts", "user_id"),
    PersonColumn("official_figures", "entered_by"),
    PersonColumn("targets", "set_by"),
    PersonColumn("report_subscriptions", "user_id", merge=_once_per("report_subscriptions", "user_id", "unit_code")),
    PersonColumn("broadcasts", "created_by"),
    PersonColumn("audit_log", "actor_user_id"),
    PersonColumn("outbox", "about_user_id"),
    # The dashboard's links and sessions: whichever messenger asked for them, they are the survivor's.
    PersonColumn("dashboard_logins", "user_id"),
    PersonColumn("dashboard_sessions", "user_id"),
    PersonColumn("dashboard_feeds", "user_id"),
]


async def merge_people(session: AsyncSession, survivor_id: int, merged_id: int) -> User:
    """Move everything of `merged_id` onto `survivor_id`, delete the merged person; the survivor."""
    # Both people locked, lower id first, so two merges touching the same person take turns.
    people = {
        u.id: u
        for u in (
            await session.scalars(
                select(User)
                .where(User.id.in_([survivor_id, merged_id]))
                .order_by(User.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).all()
    }
    survivor = people[survivor_id]
    if survivor_id == merged_id:
        return survivor
    merged = people[merged_id]
    if survivor.commune_code is None:
        survivor.commune_code = merged.commune_code
    for ref in PERSON_COLUMNS:
        if ref.merge is not None:
            await ref.merge(session, survivor_id, merged_id)
            continue
        table = Base.metadata.tables[ref.table]
        await session.execute(update(table).where(table.c[ref.column] == merged_id).values({ref.column: survivor_id}))
        _repoint_loaded(session, ref, merged_id, survivor_id)
    await session.delete(merged)
    await session.flush()
    return survivor


def _repoint_loaded(session: AsyncSession, ref: PersonColumn, old: int, new: int) -> None:
    """Objects of that table already in the session see the new id too (nothing reloads them)."""
    for obj in list(session.identity_map.values()):
        if getattr(obj, "__tablename__", None) == ref.table and getattr(obj, ref.column, None) == old:
            set_committed_value(obj, ref.column, new)


# --- link codes ---------------------------------------------------------------------------------


async def issue_code(session: AsyncSession, user_id: int, now: dt.datetime) -> str:
    """A fresh code for this person (their earlier unused one stops working)."""
    await session.execute(delete(LinkCode).where(LinkCode.user_id == user_id))  # others expire in housekeeping
    for _ in range(10):
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        stmt = (
            dialect_insert(session, LinkCode)
            .values(code=code, user_id=user_id, created_at=now, expires_at=now + CODE_TTL)
            .on_conflict_do_nothing(index_elements=["code"])
        )
        if rows_changed(await session.execute(stmt)) == 1:
            return code
    raise RuntimeError("no free link code")  # 10 collisions in 10^8: practically impossible


class Redeem(enum.Enum):
    LINKED = "linked"  # `issuer` is the person who showed the code
    UNKNOWN = "unknown"  # wrong, used or expired
    SAME_PERSON = "same_person"
    TOO_MANY_TRIES = "too_many_tries"


@dataclass(frozen=True)
class Redeemed:
    outcome: Redeem
    issuer: int | None = None


def normalize_code(typed: str) -> str | None:
    """ "1234 5678", "1234-5678" or "12345678" → "12345678"; None if it is not such a code."""
    digits = "".join(ch for ch in typed if not ch.isspace() and ch not in "-.")
    return digits if len(digits) == CODE_DIGITS and digits.isascii() and digits.isdigit() else None


async def redeem_code(session: AsyncSession, code: str, account_id: int, user_id: int, now: dt.datetime) -> Redeemed:
    """Use up `code` (once, atomically) for the person typing it."""
    attempts = await session.get(LinkAttempt, account_id, with_for_update=True)
    if attempts is not None and attempts.window_started_at <= now - FAILURE_WINDOW:
        attempts.failures, attempts.window_started_at = 0, now
    if attempts is not None and attempts.failures >= MAX_FAILURES:
        return Redeemed(Redeem.TOO_MANY_TRIES)
    issuer = await session.scalar(
        update(LinkCode)
        .where(LinkCode.code == code, LinkCode.used_at.is_(None), LinkCode.expires_at > now)
        .values(used_at=now)
        .returning(LinkCode.user_id)
    )
    if issuer is None:
        if attempts is None:
            session.add(LinkAttempt(account_id=account_id, failures=1, window_started_at=now))
        else:
            attempts.failures += 1
        return Redeemed(Redeem.UNKNOWN)
    if issuer == user_id:
        return Redeemed(Redeem.SAME_PERSON, issuer)
    return Redeemed(Redeem.LINKED, issuer)
