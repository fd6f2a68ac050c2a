"""The database schema, the administrative units and the support points."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from bot.commands.common import in_session, load_settings, own_map, prepare_database, read_csv_text, units_option
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
    """Administrative units (provinces, districts before 2025, communes; GSO codes)."""


@units.command("load")
def units_load() -> None:
    """Load the deployment's map (UNITS): the 34 provinces and 3,321 communes of 2025, or the 63
    provinces, 696 districts and 10,051 communes before 1 July 2025 (idempotent). Over today's units
    of an older data version, moves every stored code as `units upgrade` does."""
    settings = load_settings()
    provinces, communes = in_session(settings, lambda db: load_units(db, scheme=settings.unit_scheme))
    version, data_date = package_version()
    scheme = "" if settings.unit_scheme == "2025" else f"{settings.unit_scheme} units; "
    click.echo(f"{provinces} provinces, {communes} communes ({scheme}vietnam-provinces {version}, data of {data_date})")


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
    if settings.unit_scheme != "2025":
        # The pre-2025 map is frozen in the package's legacy module: its codes never move.
        raise click.ClickException(
            f"the {settings.unit_scheme} units do not change between versions: nothing to upgrade"
        )
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


@units.command("convert")
@click.argument("code")
@click.option(
    "--units",
    "scheme",
    type=click.Choice(["pre2025", "2025"]),
    required=True,
    help="Which scheme CODE is in: pre2025 prints what it became, 2025 what it was made of.",
)
def units_convert(code: str, scheme: str) -> None:
    """Convert a commune or province code between the units before the 2025 merger and today's.

    One tab-separated line for CODE, then one per unit it became (→) or was made of (←); a commune
    ends with "whole" or "part" (only part of the old commune went there).
    """
    from storage.legacy_units import former_province, province_sources
    from storage.units import CommuneIndex

    try:
        padded = pad_unit_code(code)
    except ValueError:
        raise click.BadParameter(f"{code!r} is not a commune or province code", param_hint="CODE") from None
    today = CommuneIndex.from_data()
    former = today.former
    lines: list[str] = []
    if len(padded) == 2 and scheme == "pre2025":
        found = former_province(padded)
        if found is None:
            raise click.ClickException(f"no province {padded} before 2025 (a commune's code has five digits)")
        lines.append(f"{padded}\t{found[0]}")
        lines += [f"→\t{new}\t{today.provinces.get(new, '?')}" for new in found[1]]
    elif len(padded) == 2:
        if padded not in today.provinces:
            raise click.ClickException(f"no province {padded} today (a commune's code has five digits: 000{padded})")
        lines.append(f"{padded}\t{today.provinces[padded]}")
        lines += [f"←\t{old}\t{name}" for old, name in province_sources(padded)]
    elif scheme == "pre2025":
        old = former.get(padded)
        if old is None:
            raise click.ClickException(f"no commune {padded} before 2025")
        lines.append(f"{old.code}\t{old.name}\t{old.district_name}\t{old.province_name}")
        for new_code, partly in old.became:
            entry = today.get(new_code)
            name, province = (entry.name, entry.province_name) if entry else ("?", "?")
            lines.append(f"→\t{new_code}\t{name}\t{province}\t{'part' if partly else 'whole'}")
        if not old.became:
            lines.append("(the package's crosswalk does not say where it went)")
    else:
        entry = today.get(padded)
        if entry is None:
            raise click.ClickException(f"no commune {padded} today")
        lines.append(f"{entry.code}\t{entry.name}\t{entry.province_name}")
        for source in former.sources_of(padded):
            c = source.former
            part = "part" if source.partly else "whole"
            lines.append(f"←\t{c.code}\t{c.name}\t{c.district_name}\t{c.province_name}\t{part}")
    for line in lines:
        click.echo(line)


@click.group("support-points")
def support_points() -> None:
    """Support points where citizens get help installing."""


@support_points.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@units_option
def support_points_import(file: Path, scheme: str | None) -> None:
    """Import support points from a CSV file (columns: commune_code, name, address,
    opening_hours, phone, latitude, longitude; the first three required)."""
    from storage.support_points import import_csv

    settings = load_settings()
    own_map(settings, scheme)
    text = read_csv_text(file)
    report = in_session(settings, lambda db: import_csv(db, text))
    for error in report.errors:
        click.echo(f"skipped: {error}", err=True)
    click.echo(f"imported {report.imported} support point(s)")
    if report.errors and not report.imported:
        sys.exit(1)
