"""Officials through the real engine: /thongke (summary, chart, Excel, drill-down), /capnhat
(official figures), /chitieu (targets), /baocao (daily reports) and /loaphat, with permissions,
every branch of the entries and bad input. The clock is 03/08/2021, the day of the seed letter."""

from __future__ import annotations

import datetime as dt
import io
from fractions import Fraction

import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import select

from storage.figures import record_figure, set_target
from storage.models import OfficialFigure, ReportSubscription, Target
from storage.support_points import import_csv
from tests.harness import NO_BUTTONS, ChatDriver, grant_role
from texts import Divisions, SpokenDate, t

BAC_GIANG = "07210"  # Phường Bắc Giang, province 24 (Bắc Ninh)
AN_LAC = "07654"  # Xã An Lạc, also in 24
BAC_NINH = "24"
HOAN_KIEM = "00070"  # Hà Nội (01)
AUG3 = dt.date(2021, 8, 3)
AUG31 = dt.date(2021, 8, 31)
NOW = dt.datetime(2021, 8, 3, 3, 0, tzinfo=dt.UTC)  # 10:00 in Vietnam
CHART_HEIGHT = 1500  # two sections of bars and four bands, whatever the number of units


@pytest.fixture(autouse=True)
def august_third(monkeypatch):
    """The engine's clock on the day of the seed letter (targets' deadlines must not be past)."""
    monkeypatch.setattr("bot.engine.utcnow", lambda: NOW)


def words(service, key: str, **values) -> str:
    return service.content.render(t(key, **values))


async def official(service, user_id: str, role: str, unit: str, caps=None) -> ChatDriver:
    await grant_role(service, user_id, role, unit)
    return ChatDriver(service, user_id=user_id, **({"caps": caps} if caps else {}))


async def stored(service, model) -> list:
    async with service.sessions() as db:
        return list((await db.scalars(select(model).order_by(model.id))).all())


async def seed_figures(service, target: bool = True) -> None:
    async with service.sessions() as db, db.begin():
        await record_figure(db, BAC_GIANG, AUG3, entered_by=None, source="t", installed=82930, subscribers=174229)
        if target:
            await set_target(db, BAC_NINH, Fraction(3, 5), AUG31, set_by=None, source="t")


async def fill(chat: ChatDriver, date: str = "cn:d:0", installed: str = "5", subscribers: str = "10") -> None:
    """From the date question to the confirmation: each answer a button (cn:...) or typed;
    population and households skipped."""
    for answer in (date, installed, subscribers):
        await (chat.press(answer) if answer.startswith("cn:") else chat.send(answer))
    await chat.press("cn:s:population")
    await chat.press("cn:s:households")
    assert chat.keys == ["official.figures.confirm"], chat.text()


def token(chat: ChatDriver, prefix: str) -> str:
    return next(p for p in chat.payloads() if p.startswith(prefix)).rsplit(":", 1)[1]


# --- /capnhat ------------------------------------------------------------------------------------


async def test_figures_in_a_few_taps_then_the_summary(service):
    chat = await official(service, "501", "coordinator", BAC_GIANG)
    await chat.send("/capnhat")
    assert chat.keys == ["official.figures.ask_date"]  # their only commune, at once
    assert "chính thức của phường Bắc Giang, " in chat.text()  # the kind in lower case mid-sentence
    assert chat.payloads()[:2] == ["cn:d:0", "cn:d:1"]
    await chat.press("cn:d:0")
    assert chat.keys == ["official.figures.ask_installed"]
    await chat.send("82.930")
    assert chat.keys == ["official.figures.ask_subscribers"]
    assert not any(p.startswith("cn:k:") for p in chat.payloads())  # nothing known to keep
    await chat.send("174229")
    assert chat.keys == ["official.figures.ask_population"] and "cn:s:population" in chat.payloads()
    await chat.press("cn:s:population")
    assert chat.keys == ["official.figures.ask_households"]
    await chat.send("bỏ qua")
    assert chat.keys == ["official.figures.confirm"]
    assert "82.930" in chat.text() and "174.229" in chat.text() and "47,59%" in chat.text()
    await chat.press(f"cn:save:{token(chat, 'cn:save:')}")
    assert chat.keys == ["official.figures.saved", "common.lines"]
    assert "47,59%" in chat.text() and "Đã lưu số liệu của phường Bắc Giang, " in chat.text()
    (row,) = await stored(service, OfficialFigure)
    assert (row.unit_code, row.as_of, row.installed, row.subscribers, row.population, row.households) == (
        BAC_GIANG,
        AUG3,
        82930,
        174229,
        None,
        None,
    )
    assert row.source == "chat" and row.entered_by is not None


