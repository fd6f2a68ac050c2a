"""Acting on the dashboard in Chromium, role by role: a province officer enters a grid of figures
(one row held back with chat's doubt, then confirmed by its own box) and sets a target; a
coordinator enters only their commune's row and sets no target; a volunteer gets no link in;
an admin reads the audit log those actions wrote. On SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from storage.models import AuditEntry, OfficialFigure, Target, utcnow
from tests.browser.conftest import accessibility_problems
from tests.browser.conftest import words as w
from tests.browser.test_dashboard import BAC_GIANG, BAC_NINH, OTHER, BotSite, grant, link_from_bot, sign_in
from tests.browser.test_dashboard import bot_site as dashboard_site
from tests.channels.test_telegram_e2e import exchange
from texts import t
from texts.formats import local_date

bot_site = dashboard_site  # the dashboard's site, on SQLite and on PostgreSQL, one for this module


def stored(site: BotSite, model, **where) -> list:
    async def work() -> list:
        async with site.service.sessions() as db:
            stmt = select(model).filter_by(**where).order_by(model.id)
            return list((await db.scalars(stmt)).all())

    return site.run(work())


def today_typed() -> str:
    return local_date(utcnow()).strftime("%d/%m/%Y")


def test_an_officer_enters_a_grid_confirms_a_row_and_sets_a_target(bot_site, page):
    grant(bot_site, 8201, "province_officer", BAC_NINH)
    sign_in(page, link_from_bot(bot_site, 8201))
    page.get_by_role("link", name=w("dashboard.acting.link")).click()
    page.wait_for_url(f"**/dashboard/unit/{BAC_NINH}/act")
    assert page.locator(f'input[name="installed-{BAC_GIANG}"]').get_attribute("placeholder") == "82.930"

    page.locator(f'input[name="installed-{BAC_GIANG}"]').fill("190.000")  # above its 174.229 subscribers
    page.locator(f'input[name="installed-{OTHER}"]').fill("1.234")
    page.locator(f'input[name="subscribers-{OTHER}"]').fill("5.000")
    page.get_by_role("button", name=w("dashboard.acting.figures.save")).click()
    page.wait_for_load_state()
    assert w("dashboard.acting.figures.saved", count=1, date=local_date(utcnow())) in page.content()
    [other] = stored(bot_site, OfficialFigure, unit_code=OTHER)
    assert (other.installed, other.subscribers, other.source) == (1234, 5000, "web")
    assert len(stored(bot_site, OfficialFigure, unit_code=BAC_GIANG)) == 2  # the seeds' only
    held = page.locator(f"#row-{BAC_GIANG} + tr.problems")
    assert w(
        "dashboard.acting.doubts.doubt_installed_over",
        installed=190000,
        value=174229,
        kind=t("official.figures.kinds.subscribers"),
    ) in (held.inner_text())
    assert page.locator(f'input[name="installed-{BAC_GIANG}"]').input_value() == "190.000"
    assert page.csp_violations == [] and page.evaluate("document.documentElement.scrollWidth") <= 360
    assert accessibility_problems(page) == []  # the grid with a held row and its checkbox

    page.locator(f'input[name="sure-{BAC_GIANG}"]').check()
    page.get_by_role("button", name=w("dashboard.acting.figures.save")).click()
    page.wait_for_load_state()
    assert stored(bot_site, OfficialFigure, unit_code=BAC_GIANG)[-1].installed == 190000
    assert page.locator("tr.problems").count() == 0

    deadline = local_date(utcnow()) + dt.timedelta(days=45)
    page.locator("#target-unit").select_option(BAC_NINH)
    page.locator("#target-rate").fill("70%")
    page.locator("#target-deadline").fill(deadline.strftime("%d/%m/%Y"))
    page.locator("#target-denominator").select_option("households")
    page.get_by_role("button", name=w("dashboard.acting.target.save")).click()
    page.wait_for_load_state()
    assert page.locator("p.notice").count() == 1
    target = stored(bot_site, Target, unit_code=BAC_NINH, source="web")[-1]
    assert (target.rate_ppm, target.deadline, target.denominator) == (700000, deadline, "households")
    actions = [e.action for e in stored(bot_site, AuditEntry, source="web")]
    assert actions.count("figures") == 2 and actions.count("target") == 1


def test_a_coordinator_acts_only_in_their_commune(bot_site, page):
    grant(bot_site, 8202, "coordinator", BAC_GIANG)
    sign_in(page, link_from_bot(bot_site, 8202))
    page.get_by_role("link", name=w("dashboard.acting.link")).click()
    page.wait_for_url(f"**/dashboard/unit/{BAC_GIANG}/act")
    assert page.locator("#grid input[name^=installed-]").count() == 1
    assert page.get_by_text(w("dashboard.acting.target.none")).count() == 1
    page.locator("#grid-date").fill("31/12/2099")
    page.locator(f'input[name="installed-{BAC_GIANG}"]').fill("200.000")
    page.get_by_role("button", name=w("dashboard.acting.figures.save")).click()
    page.wait_for_load_state()
    assert w("official.figures.reason.future", date=dt.date(2099, 12, 31)) in page.locator("#date-problem").inner_text()
    assert page.goto(bot_site.url(f"/dashboard/unit/{BAC_NINH}/act")).status == 403
    assert page.goto(bot_site.url(f"/dashboard/unit/{OTHER}/act")).status == 403


def test_a_volunteer_gets_no_way_in(bot_site, page):
    grant(bot_site, 8203, "volunteer", BAC_GIANG)
    user = bot_site.tg.user(8203)
    (answer,) = bot_site.run(exchange(bot_site.tg, 8203, lambda: user.send_command("web")))
    assert "/dashboard/login/" not in (answer.text or "")
    assert page.goto(bot_site.url(f"/dashboard/unit/{BAC_GIANG}/act")).status == 401


def test_an_admin_reads_the_audit_log(bot_site, page):
    grant(bot_site, 8204, "admin", "VN")
    grant(bot_site, 8205, "province_officer", BAC_NINH)
    sign_in(page, link_from_bot(bot_site, 8204))
    page.goto(bot_site.url("/dashboard/unit/VN"))
    page.get_by_role("link", name=w("dashboard.audit.link")).click()
    page.wait_for_url("**/dashboard/audit")
    first = page.locator("ol.log li").first.inner_text()
    assert "telegram:8205" in first and w("audit.actions.grant") in first
    assert accessibility_problems(page) == []
    page.context.clear_cookies()
    sign_in(page, link_from_bot(bot_site, 8205))
    assert page.goto(bot_site.url("/dashboard/audit")).status == 403
