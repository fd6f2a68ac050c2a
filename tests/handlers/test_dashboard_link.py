"""/web in chat: a one-time link for officials and venue managers (only its hash stored), shown
without a link preview; chat's refusal for a citizen."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.settings import Settings
from storage import venues, web_sessions
from storage.accounts import find_or_create_person
from storage.models import DashboardLogin
from tests.harness import ChatDriver, grant_role

BASE = "https://bluezone.example.vn"


@pytest.fixture
def settings(database: dict) -> Settings:
    return Settings(database_url=database["url"], public_base_url=BASE)


async def logins(service) -> list[DashboardLogin]:
    async with service.sessions() as db:
        return list((await db.scalars(select(DashboardLogin))).all())


async def test_an_officer_gets_a_one_time_link_and_only_its_hash_is_stored(service):
    user = await grant_role(service, "web-1", "province_officer", "01")
    chat = ChatDriver(service, user_id="web-1")
    await chat.send("/web")
    assert chat.keys == ["dashboard.chat.link"]
    assert [m.no_preview for m in chat.last] == [True]
    token = re.search(rf"{re.escape(BASE)}/dashboard/login/([A-Za-z0-9_-]+)", chat.text()).group(1)
    assert chat.urls() == [f"{BASE}/dashboard/login/{token}"]
    (row,) = await logins(service)
    assert row.user_id == user and row.token_hash == web_sessions.token_hash(token) and token not in row.token_hash
    assert row.used_at is None


async def test_the_menu_offers_it_to_officials_only(service):
    await grant_role(service, "web-2", "coordinator", "00070")
    official, citizen = ChatDriver(service, user_id="web-2"), ChatDriver(service, user_id="web-3")
    await official.send("/menu")
    await citizen.send("/menu")
    assert "web" in official.payloads() and "web" not in citizen.payloads()


async def test_a_citizen_is_refused_as_chat_refuses_officials_actions(service):
    citizen = ChatDriver(service, user_id="web-4")
    await citizen.send("/web")
    assert citizen.keys == ["access.no_role"]
    assert await logins(service) == []


async def test_a_venue_manager_without_a_role_gets_a_link(service):
    manager = ChatDriver(service, user_id="web-5")
    await manager.send("/menu")
    async with service.sessions() as db, db.begin():
        person, _ = await find_or_create_person(db, "test", "web-5")
        await venues.create_venue(
            db, name="Chợ", kind="market", commune_code="00070", address="Phố Hàng Chiếu", manager_user_id=person.id
        )
    await manager.send("/web")
    assert manager.keys == ["dashboard.chat.link"]