async def test_kept_values_are_carried_and_bad_counts_asked_again(service):
    async with service.sessions() as db, db.begin():
        await record_figure(
            db,
            BAC_GIANG,
            dt.date(2021, 7, 27),
            entered_by=None,
            source="t",
            installed=75930,
            subscribers=174229,
            population=200000,
            households=50000,
        )
    chat = await official(service, "502", "coordinator", BAC_GIANG)
    await chat.send("/capnhat")
    await chat.send("03/08/2021")
    assert chat.keys == ["official.figures.ask_installed"] and "75.930" in chat.text()  # the last count
    for bad, reason in (
        ("-5", "negative"),
        ("abc", "not_a_number"),
        ("1.5", "not_a_number"),
        ("82,93", "not_a_number"),
        ("999999999999", "too_large"),
        ("giữ nguyên", "installed_required"),
    ):
        await chat.send(bad)
        assert chat.keys == ["official.figures.retry"], bad
        assert words(service, f"official.figures.reason.{reason}", value=999999999999) in chat.text(), bad
    await chat.send("82 930")
    assert chat.keys == ["official.figures.ask_subscribers"] and "cn:k:subscribers" in chat.payloads()
    await chat.press("cn:k:subscribers")
    assert chat.keys == ["official.figures.ask_population"]
    await chat.press("cn:k:subscribers")  # an old button: the open question again
    assert chat.keys == ["official.figures.ask_population"]
    await chat.press("cn:k:population")
    await chat.send("giu nguyen")  # households, typed without accents
    assert chat.keys == ["official.figures.confirm"]
    assert words(service, "official.figures.kept", value=174229) in chat.text()
    await chat.send("xin chào")  # at the confirmation: the buttons are pointed at
    assert chat.keys == ["official.figures.press_save", "official.figures.confirm"]
    await chat.press(f"cn:save:{token(chat, 'cn:save:')}")
    rows = await stored(service, OfficialFigure)
    assert len(rows) == 2
    assert (rows[1].installed, rows[1].subscribers, rows[1].population, rows[1].households) == (82930, None, None, None)
    assert "47,59%" in chat.text()  # the kept subscribers carried into the rate


async def test_installed_above_subscribers_is_confirmed_or_retyped(service):
    chat = await official(service, "503", "coordinator", BAC_GIANG)
    await chat.send("/capnhat")
    await chat.press("cn:d:0")
    await chat.send("200.000")
    await chat.send("174.229")
    assert chat.keys == ["official.figures.doubt_installed_over"]
    assert chat.payloads()[:2] == ["cn:ok", "cn:fix"]
    await chat.press("cn:fix")
    assert chat.keys == ["official.figures.ask_installed"]
    await chat.send("82.930")
    await chat.send("174.229")
    assert chat.keys == ["official.figures.ask_population"]
    await chat.send("1000")
    assert chat.keys == ["official.figures.doubt_installed_over"]  # 82.930 installed among 1.000 people
    await chat.send("900")  # re-typed, still doubtful
    assert chat.keys == ["official.figures.doubt_installed_over"]
    await chat.press("cn:ok")
    assert chat.keys == ["official.figures.ask_households"]
    await chat.send("2.000")
    assert chat.keys == ["official.figures.doubt_households_over"] and "cn:fix" not in chat.payloads()
    await chat.send("300")  # re-typed: answers the same question
    assert chat.keys == ["official.figures.confirm"]
    await chat.press(f"cn:save:{token(chat, 'cn:save:')}")
    (row,) = await stored(service, OfficialFigure)
    assert (row.installed, row.subscribers, row.population, row.households) == (82930, 174229, 900, 300)


