"""The OA token pair: several workers refreshing at once spend the single-use refresh token once.

Each worker has its own database engine (its own connections, as separate processes would) and
its own HTTP client; the OAuth stand-in takes a while to answer so their refreshes overlap, and
records any refresh token presented twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

import aiohttp
import pytest
from sqlalchemy import select

from bot.channels.zalo_oa_tokens import OaTokens, TokenError
from bot.settings import Secret
from storage.db import create_engine, sessionmaker
from storage.models import ZaloOaToken
from tests.channels.conftest import oa_settings
from tests.standins.zalo_oa_api import OAUTH

WORKERS = 8


@contextlib.asynccontextmanager
async def workers(oa, database, n=WORKERS, **overrides):
    settings = dataclasses.replace(oa_settings(oa, database, 8080), **overrides)
    engines, clients, tokens = [], [], []
    try:
        for _ in range(n):
            engine = create_engine(database["url"], schema=database["schema"])
            client = aiohttp.ClientSession()
            engines.append(engine)
            clients.append(client)
            tokens.append(OaTokens(settings, sessionmaker(engine), lambda c=client: c))
        yield tokens
    finally:
        for client in clients:
            await client.close()
        for engine in engines:
            await engine.dispose()


async def stored(db_engine) -> ZaloOaToken:
    async with sessionmaker(db_engine)() as db:
        return (await db.scalars(select(ZaloOaToken))).one()


async def test_concurrent_refreshes_spend_the_refresh_token_once(oa, database, db_engine):
    oa.oauth_delay = 0.3  # a slow OAuth answer: every worker asks while the first is refreshing
    async with workers(oa, database) as tokens:
        # No pair stored yet: all workers start at once, seed the row from the environment, and
        # want a first access token.
        first = await asyncio.gather(*(t.get() for t in tokens))
        assert len(oa.oauth_calls()) == 1 and oa.reused == []
        assert len(set(first)) == 1 and sum(t.refreshes for t in tokens) == 1

        # Zalo invalidates the token; every worker's next call is refused with the same token,
        # and they all ask for a refresh at the same moment.
        oa.expire_access_tokens()
        second = await asyncio.gather(*(t.refresh(stale=first[0]) for t in tokens))
        assert len(oa.oauth_calls()) == 2 and oa.reused == []
        assert len(set(second)) == 1 and second[0] != first[0]
        assert second[0] in oa.access_tokens
    row = await stored(db_engine)
    assert row.access_token == second[0]
    assert row.refresh_token in oa.refresh_tokens  # the unspent one is what is stored


async def test_the_oauth_stand_in_notices_a_refresh_token_used_twice(oa):
    """The check above can fail: refreshing twice with one token is caught and recorded."""
    form = {"refresh_token": "refresh-token-0", "app_id": oa.app_id, "grant_type": "refresh_token"}
    async with aiohttp.ClientSession() as http:
        answers = []
        for _ in range(2):
            async with http.post(oa.base_url + OAUTH, data=form, headers={"secret_key": oa.app_secret}) as r:
                answers.append(await r.json())
    assert "access_token" in answers[0] and answers[1]["error"] == -14020
    assert oa.reused == ["refresh-token-0"]


async def test_a_refused_refresh_changes_nothing(oa, database, db_engine):
    async with workers(oa, database, n=1) as (tokens,):
        first = await tokens.get()
        before = await stored(db_engine)
        oa.fail_next(OAUTH, error=-14020, error_name="Invalid refresh token", error_description="expired")
        with pytest.raises(TokenError):
            await tokens.refresh(stale=first)
        after = await stored(db_engine)
        assert (after.access_token, after.refresh_token) == (before.access_token, before.refresh_token)
        assert await tokens.refresh(stale=first) != first  # Zalo answers again: the pair still works
    assert (await stored(db_engine)).refresh_token == "refresh-token-2" and oa.reused == []


async def test_a_new_refresh_token_in_the_environment_replaces_the_stored_pair(oa, database, db_engine):
    async with workers(oa, database, n=1) as (tokens,):
        await tokens.get()
    assert (await stored(db_engine)).refresh_token == "refresh-token-1"
    # An admin authorised the app again and put the new refresh token in the environment.
    oa.refresh_tokens.add("fresh-from-admin")
    async with workers(oa, database, n=1, zalo_oa_refresh_token=Secret("fresh-from-admin")) as (tokens,):
        await tokens.get()
    assert oa.spent_refresh_tokens == {"refresh-token-0", "fresh-from-admin"} and oa.reused == []
    # Restarting with the same environment does not reuse it.
    async with workers(oa, database, n=1, zalo_oa_refresh_token=Secret("fresh-from-admin")) as (tokens,):
        await tokens.get()
    assert len(oa.oauth_calls()) == 2 and oa.reused == []
