"""Venue managers: register a check-in point and get its poster; list their venues, see counts,
get a poster again, export the check-in log, revoke a poster (a new code is issued)."""

from __future__ import annotations

import csv
import io
import logging
import re

from documents.posters.venue import PosterUnavailable, draw_async, poster_request, public_handles
from handlers.access import unit_in_sentence
from handlers.buttons import (
    ConfirmVenue,
    MyVenues,
    RedoVenue,
    RegisterVenue,
    SkipVenueLocation,
    VenueDetails,
    VenueExport,
    VenueKind,
    VenuePoster,
    VenueRevoke,
    VenueRevokeAsk,
)
from handlers.communes import ask_commune, commune_label
from handlers.context import Context
from handlers.menu import home_button
from handlers.router import Flow, MenuEntry
from handlers.types import Ask, Attachment, Button, Incoming, Kind, Reply, Step
from storage import venues
from storage.models import Venue
from texts import Percent, Text, t
from texts.formats import LOCAL_TIMEZONE, local_date
from texts.user_input import is_name

NAME, KIND, COMMUNE, ADDRESS, LOCATION, CONFIRM = (
    "venue.name",
    "venue.kind",
    "venue.commune_picked",
    "venue.address",
    "venue.location",
    "venue.confirm",
)
MIN_TEXT = 3
DRAFT = ("venue_name", "venue_kind", "venue_commune", "venue_address", "venue_latitude", "venue_longitude")
COORDINATES = re.compile(r"\s*(-?\d{1,2}(?:[.,]\d+)?)\s*[,;\s]\s*(-?\d{1,3}(?:[.,]\d+)?)\s*")

log = logging.getLogger(__name__)
# What an administrator sets when posters cannot be made (documents.posters.venue.PosterUnavailable).
POSTER_SETTINGS = {"no_handle": "set TELEGRAM_BOT_USERNAME (or TELEGRAM_BOT_TOKEN)", "no_key": "set QR_SIGNING_KEY"}


async def configured(ctx: Context) -> bool:
    """Posters need the QR signing key: without it the entry is not offered at all."""
    return ctx.settings.qr_signing_key is not None


async def manages(ctx: Context) -> bool:
    # Someone writing for the first time has registered nothing: no query on a poster's launch.
    return not ctx.first_contact and await venues.manages_venues(ctx.db, ctx.user.id)


def cancel_row() -> list[Button]:
    return [home_button()]


# --- registration --------------------------------------------------------------------------------


async def start(msg: Incoming, ctx: Context, _: RegisterVenue | RedoVenue | None = None) -> Step:
    """The register (or start again) button or /dangkydiem: asks for the name first."""
    if not await configured(ctx):
        return Step.end(Reply("venue.not_configured", [[home_button()]]))
    ctx.forget(*DRAFT)
    return Step.to(NAME, Reply("venue.ask_name", [cancel_row()]))


def typed(msg: Incoming, limit: int) -> str:
    """A typed name or address, tidied."""
    return venues.clean_text(msg.text if msg.kind is Kind.TEXT else "", limit)


def asked_again(text: str, no_letter: Text, too_short: Text) -> Step | None:
    """The question again for a name or address with no letter or digit (only emoji or invisible
    characters: nothing to print on a poster), or too short to be one."""
    if not is_name(text):
        return Step.stay(Reply(no_letter, [cancel_row()]))
    if len(text) < MIN_TEXT:
        return Step.stay(Reply(too_short, [cancel_row()]))
    return None


async def name_typed(msg: Incoming, ctx: Context) -> Step:
    name = typed(msg, venues.NAME_MAX)
    if step := asked_again(name, t("venue.name_no_letter"), t("venue.name_invalid")):
        return step
    ctx.remember(venue_name=name)
    return Step.to(KIND, ask_kind())


def ask_kind() -> Reply:
    buttons = [Button(t(f"venue.kinds.{k}"), payload=VenueKind(k).pack()) for k in venues.VENUE_KINDS]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return Reply("venue.ask_kind", [*rows, cancel_row()])