async def test_dates_typed_and_refused(service):
    chat = await official(service, "504", "coordinator", BAC_GIANG)
    await chat.send("/capnhat")
    for bad, reason, day in (
        ("04/08/2021", "future", dt.date(2021, 8, 4)),
        ("31/02/2021", "not_a_date", None),
        ("hôm kia", "not_a_date", None),
        ("1/1/19", "too_old", dt.date(2019, 1, 1)),
    ):
        await chat.send(bad)
        assert chat.keys == ["official.figures.retry"], bad
        assert chat.text().startswith(words(service, f"official.figures.reason.{reason}", date=day)), bad
    await fill(chat, date="hom qua", installed="1")
    await chat.press(f"cn:save:{token(chat, 'cn:save:')}")
    (row,) = await stored(service, OfficialFigure)
    assert row.as_of == dt.date(2021, 8, 2)


async def test_saved_once_and_cancel_saves_nothing(service):
    chat = await official(service, "505", "coordinator", BAC_GIANG)
    await chat.send("/capnhat")
    await fill(chat)
    save = f"cn:save:{token(chat, 'cn:save:')}"
    await chat.press(save)
    await chat.press(save)  # a second tap on the same button
    assert chat.keys == ["official.figures.stale"]
    assert len(await stored(service, OfficialFigure)) == 1

    await chat.send("/capnhat")
    await fill(chat, date="hôm nay", installed="6", subscribers="cn:k:subscribers")
    await chat.press(save)  # the first entry's [Lưu]: this one is not saved, and stays open
    assert chat.keys == ["official.figures.stale_open", "official.figures.confirm"]
    cancel = f"cn:no:{token(chat, 'cn:no:')}"
    await chat.press(cancel)
    assert chat.keys == ["official.figures.cancelled"] and f"cn:c:{BAC_GIANG}" in chat.payloads()
    for old in (cancel, save):
        await chat.press(old)
        assert chat.keys == ["official.figures.stale"], old
    await chat.send("/capnhat")
    await chat.press("cn:d:0")
    await chat.press(cancel)  # mid-entry: the open question again
    assert chat.keys == ["official.figures.stale_open", "official.figures.ask_installed"]
    assert len(await stored(service, OfficialFigure)) == 1


async def test_figures_without_buttons(service):
    chat = await official(service, "506", "coordinator", BAC_GIANG, caps=NO_BUTTONS)
    await chat.send("/capnhat")
    assert chat.keys == ["official.figures.ask_date"] and "1." in chat.text()
    await chat.send("1")  # Hôm nay
    assert chat.keys == ["official.figures.ask_installed"] and "/huy" in chat.text()
    await chat.send("82.930")
    await chat.send("174.229")
    assert chat.keys == ["official.figures.ask_population"]
    await chat.send("bo qua")
    await chat.send("-")
    assert chat.keys == ["official.figures.confirm"]
    await chat.send("1")  # Lưu
    assert chat.keys[0] == "official.figures.saved"
    (row,) = await stored(service, OfficialFigure)
    assert (row.installed, row.subscribers) == (82930, 174229)


