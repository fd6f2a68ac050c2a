"""Check-in venues for offices with many sites: add or import venues, make their posters.

Posters made here need the bot's Telegram username for the deep link and the printed handle:
TELEGRAM_BOT_USERNAME when set (works offline, on a PC without the bot's token), else the
username Telegram reports for TELEGRAM_BOT_TOKEN (getMe).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.common import in_session, load_settings, own_map, read_csv_text, units_option
from bot.commands.roles import describe_person, parse_user
from bot.settings import Settings
from documents.posters.bundle import INDEX_FILE, poster_files
from documents.posters.venue import PosterRequest, PosterUnavailable, draw, poster_request, public_handles
from storage import venues
from storage.accounts import find_or_create_person
from storage.csv_rows import commune_code
from storage.models import Commune, Venue, utcnow
from storage.units import CommuneIndex
from storage.venue_codes import normalize_code
from texts.content import Content
from texts.user_input import clean, is_name

FORMATS = ("pdf", "png")


async def telegram_username(settings: Settings) -> str | None:
    """TELEGRAM_BOT_USERNAME, else getMe with the token; None when neither is configured."""
    if settings.telegram_bot_username:
        return settings.telegram_bot_username
    if settings.telegram_bot_token is None:
        return None
    from telegram import Bot

    async with Bot(settings.telegram_bot_token.reveal(), base_url=settings.telegram_api_base_url) as bot:
        return bot.username


def _handles(settings: Settings) -> dict[str, str]:
    try:
        username = asyncio.run(telegram_username(settings))
    except Exception as exc:  # the network, a revoked token: say what to set instead
        raise click.ClickException(
            f"could not ask Telegram for the bot's username ({exc}); set TELEGRAM_BOT_USERNAME"
        ) from None
    return public_handles(settings, {"telegram": username} if username else {})


def _requests(settings: Settings, content: Content, rows: list[Venue], index: CommuneIndex) -> list[PosterRequest]:
    handles = _handles(settings)
    try:
        return [poster_request(content, settings, handles, v, index.get(v.commune_code)) for v in rows]
    except PosterUnavailable as exc:
        hint = {"no_key": "set QR_SIGNING_KEY", "no_handle": "set TELEGRAM_BOT_USERNAME (or TELEGRAM_BOT_TOKEN)"}
        raise click.ClickException(f"cannot make posters: {hint[exc.reason]}") from None


@click.group()
def venue() -> None:
    """Check-in venues (offices, markets, schools…) and their QR posters."""


manager_option = click.option(
    "--manager",
    callback=lambda ctx, param, value: parse_user(value) if value else None,
    help="CHANNEL:ID (as `grant --user` takes it, e.g. telegram:123456789) of the person who manages the venue "
    "in the bot: sees its check-ins, exports its log, revokes its posters.",
)


async def manager_id(db: AsyncSession, manager: tuple[str, str] | None) -> int | None:
    """The manager's person id, created if they have not written to the bot yet (as `grant` does)."""
    if manager is None:
        return None
    person, _ = await find_or_create_person(db, *manager)
    return person.id


@venue.command("add")
@click.option("--name", required=True, help="The venue's name, as printed on the poster.")
@click.option("--type", "kind", required=True, type=click.Choice(venues.VENUE_KINDS), help="The kind of place.")
@click.option("--commune", required=True, help="The commune's GSO code (00070; leading zeros optional).")
@units_option
@click.option("--address", required=True)
@click.option("--latitude", type=float)
@click.option("--longitude", type=float)
@manager_option
def venue_add(
    name: str,
    kind: str,
    commune: str,
    scheme: str | None,
    address: str,
    latitude: float | None,
    longitude: float | None,
    manager: tuple[str, str] | None,
) -> None:
    """Add a venue; prints its code on the last line."""
    settings = load_settings()
    own_map(settings, scheme)
    code = commune_code(commune)
    try:
        venues.parse_coordinates("" if latitude is None else str(latitude), "" if longitude is None else str(longitude))
    except ValueError:
        raise click.ClickException("give both --latitude and --longitude, within range") from None
    name, address = clean(name) or "", clean(address) or ""  # as typed in chat: no control or bidi characters
    if not is_name(name) or not is_name(address):
        raise click.ClickException("--name and --address need a letter or digit")
    if len(venues.clean_text(name, venues.NAME_MAX)) < 3 or len(venues.clean_text(address, venues.ADDRESS_MAX)) < 3:
        raise click.ClickException("--name and --address need at least 3 characters")

    async def work(db: AsyncSession) -> tuple[str, str] | None:
        if await db.get(Commune, code) is None:
            return None
        v = await venues.create_venue(
            db,
            name=name,
            kind=kind,
            commune_code=code,
            address=address,
            latitude=latitude,
            longitude=longitude,
            manager_user_id=await manager_id(db, manager),
        )
        return v.name, v.code

    added = in_session(settings, work)
    if added is None:
        raise click.ClickException(f"unknown commune code {code!r}")
    click.echo(f"added venue {added[0]!r} in commune {code}; its code:")
    click.echo(added[1])