async def kind_typed(msg: Incoming, ctx: Context) -> Step:
    return Step.stay(ask_kind())


async def kind_chosen(msg: Incoming, ctx: Context, button: VenueKind) -> Step:
    kind = button.kind
    if kind not in venues.VENUE_KINDS or "venue_name" not in ctx.draft:
        return await stale(ctx)
    ctx.remember(venue_kind=kind)
    return ask_commune(ctx, then=COMMUNE, prompt="venue.ask_commune")


async def commune_picked(msg: Incoming, ctx: Context) -> Step:
    ctx.remember(venue_commune=ctx.draft["picked_commune"])
    ctx.forget("picked_commune")
    return Step.to(ADDRESS, Reply("venue.ask_address", [cancel_row()]))


async def address_typed(msg: Incoming, ctx: Context) -> Step:
    address = typed(msg, venues.ADDRESS_MAX)
    if step := asked_again(address, t("venue.address_no_letter"), t("venue.address_invalid")):
        return step
    ctx.remember(venue_address=address)
    return Step.to(LOCATION, ask_location(ctx))


def ask_location(ctx: Context) -> Reply:
    # Where the messenger has no share-location button, the words do not mention one.
    return Reply(
        "venue.ask_location" if ctx.capabilities.request_location else "venue.ask_location_typed",
        [[Button(t("venue.skip_location"), payload=SkipVenueLocation().pack())], cancel_row()],
        ask=Ask.LOCATION,
    )


async def location_given(msg: Incoming, ctx: Context) -> Step:
    """A shared location, or coordinates typed as "21.0285, 105.8542" where there is no share button."""
    lat: float | None
    lon: float | None
    if msg.kind is Kind.LOCATION and msg.location is not None:
        lat, lon = msg.location.latitude, msg.location.longitude
    else:
        lat, lon = typed_coordinates(msg.text if msg.kind is Kind.TEXT else None)
        if lat is None:
            return Step.stay(
                Reply(
                    "venue.location_invalid" if ctx.capabilities.request_location else "venue.location_invalid_typed",
                    [[Button(t("venue.skip_location"), payload=SkipVenueLocation().pack())], cancel_row()],
                )
            )
    ctx.remember(venue_latitude=lat, venue_longitude=lon)
    return Step.to(CONFIRM, confirmation(ctx))


def typed_coordinates(text: str | None) -> tuple[float | None, float | None]:
    """ "21.0285, 105.8542" (or with decimal commas, "21,0285 105,8542") → numbers; else Nones."""
    match = COORDINATES.fullmatch(text or "")
    if match is None:
        return None, None
    try:
        return venues.parse_coordinates(*(g.replace(",", ".") for g in match.groups()))
    except ValueError:
        return None, None


def confirmation(ctx: Context) -> Reply:
    d = ctx.draft
    entry = ctx.communes.get(d["venue_commune"])
    if d.get("venue_latitude") is not None:
        where = t("venue.location_set", latitude=f"{d['venue_latitude']:.5f}", longitude=f"{d['venue_longitude']:.5f}")
    else:
        where = t("venue.location_none")
    text = t(
        "venue.confirm",
        name=d["venue_name"],
        kind=t(f"venue.kinds.{d['venue_kind']}"),
        commune=commune_label(entry) if entry else d["venue_commune"],
        address=d["venue_address"],
        location=where,
    )
    rows = [
        [Button(t("venue.confirm_yes"), payload=ConfirmVenue().pack())],
        [Button(t("venue.confirm_redo"), payload=RedoVenue().pack())],
        cancel_row(),
    ]
    return Reply(text, rows)


async def confirm_typed(msg: Incoming, ctx: Context) -> Step:
    return Step.stay(confirmation(ctx))