async def test_who_may_enter_figures(service):
    citizen = ChatDriver(service, user_id="510")
    await citizen.send("/capnhat")
    assert citizen.keys == ["access.no_role"]
    volunteer = await official(service, "511", "volunteer", BAC_GIANG)
    await volunteer.send("/capnhat")
    assert volunteer.keys == ["access.too_low"]
    await volunteer.press(f"cn:c:{BAC_GIANG}")
    assert volunteer.keys == ["access.too_low"]
    # The commune inside a sentence, and the role not "of" a commune it is above.
    assert volunteer.text().startswith("Với phường Bắc Giang, ") and "điều phối viên trở lên" in volunteer.text()
    coordinator = await official(service, "512", "coordinator", BAC_GIANG)
    await coordinator.press(f"cn:c:{AN_LAC}")
    assert coordinator.keys == ["access.other_unit"]
    assert "của phường Bắc Giang" in coordinator.text() and "cho xã An Lạc" in coordinator.text()

    officer = await official(service, "513", "province_officer", BAC_NINH)
    await officer.send("/capnhat")
    assert officer.keys == ["official.figures.ask_commune"]  # officers pick the commune
    await officer.send("Bắc Giang")
    assert officer.keys == ["official.figures.ask_date"] and "Bắc Giang" in officer.text()
    await officer.send("/capnhat")
    await officer.send("Hoàn Kiếm")  # picked, then checked: another province
    assert officer.keys == ["access.other_unit"]
    await officer.press(f"cn:c:{HOAN_KIEM}")
    assert officer.keys == ["access.other_unit"]

    two = await official(service, "514", "coordinator", BAC_GIANG)
    await grant_role(service, "514", "coordinator", AN_LAC)
    await two.send("/capnhat")
    assert two.keys == ["official.figures.choose_commune"]
    assert set(two.payloads()) >= {f"cn:c:{BAC_GIANG}", f"cn:c:{AN_LAC}"}
    assert await stored(service, OfficialFigure) == []


# --- /thongke ------------------------------------------------------------------------------------


async def test_coordinator_sees_their_commune(service):
    await seed_figures(service)
    chat = await official(service, "520", "coordinator", BAC_GIANG)
    await chat.send("/start")
    assert "tk" in chat.payloads()
    await chat.press("tk")
    assert chat.keys == ["common.lines"]
    assert "47,59%" in chat.text() and "21.608" in chat.text() and "60%" in chat.text()
    assert chat.payloads()[:4] == [f"tk:x:{BAC_GIANG}", f"bc:s:{BAC_GIANG}", f"cn:c:{BAC_GIANG}", f"lp:c:{BAC_GIANG}"]
    assert not any(p.startswith(("ct:", "tk:u:")) for p in chat.payloads())  # no target, no province
    for refused, key in (
        (f"tk:u:{BAC_NINH}", "access.too_low"),
        (f"tk:u:{AN_LAC}", "access.other_unit"),
        ("tk:u:VN", "access.too_low"),
        (f"tk:x:{BAC_NINH}", "access.too_low"),
    ):
        await chat.press(refused)
        assert chat.keys == [key], refused
    await chat.send(f"/thongke {BAC_NINH}")
    assert chat.keys == ["access.too_low"]
    await chat.send("/thongke 99999")
    assert chat.keys == ["official.unknown_unit"]


async def test_pace_needs_two_counts(service):
    await seed_figures(service)
    chat = await official(service, "523", "coordinator", BAC_GIANG)
    await chat.send("/thongke")
    assert words(service, "tally.summary.pace_unknown") in chat.text()  # one count: no pace, not "stalled"
    async with service.sessions() as db, db.begin():
        await record_figure(db, BAC_GIANG, dt.date(2021, 7, 27), entered_by=None, source="t", installed=75930)
    await chat.send("/thongke")
    # 1.000 a day: 21.608 more by 25/08, before the deadline.
    assert words(service, "tally.summary.pace", gain=1000, projected=dt.date(2021, 8, 25)) in chat.text()


async def test_citizens_and_volunteers_are_refused_everywhere(service):
    citizen = ChatDriver(service, user_id="521")
    volunteer = await official(service, "522", "volunteer", BAC_GIANG)
    await citizen.send("/start")
    assert "tk" not in citizen.payloads()
    await volunteer.send("/start")
    assert "tk" not in volunteer.payloads()
    actions = ["/thongke", "/baocao", "/loaphat", "/chitieu", "/capnhat"]
    presses = [
        f"tk:u:{BAC_GIANG}",
        f"tk:x:{BAC_GIANG}",
        "tk:u:VN",
        f"bc:s:{BAC_GIANG}",
        f"bc:h:{BAC_GIANG}:7",
        f"lp:c:{BAC_GIANG}",
        f"ct:u:{BAC_GIANG}",
        "ct:p",
        "ct:c",
        "tk:p",
        "tk:f",
    ]
    for chat, refusal in ((citizen, "access.no_role"), (volunteer, "access.too_low")):
        for command in actions:
            await chat.send(command)
            assert chat.keys == [refusal], (chat.user_id, command)
        for payload in presses:
            await chat.press(payload)
            assert chat.keys == [refusal], (chat.user_id, payload)
    assert await stored(service, ReportSubscription) == [] and await stored(service, Target) == []


