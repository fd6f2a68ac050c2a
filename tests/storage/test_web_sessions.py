"""The dashboard's ways in, on SQLite and PostgreSQL: a one-time link used once and only in time,
sessions ended by logout, idling, a revoked role or erasure; standing CSV links revocable."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

from storage import privacy, roles, web_sessions
from storage.accounts import find_or_create_person
from storage.models import DashboardLogin, DashboardSession, utcnow
from storage.roles import Role
from storage.web_sessions import IDLE_LIMIT, LOGIN_VALID, LoginState

BAC_NINH = "24"


async def officer(db, external_id: str = "1") -> int:
    user, _ = await find_or_create_person(db, "telegram", external_id)
    await roles.grant(db, user.id, Role.PROVINCE_OFFICER, BAC_NINH)
    return user.id


async def test_a_link_opens_one_session_once_and_only_in_time(sessions):
    now = utcnow()
    async with sessions() as db, db.begin():
        user = await officer(db)
        token = await web_sessions.issue_login(db, user, now)
        late = await web_sessions.issue_login(db, user, now)
        stored = (await db.scalars(select(DashboardLogin.token_hash))).all()
        assert token not in stored and web_sessions.token_hash(token) in stored  # only the hash
    async with sessions() as db, db.begin():
        # Reading the link's state (its page's GET, a preview) leaves it unused.
        assert await web_sessions.login_state(db, token, now) is LoginState.VALID
        assert await web_sessions.login_state(db, token, now) is LoginState.VALID
        opened = await web_sessions.redeem_login(db, token, now)
        assert opened.state is LoginState.VALID and opened.user_id == user and opened.session_token
        again = await web_sessions.redeem_login(db, token, now)
        assert again.state is LoginState.USED and again.session_token is None
        expired = await web_sessions.redeem_login(db, late, now + LOGIN_VALID)
        assert expired.state is LoginState.EXPIRED
        assert (await web_sessions.redeem_login(db, "made-up", now)).state is LoginState.UNKNOWN
        assert await web_sessions.session_user(db, opened.session_token, now) == user


async def test_two_presses_at_once_open_one_session(sessions):
    now = utcnow()
    async with sessions() as db, db.begin():
        token = await web_sessions.issue_login(db, await officer(db), now)

    async def press() -> str | None:
        async with sessions() as db, db.begin():
            return (await web_sessions.redeem_login(db, token, now)).session_token

    opened = [s for s in await asyncio.gather(press(), press()) if s]
    assert len(opened) == 1


async def test_a_session_ends_by_logout_idling_or_a_revoked_role(sessions):
    now = utcnow()
    async with sessions() as db, db.begin():
        user = await officer(db)
        first = (await web_sessions.redeem_login(db, await web_sessions.issue_login(db, user, now), now)).session_token
        idle = (await web_sessions.redeem_login(db, await web_sessions.issue_login(db, user, now), now)).session_token
        third = (await web_sessions.redeem_login(db, await web_sessions.issue_login(db, user, now), now)).session_token
    async with sessions() as db, db.begin():
        assert await web_sessions.end_session(db, first, now)
        assert await web_sessions.session_user(db, first, now) is None
        later = now + IDLE_LIMIT - dt.timedelta(minutes=1)
        assert await web_sessions.session_user(db, third, later) == user  # used: its idle clock restarts
        assert await web_sessions.session_user(db, idle, now + IDLE_LIMIT) is None
        assert await web_sessions.session_user(db, idle, now) is None  # ended, not merely idle
    async with sessions() as db, db.begin():
        await roles.revoke(db, user, Role.PROVINCE_OFFICER, BAC_NINH)
        assert await web_sessions.session_user(db, third, later) is None
    async with sessions() as db, db.begin():
        await roles.grant(db, user, Role.PROVINCE_OFFICER, BAC_NINH)
        assert await web_sessions.session_user(db, third, later) is None  # given back: it stays ended


async def test_erasure_deletes_links_sessions_and_feeds(sessions):
    now = utcnow()
    async with sessions() as db, db.begin():
        user = await officer(db)
        session = (
            await web_sessions.redeem_login(db, await web_sessions.issue_login(db, user, now), now)
        ).session_token
        feed = await web_sessions.create_feed(db, user, BAC_NINH, now)
    async with sessions() as db, db.begin():
        await privacy.erase_person(db, user)
    async with sessions() as db, db.begin():
        assert await web_sessions.session_user(db, session, now) is None
        assert await web_sessions.feed_of(db, feed) is None
        assert (await db.scalars(select(DashboardSession))).all() == []
        assert (await db.scalars(select(DashboardLogin))).all() == []


async def test_a_standing_link_until_revoked(sessions):
    now = utcnow()
    async with sessions() as db, db.begin():
        user = await officer(db)
        other = await officer(db, "2")
        token = await web_sessions.create_feed(db, user, BAC_NINH, now)
        (feed,) = await web_sessions.feeds_of(db, user, BAC_NINH)
        assert await web_sessions.feed_of(db, token) == (user, BAC_NINH)
        assert not await web_sessions.revoke_feed(db, other, feed.key, now)  # only its own person
        assert await web_sessions.revoke_feed(db, user, feed.key, now)
        assert await web_sessions.feed_of(db, token) is None
        assert await web_sessions.feeds_of(db, user, BAC_NINH) == []


async def test_who_may_enter(sessions):
    async with sessions() as db, db.begin():
        citizen, _ = await find_or_create_person(db, "telegram", "9")
        volunteer, _ = await find_or_create_person(db, "telegram", "10")
        await roles.grant(db, volunteer.id, Role.VOLUNTEER, "00070")
        assert not await web_sessions.may_enter(db, citizen.id)
        assert not await web_sessions.may_enter(db, volunteer.id)
        assert await web_sessions.may_enter(db, await officer(db, "11"))


async def test_housekeeping_deletes_what_is_past_its_time(sessions):
    now = utcnow()
    async with sessions() as db, db.begin():
        user = await officer(db)
        unused = await web_sessions.issue_login(db, user, now)
        opened = await web_sessions.redeem_login(db, await web_sessions.issue_login(db, user, now), now)
        ended = (await web_sessions.redeem_login(db, await web_sessions.issue_login(db, user, now), now)).session_token
        await web_sessions.end_session(db, ended, now)
    async with sessions() as db, db.begin():
        assert await web_sessions.prune(db, now) == 0  # a day's grace: a used link still says "used"
    for hours in (11, 22):  # the open session kept in use into the next day
        async with sessions() as db, db.begin():
            assert await web_sessions.session_user(db, opened.session_token, now + dt.timedelta(hours=hours)) == user
    async with sessions() as db, db.begin():
        later = now + web_sessions.KEEP_ENDED + dt.timedelta(minutes=11)
        assert await web_sessions.prune(db, later) == 4  # three links and the ended session
        assert await web_sessions.login_state(db, unused, later) is LoginState.UNKNOWN
        assert await web_sessions.session_user(db, opened.session_token, later) == user  # still in use