async def create(msg: Incoming, ctx: Context, _: ConfirmVenue) -> Step:
    d = ctx.draft
    if ctx.convo.state != CONFIRM or not all(k in d for k in DRAFT[:4]):
        return await stale(ctx)  # a second tap on "confirm": the venue exists already
    venue = await venues.create_venue(
        ctx.db,
        name=d["venue_name"],
        kind=d["venue_kind"],
        commune_code=d["venue_commune"],
        address=d["venue_address"],
        latitude=d.get("venue_latitude"),
        longitude=d.get("venue_longitude"),
        manager_user_id=ctx.user.id,
    )
    created = Reply(t("venue.created", name=venue.name, code=venue.code))
    return Step.end(created, *await poster_replies(ctx, venue))


async def skip_location(msg: Incoming, ctx: Context, _: SkipVenueLocation) -> Step:
    if ctx.convo.state != LOCATION:
        return await stale(ctx)
    ctx.remember(venue_latitude=None, venue_longitude=None)
    return Step.to(CONFIRM, confirmation(ctx))


async def stale_button(msg: Incoming, ctx: Context) -> Step:
    return await stale(ctx)


async def stale(ctx: Context) -> Step:
    return Step.end(Reply("venue.stale", [[home_button()]]))


# --- the poster ----------------------------------------------------------------------------------


async def poster_replies(ctx: Context, venue: Venue) -> list[Reply]:
    """The poster as a PDF to print and a PNG to share, or why it cannot be made here."""
    handles = public_handles(ctx.settings, ctx.bot_handles)
    try:
        request = poster_request(ctx.content, ctx.settings, handles, venue, ctx.communes.get(venue.commune_code))
    except PosterUnavailable as exc:
        # The setting to fix is for the administrator's log, not for the venue's manager.
        log.warning("poster of venue %s not made: %s", venue.code, POSTER_SETTINGS.get(exc.reason, exc.reason))
        key = "venue.poster_no_handle" if exc.reason == "no_handle" else "venue.not_configured"
        return [Reply(t(key), [[home_button()]])]
    poster = await draw_async(request)
    assert poster.pdf is not None and poster.png is not None  # draw_async makes both
    pdf = Attachment(
        "document", f"{request.filename}.pdf", poster.pdf, "application/pdf", caption=t("venue.poster_pdf")
    )
    png = Attachment(
        "image", f"{request.filename}.png", poster.png, "image/png", caption=t("venue.poster_png", code=venue.code)
    )
    return [
        Reply("common.file_only", attachment=pdf),
        Reply(
            "common.file_only",
            [[Button(t("venue.my_venues"), payload=MyVenues().pack())], [home_button()]],
            attachment=png,
        ),
    ]


# --- a manager's venues --------------------------------------------------------------------------


async def list_mine(msg: Incoming, ctx: Context, _: MyVenues | None = None) -> Step:
    mine = await venues.venues_of(ctx.db, ctx.user.id)
    if not mine:
        rows = [[Button(t("venue.menu_register"), payload=RegisterVenue().pack())]] if await configured(ctx) else []
        return Step.end(Reply("venue.none", [*rows, [home_button()]]))
    rows = [[Button(f"{v.name} · {v.code}", payload=VenueDetails(v.id).pack())] for v in mine]
    if await configured(ctx):
        rows.append([Button(t("venue.menu_register"), payload=RegisterVenue().pack())])
    rows.append([home_button()])
    return Step.end(Reply(t("venue.list", count=len(mine)), rows))


VenueButton = VenueDetails | VenuePoster | VenueExport | VenueRevokeAsk | VenueRevoke


async def on_venue(msg: Incoming, ctx: Context, button: VenueButton) -> Step:
    """venues:v:<id> details and counts; :p: the poster again; :x: the CSV log; :r: revoke? :R: revoke."""
    venue = await venues.managed_venue(ctx.db, button.venue, ctx.user.id)
    if venue is None:
        return await stale(ctx)
    match button:
        case VenueDetails():
            return Step.end(await details(ctx, venue))
        case VenuePoster():
            again = Reply(t("venue.poster_again", name=venue.name, code=venue.code))
            return Step.end(again, *await poster_replies(ctx, venue))
        case VenueExport():
            return Step.end(await export(ctx, venue))
        case VenueRevokeAsk():
            rows = [
                [Button(t("venue.revoke_yes"), payload=VenueRevoke(venue.id).pack())],
                [Button(t("common.back"), payload=VenueDetails(venue.id).pack())],
            ]
            return Step.end(Reply(t("venue.revoke_ask", name=venue.name, code=venue.code), rows))
    old = venue.code
    await venues.revoke(ctx.db, venue, ctx.now, by=ctx.user.id)
    revoked = Reply(t("venue.revoked", name=venue.name, old=old, code=venue.code))
    return Step.end(revoked, *await poster_replies(ctx, venue))