async def test_officer_sees_the_province_with_chart_and_drills_down(service):
    await seed_figures(service)
    chat = await official(service, "530", "province_officer", BAC_NINH)
    await chat.send("/thongke")
    assert chat.keys == ["common.lines", "official.chart_caption"]
    summary, picture = chat.last
    assert "Bắc Ninh" in summary.text and "Phường Bắc Giang: 47,59%" in summary.text
    # The province's rate comes from one commune of 99 (both kinds): the summary says so.
    mixed = Divisions(frozenset())
    covered = words(service, "tally.coverage", covered=1, total=99, kinds=mixed)
    assert f"47,59% ({covered})" in summary.text
    assert f"21.608 người (theo {covered})" in summary.text  # the gap of that commune only, said so
    assert picture.attachment_kind == "image" and picture.mime_type == "image/png"
    png = chat.channel.sent[-1].attachment
    with Image.open(io.BytesIO(png)) as image:
        assert image.height <= CHART_HEIGHT  # the furthest behind and ahead, not a bar per commune
    drill = [p for p in chat.payloads() if p.startswith("tk:u:")]
    assert len(drill) == 10 and f"tk:u:{BAC_GIANG}" in drill
    assert {"tk:x:24", "bc:s:24", "ct:u:24", "tk:f"} <= set(chat.payloads())
    await chat.press(f"tk:u:{BAC_GIANG}")
    assert chat.keys == ["common.lines"] and "tk:u:24" in chat.payloads()  # back to the province
    assert {f"cn:c:{BAC_GIANG}", f"lp:c:{BAC_GIANG}", f"ct:u:{BAC_GIANG}"} <= set(chat.payloads())
    await chat.press("tk:f")
    assert chat.keys == ["official.ask_commune"]
    await chat.send("An Lạc, Bắc Ninh")
    assert chat.keys == ["common.lines"] and "An Lạc" in chat.text()
    for refused, key in (
        ("tk:u:01", "access.other_unit"),
        (f"tk:u:{HOAN_KIEM}", "access.other_unit"),
        ("tk:u:VN", "access.too_low"),
        ("tk:p", "access.too_low"),
    ):
        await chat.press(refused)
        assert chat.keys == [key], refused


async def test_excel_holds_numbers(service):
    await seed_figures(service)
    chat = await official(service, "531", "province_officer", BAC_NINH)
    await chat.press("tk:x:24")
    assert chat.keys == ["official.excel_caption"]
    (message,) = chat.last
    assert message.attachment_kind == "document" and message.filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(chat.channel.sent[-1].attachment)).active
    rows = list(sheet.iter_rows(values_only=True))
    row = next(r for r in rows if r and r[0] == BAC_GIANG)
    assert 82930 in row and 174229 in row and 21608 in row
    assert any(isinstance(v, float) and abs(v - 0.4759) < 1e-9 for v in row)
    assert len([r for r in rows[3:] if r and r[0]]) == 99 + 1  # the communes and the totals


