"""The QR's landing page in Chromium at 360×740: scan → check in → "not yet" → Back → refresh with
no resubmission and no double count; near-miss addresses; a database outage; a bare POST not
counted; the security headers on every page; the font, the contrast and the code's one line; axe-core
finds nothing serious on any of these pages."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest
from sqlalchemy import select

from storage import venues
from storage.models import CheckIn, VenueDailyCount
from storage.venue_codes import sign
from tests.browser.conftest import KEY, accessibility_problems, words


def add_venue(site, name: str = "Chợ Đồng Xuân") -> tuple[str, str]:
    """A venue of Phường Hoàn Kiếm; its code and the path its poster's QR opens."""

    async def work():
        async with site.service.sessions() as db, db.begin():
            venue = await venues.create_venue(
                db, name=name, kind="market", commune_code="00070", address="Phố Hàng Chiếu"
            )
            return venue.code

    code = site.run(work())
    return code, f"/q/{sign(KEY, code)}"


def counted(site, code: str) -> tuple[list[CheckIn], list[VenueDailyCount]]:
    async def work():
        async with site.service.sessions() as db:
            venue = (await venues.find_by_code(db, code)).venue
            rows = (await db.scalars(select(CheckIn).where(CheckIn.venue_id == venue.id))).all()
            daily = (await db.scalars(select(VenueDailyCount).where(VenueDailyCount.venue_id == venue.id))).all()
            return list(rows), list(daily)

    return site.run(work())


def assert_security_headers(response) -> None:
    headers = response.headers
    policy = headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy
    assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"


def test_scan_check_in_answer_not_yet_then_back_and_refresh(site, page):
    code, path = add_venue(site)
    response = page.goto(site.url(path))  # the camera app opens the QR's link
    assert response.status == 200 and page.locator("h1").inner_text() == "Chợ Đồng Xuân"
    assert "Phường Hoàn Kiếm" in page.locator("p.muted").inner_text()

    page.get_by_role("button", name=words("landing.check_in_here")).click()
    page.wait_for_url(f"**{path}/answer")
    assert page.locator("h1").inner_text() == words("landing.checked_in", venue="Chợ Đồng Xuân")
    assert re.search(r"\d\d:\d\d ngày \d\d/\d\d/20\d\d", page.locator("p.muted").inner_text())  # a four-digit year

    page.get_by_role("button", name=words("checkin.need_guide")).click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == words("landing.install_title")
    assert (
        page.get_by_role("link", name=words("landing.store.store_android"))
        .get_attribute("href")
        .startswith("https://play.google.com/")
    )

    for step in (page.go_back, page.reload, page.go_back, page.reload):  # Back, pull-to-refresh, Back again
        response = step()  # a form sent again would be ERR_CACHE_MISS ("Confirm Form Resubmission") here
        assert response is not None and response.status == 200 and response.request.method == "GET"
        assert page.locator("main h1").count() == 1
    assert page.url == site.url(path)  # back on the venue's page
    rows, daily = counted(site, code)
    assert len(rows) == 1 and rows[0].channel == "web" and rows[0].already_installed is False
    assert [(d.checkins, d.answered, d.already_installed) for d in daily] == [(1, 1, 0)]
    assert page.csp_violations == []


@pytest.mark.parametrize(
    "path,status,title",
    [
        ("/", 200, "web.home.title"),
        ("/q/", 404, "web.errors.404.title"),
        ("/favicon.ico", 404, "web.errors.404.title"),
        ("/webhooks/zalo", 404, "web.errors.404.title"),
        ("/webhooks/telegram", 405, "web.errors.405.title"),
        ("/q/c-XXXXXXXXXXXXXXX", 404, "landing.not_found.title"),
    ],
)
def test_near_miss_addresses_get_a_vietnamese_page(site, page, path, status, title):
    response = page.goto(site.url(path))
    assert response.status == status
    assert page.locator("html").get_attribute("lang") == "vi"
    assert page.locator("h1").inner_text() == words(title)
    assert page.get_by_role("link", name=words("web.open_zalo_oa")).count() == 1  # a way forward
    assert_security_headers(response)


def test_a_trailing_slash_and_get_on_the_answer_address_land_on_the_venue(site, page):
    code, path = add_venue(site, "UBND phường Hoàn Kiếm")
    for near in (f"{path}/", f"{path}/answer"):
        response = page.goto(site.url(near))
        assert response.status == 200 and page.url == site.url(path)
        assert page.locator("h1").inner_text() == "UBND phường Hoàn Kiếm"
    assert counted(site, code)[0] == []


