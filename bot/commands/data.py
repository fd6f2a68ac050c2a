"""The database schema, the administrative units and the support points."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from bot.commands.common import in_session, load_settings, prepare_database, read_csv_text
from storage.db import create_engine, sessionmaker
from storage.migrate import upgrade
from storage.units import load_units, package_version, pad_unit_code, plan_units


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
    """Load the 34 provinces and 3,321 communes of the 2025 structure (idempotent). Over units of an
    older data version, moves every stored code as `units upgrade` does."""
    provinces, communes = in_session(load_settings(), load_units)
    version, data_date = package_version()
    click.echo(f"{provinces} provinces, {communes} communes (vietnam-provinces {version}, data of {data_date})")


@units.command("upgrade")
@click.option("--dry-run", is_flag=True, help="Print what would move, change nothing.")
@click.option(
    "--map",
    "decisions",
    multiple=True,
    metavar="OLD=NEW",
    help="The operator's decision for a code the upgrade could not match (repeatable).",
)
def units_upgrade(dry_run: bool, decisions: tuple[str, ...]) -> None:
    """Move the stored units to this package's data version: every stored code follows its commune
    (same normalised name, same province) to its new code. Prints every code that moved; stops,
    changing nothing, where a match is ambiguous, until each such code is decided with --map."""
    settings = load_settings()
    chosen: dict[str, str] = {}
    for decision in decisions:
        old, sep, new = decision.partition("=")
        try:
            if not sep:
                raise ValueError(decision)
            chosen[pad_unit_code(old)] = pad_unit_code(new)
        except ValueError:
            raise click.BadParameter(f"{decision!r}: write OLD=NEW, two commune codes", param_hint="--map") from None

    async def go() -> list[str]:
        await prepare_database(settings, units=False)
        engine = create_engine(settings.database_url)
        try:
            async with sessionmaker(engine)() as db, db.begin():
                plan = await plan_units(db, decisions=chosen)
                if dry_run or plan.blocked:
                    return plan.report()
                await load_units(db, decisions=chosen)
                return plan.report()
        finally:
            await engine.dispose()

    lines = asyncio.run(go())
    for line in lines:
        click.echo(line)
    if any(line.startswith(("TO DECIDE", "province:")) for line in lines):
        raise click.ClickException("nothing was changed: decide each code marked TO DECIDE with --map OLD=NEW")
    if dry_run:
        click.echo("dry run: nothing was changed")


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