async def test_admin_sees_the_country_by_province(service):
    await seed_figures(service)
    chat = await official(service, "540", "admin", "VN")
    await chat.send("/thongke")
    assert chat.keys == ["common.lines", "official.chart_caption"]
    assert words(service, "tally.country") in chat.last[0].text
    with Image.open(io.BytesIO(chat.channel.sent[-1].attachment)) as image:
        assert image.height <= CHART_HEIGHT  # provinces ranked, not a bar per commune
    assert {"tk:p", "tk:f", "ct:u:VN"} <= set(chat.payloads())
    await chat.press("tk:p")
    assert (
        chat.keys == ["official.choose_province"] and len([p for p in chat.payloads() if p.startswith("tk:u:")]) == 34
    )
    await chat.press("tk:u:01")
    assert chat.keys == ["common.lines", "official.chart_caption"] and "tk:u:VN" in chat.payloads()
    await chat.send("/thongke 7210")
    assert chat.keys == ["common.lines"] and "47,59%" in chat.text()


async def test_several_units_are_offered(service):
    chat = await official(service, "541", "province_officer", BAC_NINH)
    await grant_role(service, "541", "coordinator", HOAN_KIEM)
    await chat.send("/thongke")
    assert chat.keys == ["official.choose_unit"]
    assert chat.payloads()[:2] == ["tk:u:24", f"tk:u:{HOAN_KIEM}"]


# --- /chitieu ------------------------------------------------------------------------------------


async def test_officer_sets_the_province_target(service):
    await seed_figures(service, target=False)
    chat = await official(service, "550", "province_officer", BAC_NINH)
    await chat.send("/chitieu")
    assert chat.keys == ["official.targets.choose_unit"]
    assert chat.payloads()[:2] == ["ct:u:24", "ct:c"] and "ct:u:VN" not in chat.payloads()
    await chat.press("ct:u:24")
    assert chat.keys == ["official.targets.ask_rate"]
    assert chat.payloads()[:5] == ["ct:r:50", "ct:r:60", "ct:r:70", "ct:r:80", "ct:r:100"]
    await chat.press("ct:r:60")
    assert chat.keys == ["official.targets.ask_deadline"] and "ct:dk" not in chat.payloads()
    for bad, reason in (("31/07/2021", "past"), ("31/13/2021", "not_a_date")):
        await chat.send(bad)
        assert chat.keys == ["official.targets.retry"], bad
        assert words(service, f"official.targets.reason.{reason}", date=dt.date(2021, 7, 31)) in chat.text()
    await chat.send("31/8/2021")
    assert chat.keys == ["official.targets.ask_denominator"]
    await chat.send("cử tri")
    assert chat.keys == ["official.targets.retry"]
    await chat.press("ct:n:subscribers")
    assert chat.keys == ["official.targets.confirm"]
    await chat.press(f"ct:save:{token(chat, 'ct:save:')}")
    assert chat.keys == ["official.targets.saved", "common.lines", "official.chart_caption"]
    assert "21.608" in chat.text()
    (target,) = await stored(service, Target)
    assert (target.unit_code, target.rate_ppm, target.deadline, target.denominator, target.source) == (
        BAC_NINH,
        600000,
        AUG31,
        "subscribers",
        "chat",
    )
    assert target.set_by is not None


async def test_typed_rates_commune_targets_and_kept_deadline(service):
    await seed_figures(service)
    chat = await official(service, "551", "province_officer", BAC_NINH)
    await chat.press("ct:c")
    assert chat.keys == ["official.targets.ask_commune"]
    await chat.send("Bắc Giang")
    assert chat.keys == ["official.targets.ask_rate"]
    assert words(service, "official.targets.current_inherited", unit="Tỉnh Bắc Ninh") in chat.text()
    for bad in ("abc", "150%", "0", "1,5"):
        await chat.send(bad)
        assert chat.keys == ["official.targets.retry"], bad
    await chat.send("65,5%")
    assert chat.keys == ["official.targets.ask_deadline"] and "ct:dk" in chat.payloads()
    await chat.press("ct:dk")  # the province's deadline, kept
    await chat.send("dân số")
    assert chat.keys == ["official.targets.confirm"] and "65,5%" in chat.text()
    first = f"ct:save:{token(chat, 'ct:save:')}"
    await chat.press(first)
    assert chat.keys == ["official.targets.saved", "common.lines"]
    assert " phường Bắc Giang, " in chat.last[0].text  # the commune's kind in lower case mid-sentence
    own = (await stored(service, Target))[-1]
    assert (own.unit_code, own.rate_ppm, own.deadline, own.denominator) == (BAC_GIANG, 655000, AUG31, "population")

    await chat.send("/chitieu")
    await chat.press(f"ct:u:{BAC_GIANG}")
    assert words(service, "official.targets.current_own") in chat.text()
    await chat.send("0,7")
    await chat.press(first)  # the saved target's button: this one stays open at its question
    assert chat.keys == ["official.targets.stale_open", "official.targets.ask_deadline"]
    await chat.send("giữ nguyên")  # the deadline, typed
    await chat.send("Thuê bao")
    assert chat.keys == ["official.targets.confirm"]
    await chat.send("ok")
    assert chat.keys == ["official.targets.press_save", "official.targets.confirm"]
    await chat.press(f"ct:no:{token(chat, 'ct:no:')}")
    assert chat.keys == ["official.targets.cancelled"]
    assert len(await stored(service, Target)) == 2


