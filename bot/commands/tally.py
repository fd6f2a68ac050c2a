"""Officials' figures from the command line: install progress, official figures, targets."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from bot.commands.common import in_session, load_settings, read_csv_text, units_option
from storage.models import utcnow
from texts.formats import local_date

FORMATS = ("table", "json", "csv", "xlsx")


def _date(value: str | None) -> dt.date:
    if not value:
        return local_date(utcnow())
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD") from None


def _unit_code(unit: str, scheme: str) -> str:
    """`--unit` as stored: padded to its level's width on this map ("1" → "01")."""
    from storage.unit_map import pad_unit_code

    try:
        return pad_unit_code(unit, scheme)
    except ValueError:
        raise click.BadParameter(f"{unit!r} is not a unit code", param_hint="--unit") from None


@click.group("tally", invoke_without_command=True)
@click.option("--unit", help="A commune (00070), a district (213, pre2025), a province (01) or VN.")
@units_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--date", "day", help="As of the end of this day (YYYY-MM-DD); default today.")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of the terminal."
)
@click.pass_context
def tally(
    ctx: click.Context, unit: str | None, scheme: str | None, fmt: str, day: str | None, out: Path | None
) -> None:
    """Install progress per commune of a unit against targets, with totals. On the other map than
    the deployment's (--units), the figures recorded on it and those carried onto it."""
    if ctx.invoked_subcommand is not None:
        return
    if not unit:
        raise click.UsageError("--unit is required (a commune, a province or VN)")
    from documents.tally_exports import to_csv, to_json, to_table, to_xlsx
    from handlers.progress import division_kinds
    from storage.tally import tally as compute
    from storage.units import CommuneIndex
    from texts import t
    from texts.content import Content

    settings = load_settings()
    scheme = scheme or settings.unit_scheme
    code = _unit_code(unit, scheme)
    content = Content.load(settings.content_dir)
    as_of = _date(day)

    async def work(db):
        try:
            result = await compute(db, code, as_of, scheme)
        except LookupError:
            raise click.ClickException(f"no unit {code} in the {scheme} units") from None
        name = result.unit_name or content.render(t("tally.country"))
        if fmt == "json":
            return to_json(result, name)
        if fmt == "csv":
            return to_csv(result)
        kinds = division_kinds(await CommuneIndex.load(db), result) if fmt in ("xlsx", "table") else ()
        if fmt == "xlsx":
            return to_xlsx(result, content, name, kinds)
        return to_table(result, content, name, kinds)

    document = in_session(settings, work)
    if isinstance(document, bytes):
        if out is None:
            if sys.stdout.isatty():
                raise click.UsageError("XLSX is a binary file: give --out FILE.xlsx")
            sys.stdout.buffer.write(document)
            return
        out.write_bytes(document)
    elif out is not None:
        out.write_text(document, encoding="utf-8")
    else:
        click.echo(document, nl=False)
    if out is not None:
        click.echo(f"wrote {out}", err=True)


@tally.command("rebuild")
@click.option("--check", is_flag=True, help="Only report drift; change nothing.")
def tally_rebuild(check: bool) -> None:
    """Recompute the per-commune counters from the raw rows and report any drift."""
    from storage.recount import rebuild

    drift = in_session(load_settings(), lambda db: rebuild(db, fix=not check))
    for d in drift:
        click.echo(f"{d.commune_code} {d.day} {d.metric}: counter {d.counter}, raw rows {d.recount}")
    click.echo(f"{len(drift)} drifting counter(s)" + ("" if check or not drift else ", repaired"))
    if check and drift:
        sys.exit(1)


@click.group("figures")
def figures() -> None:
    """Official figures: installed counts and denominators per commune and date."""


@figures.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@units_option
def figures_import(file: Path, scheme: str | None) -> None:
    """Import figures from CSV or XLSX (columns: unit_code, date, installed, subscribers,
    population, households; blanks allowed; `commune_code` is read as before). A unit is a commune,
    a district (pre2025) or a province, zero-padded. Every row is kept as a dated entry."""
    from storage.figures import import_rows

    if file.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        sheet = load_workbook(file, read_only=True, data_only=True).active
        rows = list(sheet.iter_rows(values_only=True))
    else:
        import csv

        rows = list(csv.reader(read_csv_text(file).splitlines()))
    if not rows:
        raise click.ClickException(f"{file} is empty")
    header, body = rows[0], rows[1:]
    settings = load_settings()
    scheme = scheme or settings.unit_scheme
    report = in_session(settings, lambda db: import_rows(db, header, body, f"import:{file.name}", scheme))
    for error in report.errors:
        click.echo(f"skipped: {error}", err=True)
    click.echo(f"imported {report.imported} row(s)")
    if report.errors and not report.imported:
        sys.exit(1)


@click.group("target")
def target() -> None:
    """Install-rate targets for a unit (a province's communes inherit its target)."""


@target.command("set")
@click.option("--unit", required=True, help="VN, a province (01), a district (213, pre2025) or a commune (00070).")
@units_option
@click.option("--rate", required=True, help="0.6 or 60%.")
@click.option("--by", "deadline", required=True, help="Deadline, YYYY-MM-DD.")
@click.option(
    "--denominator",
    type=click.Choice(["subscribers", "population", "households"]),
    default="subscribers",
    show_default=True,
)
def target_set(unit: str, scheme: str | None, rate: str, deadline: str, denominator: str) -> None:
    """Set the target in force for a unit (earlier ones are kept as history)."""
    from storage.figures import parse_rate, set_target

    settings = load_settings()
    scheme = scheme or settings.unit_scheme
    code = _unit_code(unit, scheme)
    try:
        value = parse_rate(rate)
    except ValueError:
        raise click.BadParameter("use 0.6 or 60%", param_hint="--rate") from None
    due = _date(deadline)

    async def work(db):
        try:
            return await set_target(db, code, value, due, denominator, set_by=None, source="cli", scheme=scheme)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None

    row = in_session(settings, work)
    click.echo(f"target for {row.unit_code}: {float(value):.2%} of {denominator} by {due.isoformat()}")
