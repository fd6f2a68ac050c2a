"""Volunteers through the real engine: joining (invite, approval), logging visits by buttons and by
shorthand, the summary, corrections, deletions, duplicates, permissions, the coordinator's desk."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update

from handlers.types import Kind
from storage.models import (
    AuditEntry,
    CommuneDailyCount,
    RoleGrant,
    Visit,
    VisitRevision,
    Volunteer,
    VolunteerInvite,
)
from tests.harness import NO_BUTTONS, ChatDriver, grant_role
from texts import Join, t

HOAN_KIEM = "00070"  # Phường Hoàn Kiếm, Hà Nội
CUA_NAM = "00082"  # Phường Cửa Nam, Hà Nội
CITIZEN_MENU = ["guide", "faq", "support", "install"]


async def counters(service, commune=HOAN_KIEM) -> dict[str, int]:
    async with service.sessions() as db:
        rows = (await db.scalars(select(CommuneDailyCount).where(CommuneDailyCount.commune_code == commune))).all()
    names = (
        "households_visited",
        "revisits",
        "smartphones_seen",
        "installs_helped",
        "already_installed",
        "no_smartphone",
        "refused",
        "nobody_home",
    )
    return {n: sum(getattr(r, n) for r in rows) for n in names if sum(getattr(r, n) for r in rows)}


def said(service, key: str, **values) -> str:
    return service.content.render(t(key, **values))


async def stored_visits(service) -> list[Visit]:
    async with service.sessions() as db:
        return list((await db.scalars(select(Visit).order_by(Visit.id))).all())


def token_of(chat: ChatDriver, action: str = "save") -> str:
    payload = next(p for p in chat.payloads() if p.startswith(f"vs:{action}:"))
    return payload.split(":")[2]


async def volunteer(service, user_id: str, commune: str = HOAN_KIEM, caps=None) -> ChatDriver:
    await grant_role(service, user_id, "volunteer", commune)
    return ChatDriver(service, user_id=user_id, **({"caps": caps} if caps else {}))


async def save_line(chat: ChatDriver, line: str) -> None:
    await chat.send(line)
    assert chat.keys == ["visit.summary"], (line, chat.keys, chat.text())
    await chat.press(f"vs:save:{token_of(chat)}")
    assert chat.keys == ["visit.saved"], chat.text()


# --- joining ---


async def join_by_invite(service, coordinator: ChatDriver, user_id: str, name: str, phone: str) -> ChatDriver:
    """The coordinator shows the commune's invite; the person opens its link and registers,
    sharing their phone with the contact button."""
    await coordinator.press(f"co:i:{HOAN_KIEM}")
    assert coordinator.keys == ["coordinator.invite_text"]
    async with service.sessions() as db:
        code = (await db.scalars(select(VolunteerInvite.code).where(VolunteerInvite.revoked_at.is_(None)))).one()
    assert code in coordinator.text()
    chat = ChatDriver(service, user_id=user_id)
    await chat.send(f"/start v-{code}")
    assert chat.keys == ["volunteer.ask_name"]
    await chat.send(name)
    assert chat.keys == ["volunteer.ask_phone_button"] and chat.last[0].ask == "contact"
    await chat.send_kind(Kind.CONTACT, contact_phone=phone, contact_is_own=True)
    assert chat.keys == ["volunteer.ask_team"] and chat.last[0].close_ask  # the contact keyboard goes away
    await chat.press("reg:skip")
    assert chat.keys == ["volunteer.welcome"]
    return chat


async def test_invite_register_log_by_buttons_and_save(service):
    await grant_role(service, "900", "coordinator", HOAN_KIEM)
    coordinator = ChatDriver(service, user_id="900")
    await coordinator.send("/start")
    assert "co" in coordinator.payloads() and "guide" in coordinator.payloads()
    await coordinator.press("co")
    assert coordinator.keys == ["coordinator.desk"]
    an = await join_by_invite(service, coordinator, "901", "Nguyễn Văn An", "84912345678")
    assert {"visit", "vl", "vme"} <= set(an.payloads()) and "co" not in an.payloads()
    notices = [s.message.key for s in coordinator.channel.sent if s.chat_id == "900"]
    assert notices[-1] == "volunteer.joined_notice"

    await an.press("visit")
    assert an.keys == ["visit.retry"] or an.keys == ["visit.ask_hamlet_first"]
    await an.send("thon 3")
    assert an.keys == ["visit.ask_household"] and "Thôn 3" in an.text()
    await an.send("số 12")
    assert an.keys == ["visit.ask_outcome"]
    await an.press("vo:helped")
    assert an.keys == ["visit.ask_smartphones"]
    await an.press("vn:smartphones:4")
    assert an.keys == ["visit.ask_installed_now"]
    assert [p for p in an.payloads() if p.startswith("vn:")] == [f"vn:installed_now:{n}" for n in range(1, 5)]
    await an.press("vn:installed_now:3")
    assert an.keys == ["visit.ask_already_installed"]
    assert [p for p in an.payloads() if p.startswith("vn:")] == ["vn:already_installed:0", "vn:already_installed:1"]
    await an.press("vn:already_installed:1")
    assert an.keys == ["visit.summary"]
    summary = an.text()
    assert "Thôn 3" in summary and "12" in summary and "Hoàn Kiếm" in summary
    await an.press(f"vs:save:{token_of(an)}")
    assert an.keys == ["visit.saved"]
    assert "1 hộ" in an.text() and "cài giúp 3 máy" in an.text()

    (visit,) = await stored_visits(service)
    assert (visit.commune_code, visit.hamlet, visit.household, visit.outcome) == (HOAN_KIEM, "Thôn 3", "12", "helped")
    assert (visit.smartphones, visit.installed_now, visit.already_installed) == (4, 3, 1)
    assert await counters(service) == {
        "households_visited": 1,
        "smartphones_seen": 4,
        "installs_helped": 3,
        "already_installed": 1,
    }
    async with service.sessions() as db:
        row = (await db.scalars(select(Volunteer))).one()
        assert (row.display_name, row.phone, row.team, row.status) == ("Nguyễn Văn An", "+84912345678", "", "active")


async def test_registration_without_invite_waits_for_the_coordinator(service):
    await grant_role(service, "910", "coordinator", HOAN_KIEM)
    coordinator = ChatDriver(service, user_id="910")
    binh = ChatDriver(
        service, user_id="911", channel="plain", caps=NO_BUTTONS
    )  # a messenger without buttons: numbers, typed phone
    await binh.send("/dangky")
    assert binh.keys == ["volunteer.ask_code"]
    await binh.send("1")  # "Không có mã"
    assert binh.keys == ["volunteer.ask_commune"]
    await binh.send("Hoàn Kiếm")
    assert binh.keys == ["volunteer.ask_name"]
    await binh.send("Trần Thị Bình")
    assert binh.keys == ["volunteer.ask_phone_typed"] and binh.last[0].ask is None
    await binh.send("091 234")
    assert binh.keys == ["volunteer.phone_retry_typed"]
    await binh.send("0912.345.679")
    assert binh.keys == ["volunteer.ask_team"]
    await binh.send("Chi đoàn tổ 5")
    assert binh.keys == ["volunteer.pending"] and " phường Hoàn Kiếm, " in binh.text()  # lower case mid-sentence
    await binh.press("reg:skip")  # an old button
    assert binh.keys == ["access.pending"] and " phường Hoàn Kiếm, " in binh.text()

    request = [s.message for s in coordinator.channel.sent if s.chat_id == "910"][-1]
    assert (
        request.key == "volunteer.approval_request"
        and "Trần Thị Bình" in request.text
        and "0912 345 679" in request.text
    )
    approve = coordinator.payloads(request)[0]
    assert approve.startswith("vr:ok:")

    await binh.send("/ghinhan")  # still pending: refused, saying why
    assert binh.keys == ["access.pending"]

    await coordinator.press(approve)
    assert coordinator.keys == ["coordinator.approved"]
    assert binh.channel.sent[-1].message.key == "volunteer.approved_notice" and binh.channel.sent[-1].chat_id == "911"
    await coordinator.press(approve)  # a second tap, or a second coordinator
    assert coordinator.keys == ["coordinator.already_decided"]

    await binh.send("to 5 so 7 3 may cai 1 san 2")
    assert binh.keys == ["visit.summary"]
    await binh.send("1")  # the numbered [Lưu]
    assert binh.keys == ["visit.saved"]


async def test_coordinator_refuses_a_registration(service):
    await grant_role(service, "915", "coordinator", HOAN_KIEM)
    coordinator = ChatDriver(service, user_id="915")
    cuong = ChatDriver(service, user_id="916")
    await cuong.press("reg:nocode")
    await cuong.send("Hoàn Kiếm")
    await cuong.send("Cường")
    await cuong.send("0987654321")
    await cuong.press("reg:skip")
    assert cuong.keys == ["volunteer.pending"]
    await coordinator.press(f"co:p:{HOAN_KIEM}")
    assert coordinator.keys == ["coordinator.pending"] and " phường Hoàn Kiếm, " in coordinator.text()
    refuse = next(p for p in coordinator.payloads() if p.startswith("vr:no:"))
    await coordinator.press(refuse)
    assert coordinator.keys == ["coordinator.refused"]
    await cuong.press("visit")
    assert cuong.keys == ["access.no_role_volunteer"]


async def test_expired_and_revoked_invites(service):
    await grant_role(service, "920", "coordinator", HOAN_KIEM)
    coordinator = ChatDriver(service, user_id="920")
    await coordinator.press(f"co:i:{HOAN_KIEM}")
    async with service.sessions() as db:
        old = (await db.scalars(select(VolunteerInvite.code))).one()
    await coordinator.press(f"co:i:{HOAN_KIEM}:new")
    async with service.sessions() as db:
        new = (await db.scalars(select(VolunteerInvite.code).where(VolunteerInvite.revoked_at.is_(None)))).one()
    assert new != old
    dung = ChatDriver(service, user_id="921")
    await dung.send(f"/start v-{old}")
    assert dung.keys == ["volunteer.code_revoked"]
    await dung.send("/dangky nope1234")
    assert dung.keys == ["volunteer.code_unknown"]
    async with service.sessions() as db, db.begin():
        await db.execute(update(VolunteerInvite).values(expires_at=dt.datetime(2021, 1, 1, tzinfo=dt.UTC)))
    await dung.send(f"/dangky {new.lower()}")  # codes are read case-insensitively
    assert dung.keys == ["volunteer.code_expired"]
    await coordinator.press(f"co:i:{HOAN_KIEM}:x")
    assert coordinator.keys == ["coordinator.invite_revoked"]


# --- shorthand ---

EXAMPLES = [
    ("thôn 3, số 12, 4 máy, cài 3, có sẵn 1", ("Thôn 3", "12", "helped", 4, 3, 1)),
    ("Ấp Phú Hòa - nhà ông Ba - 2 may - cai 2", ("Ấp Phú Hòa", "nhà ông Ba", "helped", 2, 2, 0)),
    ("to 5 so 7 3 may cai 1 san 2", ("Tổ dân phố 5", "7", "helped", 3, 1, 2)),
    ("xóm Đình, không có máy", ("Xóm Đình", "", "no_smartphone", 0, 0, 0)),
    ("tổ 2 số 9 vắng nhà", ("Tổ dân phố 2", "9", "nobody_home", 0, 0, 0)),
]


@pytest.mark.parametrize("line,expected", EXAMPLES)
async def test_each_shorthand_example_is_echoed_and_saved(service, line, expected):
    chat = await volunteer(service, "930")
    await save_line(chat, line)
    (visit,) = await stored_visits(service)
    got = (
        visit.hamlet,
        visit.household,
        visit.outcome,
        visit.smartphones,
        visit.installed_now,
        visit.already_installed,
    )
    assert got == expected


async def test_shorthand_asks_only_what_is_missing(service):
    chat = await volunteer(service, "931")
    await chat.send("thôn 3 số 5 2 máy")  # no outcome: asked, then the counts that depend on it
    assert chat.keys == ["visit.ask_outcome"]
    await chat.press("vo:refused")
    assert chat.keys == ["visit.summary"]  # refused with 2 phones: nothing had it (not written = none)
    await chat.press(f"vs:save:{token_of(chat)}")
    (visit,) = await stored_visits(service)
    assert (visit.outcome, visit.smartphones, visit.installed_now, visit.already_installed) == ("refused", 2, 0, 0)


async def test_shorthand_that_does_not_add_up_says_why_and_asks_again(service):
    chat = await volunteer(service, "932")
    await chat.send("thôn 3, 2 máy, cài 5")
    assert chat.keys == ["visit.retry"]
    assert "5" in chat.text() and "2" in chat.text()
    assert [p for p in chat.payloads() if p.startswith("vn:")][:2] == ["vn:installed_now:1", "vn:installed_now:2"]
    await chat.send("25")
    assert chat.keys == ["visit.retry"] and "20" in chat.text()
    await chat.send("hai")
    assert chat.keys == ["visit.retry"]
    await chat.send("2")
    assert chat.keys == ["visit.summary"]


async def test_unclear_shorthand_is_not_guessed(service):
    chat = await volunteer(service, "933")
    await chat.send("thôn 3 số 12 4 mays cai 3")
    assert chat.keys == ["visit.line_unclear"]
    assert "mays" in chat.text()
    assert await stored_visits(service) == []


async def test_several_lines_in_one_message_give_a_summary_each(service):
    chat = await volunteer(service, "934")
    await chat.send("thôn 3 số 1 vắng nhà\nthôn 3 số 2 2 máy cài 2\nthôn 3 số 3 2 máy")
    assert chat.keys == ["visit.summary", "visit.summary", "visit.line_incomplete"]
    tokens = [p.split(":")[2] for p in chat.payloads() if p.startswith("vs:save:")]
    assert len(tokens) == 2
    for token in reversed(tokens):  # either summary can be saved, in any order
        await chat.press(f"vs:save:{token}")
        assert chat.keys == ["visit.saved"]
    assert [v.household for v in await stored_visits(service)] == ["2", "1"]


async def test_citizen_questions_still_reach_the_faq_for_volunteers(service):
    chat = await volunteer(service, "935")
    await chat.send("không cài được thì sao")
    assert chat.keys != ["visit.summary"] and chat.keys[0].startswith(("faq.", "install.", "guide.", "menu."))


async def test_syntax_help(service):
    chat = await volunteer(service, "936")
    await chat.send("/cuphap")
    assert chat.keys == ["visit.syntax"]
    for line, _ in EXAMPLES:
        assert line in chat.text()


# --- the summary: double taps, cancel, edit, location ---


async def test_double_tap_on_save_stores_one_visit(service):
    chat = await volunteer(service, "940")
    await chat.send("thôn 1 số 4 3 máy cài 3")
    token = token_of(chat)
    await chat.press(f"vs:save:{token}")
    await chat.press(f"vs:save:{token}")
    assert chat.keys == ["visit.already_saved"]
    assert len(await stored_visits(service)) == 1
    assert (await counters(service))["installs_helped"] == 3


async def test_cancel_and_edit_from_the_summary(service):
    chat = await volunteer(service, "941")
    await chat.send("thôn 1 số 4 3 máy cài 3")
    token = token_of(chat)
    await chat.press(f"vs:edit:{token}")
    assert chat.keys == ["visit.edit_which"]
    await chat.press(f"ve:{token}:hamlet")
    assert chat.keys == ["visit.ask_hamlet_first"]  # no visit saved in the commune yet: typed
    await chat.send("thôn 2")
    assert chat.keys == ["visit.summary"] and token_of(chat) == token
    assert "Thôn 2" in chat.text()
    await chat.press(f"vs:cancel:{token}")
    assert chat.keys == ["visit.cancelled"]
    await chat.press(f"vs:save:{token}")
    assert chat.keys == ["visit.draft_expired"]
    assert await stored_visits(service) == []


async def test_location_is_added_and_rounded(service):
    chat = await volunteer(service, "942")
    await chat.send("thôn 1 số 8 vắng nhà")
    token = token_of(chat)
    await chat.press(f"vs:loc:{token}")
    assert chat.keys == ["visit.ask_location"] and chat.last[0].ask == "location"
    await chat.send_location(21.028511, 105.854167)
    assert chat.keys == ["visit.location_saved", "visit.summary"]
    assert chat.last[0].close_ask and not chat.last[1].close_ask
    assert f"vs:loc:{token}" not in chat.payloads()
    await chat.press(f"vs:save:{token}")
    (visit,) = await stored_visits(service)
    assert (visit.latitude, visit.longitude) == (21.029, 105.854)


# --- duplicates, corrections, deletions ---


async def test_duplicate_household_asks_whether_it_is_a_return_visit(service):
    first = await volunteer(service, "950")
    async with service.sessions() as db, db.begin():
        db.add(
            Volunteer(
                user_id=(await db.scalar(select(RoleGrant.user_id))),
                commune_code=HOAN_KIEM,
                display_name="Lê Văn Cường",
                phone="+84900000001",
                team="",
                status="active",
            )
        )
    await save_line(first, "thôn 3, số 12, vắng nhà")
    second = await volunteer(service, "951")
    await second.send("Thon 3 so 12 3 may cai 2 co san 1")
    assert second.keys == ["visit.summary"]
    assert "Lê Văn Cường" in second.text()
    token = token_of(second, "save")
    assert f"vs:save:{token}:r" in second.payloads() and f"vs:save:{token}:n" in second.payloads()
    await second.press(f"vs:save:{token}:r")
    assert second.keys == ["visit.saved_revisit"]
    first_visit, revisit = await stored_visits(service)
    assert revisit.revisit_of == first_visit.id and revisit.base_outcome == "nobody_home"
    assert await counters(service) == {
        "households_visited": 1,
        "revisits": 1,
        "smartphones_seen": 3,
        "installs_helped": 2,
        "already_installed": 1,
    }  # nobody_home +1 then -1: the household is no longer waiting


async def test_a_different_household_is_told_apart_by_its_house_reference(service):
    """A household is its commune, hamlet and house reference: "another household" asks for a
    reference that tells the two apart, and only then saves a new household."""
    chat = await volunteer(service, "952")
    await save_line(chat, "thôn 3 số 12 vắng nhà")
    await chat.send("thôn 3 số 12 không có máy")
    await chat.press(f"vs:save:{token_of(chat)}:n")
    assert chat.keys == ["visit.retry"] and said(service, "visit.reason.other_household") in chat.text()
    await chat.send("12A")
    assert chat.keys == ["visit.summary"] and not any(p.endswith(":r") for p in chat.payloads())
    await chat.press(f"vs:save:{token_of(chat)}")
    assert chat.keys == ["visit.saved"]
    assert await counters(service) == {"households_visited": 2, "nobody_home": 1, "no_smartphone": 1}


async def test_a_line_sent_again_as_a_return_visit_asks_only_what_changed(service):
    """The same line sent twice, the second accepted as a return visit: the record (4 phones, 3
    with the app) is shown, only the installs of this visit are asked (at most 1), and the
    household never shows more installs than phones."""
    await grant_role(service, "953", "coordinator", HOAN_KIEM)
    chat = await volunteer(service, "954")
    await save_line(chat, "thon 3 so 12 4 may cai 3")
    await chat.send("thon 3 so 12 4 may cai 3")
    assert chat.keys == ["visit.summary"]
    await chat.press(f"vs:save:{token_of(chat)}:r")
    assert chat.keys == ["visit.revisit_intro", "visit.retry"]
    assert said(service, "visit.reason.revisit_room", number=3, smartphones=4, covered=3, room=1) in chat.text()
    assert [p for p in chat.payloads() if p.startswith("vn:")] == ["vn:installed_now:1"]
    await chat.press("vn:installed_now:1")
    assert chat.keys == ["visit.summary"] and said(service, "visit.summary_revisit") in chat.text()
    assert said(service, "visit.revisit_record", smartphones=4, covered=3) in chat.text()
    await chat.press(f"vs:save:{token_of(chat)}")
    assert chat.keys == ["visit.saved_revisit"]
    first, revisit = await stored_visits(service)
    assert revisit.revisit_of == first.id
    assert (revisit.smartphones, revisit.installed_now, revisit.already_installed) == (4, 1, 3)
    assert await counters(service) == {
        "households_visited": 1,
        "revisits": 1,
        "smartphones_seen": 4,
        "installs_helped": 4,
    }
    # A third time: every phone has the app, so "helped" cannot be; the outcome is asked again.
    await chat.send("thon 3 so 12 4 may cai 1")
    await chat.press(f"vs:save:{token_of(chat)}:r")
    assert chat.keys == ["visit.revisit_intro", "visit.retry"]
    full = said(service, "visit.reason.revisit_full", smartphones=4, covered=4, outcome=t("visit.outcome.helped"))
    assert full in chat.text()
    await chat.press("vo:already")
    assert chat.keys == ["visit.summary"]
    await chat.press(f"vs:save:{token_of(chat)}")
    assert chat.keys == ["visit.saved_revisit"]
    assert (await counters(service))["installs_helped"] == 4
    coordinator = ChatDriver(service, user_id="953")
    await coordinator.press(f"co:h:{HOAN_KIEM}")
    line = dict(hamlet="Thôn 3", households=1, helped=1, installs=4, no_smartphone=0, refused=0, nobody_home=0)
    assert said(service, "coordinator.hamlet_line", **line, revisit="") in coordinator.text()


async def test_a_correction_cannot_overfill_a_household(service):
    chat = await volunteer(service, "955")
    await save_line(chat, "thon 3 so 12 4 may cai 3")
    await chat.send("thon 3 so 12 4 may cai 1")
    await chat.press(f"vs:save:{token_of(chat)}:r")
    assert chat.keys == ["visit.summary"]  # it fits; the phones with the app are filled in from the record
    await chat.press(f"vs:save:{token_of(chat)}")
    assert chat.keys == ["visit.saved_revisit"]
    first, _ = await stored_visits(service)
    await chat.press(f"vc:{first.id}")
    token = chat.payloads()[0].split(":")[1]
    await chat.press(f"ve:{token}:result")
    await chat.press("vo:helped")
    await chat.press("vn:smartphones:4")
    await chat.press("vn:installed_now:4")
    await chat.press(f"vs:save:{token}")
    assert chat.keys == ["visit.reason.correction_over_household", "visit.edit_which_correction"]
    assert [v.installed_now for v in await stored_visits(service)] == [3, 1]
    assert (await counters(service))["installs_helped"] == 4


async def test_correction_keeps_history_and_moves_the_counts(service):
    chat = await volunteer(service, "960")
    await save_line(chat, "thôn 3, số 12, 4 máy, cài 3, có sẵn 1")
    (visit,) = await stored_visits(service)
    await chat.press("vl")
    assert chat.keys == ["visit.recent"] and f"vv:{visit.id}" in chat.payloads()
    await chat.press(f"vv:{visit.id}")
    assert chat.keys == ["visit.view"] and f"vc:{visit.id}" in chat.payloads()
    await chat.press(f"vc:{visit.id}")
    assert chat.keys == ["visit.edit_which_correction"]
    token = chat.payloads()[0].split(":")[1]
    await chat.press(f"ve:{token}:result")
    assert chat.keys == ["visit.ask_outcome"]
    await chat.press("vo:helped")
    await chat.press("vn:smartphones:4")
    await chat.press("vn:installed_now:4")
    assert chat.keys == ["visit.summary"] and "Sửa" in chat.text()
    await chat.press(f"vs:save:{token}")
    assert chat.keys == ["visit.corrected"]
    await chat.press(f"vs:save:{token}")
    assert chat.keys == ["visit.already_corrected"]
    (visit,) = await stored_visits(service)
    assert (visit.smartphones, visit.installed_now, visit.already_installed) == (4, 4, 0)
    async with service.sessions() as db:
        (revision,) = (await db.scalars(select(VisitRevision))).all()
    assert (
        revision.action == "corrected"
        and revision.before["installed_now"] == 3
        and revision.after["installed_now"] == 4
    )
    assert await counters(service) == {"households_visited": 1, "smartphones_seen": 4, "installs_helped": 4}
    await chat.press(f"vv:{visit.id}")
    assert "1 lần" in chat.text()


async def test_deletion_within_24_hours_and_not_after(service):
    chat = await volunteer(service, "961")
    await save_line(chat, "thôn 3 số 1 2 máy cài 2")
    await save_line(chat, "thôn 3 số 2 vắng nhà")
    first, second = await stored_visits(service)
    await chat.press(f"vd:{first.id}")
    assert chat.keys == ["visit.delete_ask"]
    await chat.press(f"vd:{first.id}:y")
    assert chat.keys == ["visit.deleted"]
    assert await counters(service) == {"households_visited": 1, "nobody_home": 1}
    await chat.press(f"vd:{first.id}:y")  # twice
    assert chat.keys == ["visit.not_found"]
    async with service.sessions() as db, db.begin():
        await db.execute(
            update(Visit)
            .where(Visit.id == second.id)
            .values(visited_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=25))
        )
    await chat.press(f"vd:{second.id}:y")
    assert chat.keys == ["visit.too_late"]
    await chat.press(f"vc:{second.id}")
    assert chat.keys == ["visit.too_late"]
    async with service.sessions() as db:
        rows = (await db.scalars(select(Visit).order_by(Visit.id))).all()
        assert rows[0].deleted_at is not None and rows[1].deleted_at is None
        assert [r.action for r in (await db.scalars(select(VisitRevision))).all()] == ["deleted"]


async def test_a_visit_with_a_return_visit_cannot_be_deleted(service):
    chat = await volunteer(service, "962")
    await save_line(chat, "thôn 3 số 1 vắng nhà")
    await chat.send("thôn 3 số 1 2 máy cài 2")
    await chat.press(f"vs:save:{token_of(chat)}:r")
    first, _ = await stored_visits(service)
    await chat.press(f"vd:{first.id}:y")
    assert chat.keys == ["visit.delete_has_revisit"]


# --- permissions ---


async def test_a_citizen_cannot_reach_volunteer_actions(service):
    citizen = ChatDriver(service, user_id="970")
    await citizen.send("/start")
    assert citizen.payloads() == CITIZEN_MENU
    for payload in ["visit", f"visit:c:{HOAN_KIEM}", "vl", "vme"]:
        await citizen.press(payload)
        assert citizen.keys == ["access.no_role_volunteer"], payload
        assert "reg:start" in citizen.payloads()
    await citizen.press(f"co:v:{HOAN_KIEM}:0")
    assert citizen.keys == ["access.no_role"]
    await citizen.press(f"co:h:{HOAN_KIEM}")
    assert citizen.keys == ["access.no_role_volunteer"]
    await citizen.send("thôn 3, số 12, 4 máy, cài 3")
    assert citizen.keys == ["access.no_role_volunteer"]
    assert await stored_visits(service) == []


async def test_a_volunteer_of_one_commune_cannot_act_for_another(service):
    chat = await volunteer(service, "971", HOAN_KIEM)
    await chat.press(f"visit:c:{CUA_NAM}")
    assert chat.keys == ["access.other_unit"] and "Hoàn Kiếm" in chat.text() and "Cửa Nam" in chat.text()
    await chat.press(f"co:h:{CUA_NAM}")
    assert chat.keys == ["access.other_unit"]
    await chat.press(f"co:h:{HOAN_KIEM}")  # their own commune's summary is theirs to read
    assert chat.keys == ["coordinator.hamlets_none"]
    await chat.press(f"co:v:{HOAN_KIEM}:0")  # but the coordinator's list is not
    assert chat.keys == ["access.too_low"]
    await chat.press("co")
    assert chat.keys == ["access.too_low"]


async def test_a_deactivated_volunteer_keeps_their_visits_but_cannot_log(service):
    await grant_role(service, "980", "coordinator", HOAN_KIEM)
    coordinator = ChatDriver(service, user_id="980")
    em = await join_by_invite(service, coordinator, "981", "Em", "+84912000111")
    await save_line(em, "thôn 1 số 1 1 máy cài 1")
    await coordinator.press(f"co:v:{HOAN_KIEM}:0")
    assert coordinator.keys == ["coordinator.volunteer_list"]
    assert "0912 000 111" in coordinator.text() and "1 hộ" in coordinator.text()
    off = next(p for p in coordinator.payloads() if p.startswith("co:off:"))
    await coordinator.press(off)
    assert coordinator.keys == ["coordinator.deactivate_ask"]
    await coordinator.press(f"{off}:y")
    assert coordinator.keys == ["coordinator.deactivated"]
    assert em.channel.sent[-1].message.key == "volunteer.deactivated_notice"
    await em.press("visit")
    assert em.keys == ["access.ended"]
    await em.send("/start")
    assert em.payloads() == CITIZEN_MENU
    assert len(await stored_visits(service)) == 1
    await coordinator.press(off.replace("off", "on"))
    assert coordinator.keys == ["coordinator.reactivated"]
    await em.press("visit")
    assert em.keys == ["visit.ask_hamlet"]


async def test_province_officer_covers_the_province_communes(service):
    await grant_role(service, "990", "province_officer", "01")
    officer = ChatDriver(service, user_id="990")
    await officer.press("co")
    assert officer.keys == ["coordinator.ask_commune"]
    await officer.send("Cửa Nam")
    assert officer.keys == ["coordinator.desk"]
    await officer.press(f"co:h:{CUA_NAM}")
    assert officer.keys == ["coordinator.hamlets_none"]
    await officer.press("co:c:26743")  # Phường Bến Thành, Hồ Chí Minh City: another province
    assert officer.keys == ["access.other_unit"] and "Hà Nội" in officer.text()


# --- the volunteer's totals, the coordinator's per-hamlet summary ---


async def test_me_totals_and_rank(service):
    a = await volunteer(service, "1000")
    b = await volunteer(service, "1001")
    await save_line(a, "thôn 1 số 1 2 máy cài 2")
    await save_line(b, "thôn 1 số 2 1 máy cài 1")
    await save_line(b, "thôn 1 số 3 vắng nhà")
    await a.press("vme")
    assert a.keys == ["volunteer.me"]
    assert "2/2" in a.text()  # second by households
    await b.send("/toi")
    assert "1/2" in b.text()


async def test_hamlet_summary_lists_households_to_revisit(service):
    await grant_role(service, "1010", "coordinator", HOAN_KIEM)
    coordinator = ChatDriver(service, user_id="1010")
    chat = await volunteer(service, "1011")
    for line in [
        "thôn 3 số 1 2 máy cài 2",
        "thôn 3 số 2 vắng nhà",
        "thôn 3 số 3 từ chối 2 máy",
        "thôn 3 số 4 không có máy",
        "tổ 5 số 9 vắng nhà",
        "tổ 5 số 10 vắng nhà",
    ]:
        await save_line(chat, line)
    await chat.send("tổ 5 số 9 1 máy cài 1")
    await chat.press(f"vs:save:{token_of(chat)}:r")
    await coordinator.press(f"co:h:{HOAN_KIEM}")
    assert coordinator.keys == ["coordinator.hamlet_summary"]
    text = coordinator.text()
    assert (
        "Thôn 3: 4 hộ đã thăm · 1 hộ được cài giúp (2 máy) · 1 hộ không có máy · 1 hộ từ chối · 1 hộ vắng nhà" in text
    )
    assert (
        "Tổ dân phố 5: 2 hộ đã thăm · 1 hộ được cài giúp (1 máy) · 0 hộ không có máy · 0 hộ từ chối · 1 hộ vắng nhà"
        in text
    )
    assert (
        said(service, "coordinator.hamlet_revisit", households=said(service, "visit.house_number", number="10")) in text
    )


async def test_hamlet_names_and_households_read_as_written(service):
    """An unaccented spelling joins the accented hamlet and keeps its name; names that differ only
    in their accents stay apart; a description keeps its word; a house number reads "số 5"."""
    await grant_role(service, "1015", "coordinator", HOAN_KIEM)
    coordinator = ChatDriver(service, user_id="1015")
    chat = await volunteer(service, "1016")
    await save_line(chat, "ấp Phú Hòa số 5 vắng nhà")
    await chat.send("ap phu hoa, nha canh cho, vang nha")
    assert chat.keys == ["visit.summary"] and "Ấp Phú Hòa" in chat.text() and "nha canh cho" in chat.text()
    await chat.press(f"vs:save:{token_of(chat)}")
    await save_line(chat, "thôn Đông số 1 vắng nhà")
    await save_line(chat, "thôn Động số 1 vắng nhà")
    await chat.send("thon dong so 1 vang nha")  # matches both without accents: neither is guessed
    assert chat.keys == ["visit.summary"] and "vs:save:" + token_of(chat) in chat.payloads()
    assert not any(p.endswith(":r") for p in chat.payloads())
    assert [v.hamlet for v in await stored_visits(service)] == ["Ấp Phú Hòa"] * 2 + ["Thôn Đông", "Thôn Động"]
    await coordinator.press(f"co:h:{HOAN_KIEM}")
    text = coordinator.text()
    both = Join((t("visit.house_number", number="5"), "nha canh cho"), ", ")
    assert said(service, "coordinator.hamlet_revisit", households=both) in text
    assert "Ấp Phú Hòa: 2" in text and "Ấp Phu Hoa" not in text
    assert "Thôn Đông: 1" in text and "Thôn Động: 1" in text


async def test_menu_entries_follow_roles(service):
    chat = await volunteer(service, "1020")
    await chat.send("/start")
    assert chat.payloads() == CITIZEN_MENU + ["visit", "vl", "vme"]
    await grant_role(service, "1020", "coordinator", HOAN_KIEM)
    await chat.send("/menu")
    assert chat.payloads() == CITIZEN_MENU + ["visit", "vl", "vme", "co", "tk", "ann", "web"]
    async with service.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(RoleGrant)) == 2


async def test_two_taps_handled_by_two_workers_at_once_store_one_visit(service, database):
    """[Lưu] tapped twice quickly, the two updates served by two worker processes at the same time
    (two services, two connection pools, one PostgreSQL database)."""
    if database["schema"] is None:
        pytest.skip("one SQLite file has one writer at a time; the race needs PostgreSQL")
    import asyncio

    from bot.service import Service
    from handlers.types import Incoming
    from storage.db import create_engine

    chat = await volunteer(service, "945")
    await chat.send("thôn 1 số 4 3 máy cài 3")
    token = token_of(chat)
    engine = create_engine(database["url"], schema=database["schema"])
    other = Service(service.settings, db_engine=engine)
    other.capabilities.update(service.capabilities)
    try:
        taps = [
            Incoming(
                channel="test",
                user_id="945",
                chat_id="945",
                update_id=f"tap-{n}",
                kind=Kind.BUTTON,
                payload=f"vs:save:{token}",
                message_ref="42",
            )
            for n in (1, 2)
        ]
        results = await asyncio.gather(service.engine.handle(taps[0]), other.engine.handle(taps[1]))
        assert all(results)
    finally:
        await other.stop()
        await engine.dispose()
    assert len(await stored_visits(service)) == 1
    assert (await counters(service))["installs_helped"] == 3
    async with service.sessions() as db:
        from storage.models import OutboxMessage

        keys = sorted(
            b["key"]
            for b in (
                await db.scalars(select(OutboxMessage.body).where(OutboxMessage.update_id.in_(["tap-1", "tap-2"])))
            ).all()
        )
    assert keys == ["visit.already_saved", "visit.saved"]


async def test_other_messages_at_a_summary_are_answered_and_the_summary_still_saves(service):
    chat = await volunteer(service, "946")
    await chat.send("thôn 1 số 5 2 máy cài 1")
    token = token_of(chat)
    await chat.send("het pin thi sao")
    assert chat.keys == ["faq.answer"]
    await chat.press(f"vs:save:{token}")
    assert chat.keys == ["visit.saved"]


async def test_two_coordinators_deciding_at_once_decide_once(service, database):
    if database["schema"] is None:
        pytest.skip("the race needs PostgreSQL")
    import asyncio

    from bot.service import Service
    from handlers.types import Incoming
    from storage.db import create_engine

    await grant_role(service, "1030", "coordinator", HOAN_KIEM)
    await grant_role(service, "1031", "coordinator", HOAN_KIEM)
    hanh = ChatDriver(service, user_id="1032")
    await hanh.press("reg:nocode")
    await hanh.send("Hoàn Kiếm")
    await hanh.send("Hạnh")
    await hanh.send("0912000222")
    await hanh.press("reg:skip")
    async with service.sessions() as db:
        registration = (await db.scalars(select(Volunteer))).one()
    engine = create_engine(database["url"], schema=database["schema"])
    other = Service(service.settings, db_engine=engine)
    other.capabilities.update(service.capabilities)
    try:
        presses = [
            Incoming(
                channel="test",
                user_id=who,
                chat_id=who,
                update_id=f"decide-{who}",
                kind=Kind.BUTTON,
                payload=f"vr:{verdict}:{registration.id}",
            )
            for who, verdict in (("1030", "ok"), ("1031", "no"))
        ]
        await asyncio.gather(service.engine.handle(presses[0]), other.engine.handle(presses[1]))
    finally:
        await other.stop()
        await engine.dispose()
    async with service.sessions() as db:
        from storage.models import OutboxMessage

        keys = sorted(
            b["key"]
            for b in (
                await db.scalars(
                    select(OutboxMessage.body).where(OutboxMessage.update_id.in_(["decide-1030", "decide-1031"]))
                )
            ).all()
        )
        status = (await db.scalars(select(Volunteer.status))).one()
        grants = (await db.scalars(select(RoleGrant).where(RoleGrant.role == "volunteer"))).all()
    assert "coordinator.already_decided" in keys and len(keys) == 2
    assert (status == "active") == (len(grants) == 1) and status in ("active", "refused")


async def test_without_buttons_numbers_are_answers_not_menu_choices(service):
    await grant_role(service, "1040", "volunteer", HOAN_KIEM, channel="plain")
    chat = ChatDriver(service, user_id="1040", channel="plain", caps=NO_BUTTONS)
    await chat.send("/ghinhan")
    await chat.send("Thôn 7")
    assert chat.keys == ["visit.ask_household_typed"] and "1. " not in chat.text()  # no numbered menu
    await chat.send("1")  # house number 1, not "the first choice"
    assert chat.keys == ["visit.ask_outcome"]
    await chat.send("5")  # the fifth outcome: nobody home
    await chat.send("1")  # [Lưu]
    await chat.send("/ghinhan")
    await chat.send("1")  # the hamlet offered first: Thôn 7
    await chat.send("bỏ qua")
    await chat.send("1")  # helped
    assert chat.keys == ["visit.ask_smartphones"] and "1. " not in chat.text()
    await chat.send("1")
    assert chat.keys == ["visit.summary"]
    await chat.send("1")
    assert [(v.hamlet, v.household, v.outcome) for v in await stored_visits(service)] == [
        ("Thôn 7", "1", "nobody_home"),
        ("Thôn 7", "", "helped"),
    ]


async def test_a_retried_update_stores_nothing_twice(service):
    """The same update delivered again (a webhook retry): the engine answers it from the outbox."""
    from handlers.types import Incoming

    chat = await volunteer(service, "1050")
    await chat.send("thôn 2 số 8 2 máy cài 2")
    tap = Incoming(
        channel="test",
        user_id="1050",
        chat_id="1050",
        update_id="retried-save",
        kind=Kind.BUTTON,
        payload=f"vs:save:{token_of(chat)}",
        message_ref="42",
    )
    first = await chat.deliver(tap)
    again = await chat.deliver(tap)
    assert [m.key for m in first] == ["visit.saved"] and again == []
    assert len(await stored_visits(service)) == 1 and (await counters(service))["installs_helped"] == 2


async def test_every_visit_of_the_day_can_be_reached_and_corrected(service):
    """Twelve visits: the list pages through all of them, and the oldest (ninth from the top and
    beyond) opens with its correct and delete buttons."""
    chat = await volunteer(service, "1045")
    for n in range(1, 13):
        await save_line(chat, f"thôn 3 số {n} vắng nhà")
    first = (await stored_visits(service))[0]
    seen: list[str] = []
    await chat.press("vl")
    for page in range(1, 10):
        assert chat.keys == ["visit.recent"]
        seen += [p for p in chat.payloads() if p.startswith("vv:")]
        if f"vl:{page}" not in chat.payloads():
            break
        await chat.press(f"vl:{page}")
    assert len(seen) == len(set(seen)) == 12
    assert seen[-1] == f"vv:{first.id}"
    await chat.press(seen[-1])
    assert chat.keys == ["visit.view"] and f"vc:{first.id}" in chat.payloads()
    await chat.press("vl:99")  # a page past the end: the last one
    assert chat.keys == ["visit.recent"] and seen[-1] in chat.payloads()


async def test_paging_my_visits_by_numbers_without_buttons(service):
    await grant_role(service, "1046", "volunteer", HOAN_KIEM, channel="plain")
    chat = ChatDriver(service, user_id="1046", channel="plain", caps=NO_BUTTONS)
    for n in range(1, 8):
        await chat.send(f"thôn 3 số {n} vắng nhà")
        await chat.send("1")  # [Lưu]
        assert chat.keys == ["visit.saved"]
    await chat.send("/luotham")
    assert chat.keys == ["visit.recent"]
    choices = chat.text().splitlines()
    next_number = next(line.split(".")[0] for line in choices if service.content.render(t("common.next")) in line)
    await chat.send(next_number)
    assert chat.keys == ["visit.recent"]
    assert said(service, "visit.house_number", number="2") in chat.text()  # the 6th and 7th latest: số 2, số 1


async def test_coordinator_merges_and_renames_hamlets(service):
    """Two spellings of one hamlet (the first typed without accents) merged by the coordinator,
    with a confirmation: one hamlet, every household kept once, the counters unchanged, an audit
    entry; then a rename."""
    await grant_role(service, "1050", "coordinator", HOAN_KIEM)
    coordinator = ChatDriver(service, user_id="1050")
    chat = await volunteer(service, "1051")
    await save_line(chat, "xom dinh so 2 vang nha")
    await save_line(chat, "xóm Đình số 3 2 máy cài 2")
    await save_line(chat, "xóm Đình số 2 vắng nhà")  # the same house under both spellings
    await save_line(chat, "thôn 3 số 1 không có máy")
    before = await counters(service)
    await coordinator.press(f"co:h:{HOAN_KIEM}")
    assert coordinator.keys == ["coordinator.hamlet_summary"] and f"co:hl:{HOAN_KIEM}:0" in coordinator.payloads()
    await coordinator.press(f"co:hl:{HOAN_KIEM}:0")
    assert coordinator.keys == ["coordinator.hamlet_pick"]
    buttons = {b.label: b.payload for row in coordinator.last[0].buttons for b in row}
    unaccented = next(p for label, p in buttons.items() if label.startswith("Xóm Dinh"))
    await coordinator.press(unaccented)
    assert coordinator.keys == ["coordinator.hamlet_ask_name"]
    await coordinator.send("")
    assert coordinator.keys == ["coordinator.hamlet_retry"]
    await coordinator.send("xóm Đình")
    assert coordinator.keys == ["coordinator.hamlet_merge_ask"]
    assert said(service, "coordinator.hamlet_merge_shared", count=1) in coordinator.text()
    await coordinator.press(next(p for p in coordinator.payloads() if p.startswith("co:hr:")))
    assert coordinator.keys == ["coordinator.hamlet_merged"]
    assert [v.hamlet for v in await stored_visits(service)] == ["Xóm Đình"] * 3 + ["Thôn 3"]
    assert await counters(service) == before
    await coordinator.press(f"co:h:{HOAN_KIEM}")
    assert "Xóm Đình: 3" in coordinator.text() and "Xóm Dinh" not in coordinator.text()
    await coordinator.press(unaccented)  # an old button: that hamlet is no more
    assert coordinator.keys == ["coordinator.hamlet_gone"]

    await coordinator.press(f"co:hl:{HOAN_KIEM}:0")
    thon = next(b.payload for row in coordinator.last[0].buttons for b in row if b.label.startswith("Thôn 3"))
    await coordinator.press(thon)
    await coordinator.send("thôn 3")
    assert coordinator.keys == ["coordinator.hamlet_same"]
    await coordinator.send("thon 3")  # its own name without accents: not a new name
    assert coordinator.keys == ["coordinator.hamlet_same"]
    await coordinator.send("thôn Ba")
    assert coordinator.keys == ["coordinator.hamlet_rename_ask"]
    await coordinator.press(next(p for p in coordinator.payloads() if p.startswith("co:hr:")))
    assert coordinator.keys == ["coordinator.hamlet_renamed"]
    assert [v.hamlet for v in await stored_visits(service)][-1] == "Thôn Ba"
    async with service.sessions() as db:
        actions = (await db.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert actions[-2:] == ["hamlet_merged", "hamlet_renamed"]

    # A volunteer of the commune reads the summary but cannot rename.
    await chat.press(f"co:hl:{HOAN_KIEM}:0")
    assert chat.keys != ["coordinator.hamlet_pick"]
