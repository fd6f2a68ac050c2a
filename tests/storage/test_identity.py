"""Merging two people into one: every per-person table is re-pointed, nothing is counted twice,
and one-time link codes work once."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from storage.accounts import open_account
from storage.identity import (
    CODE_TTL,
    MAX_FAILURES,
    PERSON_COLUMNS,
    Redeem,
    issue_code,
    merge_people,
    normalize_code,
    redeem_code,
)
from storage.installs import report_install
from storage.models import Account, Base, CommuneDailyCount, LinkCode, SelfReportedInstall, User, utcnow


def test_every_reference_to_a_person_is_in_the_merge_list():
    """A new table with a foreign key to users.id must be added to PERSON_COLUMNS (one line), or
    linking two accounts would leave its rows on a deleted person (or delete them by cascade)."""
    referencing = {
        (table.name, fk.parent.name)
        for table in Base.metadata.sorted_tables
        for fk in table.foreign_keys
        if fk.column.table.name == "users"
    }
    assert referencing <= {(ref.table, ref.column) for ref in PERSON_COLUMNS}
    assert ("check_ins", "visitor") in {(ref.table, ref.column) for ref in PERSON_COLUMNS}  # "u:<id>", not a key


async def _person(db, channel: str, external_id: str):
    account, user, convo = await open_account(db, channel, external_id, external_id)
    return account, user


async def _installs_counted(db) -> int:
    return await db.scalar(select(func.coalesce(func.sum(CommuneDailyCount.self_reported_installs), 0)))


async def test_merge_keeps_the_earlier_install_and_uncounts_the_other(sessions):
    async with sessions() as db, db.begin():
        tg_account, tg = await _person(db, "telegram", "11")
        zl_account, zl = await _person(db, "zalo_oa", "22")
        tg.commune_code = None
        await report_install(db, zl.id, "00070")
        await db.flush()
        earlier = (await db.scalars(select(SelfReportedInstall))).one()
        earlier.reported_at = utcnow() - dt.timedelta(days=3)
        await report_install(db, tg.id, "00004")
        assert await _installs_counted(db) == 2
        survivor = await merge_people(db, survivor_id=tg.id, merged_id=zl.id)
        assert survivor.id == tg.id
    async with sessions() as db:
        (install,) = (await db.scalars(select(SelfReportedInstall))).all()
        assert install.user_id == tg.id and install.commune_code == "00070"  # the earlier one stays
        assert await _installs_counted(db) == 1
        assert {a.user_id for a in (await db.scalars(select(Account))).all()} == {tg.id}
        assert (await db.scalars(select(User.id))).all() == [tg.id]


async def test_merge_moves_the_only_install_and_fills_the_commune(sessions):
    async with sessions() as db, db.begin():
        _, tg = await _person(db, "telegram", "11")
        zl_account, zl = await _person(db, "zalo_bot", "22")
        zl.commune_code = "00070"
        await report_install(db, zl.id, "00070")
        await db.flush()
        await merge_people(db, survivor_id=tg.id, merged_id=zl.id)
        assert zl_account.user_id == tg.id  # objects already loaded see the new person too
    async with sessions() as db:
        assert (await db.get(User, tg.id)).commune_code == "00070"
        assert (await db.scalars(select(SelfReportedInstall.user_id))).all() == [tg.id]
        assert await _installs_counted(db) == 1


async def test_a_code_works_once_and_only_for_a_while(sessions):
    now = utcnow()
    async with sessions() as db, db.begin():
        issuer_account, issuer = await _person(db, "telegram", "1")
        other_account, other = await _person(db, "zalo_oa", "2")
        code = await issue_code(db, issuer.id, now)
        assert len(code) == 8 and code.isdigit()
        assert (await redeem_code(db, code, issuer_account.id, issuer.id, now)).outcome is Redeem.SAME_PERSON
        late = await issue_code(db, issuer.id, now)  # replaces the first one
        assert (await redeem_code(db, late, other_account.id, other.id, now + CODE_TTL)).outcome is Redeem.UNKNOWN
        fresh = await issue_code(db, issuer.id, now)
        result = await redeem_code(db, fresh, other_account.id, other.id, now)
        assert result.outcome is Redeem.LINKED and result.issuer == issuer.id
        assert (await redeem_code(db, fresh, other_account.id, other.id, now)).outcome is Redeem.UNKNOWN


async def test_guessing_is_cut_off(sessions):
    now = utcnow()
    async with sessions() as db, db.begin():
        issuer_account, issuer = await _person(db, "telegram", "1")
        guesser_account, guesser = await _person(db, "zalo_oa", "2")
        code = await issue_code(db, issuer.id, now)
        wrong = f"{(int(code) + 1) % 10**8:08d}"
        for _ in range(MAX_FAILURES):
            assert (await redeem_code(db, wrong, guesser_account.id, guesser.id, now)).outcome is Redeem.UNKNOWN
        assert (await redeem_code(db, code, guesser_account.id, guesser.id, now)).outcome is Redeem.TOO_MANY_TRIES
        later = now + dt.timedelta(hours=1, minutes=1)
        code = await issue_code(db, issuer.id, later)
        assert (await redeem_code(db, code, guesser_account.id, guesser.id, later)).outcome is Redeem.LINKED
        assert await db.scalar(select(func.count()).select_from(LinkCode).where(LinkCode.used_at.is_(None))) == 0


@given(st.integers(0, 10**8 - 1), st.sampled_from(["", " ", "-", "."]))
def test_codes_are_read_with_or_without_separators(number, separator):
    code = f"{number:08d}"
    assert normalize_code(f"{code[:4]}{separator}{code[4:]}") == code
    assert normalize_code(code[:7]) is None and normalize_code(code + "1") is None
    assert normalize_code("１２３４５６７８") is None  # full-width digits are not ASCII digits


async def test_merge_moves_roles_visits_check_ins_and_keeps_one_of_each_once_per_row(sessions):

    from storage import roles, venues, visits
    from storage.models import CheckIn, ReportSubscription, RoleGrant, Visit, Volunteer
    from storage.reports import subscribe

    async with sessions() as db, db.begin():
        _, tele = await _person(db, "telegram", "m1")
        _, zalo = await _person(db, "zalo_oa", "m1")
        now = utcnow()
        for person in (tele, zalo):  # both volunteers of the same commune, both subscribed
            await roles.grant(db, person.id, roles.Role.VOLUNTEER, "00070")
            db.add(
                Volunteer(
                    user_id=person.id, commune_code="00070", display_name="Lan", phone="+84912345678", status="active"
                )
            )
            await subscribe(db, person.id, "00070", 7, now)
        await roles.grant(db, zalo.id, roles.Role.COORDINATOR, "00082")
        venue = await venues.create_venue(
            db, name="Chợ", kind="market", commune_code="00070", address="1", manager_user_id=zalo.id
        )
        await venues.record_check_in(db, venue, f"u:{zalo.id}", "zalo_oa", now)
        data = {
            "commune_code": "00070",
            "hamlet": "Thôn 1",
            "household": "3",
            "outcome": "helped",
            "smartphones": 2,
            "installed_now": 2,
            "already_installed": 0,
        }
        await visits.save_visit(db, visits.new_token(), zalo.id, data, now)
        await flush_and_merge(db, tele.id, zalo.id)
    async with sessions() as db:
        assert {(g.role, g.unit_code) for g in (await db.scalars(select(RoleGrant))).all()} == {
            ("volunteer", "00070"),
            ("coordinator", "00082"),
        }
        assert {g.user_id for g in (await db.scalars(select(RoleGrant))).all()} == {tele.id}
        assert [v.user_id for v in (await db.scalars(select(Volunteer))).all()] == [tele.id]
        assert [s.user_id for s in (await db.scalars(select(ReportSubscription))).all()] == [tele.id]
        assert (await db.scalars(select(CheckIn.visitor))).all() == [f"u:{tele.id}"]
        assert (await db.scalars(select(Visit.volunteer_id))).all() == [tele.id]
        assert (await db.get(User, zalo.id)) is None


async def flush_and_merge(db, survivor, merged):
    await db.flush()
    await merge_people(db, survivor, merged)