async def test_who_may_set_targets(service):
    coordinator = await official(service, "560", "coordinator", BAC_GIANG)
    await coordinator.send("/chitieu")
    assert coordinator.keys == ["access.too_low"]
    await coordinator.press(f"ct:u:{BAC_GIANG}")
    assert coordinator.keys == ["access.too_low"]
    officer = await official(service, "561", "province_officer", BAC_NINH)
    for payload, key in (
        ("ct:u:01", "access.other_unit"),
        (f"ct:u:{HOAN_KIEM}", "access.other_unit"),
        ("ct:u:VN", "access.too_low"),
        ("ct:p", "access.too_low"),
    ):
        await officer.press(payload)
        assert officer.keys == [key], payload
    await officer.press("ct:c")
    await officer.send("Hoàn Kiếm")
    assert officer.keys == ["access.other_unit"]
    admin = await official(service, "562", "admin", "VN")
    await admin.send("/chitieu")
    assert admin.payloads()[:3] == ["ct:u:VN", "ct:p", "ct:c"]
    await admin.press("ct:p")
    assert len([p for p in admin.payloads() if p.startswith("ct:u:")]) == 34
    await admin.press("ct:u:01")
    assert admin.keys == ["official.targets.ask_rate"]
    await admin.press("ct:u:VN")
    await admin.press("ct:r:50")
    await admin.send("31/12/2021")
    await admin.press("ct:n:households")
    await admin.press(f"ct:save:{token(admin, 'ct:save:')}")
    assert admin.keys[0] == "official.targets.saved"
    (target,) = await stored(service, Target)
    assert (target.unit_code, target.rate_ppm, target.denominator) == ("VN", 500000, "households")


# --- /baocao -------------------------------------------------------------------------------------


async def test_subscribe_list_and_cancel(service):
    chat = await official(service, "570", "province_officer", BAC_NINH)
    await chat.send("/baocao")
    assert chat.keys == ["official.reports.none"] and "bc:s:24" in chat.payloads()
    await chat.press("bc:s:24")
    assert chat.keys == ["official.reports.ask_hour"]
    hours = [p for p in chat.payloads() if p.startswith("bc:h:24:")]
    assert hours == [f"bc:h:24:{h}" for h in range(6, 22)]
    await chat.press("bc:h:24:7")
    assert chat.keys == ["official.reports.subscribed"]
    assert service.content.format_value(dt.date(2021, 8, 4)) in chat.text()  # 07:00 has passed: from tomorrow
    (subscription,) = await stored(service, ReportSubscription)
    assert (subscription.unit_code, subscription.hour) == (BAC_NINH, 7)

    await chat.press(f"bc:s:{BAC_GIANG}")  # a commune of the province, from its summary
    assert chat.keys == ["official.reports.ask_hour"]
    await chat.send("18h")
    assert chat.keys == ["official.reports.subscribed"] and service.content.format_value(AUG3) in chat.text()
    await chat.send("/baocao")
    assert chat.keys == ["official.reports.list"]
    assert {"bc:x:24", f"bc:x:{BAC_GIANG}"} <= set(chat.payloads()) and "bc:s:24" not in chat.payloads()
    await chat.press("bc:s:24")
    assert words(service, "official.reports.current_hour", hour=7) in chat.text()
    await chat.press("bc:h:24:9")  # moved, not doubled
    await chat.press(f"bc:x:{BAC_GIANG}")
    assert chat.keys == ["official.reports.cancelled", "official.reports.list"]
    await chat.press(f"bc:x:{BAC_GIANG}")
    assert chat.keys == ["official.reports.not_subscribed", "official.reports.list"]
    (subscription,) = await stored(service, ReportSubscription)
    assert (subscription.unit_code, subscription.hour) == (BAC_NINH, 9)


