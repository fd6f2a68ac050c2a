"""`zalo oa-token`: the state of the Zalo OA token pair, and a refresh on demand."""

from __future__ import annotations

import asyncio

import aiohttp
import click

from bot.commands.common import load_settings, prepare_database
from storage import zalo_tokens
from storage.db import create_engine, sessionmaker


@click.group()
def zalo() -> None:
    """Zalo Official Account and Zalo Bot Platform."""


@zalo.command("oa-token")
@click.option(
    "--refresh", is_flag=True, help="Refresh now (after setting a new ZALO_OA_REFRESH_TOKEN, to check it works)."
)
def oa_token(refresh: bool) -> None:
    """When the stored OA access token expires (the tokens themselves are never shown)."""
    from bot.channels.zalo_oa_tokens import OaTokens, TokenError

    settings = load_settings()
    if not settings.zalo_oa_configured:
        raise click.ClickException("set ZALO_OA_APP_ID, ZALO_OA_APP_SECRET and ZALO_OA_SECRET_KEY first")
    app_id = settings.zalo_oa_app_id
    assert app_id is not None  # zalo_oa_configured

    async def go() -> str:
        await prepare_database(settings)
        engine = create_engine(settings.database_url)
        try:
            sessions = sessionmaker(engine)
            if refresh:
                async with aiohttp.ClientSession() as http:
                    tokens = OaTokens(settings, sessions, lambda: http)
                    async with sessions() as db:
                        row = await zalo_tokens.current(db, app_id)
                    try:
                        await tokens.refresh(stale=row.access_token if row else None)
                    except TokenError as exc:
                        raise click.ClickException(f"refresh failed: {exc}") from exc
            async with sessions() as db:
                row = await zalo_tokens.current(db, app_id)
        finally:
            await engine.dispose()
        if row is None or not row.access_token:
            return "no OA access token stored yet (one is fetched with ZALO_OA_REFRESH_TOKEN on first use)"
        refreshed = row.refreshed_at.isoformat(timespec="seconds") if row.refreshed_at else "never"
        return (
            f"OA access token valid until {row.expires_at.isoformat(timespec='seconds')} (last refreshed {refreshed})"
        )

    click.echo(asyncio.run(go()))