@venue.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@manager_option
@units_option
def venue_import(file: Path, manager: tuple[str, str] | None, scheme: str | None) -> None:
    """Import venues from a CSV file (columns: name, type, commune_code, address, latitude,
    longitude; the first four required). Prints each new venue's code and name."""
    settings = load_settings()
    own_map(settings, scheme)
    text = read_csv_text(file)

    async def work(db: AsyncSession) -> venues.ImportReport:
        return await venues.import_csv(db, text, await manager_id(db, manager))

    report = in_session(settings, work)
    for error in report.errors:
        click.echo(f"skipped: {error}", err=True)
    for v in report.created:
        click.echo(f"{v.code}\t{v.commune_code}\t{v.name}")
    click.echo(f"imported {len(report.created)} new venue(s), updated {len(report.updated)}")
    if report.errors and not (report.created or report.updated):
        sys.exit(1)


@venue.command("list")
@click.option("--commune", help="Only this commune's venues (GSO code).")
@units_option
def venue_list(commune: str | None, scheme: str | None) -> None:
    """Every venue (or a commune's): code, commune, type, manager, name; tab-separated."""
    own_map(load_settings(), scheme)
    code = commune_code(commune) if commune else None

    async def work(db: AsyncSession) -> list[str] | None:
        if code is not None and await db.get(Commune, code) is None:
            return None
        lines = []
        for v in await venues.venues_in_commune(db, code):
            manager = await describe_person(db, v.manager_user_id) if v.manager_user_id else "-"
            lines.append("\t".join((v.code, v.commune_code, v.kind, manager, v.name)))
        return lines

    lines = in_session(load_settings(), work)
    if lines is None:
        raise click.ClickException(f"unknown commune code {code!r}")
    for line in lines:
        click.echo(line)
    if not lines:
        click.echo("no venues")


@venue.command("revoke")
@click.argument("code")
def venue_revoke(code: str) -> None:
    """Revoke a venue's posters (copied, or put up in the wrong place): CODE is retired for good,
    its QR and code are refused from now on, and a new code is issued (printed on the last line)
    for new posters (`bluezone-bot poster --venue NEW`)."""
    code = normalize_code(code)

    async def work(db: AsyncSession) -> tuple[str, str, bool] | None:
        found = await venues.find_by_code(db, code)
        if found.venue is None:
            return None
        if found.revoked:
            return found.venue.name, found.venue.code, False
        return found.venue.name, await venues.revoke(db, found.venue, utcnow()), True

    done = in_session(load_settings(), work)
    if done is None:
        raise click.ClickException(f"no venue has the code {code!r}")
    name, current, revoked = done
    if not revoked:
        raise click.ClickException(f"{code} of {name!r} was already revoked; its code now is {current}")
    click.echo(f"revoked {code} of {name!r}: its posters are refused from now on. Its new code:")
    click.echo(current)


@click.command()
@click.option("--venue", "code", required=True, help="The venue's code (printed by `venue add`).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="FILE.pdf or FILE.png")
def poster(code: str, out: Path) -> None:
    """Make one venue's poster: a print-ready PDF or a PNG, by the file's extension."""
    kind = out.suffix.lower().lstrip(".")
    if kind not in FORMATS:
        raise click.ClickException("--out must end in .pdf or .png")
    settings = load_settings()
    content = Content.load(settings.content_dir)
    code = normalize_code(code)

    async def work(db: AsyncSession) -> tuple[Venue | None, CommuneIndex]:
        found = await venues.find_by_code(db, code)
        return (None if found.revoked else found.venue), await CommuneIndex.load(db)

    found, index = in_session(settings, work)
    if found is None:
        raise click.ClickException(f"no venue has the code {code!r} (revoked, or mistyped)")
    (request,) = _requests(settings, content, [found], index)
    drawn = draw(request, pdf=kind == "pdf", png=kind == "png")
    out.parent.mkdir(parents=True, exist_ok=True)
    data = drawn.pdf if kind == "pdf" else drawn.png
    assert data is not None  # drawn in the kind asked for
    out.write_bytes(data)
    click.echo(f"{out} (QR version {drawn.layout.qr.version}-{drawn.layout.qr.level}, {drawn.layout.qr.side:.0f} mm)")


@click.command()
@click.option("--commune", required=True, help="The commune's GSO code.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="The folder to write to.")
@click.option("--format", "formats", type=click.Choice([*FORMATS, "both"]), default="pdf", show_default=True)
@units_option
def posters(commune: str, out: Path, formats: str, scheme: str | None) -> None:
    """Make the poster of every venue of a commune, with a progress bar: files named after the venue
    and its code (cho-dong-xuan-AB23CD7.pdf/.png) and index.csv listing them (code, name, address,
    files)."""
    settings = load_settings()
    own_map(settings, scheme)
    content = Content.load(settings.content_dir)
    code = commune_code(commune)

    async def work(db: AsyncSession) -> tuple[bool, list[Venue], CommuneIndex]:
        exists = await db.get(Commune, code) is not None
        rows = await venues.venues_in_commune(db, code)
        return exists, rows, await CommuneIndex.load(db)

    exists, rows, index = in_session(settings, work)
    if not exists:
        raise click.ClickException(f"unknown commune code {code!r}")
    if not rows:
        click.echo(f"commune {code} has no venues")
        return
    requests = _requests(settings, content, rows, index)
    want = FORMATS if formats == "both" else (formats,)
    out.mkdir(parents=True, exist_ok=True)
    files = poster_files(rows, requests, want)
    with click.progressbar(length=len(requests) * len(want), label=f"{len(requests)} posters", file=sys.stderr) as bar:
        for name, data in files:
            (out / name).write_bytes(data)
            bar.update(1)
    click.echo(f"wrote {len(requests) * len(want)} file(s) and {INDEX_FILE} to {out}")