def test_a_database_outage_answers_in_vietnamese(site, outage, page):
    code, path = add_venue(site, "Bến xe Giáp Bát")
    response = page.goto(outage.url(path))
    assert response.status == 503 and response.headers["retry-after"]
    assert page.locator("h1").inner_text() == words("web.errors.503.title")
    assert page.locator("p.code").inner_text() == f"CHECKIN {code}"  # the code to send instead
    assert_security_headers(response)

    # The page loaded, then the database went away before the press: the press reaches the app
    # whose database is unreachable.
    page.goto(site.url(path))
    page.route(
        re.compile(r".*/q/.*"), lambda route: route.continue_(url=route.request.url.replace(site.base, outage.base))
    )
    with page.expect_response(lambda r: r.request.method == "POST") as pressed:
        page.get_by_role("button", name=words("landing.check_in_here")).click()
    assert pressed.value.status == 503
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == words("web.errors.503.title")
    assert "Internal Server Error" not in page.content()
    assert counted(site, code)[0] == []


def test_a_bare_post_is_not_counted(site, page):
    code, path = add_venue(site, "Trường Tiểu học Tràng An")
    for _ in range(3):  # as `curl -X POST` does: no cookie, no token
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(site.url(path), data=b"", method="POST"), timeout=10)
        assert refused.value.code == 403
        assert words("landing.not_counted.title") in refused.value.read().decode()
    assert counted(site, code)[0] == []
    page.goto(site.url(path))  # the page itself still counts, once
    page.get_by_role("button", name=words("landing.check_in_here")).click()
    page.wait_for_url(f"**{path}/answer")
    assert len(counted(site, code)[0]) == 1


def test_security_headers_on_every_page(site, page):
    code, path = add_venue(site, "Bưu điện Hà Nội")
    responses = [page.goto(site.url(p)) for p in (path, "/", "/privacy", "/nowhere")]
    page.goto(site.url(path))
    with page.expect_response(lambda r: r.url.endswith("/answer")) as answer:
        page.get_by_role("button", name=words("landing.check_in_here")).click()
    for response in [*responses, answer.value]:
        assert_security_headers(response)
        assert response.headers["cache-control"] == "no-store"
    assert page.evaluate("getComputedStyle(document.querySelector('.button')).backgroundColor") == "rgb(11, 92, 173)"
    assert page.csp_violations == []  # the inline stylesheet is admitted by its hash, nothing else is asked for


def _luminance(rgb: str) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(x) for x in re.findall(r"\d+", rgb)[:3])
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def test_font_contrast_and_the_code_on_one_line_at_360px(site, page):
    code, path = add_venue(site, "Trung tâm Phục vụ hành chính công phường Hoàn Kiếm")
    page.goto(site.url(path))
    style = "(e, p) => getComputedStyle(e)[p]"
    body, button = page.locator("body"), page.locator("button").first
    assert button.evaluate(style, "fontFamily") == body.evaluate(style, "fontFamily")  # font: inherit
    footer = page.locator("footer")
    ink = footer.evaluate(style, "color")
    ground = footer.evaluate(
        "e => { for (; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor;"
        " if (c !== 'rgba(0, 0, 0, 0)') return c; } return 'rgb(255, 255, 255)'; }"
    )
    lighter, darker = sorted((_luminance(ink), _luminance(ground)), reverse=True)
    assert (lighter + 0.05) / (darker + 0.05) >= 4.5, (ink, ground)

    line = page.locator("p.code")
    assert line.inner_text() == f"CHECKIN {code}"
    height, line_height = line.evaluate(
        "e => [e.getBoundingClientRect().height, parseFloat(getComputedStyle(e).lineHeight)]"
    )
    assert height < 1.5 * line_height  # one line
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # and nothing wider than the phone


def test_axe_finds_nothing_serious_on_the_citizens_pages(site, page):
    code, path = add_venue(site, "Nhà văn hóa phường Hoàn Kiếm")
    found = {}
    for address in (path, "/", "/privacy", "/nowhere", f"{path}x"):
        page.goto(site.url(address))
        found[address] = accessibility_problems(page)
    page.goto(site.url(path))
    page.get_by_role("button", name=words("landing.check_in_here")).click()
    page.wait_for_url(f"**{path}/answer")
    found["answer"] = accessibility_problems(page)
    assert found == {k: [] for k in found}


def test_the_accessibility_check_can_fail(page):
    page.set_content('<html><body><main><input type="text"><img src="data:,"></main></body></html>')
    found = " ".join(accessibility_problems(page))
    assert "label" in found and "image-alt" in found
