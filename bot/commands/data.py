"""The database schema, the administrative units and the support points."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from bot.commands.common import in_session, load_settings, read_csv_text
from storage.db import create_engine
from storage.migrate import upgrade
from storage.units import load_units


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the latest schema."""
    settings = load_settings()

    async def go() -> None:
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(go())
    click.echo("database is up to date")


@click.group()
def units() -> None:
    """Administrative units (provinces and communes, GSO codes)."""


@units.command("load")
def units_load() -> None:
    """Load the 34 provinces and 3,321 communes of the 2025 structure (idempotent)."""
    provinces, communes = in_session(load_settings(), load_units)
    click.echo(f"{provinces} provinces, {communes} communes")


@click.group("support-points")
def support_points() -> None:
    """Support points where citizens get help installing."""


@support_points.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def support_points_import(file: Path) -> None:
    """Import support points from a CSV file (columns: commune_code, name, address,
    opening_hours, phone, latitude, longitude; the first three required)."""
    from storage.support_points import import_csv

    settings = load_settings()
    text = read_csv_text(file)
    report = in_session(settings, lambda db: import_csv(db, text))
    for error in report.errors:
        click.echo(f"skipped: {error}", err=True)
    click.echo(f"imported {report.imported} support point(s)")
    if report.errors and not report.imported:
        sys.exit(1)
