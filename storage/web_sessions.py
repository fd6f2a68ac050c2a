"""The officials' dashboard's ways in: one-time login links, browser sessions and standing CSV
links. Only hashes of the tokens are stored, so a copy of the database lets nobody in.

Who may hold a session is decided here, from the same data chat reads: a coordinator, a province
officer or an admin (storage.roles), or a venue's manager (storage.venues). A session is checked
at every request: one whose person lost that standing, or was erased, ends there and then.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import roles, venues
from storage.db import rows_changed
from storage.models import DashboardFeed, DashboardLogin, DashboardSession, User
from storage.roles import Role

LOGIN_VALID = dt.timedelta(minutes=10)
IDLE_LIMIT = dt.timedelta(hours=12)
# A session's last_seen_at is written at most this often: not a write for every page.
SEEN_STEP = dt.timedelta(minutes=1)
# Everyone above a volunteer; a role added between them (districts came with the pre-2025 map) is in.
OFFICIAL_ROLES = {role for role in Role if roles.RANK[role] > roles.RANK[Role.VOLUNTEER]}


class LoginState(enum.StrEnum):
    VALID = "valid"
    USED = "used"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def may_enter(session: AsyncSession, user_id: int) -> bool:
    """Whether the person has anything to see in the dashboard: an official role, or venues."""
    user = await session.get(User, user_id)
    if user is None or user.erased_at is not None:
        return False
    return await roles.has_any(session, user_id, OFFICIAL_ROLES) or await venues.manages_venues(session, user_id)


# --- one-time links ------------------------------------------------------------------------------


async def issue_login(session: AsyncSession, user_id: int, now: dt.datetime) -> str:
    """A new one-time link's token for this person (valid LOGIN_VALID)."""
    token = new_token()
    session.add(
        DashboardLogin(token_hash=token_hash(token), user_id=user_id, created_at=now, expires_at=now + LOGIN_VALID)
    )
    await session.flush()
    return token


async def login_state(session: AsyncSession, token: str, now: dt.datetime) -> LoginState:
    """What a link is worth, without using it (its page's GET: a messenger's preview reads it too)."""
    row = await session.get(DashboardLogin, token_hash(token))
    if row is None:
        return LoginState.UNKNOWN
    if row.used_at is not None:
        return LoginState.USED
    if row.expires_at <= now:
        return LoginState.EXPIRED
    return LoginState.VALID


@dataclass(frozen=True)
class Redeemed:
    state: LoginState
    session_token: str | None = None
    user_id: int | None = None


async def redeem_login(session: AsyncSession, token: str, now: dt.datetime) -> Redeemed:
    """Use the link (once: a conditional UPDATE, so two presses at once open one session) and open
    a session for its person, if they may still enter."""
    digest = token_hash(token)
    claim = (
        update(DashboardLogin)
        .where(DashboardLogin.token_hash == digest, DashboardLogin.used_at.is_(None), DashboardLogin.expires_at > now)
        .values(used_at=now)
    )
    if rows_changed(await session.execute(claim)) != 1:
        state = await login_state(session, token, now)
        return Redeemed(LoginState.USED if state is LoginState.VALID else state)
    user_id = await session.scalar(select(DashboardLogin.user_id).where(DashboardLogin.token_hash == digest))
    if user_id is None or not await may_enter(session, user_id):
        return Redeemed(LoginState.UNKNOWN)
    opened = new_token()
    session.add(DashboardSession(token_hash=token_hash(opened), user_id=user_id, created_at=now, last_seen_at=now))
    await session.flush()
    return Redeemed(LoginState.VALID, opened, user_id)


# --- sessions --------------------------------------------------------------------------------------


async def session_user(session: AsyncSession, token: str | None, now: dt.datetime) -> int | None:
    """The person signed in with this cookie; None (and the session ended) when it idled past
    IDLE_LIMIT, was ended, or its person may no longer enter."""
    if not token:
        return None
    row = await session.get(DashboardSession, token_hash(token))
    if row is None or row.ended_at is not None:
        return None
    if row.last_seen_at + IDLE_LIMIT <= now or not await may_enter(session, row.user_id):
        row.ended_at = now
        return None
    if row.last_seen_at + SEEN_STEP <= now:
        row.last_seen_at = now
    return row.user_id


async def end_session(session: AsyncSession, token: str | None, now: dt.datetime) -> bool:
    if not token:
        return False
    stmt = (
        update(DashboardSession)
        .where(DashboardSession.token_hash == token_hash(token), DashboardSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return rows_changed(await session.execute(stmt)) == 1


async def end_sessions_of(session: AsyncSession, user_id: int, now: dt.datetime) -> int:
    """End every open session of a person (their roles were revoked)."""
    stmt = (
        update(DashboardSession)
        .where(DashboardSession.user_id == user_id, DashboardSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return rows_changed(await session.execute(stmt))


# --- standing CSV links ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Feed:
    key: str  # the token's hash: names the link in a revoke form without revealing it
    unit_code: str
    created_at: dt.datetime


async def create_feed(session: AsyncSession, user_id: int, unit_code: str, now: dt.datetime) -> str:
    token = new_token()
    session.add(DashboardFeed(token_hash=token_hash(token), user_id=user_id, unit_code=unit_code, created_at=now))
    await session.flush()
    return token


async def feeds_of(session: AsyncSession, user_id: int, unit_code: str) -> list[Feed]:
    stmt = (
        select(DashboardFeed)
        .where(
            DashboardFeed.user_id == user_id, DashboardFeed.unit_code == unit_code, DashboardFeed.revoked_at.is_(None)
        )
        .order_by(DashboardFeed.created_at)
    )
    return [Feed(r.token_hash, r.unit_code, r.created_at) for r in (await session.scalars(stmt)).all()]


async def revoke_feed(session: AsyncSession, user_id: int, key: str, now: dt.datetime) -> bool:
    stmt = (
        update(DashboardFeed)
        .where(DashboardFeed.token_hash == key, DashboardFeed.user_id == user_id, DashboardFeed.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return rows_changed(await session.execute(stmt)) == 1


async def feed_of(session: AsyncSession, token: str) -> tuple[int, str] | None:
    """The person and the unit of a standing link not revoked; None otherwise."""
    row = await session.get(DashboardFeed, token_hash(token))
    if row is None or row.revoked_at is not None:
        return None
    return row.user_id, row.unit_code


# --- housekeeping ------------------------------------------------------------------------------------

# Ended rows are kept a day, so that a used or expired link still says so, then deleted.
KEEP_ENDED = dt.timedelta(days=1)


async def prune(session: AsyncSession, now: dt.datetime) -> int:
    """Delete links past their time, sessions ended or idle, revoked standing links (a day on)."""
    cutoff = now - KEEP_ENDED
    removed = 0
    for statement in (
        delete(DashboardLogin).where(DashboardLogin.expires_at < cutoff),
        delete(DashboardSession).where(
            or_(DashboardSession.ended_at < cutoff, DashboardSession.last_seen_at < cutoff - IDLE_LIMIT)
        ),
        delete(DashboardFeed).where(DashboardFeed.revoked_at < cutoff),
    ):
        removed += rows_changed(await session.execute(statement))
    return removed
