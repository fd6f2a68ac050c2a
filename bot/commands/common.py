"""What every command needs: settings and logging, a migrated database, a session to work in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import click
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.logs import setup_logging
from bot.settings import Settings
from storage.db import create_engine, sessionmaker
from storage.migrate import upgrade
from storage.models import Commune
from storage.unit_map import SCHEMES
from storage.unit_upgrade import UnitsUpgradeBlocked
from storage.units import UnitsSchemeMismatch, database_scheme, load_units, package_version, stored_version

log = logging.getLogger("bluezone_bot")


def load_settings() -> Settings:
    try:
        settings = Settings.from_env()
    except ValueError as problem:  # a bad setting: say which, without a traceback
        raise click.ClickException(str(problem)) from None
    setup_logging(settings.log_level, settings.secrets())
    return settings


async def prepare_database(settings: Settings, units: bool = True) -> None:
    """Bring the schema to the latest revision, and the units to the package's data version: loaded
    if missing, their stored codes moved if they came from another version (the report is logged).
    Where the move needs a decision, nothing changes and the command stops, saying what to run."""
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        if not units:
            return
        scheme = settings.unit_scheme
        async with sessionmaker(engine)() as db, db.begin():
            empty = not await db.scalar(select(func.count()).select_from(Commune))
            stale = empty or await database_scheme(db) != scheme
            if stale or await stored_version(db, scheme) != package_version()[0]:
                try:
                    provinces, communes = await load_units(db, scheme=scheme)
                except UnitsUpgradeBlocked as blocked:
                    raise click.ClickException(blocked_message(blocked)) from None
                except UnitsSchemeMismatch as mismatch:
                    raise click.ClickException(str(mismatch)) from None
                log.info("loaded %s provinces and %s communes (%s units)", provinces, communes, scheme)
    finally:
        await engine.dispose()


def blocked_message(blocked: UnitsUpgradeBlocked) -> str:
    return "\n".join(
        [
            *blocked.plan.report(),
            "the units were not upgraded and nothing was changed: decide each code marked TO DECIDE with "
            "`bluezone-bot units upgrade --map OLD=NEW` (see `bluezone-bot units upgrade --dry-run`)",
        ]
    )


# Every command that takes a unit code takes the map it is on; the deployment's by default.
units_option = click.option(
    "--units",
    "scheme",
    type=click.Choice(SCHEMES),
    help="The map the unit codes are on: 2025 (today's) or pre2025 (before 1 July 2025, with districts); "
    "default the deployment's (UNITS).",
)


def own_map(settings: Settings, scheme: str | None) -> str:
    """The scheme of a command acting on the deployment's own data (a role, a venue): its map only."""
    if scheme is not None and scheme != settings.unit_scheme:
        raise click.UsageError(
            f"this deployment runs on the {settings.unit_scheme} units: a {scheme} code cannot be used here "
            "(figures and targets may be recorded on either map)"
        )
    return settings.unit_scheme


def in_session[T](settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction on a migrated database (committed if it returns)."""

    async def go() -> T:
        await prepare_database(settings)
        engine = create_engine(settings.database_url)
        try:
            async with sessionmaker(engine)() as db, db.begin():
                return await work(db)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def read_csv_text(path: Path) -> str:
    """A CSV file as text: UTF-8 (with or without BOM, as Excel's "CSV UTF-8" writes it)."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise click.ClickException(f'{path} is not UTF-8: in Excel, save it as "CSV UTF-8"') from None