async def details(ctx: Context, venue: Venue) -> Reply:
    counts = await venues.venue_counts(ctx.db, venue.id, local_date(ctx.now))
    share = Percent.of(counts.already_installed, counts.answered)
    text = t(
        "venue.details",
        name=venue.name,
        code=venue.code,
        kind=t(f"venue.kinds.{venue.kind}"),
        address=venue.address,
        commune=unit_in_sentence(ctx, venue.commune_code),
        today=counts.today,
        week=counts.last_7_days,
        total=counts.total,
        installed=t("venue.share", share=share, installed=counts.already_installed, answered=counts.answered)
        if share is not None
        else t("venue.share_none"),
    )
    rows = [
        [
            Button(t("venue.get_poster"), payload=VenuePoster(venue.id).pack()),
            Button(t("venue.export"), payload=VenueExport(venue.id).pack()),
        ],
        [Button(t("venue.revoke"), payload=VenueRevokeAsk(venue.id).pack())],
        [Button(t("venue.my_venues"), payload=MyVenues().pack()), home_button()],
    ]
    return Reply(text, rows)


async def export(ctx: Context, venue: Venue) -> Reply:
    """The check-in log as CSV (UTF-8 with BOM, so Excel shows the accents): time, an anonymous
    visitor number for this venue, channel, answered "already installed"."""
    render = ctx.content.render
    answers = {True: render(t("venue.csv_yes")), False: render(t("venue.csv_no")), None: ""}
    channel_names = ctx.content.section("venue.csv_channels")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([render(t(f"venue.csv_columns.{c}")) for c in ("time", "visitor", "channel", "installed")])
    log = await venues.check_in_log(ctx.db, venue.id)
    for row in log:
        when = row.checked_in_at.astimezone(LOCAL_TIMEZONE).strftime("%Y-%m-%d %H:%M:%S")  # Vietnam's time
        channel = channel_names.get(row.channel, row.channel)
        writer.writerow([when, row.visitor_number, channel, answers[row.already_installed]])
    data = ("\ufeff" + out.getvalue()).encode("utf-8")
    csv_file = Attachment(
        "document", f"checkins-{venue.code}.csv", data, "text/csv", caption=t("venue.export_caption", count=len(log))
    )
    return Reply(
        "common.file_only", [[Button(t("common.back"), payload=VenueDetails(venue.id).pack())]], attachment=csv_file
    )


FLOW = Flow(
    name="venue",
    buttons={
        RegisterVenue: start,
        VenueKind: kind_chosen,
        SkipVenueLocation: skip_location,
        ConfirmVenue: create,
        RedoVenue: start,
        MyVenues: list_mine,
        VenueDetails: on_venue,
        VenuePoster: on_venue,
        VenueExport: on_venue,
        VenueRevokeAsk: on_venue,
        VenueRevoke: on_venue,
    },
    otherwise={RegisterVenue.prefix: stale_button, MyVenues.prefix: stale_button},
    commands={"dangkydiem": start, "diemcheckin": list_mine},
    states={
        NAME: name_typed,
        KIND: kind_typed,
        COMMUNE: commune_picked,
        ADDRESS: address_typed,
        LOCATION: location_given,
        CONFIRM: confirm_typed,
    },
    menu=[
        MenuEntry(RegisterVenue(), "venue.menu_register", order=50, visible=configured),
        MenuEntry(MyVenues(), "venue.menu_mine", order=55, visible=manages),
    ],
)
