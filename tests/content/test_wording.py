"""The wording a tester found wrong (issue 19), rendered: grammatical, short on a phone, and not
contradicting the guide."""

from __future__ import annotations

from fractions import Fraction

import pytest

from texts import Percent, t
from texts.content import Content

# A cheap Android phone shows about 40 characters a line; a line of a message wraps at most once.
PHONE_LINE = 80


@pytest.fixture(scope="module")
def content() -> Content:
    return Content.load()


@pytest.mark.parametrize("share", [None, Percent(Fraction(1, 3))])
def test_the_campaign_activity_is_short_lines(content, share):
    text = content.render(
        t(
            "tally.summary.activity",
            households=1234,
            revisits=56,
            helped=789,
            already=1011,
            nobody_home=121,
            checkins=0 if share is None else 13141,
            share=share if share is not None else t("tally.summary.share_none"),
            self_reported=1516,
            volunteers=171,
            venues=18,
        )
    )
    lines = text.split("\n")
    assert len(lines) >= 3 and all(len(line) <= PHONE_LINE for line in lines), lines
    assert "chưa có đã cài sẵn" not in text and "Chiến dịch:" not in text


def test_the_checkin_thanks_asks_the_platform_once(content):
    """The guide's question follows the thanks: the thanks does not ask it too."""
    thanks = content.render(t("checkin.guide_follows"))
    assert "?" not in thanks and "điện thoại loại nào" not in thanks
    assert "?" in content.render(t("guide.choose_platform"))


def test_bluetooth_advice_agrees_with_the_guide(content):
    assert "cả khi ở nhà" in content.render(t("checkin.installed_thanks", slogan="x"))
    assert "khi ra ngoài" not in content.render(t("checkin.installed_thanks", slogan="x"))
    assert "cả khi ở nhà" in content.render(t("guide.android.steps.4.text"))


def test_an_announcement_sent_says_what_officials_need(content):
    text = content.render(t("announce.queued", count=1200, unit="Xã An Lạc, Bắc Ninh"))
    assert "1.200 người" in text and "xếp hàng" not in text and "giây" not in text
