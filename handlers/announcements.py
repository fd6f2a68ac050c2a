"""Announcements: a coordinator writes to their commune, a province officer to a commune or the
whole province; every citizen there who talks to the bot and has not opted out gets it once."""

from __future__ import annotations

from handlers.access import OFFICERS, CommuneDoor, refuse_unless, unit_in_sentence
from handlers.buttons import Announce, AnnounceIn, AnnounceTo, SendAnnouncement
from handlers.context import Context
from handlers.menu import home_button
from handlers.router import Flow, MenuEntry
from handlers.types import Button, Incoming, Kind, Reply, Step
from storage import broadcasts, roles
from storage.broadcasts import MAX_TEXT
from storage.roles import Role
from storage.units import unit_level
from texts import t

PICKED, TEXT = "announce.commune_picked", "announce.text"


def required_role(unit_code: str) -> Role:
    return {"province": Role.PROVINCE_OFFICER, "district": Role.DISTRICT_OFFICER}.get(
        unit_level(unit_code), Role.COORDINATOR
    )


async def start(msg: Incoming, ctx: Context, _: Announce | None = None) -> Step:
    """/thongbao: the coordinator's commune, or (officers, admins) any commune they pick."""
    return await DOOR.start(ctx)


async def scope(ctx: Context, commune_code: str) -> Step:
    """An officer of the commune's district (before 2025) or province may choose the whole
    district or province instead."""
    entry = ctx.communes.get(commune_code)
    if entry is None:
        return ask_text(ctx, commune_code)
    rows = [[Button(t("announce.scope_commune", name=entry.name), payload=AnnounceTo(commune_code).pack())]]
    if entry.district_code and await roles.check(ctx.db, ctx.user.id, Role.DISTRICT_OFFICER, entry.district_code):
        district = Button(
            t("announce.scope_district", name=entry.district_name), payload=AnnounceTo(entry.district_code).pack()
        )
        rows.append([district])
    if await roles.check(ctx.db, ctx.user.id, Role.PROVINCE_OFFICER, entry.province_code):
        province = Button(
            t("announce.scope_province", name=entry.province_name), payload=AnnounceTo(entry.province_code).pack()
        )
        rows.append([province])
    if len(rows) == 1:
        return ask_text(ctx, commune_code)
    rows.append([home_button()])
    return Step.end(Reply("announce.choose_scope", rows))


DOOR = CommuneDoor(
    Role.COORDINATOR,
    scope,
    choice=AnnounceIn,
    choose=t("announce.choose_commune"),
    picked=PICKED,
    prompt="announce.ask_commune",
)


def ask_text(ctx: Context, unit_code: str) -> Step:
    ctx.remember(announce_unit=unit_code)
    return Step.to(
        TEXT, Reply(t("announce.ask_text", unit=unit_in_sentence(ctx, unit_code), limit=MAX_TEXT), [[home_button()]])
    )


async def on_text(msg: Incoming, ctx: Context) -> Step:
    """Reads the announcement; shows it as citizens will see it, with how many will get it."""
    unit_code = ctx.draft.get("announce_unit")
    text = (msg.text or "").strip() if msg.kind is Kind.TEXT else ""
    if not unit_code:
        return await start(msg, ctx)
    if not text:
        return Step.stay(Reply("announce.empty", [[home_button()]]))
    if len(text) > MAX_TEXT:
        return Step.stay(Reply(t("announce.too_long", length=len(text), limit=MAX_TEXT), [[home_button()]]))
    count = await broadcasts.audience_size(ctx.db, unit_code, ctx.channels)
    if not count:
        return Step.end(Reply(t("announce.nobody", unit=unit_in_sentence(ctx, unit_code)), [[home_button()]]))
    ctx.remember(announce_text=text)
    rows = [
        [Button(t("announce.send"), payload=SendAnnouncement().pack())],
        [Button(t("announce.edit"), payload=AnnounceTo(unit_code).pack()), home_button()],
    ]
    preview = t(
        "announce.preview",
        count=count,
        unit=unit_in_sentence(ctx, unit_code),
        message=citizen_message(ctx, unit_code, text),
    )
    return Step.stay(Reply(preview, rows))


def citizen_message(ctx: Context, unit_code: str, text: str):
    return t("announce.message", unit=unit_in_sentence(ctx, unit_code), text=text)


async def scope_chosen(msg: Incoming, ctx: Context, button: AnnounceIn) -> Step:
    """ann:c:<commune>: a coordinator's choice among their communes."""
    return await DOOR.enter(ctx, button.commune)


async def unit_chosen(msg: Incoming, ctx: Context, button: AnnounceTo) -> Step:
    """ann:u:<unit>: write for that unit (a commune, or an officer's province)."""
    try:
        role = required_role(button.unit)
    except ValueError:
        return await start(msg, ctx)
    refused = await refuse_unless(ctx, role, button.unit)
    return refused or ask_text(ctx, button.unit)


async def send(msg: Incoming, ctx: Context, _: SendAnnouncement) -> Step:
    unit_code, text = ctx.draft.get("announce_unit"), ctx.draft.get("announce_text")
    if not unit_code or not text:
        return Step.end(Reply("announce.gone", [[home_button()]]))  # a second tap on the send button
    refused = await refuse_unless(ctx, required_role(unit_code), unit_code)
    if refused:
        return refused
    row = await broadcasts.create(ctx.db, unit_code, text, by=ctx.user.id, source="chat")
    count = await broadcasts.audience_size(ctx.db, unit_code, ctx.channels)
    ctx.announce(row.id, unit_code, Reply(citizen_message(ctx, unit_code, text)))
    return Step.end(Reply(t("announce.queued", count=count, unit=unit_in_sentence(ctx, unit_code)), [[home_button()]]))


async def _may_announce(ctx: Context) -> bool:
    return await roles.has_any(ctx.db, ctx.user.id, {Role.COORDINATOR, *OFFICERS})


FLOW = Flow(
    name="announce",
    buttons={Announce: start, AnnounceIn: scope_chosen, AnnounceTo: unit_chosen, SendAnnouncement: send},
    otherwise={Announce.prefix: start},
    commands={"thongbao": start},
    states={PICKED: DOOR.commune_picked, TEXT: on_text},
    menu=[MenuEntry(Announce(), "announce.menu", order=75, visible=_may_announce)],
)
