"""The dashboard's actions through the real app on SQLite and PostgreSQL: the figures grid (rows
stored as chat stores them, rows with a problem or a doubt held back and shown again, a doubt
confirmed per row), a target, the audit log; each role's reach; stored rows and audit entries."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import re
from fractions import Fraction

import pytest
from sqlalchemy import select

from bot.service import Service
from bot.settings import Secret, Settings
from bot.web import init_app
from storage.figures import record_figure
from storage.models import AuditEntry, OfficialFigure, Target, utcnow
from storage.roles import Role
from storage.units import COUNTRY_CODE
from tests.bot.test_dashboard_pages import BAC_GIANG, BAC_NINH, CSRF, QUE_VO, app_for, person, service_of, sign_in
from texts import Text, t
from texts.formats import local_date

OTHER = "07228"  # another commune of Bắc Ninh


@pytest.fixture
async def client(aiohttp_client, database, db_engine):
    return await aiohttp_client(app_for(database, db_engine))


def said(client, text: Text) -> str:
    return service_of(client).content.render(text)


async def page_of(client, code: str) -> tuple[int, str]:
    response = await client.get(f"/dashboard/unit/{code}/act")
    return response.status, htmllib.unescape(await response.text())


async def post(client, path: str, data: dict[str, str], code: str = BAC_NINH):
    _, html = await page_of(client, code)
    csrf = CSRF.search(html).group(1)
    return await client.post(path, data={"csrf": csrf, **data}, allow_redirects=False)


async def figures(client, code: str) -> list[OfficialFigure]:
    async with service_of(client).sessions() as db:
        stmt = select(OfficialFigure).where(OfficialFigure.unit_code == code).order_by(OfficialFigure.id)
        return list((await db.scalars(stmt)).all())


async def audited(client, action: str) -> list[AuditEntry]:
    """The entries the web wrote (the seeds write theirs too)."""
    async with service_of(client).sessions() as db:
        stmt = select(AuditEntry).where(AuditEntry.action == action, AuditEntry.source == "web")
        return list((await db.scalars(stmt.order_by(AuditEntry.id))).all())


async def known_subscribers(client, *codes: str) -> None:
    before = local_date(utcnow()) - dt.timedelta(days=3)
    async with service_of(client).sessions() as db, db.begin():
        for code in codes:
            await record_figure(db, code, before, entered_by=None, source="t", installed=1000, subscribers=100000)


async def test_a_province_officer_enters_a_grid_and_confirms_a_doubted_row(client):
    await known_subscribers(client, BAC_GIANG, QUE_VO)
    officer = await person(client, "1", Role.PROVINCE_OFFICER)
    await sign_in(client, officer)
    status, html = await page_of(client, BAC_NINH)
    assert status == 200 and f'name="installed-{BAC_GIANG}"' in html and f'name="installed-{OTHER}"' in html
    today = local_date(utcnow())
    grid = {
        "date": today.strftime("%d/%m/%Y"),
        f"installed-{BAC_GIANG}": "82.930",  # the subscribers known stay (stored blank, as chat's "keep")
        f"installed-{QUE_VO}": "120.000",  # above its 100.000 subscribers: asked about
        f"installed-{OTHER}": "12,5",  # not a count
    }
    response = await post(client, f"/dashboard/unit/{BAC_NINH}/figures", grid)
    assert response.status == 303 and response.headers["Location"] == f"/dashboard/unit/{BAC_NINH}/act#figures"

    stored = (await figures(client, BAC_GIANG))[-1]
    assert (stored.installed, stored.subscribers, stored.as_of) == (82930, None, today)
    assert (stored.entered_by, stored.source) == (officer, "web")
    assert len(await figures(client, QUE_VO)) == 1 and await figures(client, OTHER) == []
    entries = await audited(client, "figures")
    assert [(e.actor_user_id, e.unit_code, e.source, e.details["installed"]) for e in entries] == [
        (officer, BAC_GIANG, "web", 82930)
    ]

    _, html = await page_of(client, BAC_NINH)
    assert said(client, t("dashboard.acting.figures.saved", count=1, date=today)) in html
    doubt = t(
        "dashboard.acting.doubts.doubt_installed_over",
        installed=120000,
        value=100000,
        kind=t("official.figures.kinds.subscribers"),
    )
    assert said(client, doubt) in html and f'name="sure-{QUE_VO}"' in html
    assert 'value="120.000"' in html and 'value="12,5"' in html  # held rows come back as typed
    reason = t("official.figures.reason.not_a_number")
    cell = t("dashboard.acting.figures.cell", column=t("dashboard.acting.columns.installed"), reason=reason)
    assert said(client, cell) in html and f'name="sure-{OTHER}"' not in html
    again, _ = await page_of(client, BAC_NINH)
    assert again == 200 and said(client, doubt) not in (await page_of(client, BAC_NINH))[1]  # shown once

    sure = {"date": grid["date"], f"installed-{QUE_VO}": "120.000", f"sure-{QUE_VO}": "1"}
    await post(client, f"/dashboard/unit/{BAC_NINH}/figures", sure)
    assert (await figures(client, QUE_VO))[-1].installed == 120000
    assert len(await audited(client, "figures")) == 2


async def test_a_future_date_stores_nothing(client):
    await known_subscribers(client, BAC_GIANG)
    await sign_in(client, await person(client, "2", Role.PROVINCE_OFFICER))
    tomorrow = local_date(utcnow()) + dt.timedelta(days=1)
    grid = {"date": tomorrow.strftime("%d/%m/%Y"), f"installed-{BAC_GIANG}": "5000"}
    await post(client, f"/dashboard/unit/{BAC_NINH}/figures", grid)
    assert len(await figures(client, BAC_GIANG)) == 1 and await audited(client, "figures") == []
    _, html = await page_of(client, BAC_NINH)
    assert said(client, t("official.figures.reason.future", date=tomorrow)) in html
    assert 'value="5000"' in html


async def test_a_coordinator_enters_only_their_commune(client):
    await known_subscribers(client, BAC_GIANG, OTHER)
    coordinator = await person(client, "3", Role.COORDINATOR, BAC_GIANG)
    await sign_in(client, coordinator)
    status, html = await page_of(client, BAC_GIANG)
    assert status == 200 and f'name="installed-{BAC_GIANG}"' in html
    assert said(client, t("dashboard.acting.target.none")) in html and 'name="rate"' not in html
    assert (await page_of(client, BAC_NINH))[0] == 403
    assert (await page_of(client, OTHER))[0] == 403
    forged = {"date": "", f"installed-{BAC_GIANG}": "2.000", f"installed-{OTHER}": "3.000"}
    forged["date"] = local_date(utcnow()).strftime("%d/%m/%Y")
    await post(client, f"/dashboard/unit/{BAC_GIANG}/figures", forged, BAC_GIANG)
    assert (await figures(client, BAC_GIANG))[-1].entered_by == coordinator
    assert len(await figures(client, OTHER)) == 1  # another commune's row in the form is not theirs
    target = {"unit": BAC_GIANG, "rate": "60%", "deadline": "31/12/2099", "denominator": "subscribers"}
    refused = await post(client, f"/dashboard/unit/{BAC_GIANG}/target", target, BAC_GIANG)
    assert refused.status == 403


async def test_a_target_as_chitieu_sets_it(client):
    officer = await person(client, "4", Role.PROVINCE_OFFICER)
    await sign_in(client, officer)
    deadline = local_date(utcnow()) + dt.timedelta(days=60)
    bad = {"unit": BAC_NINH, "rate": "150", "deadline": "1/1/2020", "denominator": "subscribers"}
    await post(client, f"/dashboard/unit/{BAC_NINH}/target", bad)
    _, html = await page_of(client, BAC_NINH)
    assert said(client, t("official.targets.reason.not_a_rate")) in html
    assert said(client, t("official.targets.reason.past", date=dt.date(2020, 1, 1))) in html
    good = {"unit": BAC_GIANG, "rate": "65,5%", "deadline": deadline.strftime("%d/%m/%Y"), "denominator": "population"}
    response = await post(client, f"/dashboard/unit/{BAC_NINH}/target", good)
    assert response.status == 303
    async with service_of(client).sessions() as db:
        targets = list((await db.scalars(select(Target))).all())
    assert [(x.unit_code, x.rate_ppm, x.deadline, x.denominator, x.set_by, x.source) for x in targets] == [
        (BAC_GIANG, 655000, deadline, "population", officer, "web")
    ]
    [entry] = await audited(client, "target")
    assert (entry.actor_user_id, entry.unit_code, entry.details["rate"]) == (
        officer,
        BAC_GIANG,
        str(Fraction(131, 200)),
    )
    no_token = await client.post(f"/dashboard/unit/{BAC_NINH}/target", data=good, allow_redirects=False)
    assert no_token.status == 403


async def test_the_audit_log_for_admins_only(client):
    officer = await person(client, "5", Role.PROVINCE_OFFICER)
    await sign_in(client, officer)
    deadline = local_date(utcnow()) + dt.timedelta(days=30)
    target = {"unit": BAC_NINH, "rate": "60%", "deadline": deadline.strftime("%d/%m/%Y"), "denominator": "subscribers"}
    await post(client, f"/dashboard/unit/{BAC_NINH}/target", target)
    assert (await client.get("/dashboard/audit")).status == 403

    await sign_in(client, await person(client, "6", Role.ADMIN, COUNTRY_CODE))
    response = await client.get("/dashboard/audit")
    html = htmllib.unescape(await response.text())
    assert response.status == 200
    lines = re.findall(r"<li>([^<]*)</li>", html.split('<ol class="log">', 1)[1])
    [line] = [x for x in lines if said(client, t("audit.actions.target")) in x]
    assert "telegram:5" in line and said(client, t("audit.actions.target")) in line  # the person as the bot knows them
    assert "Bắc Ninh" in line and said(client, t("audit.detail.rate", value="60%")) in line
    assert (await client.get(f"/dashboard/audit?unit={BAC_GIANG}")).status == 200
    status, html = await page_of(client, COUNTRY_CODE)  # the country's grid: its provinces' own figures
    assert status == 200 and f'name="installed-{BAC_NINH}"' in html and f'<option value="{COUNTRY_CODE}"' in html


@pytest.fixture
async def pre2025_client(aiohttp_client, pre2025_database, pre2025_engine):
    settings = Settings(
        database_url=pre2025_database["url"],
        qr_signing_key=Secret("dashboard-pages-key"),
        public_base_url="http://127.0.0.1",
        units="pre2025",
    )
    return await aiohttp_client(init_app(settings, Service(settings, db_engine=pre2025_engine)))


async def test_the_grid_follows_the_pre2025_map(pre2025_client):
    """A district officer enters their district's communes; a province officer the province's districts."""
    client = pre2025_client
    city, ward = "213", "07231"  # Thành phố Bắc Giang and one of its wards
    async with service_of(client).sessions() as db:
        index = await service_of(client).engine.communes(db)
    elsewhere = next(e.code for e in index.entries if e.province_code == "24" and e.district_code != city)
    officer = await person(client, "7", Role.DISTRICT_OFFICER, city)
    await sign_in(client, officer)
    status, html = await page_of(client, city)
    assert status == 200 and f'name="installed-{ward}"' in html and f'name="installed-{elsewhere}"' not in html
    assert (await page_of(client, "24"))[0] == 403
    grid = {
        "date": local_date(utcnow()).strftime("%d/%m/%Y"),
        f"installed-{ward}": "1.500",
        f"subscribers-{ward}": "9.000",
    }
    await post(client, f"/dashboard/unit/{city}/figures", grid, city)
    [stored] = await figures(client, ward)
    assert (stored.installed, stored.subscribers, stored.scheme, stored.entered_by) == (1500, 9000, "pre2025", officer)
    [entry] = await audited(client, "figures")
    assert (entry.unit_code, entry.details["scheme"]) == (ward, "pre2025")

    await sign_in(client, await person(client, "8", Role.PROVINCE_OFFICER, "24"))
    _, html = await page_of(client, "24")  # the province's grid: its districts, one level down
    assert f'name="installed-{city}"' in html and f'name="installed-{ward}"' not in html
    district = {"date": grid["date"], f"installed-{city}": "40.000", f"subscribers-{city}": "90.000"}
    await post(client, "/dashboard/unit/24/figures", district, "24")
    assert [(f.installed, f.scheme) for f in await figures(client, city)] == [(40000, "pre2025")]


def test_rows_held_back_fit_a_cookie_or_the_page_says_how_many_to_type_again():
    from bot.dashboard.acting import CARRIED_MAX, _fit, _read_carried

    # A whole province of 168 rows, four cells of six digits each: more than a cookie holds.
    primes = (7919, 104729, 1299709, 15485863)
    typed = {f"{79000 + n:05d}": [str(n * p % 999983) for p in primes] for n in range(168)}
    value = _fit({"u": "79", "d": "06/12/2026", "rows": typed, "notices": []})
    carried = _read_carried(value, "79")
    assert len(value) <= CARRIED_MAX and carried["rows"] == {c: typed[c] for c in carried["rows"]}
    lost = len(typed) - len(carried["rows"])
    assert lost > 0 and carried["notices"] == [["dashboard.acting.figures.lost", {"count": lost}]]
    few = _read_carried(_fit({"u": "79", "rows": dict(list(typed.items())[:20]), "notices": []}), "79")
    assert len(few["rows"]) == 20 and few["notices"] == []
    assert _read_carried(value, "24") == {} and _read_carried("not a cookie", "79") == {}