async def test_reports_without_buttons_and_refusals(service):
    chat = await official(service, "571", "coordinator", BAC_GIANG, caps=NO_BUTTONS)
    await chat.send("/baocao")
    assert chat.keys == ["official.reports.none"]
    await chat.send("1")
    assert chat.keys == ["official.reports.ask_hour_typed"]
    for bad in ("25", "sáng", "7:30"):
        await chat.send(bad)
        assert chat.keys == ["official.reports.bad_hour", "official.reports.ask_hour_typed"], bad
    await chat.send("7 giờ")
    assert chat.keys == ["official.reports.subscribed"]
    (subscription,) = await stored(service, ReportSubscription)
    assert (subscription.unit_code, subscription.hour) == (BAC_GIANG, 7)
    other = await official(service, "572", "coordinator", AN_LAC)
    for payload in (f"bc:s:{BAC_GIANG}", f"bc:h:{BAC_GIANG}:8", "bc:s:24", "bc:h:VN:8"):
        await other.press(payload)
        assert other.keys[0].startswith("access."), payload
    assert len(await stored(service, ReportSubscription)) == 1


# --- /loaphat ------------------------------------------------------------------------------------


async def test_loudspeaker_script(service):
    await seed_figures(service)
    async with service.sessions() as db, db.begin():
        await import_csv(db, "commune_code,name,address\n07210,Bưu điện Bắc Giang,2 Hùng Vương\n")
    chat = await official(service, "580", "coordinator", BAC_GIANG)
    await chat.send("/loaphat")
    assert chat.keys == ["official.script.intro", "common.lines"]
    script = chat.last[1].text
    assert "47,59%" in script and "21.608" in script and "60%" in script
    assert "Bưu điện Bắc Giang, 2 Hùng Vương" in script
    assert words(service, "official.script.help_web") in script  # no Telegram handle in this test
    assert words(service, "official.script.closing") in script and "📊" not in script
    # Read aloud: no address to spell, the commune's kind in lower case inside a sentence, dates
    # as an announcer says them.
    assert "http" not in script and "www" not in script and ".vn" not in script
    assert "bà con phường Bắc Giang!" in script and "Phường Bắc Giang" not in script
    assert "Đến hết ngày 3 tháng 8 năm 2021, phường Bắc Giang có 82.930 người" in script
    assert "trước ngày 31 tháng 8 năm 2021." in script and "/20" not in script

    bare = await official(service, "581", "coordinator", AN_LAC)
    await bare.press(f"lp:c:{AN_LAC}")
    script = bare.last[1].text
    assert words(service, "official.script.no_figures") in script
    assert words(service, "official.script.target_no_figures", target="60%", deadline=SpokenDate(AUG31)) in script
    assert "Thưa toàn thể bà con xã An Lạc!" in script
    assert words(service, "official.script.no_points") in script
    await bare.press(f"lp:c:{BAC_GIANG}")
    assert bare.keys == ["access.other_unit"]

    officer = await official(service, "582", "province_officer", BAC_NINH)
    await officer.send("/loaphat")
    assert officer.keys == ["official.script.ask_commune"]
    await officer.send("An Lạc, Bắc Ninh")
    assert officer.keys == ["official.script.intro", "common.lines"]
