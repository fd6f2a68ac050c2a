"""Roles over units and the one permission check, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from storage import roles, volunteers
from storage.accounts import find_or_create_person
from storage.models import utcnow
from storage.roles import Refusal, Role

HOAN_KIEM, CUA_NAM = "00070", "00082"  # Hà Nội (01)
BEN_THANH = "26743"  # Hồ Chí Minh City (79)


async def person(db, external_id: str) -> int:
    user, _ = await find_or_create_person(db, "telegram", external_id)
    return user.id


async def test_the_hierarchy(sessions):
    async with sessions() as db, db.begin():
        admin, officer, coordinator, volunteer, citizen = [await person(db, str(n)) for n in range(1, 6)]
        await roles.grant(db, admin, Role.ADMIN, "VN")
        await roles.grant(db, officer, Role.PROVINCE_OFFICER, "01")
        await roles.grant(db, coordinator, Role.COORDINATOR, HOAN_KIEM)
        await roles.grant(db, volunteer, Role.VOLUNTEER, HOAN_KIEM)

        async def may(who, role, unit):
            return bool(await roles.check(db, who, role, unit))

        for role in Role:
            for unit in ("VN", "01", "79", HOAN_KIEM, BEN_THANH):
                assert await may(admin, role, unit)
        assert await may(officer, Role.PROVINCE_OFFICER, "01") and await may(officer, Role.COORDINATOR, CUA_NAM)
        assert await may(officer, Role.VOLUNTEER, HOAN_KIEM)
        assert not await may(officer, Role.COORDINATOR, BEN_THANH) and not await may(officer, Role.ADMIN, "01")
        assert not await may(officer, Role.PROVINCE_OFFICER, "VN")
        assert await may(coordinator, Role.COORDINATOR, HOAN_KIEM) and await may(coordinator, Role.VOLUNTEER, HOAN_KIEM)
        assert not await may(coordinator, Role.COORDINATOR, CUA_NAM) and not await may(
            coordinator, Role.PROVINCE_OFFICER, "01"
        )
        assert await may(volunteer, Role.VOLUNTEER, HOAN_KIEM)
        assert not await may(volunteer, Role.VOLUNTEER, CUA_NAM) and not await may(
            volunteer, Role.COORDINATOR, HOAN_KIEM
        )
        for role in Role:
            assert not await may(citizen, role, HOAN_KIEM)


async def test_refusals_say_why(sessions):
    async with sessions() as db, db.begin():
        volunteer, pending, citizen = [await person(db, str(n)) for n in (11, 12, 13)]
        await roles.grant(db, volunteer, Role.VOLUNTEER, HOAN_KIEM)
        other = await roles.check(db, volunteer, Role.VOLUNTEER, CUA_NAM)
        assert (other.allowed, other.refusal, other.units) == (False, Refusal.OTHER_UNIT, (HOAN_KIEM,))
        assert (await roles.check(db, volunteer, Role.COORDINATOR, HOAN_KIEM)).refusal is Refusal.TOO_LOW
        assert (await roles.check(db, volunteer, Role.COORDINATOR, CUA_NAM)).refusal is Refusal.TOO_LOW
        assert await roles.revoke(db, volunteer, Role.VOLUNTEER, HOAN_KIEM)
        assert not await roles.revoke(db, volunteer, Role.VOLUNTEER, HOAN_KIEM)
        assert (await roles.check(db, volunteer, Role.VOLUNTEER, HOAN_KIEM)).refusal is Refusal.ENDED
        await volunteers.register(db, pending, HOAN_KIEM, display_name="P", phone="+84900000000", team="", now=utcnow())
        assert (await roles.check(db, pending, Role.VOLUNTEER, HOAN_KIEM)).refusal is Refusal.PENDING
        assert (await roles.check(db, citizen, Role.VOLUNTEER, HOAN_KIEM)).refusal is Refusal.NO_ROLE


async def test_grant_checks_the_unit_and_is_idempotent(sessions):
    async with sessions() as db, db.begin():
        who = await person(db, "21")
        assert await roles.grant(db, who, Role.COORDINATOR, HOAN_KIEM)
        assert not await roles.grant(db, who, Role.COORDINATOR, HOAN_KIEM)
        for role, unit in [
            (Role.COORDINATOR, "01"),
            (Role.PROVINCE_OFFICER, HOAN_KIEM),
            (Role.ADMIN, "01"),
            (Role.VOLUNTEER, "99999"),
            (Role.PROVINCE_OFFICER, "00"),
            (Role.VOLUNTEER, "x"),
        ]:
            with pytest.raises(ValueError):
                await roles.grant(db, who, role, unit)
        await roles.revoke(db, who, Role.COORDINATOR, HOAN_KIEM)
        assert await roles.grant(db, who, Role.COORDINATOR, HOAN_KIEM)  # granted again: the same row
        assert [(g.role, g.unit_code) for g in await roles.grants_of(db, who, include_revoked=True)] == [
            (Role.COORDINATOR, HOAN_KIEM)
        ]
        assert await roles.holders(db, Role.COORDINATOR, HOAN_KIEM) == [who]
        assert await roles.communes_for(db, who, Role.VOLUNTEER) == [HOAN_KIEM]
        assert await roles.communes_for(db, who, Role.PROVINCE_OFFICER) == []


async def test_a_person_who_never_wrote_is_created_once(sessions):
    async with sessions() as db, db.begin():
        first, created = await find_or_create_person(db, "telegram", "424242")
        again, created_again = await find_or_create_person(db, "telegram", "424242")
        assert created and not created_again and first.id == again.id


async def test_grants_are_read_once_per_transaction_and_again_after_a_change(sessions):
    from sqlalchemy import delete, event

    from storage.models import RoleGrant

    reads = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT") and "FROM role_grants" in statement:
            reads.append(statement)

    engine = sessions.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        async with sessions() as db, db.begin():
            who = await person(db, "21")
            assert not await roles.has_any(db, who)
            assert not await roles.check(db, who, Role.VOLUNTEER, HOAN_KIEM)
            assert len(reads) == 1  # the menu's six questions cost one read
            await roles.grant(db, who, Role.VOLUNTEER, HOAN_KIEM)
            assert await roles.check(db, who, Role.VOLUNTEER, HOAN_KIEM)
            await roles.revoke(db, who, Role.VOLUNTEER, HOAN_KIEM)
            assert (await roles.check(db, who, Role.VOLUNTEER, HOAN_KIEM)).refusal is Refusal.ENDED
            await roles.grant(db, who, Role.VOLUNTEER, HOAN_KIEM)  # granted again: the same row
            assert await roles.check(db, who, Role.VOLUNTEER, HOAN_KIEM)
            await db.execute(delete(RoleGrant).where(RoleGrant.user_id == who))  # erasure
            assert not await roles.has_any(db, who)
            with pytest.raises(RuntimeError):
                async with db.begin_nested():  # a handler that fails after granting
                    await roles.grant(db, who, Role.COORDINATOR, HOAN_KIEM)
                    assert await roles.has_any(db, who, {Role.COORDINATOR})
                    raise RuntimeError
            assert not await roles.has_any(db, who)
        async with sessions() as db, db.begin():
            await roles.grant(db, who, Role.VOLUNTEER, CUA_NAM)
        async with sessions() as db:
            assert await roles.communes_for(db, who, Role.VOLUNTEER) == [CUA_NAM]
            await db.commit()  # the next transaction (of the same session) reads again
            async with sessions() as other, other.begin():
                await roles.revoke(other, who, Role.VOLUNTEER, CUA_NAM)
            assert await roles.communes_for(db, who, Role.VOLUNTEER) == []
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_the_grants_cache_hooks_only_the_bots_sessions():
    # Its listeners belong to the bot's session class: a session of anyone else in the process
    # (alembic's, a test's own) runs no code of ours on every statement.
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from storage import roles
    from storage.db import BotSession

    for name, listener in (("do_orm_execute", roles._on_execute), ("after_transaction_end", roles._on_transaction_end)):
        assert event.contains(BotSession, name, listener)
        assert not event.contains(Session, name, listener)
