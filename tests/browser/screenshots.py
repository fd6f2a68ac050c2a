"""`make screenshots`: the main pages (a venue's landing page, the dashboard's login, a province's
page and its map, a commune's page) at a phone's width (360 px) and a desktop's, into
docs/screenshots/ as small PNGs (256 colours), from a throwaway SQLite database with made-up figures.

Debian's Chromium is driven by path, as in the browser tests. Run it after changing a page's looks,
look at the pictures, and commit them.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import shutil
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

from PIL import Image

from storage import roles, venues, web_sessions
from storage.accounts import find_or_create_person
from storage.figures import record_figure, set_target
from storage.models import Commune, utcnow
from storage.venue_codes import sign
from tests.browser.conftest import CHROMIUM_ARGS, KEY, Site, chromium_path, prepare
from texts.formats import local_date

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PROVINCE, COMMUNE = "24", "07210"  # Bắc Ninh, and its Phường Bắc Giang
SIZES = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1280, "height": 860}}


async def seed(site: Site) -> tuple[str, list[str]]:
    """Made-up figures for most of the province's communes (a fixed seed: the same pictures each
    run), its target, a venue and a province officer's one-time links (one per size); the venue's path and the links'."""
    from sqlalchemy import select

    today = local_date(utcnow())
    chance = random.Random(2021)
    assert site.service is not None
    async with site.service.sessions() as db, db.begin():
        communes = (await db.scalars(select(Commune.code).where(Commune.province_code == PROVINCE))).all()
        for code in communes:
            if code != COMMUNE and chance.random() < 0.15:
                continue  # some communes have sent nothing yet
            subscribers = chance.randrange(8_000, 60_000)
            rate = chance.uniform(0.08, 0.92)
            for days_ago, share in ((20, 0.55), (12, 0.75), (5, 0.9), (1, 1.0)):
                await record_figure(
                    db,
                    code,
                    today - dt.timedelta(days=days_ago),
                    entered_by=None,
                    source="screenshots",
                    installed=int(subscribers * rate * share),
                    subscribers=subscribers,
                )
        await set_target(db, PROVINCE, Fraction(3, 5), today + dt.timedelta(days=25), set_by=None, source="screenshots")
        venue = await venues.create_venue(
            db, name="Nhà văn hóa khu phố 3", kind="other", commune_code=COMMUNE, address="Đường Hùng Vương"
        )
        person, _ = await find_or_create_person(db, "telegram", "9001")
        await roles.grant(db, person.id, roles.Role.PROVINCE_OFFICER, PROVINCE)
        tokens = [await web_sessions.issue_login(db, person.id, utcnow()) for _ in SIZES]
    return f"/q/{sign(KEY, venue.code)}", [f"/dashboard/login/{token}" for token in tokens]


def save(png: bytes, name: str) -> None:
    """A PNG in 256 colours: these pages are flat colours and text, and a tenth of the size."""
    picture = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    picture.save(OUT / f"{name}.png", optimize=True)
    print(f"{OUT / name}.png  {(OUT / f'{name}.png').stat().st_size // 1024} KB")


def main() -> int:
    path = chromium_path()
    if path is None:
        print("Chromium is missing: apt-get install chromium", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    fonts = (
        subprocess.run(["fc-list"], capture_output=True, text=True, check=False).stdout
        if shutil.which("fc-list")
        else ""
    )
    if "emoji" not in fonts.lower():  # phones have one; without it the buttons' ✅ is a box
        print("note: no colour emoji font (apt-get install fonts-noto-color-emoji)", file=sys.stderr)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/screenshots.db"
        prepare(url)
        site = Site(url).start()
        try:
            landing, logins = site.run(seed(site))
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
                for (size, viewport), login in zip(SIZES.items(), logins, strict=True):
                    context = browser.new_context(viewport=viewport, locale="vi-VN")
                    page = context.new_page()
                    page.goto(site.url(landing))
                    save(page.screenshot(), f"landing-{size}")
                    page.goto(site.url(login))
                    save(page.screenshot(), f"login-{size}")
                    page.get_by_role("button").first.click()
                    page.wait_for_url(f"**/dashboard/unit/{PROVINCE}")
                    save(page.screenshot(), f"province-{size}")
                    save(page.locator("#map").screenshot(), f"map-{size}")
                    page.goto(site.url(f"/dashboard/unit/{COMMUNE}"))
                    save(page.screenshot(), f"commune-{size}")
                    context.close()
                browser.close()
        finally:
            site.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
