"""Signed, expiring media URLs: served while valid, refused when forged, tampered or expired."""

from __future__ import annotations

import dataclasses
import datetime as dt
from urllib.parse import parse_qs, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from bot.media import MediaLinks
from bot.settings import Secret, Settings
from bot.web import init_app
from storage import media
from storage.models import utcnow

KEY = Secret("media-url-key-for-tests")


def links(settings: Settings, sessions=None) -> MediaLinks:
    return MediaLinks(
        dataclasses.replace(settings, media_url_key=KEY, public_base_url="https://bot.example.vn"), sessions
    )


async def test_published_file_is_served_until_it_expires(service, settings, aiohttp_client):
    service.media = links(settings, service.sessions)
    client = await aiohttp_client(init_app(settings, service))
    url = await service.media.publish(b"\x89PNG fake", "image/png", "biểu đồ.png", channel="zalo_bot", chat_id="c1")
    assert url.startswith("https://bot.example.vn/media/")
    path = url.split("bot.example.vn", 1)[1]
    response = await client.get(path)
    assert response.status == 200 and await response.read() == b"\x89PNG fake"
    assert response.content_type == "image/png"
    assert "filename*=UTF-8''bi%E1%BB%83u%20%C4%91%E1%BB%93.png" in response.headers["Content-Disposition"]

    parts = urlsplit(path)
    query = parse_qs(parts.query)
    tampered = f"{parts.path}?e={int(query['e'][0]) + 3600}&s={query['s'][0]}"  # a longer life, same signature
    assert (await client.get(tampered)).status == 403
    assert (await client.get(f"{parts.path}?e={query['e'][0]}&s=" + "0" * 32)).status == 403
    assert (await client.get(f"/media/not-an-id/x.png?{parts.query}")).status == 404

    past = int((utcnow() - dt.timedelta(minutes=1)).timestamp())
    file_id = parts.path.split("/")[2]
    signed_in_the_past = service.media.url_for(file_id, "x.png", past).split("bot.example.vn", 1)[1]
    assert (await client.get(signed_in_the_past)).status == 410

    async with service.sessions() as db, db.begin():  # the stored copy expires (pruned)
        await media.prune(db, utcnow() + dt.timedelta(days=2))
    assert (await client.get(path)).status == 410


async def test_the_same_file_is_stored_once_per_recipient(service, settings):
    service.media = links(settings, service.sessions)
    first = await service.media.publish(b"same bytes", "application/pdf", "a.pdf", channel="zalo_bot", chat_id="c1")
    second = await service.media.publish(b"same bytes", "application/pdf", "a.pdf", channel="zalo_bot", chat_id="c1")
    assert first.split("?")[0] == second.split("?")[0]
    async with service.sessions() as db:
        assert await media.count(db) == 1
    # Another person's copy is their own: erasing one deletes only theirs.
    other = await service.media.publish(b"same bytes", "application/pdf", "a.pdf", channel="zalo_bot", chat_id="c2")
    assert other.split("?")[0] != first.split("?")[0]
    async with service.sessions() as db:
        assert await media.count(db) == 2


@given(
    st.text("0123456789abcdef", min_size=32, max_size=32),
    st.integers(2_000_000_000, 3_000_000_000),
    st.text("0123456789abcdef", min_size=32, max_size=32),
)
def test_only_our_signature_opens_a_file(file_id, expires, guess):
    settings = Settings()
    ours = links(settings)
    other = MediaLinks(dataclasses.replace(settings, media_url_key=Secret("another-key")), None)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    signature = parse_qs(urlsplit(ours.url_for(file_id, "f", expires)).query)["s"][0]
    assert ours.check(file_id, str(expires), signature, now) == 200
    theirs = parse_qs(urlsplit(other.url_for(file_id, "f", expires)).query)["s"][0]
    assert ours.check(file_id, str(expires), theirs, now) == 403
    if guess != signature:
        assert ours.check(file_id, str(expires), guess, now) == 403
