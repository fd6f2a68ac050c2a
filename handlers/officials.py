"""Officials' desk: a unit's install progress (/thongke) with its chart and Excel file, the daily
report of a unit (/baocao), and the loudspeaker script of a commune (/loaphat).

Who sees what: a commune's figures need a coordinator of it (or above), a district's (on the
pre-2025 map) a district officer of it, a province's a province officer of it, the country's an
admin (`storage.roles.viewer_role`), checked at every action. A province of the pre-2025 map drills
down by district, a district by commune.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Callable

from documents.tally_exports import to_xlsx
from handlers.access import (
    OFFICERS,
    CommuneDoor,
    Naming,
    acting_role,
    check,
    holds_any,
    home_unit,
    refusal,
    refuse_unless,
    typed_unit,
    unit_in_sentence,
    unit_name,
)
from handlers.buttons import (
    FiguresOf,
    Progress,
    ProgressExcel,
    ProgressOf,
    ProgressOtherCommune,
    ProgressProvinces,
    ReportHour,
    Reports,
    Script,
    ScriptOf,
    Subscribe,
    TargetFor,
    Unsubscribe,
)
from handlers.communes import ask_commune, commune_in_sentence, commune_label
from handlers.context import Context
from handlers.menu import home_button
from handlers.payload import Payload
from handlers.progress import BEHIND, chart, division_kinds, glance, summary_text
from handlers.router import Flow, MenuEntry
from handlers.types import Attachment, Button, Incoming, Kind, Reply, Step
from storage import reports, roles, support_points
from storage.folding import fold
from storage.roles import Role, viewer_role
from storage.tally import Tally, province_rollups, tally
from storage.units import COUNTRY_CODE, unit_level
from texts import Day, Join, Percent, SpokenDate, Text, t
from texts.formats import LOCAL_TIMEZONE, local_date
from texts.user_input import number

VIEW_PICKED = "official.commune_picked"
SCRIPT_PICKED = "official.script_picked"
REPORT_HOUR = "official.report_hour"
REPORT_HOURS = range(6, 22)  # the hours offered as buttons; any hour may be typed
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def unit_title(ctx: Context, code: str) -> Text | str:
    """A unit as a title or a button names it (the country capitalised); within a sentence
    `handlers.access.unit_name`."""
    return t("tally.country") if code == COUNTRY_CODE else unit_name(ctx, code)


def target_role(ctx: Naming, code: str) -> Role:
    """Who sets a unit's target: the unit's officer (`handlers.access.acting_role`)."""
    return acting_role(ctx, code)


async def viewable_units(ctx: Context) -> list[str]:
    """The units whose figures the person sees by their roles: the country, their provinces,
    their communes (biggest first)."""
    return await roles.viewable_units(ctx.db, ctx.user.id)


async def refuse_official(ctx: Context) -> Step:
    """For someone with no official role at all (a citizen, a volunteer): the refusal saying why."""
    unit = await home_unit(ctx)
    return await refusal(ctx, await check(ctx, Role.COORDINATOR, unit), Role.COORDINATOR, unit)


def _known_unit(ctx: Context, code: str) -> bool:
    return ctx.communes.has_unit(code)


# --- the summary (/thongke) ----------------------------------------------------------------------


async def start(msg: Incoming, ctx: Context, _: Progress | None = None) -> Step:
    """/thongke [CODE] and the menu's 📊: the person's unit at once, or a choice when several."""
    argument = (msg.command[1] if msg.command else "").strip().upper()
    if argument:
        code = typed_unit(ctx, argument)
        if code is None:
            return Step.end(Reply(t("official.unknown_unit", code=argument[:20]), [[home_button()]]))
        return await show(ctx, code)
    units = await viewable_units(ctx)
    if not units:
        return await refuse_official(ctx)
    if len(units) == 1:
        return await show(ctx, units[0])
    rows = [[Button(unit_title(ctx, u), payload=ProgressOf(u).pack())] for u in units]
    rows.append([home_button()])
    return Step.end(Reply("official.choose_unit", rows))


async def other_commune(msg: Incoming, ctx: Context, _: ProgressOtherCommune) -> Step:
    """tk:f: another commune, by the commune picker (officers and admins)."""
    if not await holds_any(ctx, *OFFICERS):
        return await start(msg, ctx)
    return ask_commune(ctx, then=VIEW_PICKED, prompt="official.ask_commune")


async def by_province(msg: Incoming, ctx: Context, _: ProgressProvinces) -> Step:
    return await provinces(ctx, ProgressOf, "official.choose_province", Role.ADMIN)


async def on_unit(msg: Incoming, ctx: Context, button: ProgressOf | ProgressExcel) -> Step:
    """tk:u:<unit> the summary · tk:x:<unit> the Excel file."""
    if not _known_unit(ctx, button.unit):
        return await start(msg, ctx)
    return await (show(ctx, button.unit) if isinstance(button, ProgressOf) else excel(ctx, button.unit))


async def commune_picked(msg: Incoming, ctx: Context) -> Step:
    return await show(ctx, ctx.draft["picked_commune"])


async def provinces(ctx: Context, choice: Callable[[str], Payload], prompt: str, role: Role) -> Step:
    """Every province as a button `choice(code)`, for someone who is `role` over the country."""
    refused = await refuse_unless(ctx, role, COUNTRY_CODE)
    if refused:
        return refused
    names = sorted(ctx.communes.provinces.items(), key=lambda item: fold(item[1]))
    buttons = [Button(name, payload=choice(code).pack()) for code, name in names]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([home_button()])
    return Step.end(Reply(t(prompt), rows))


async def show(ctx: Context, code: str, *before: Reply) -> Step:
    refused = await refuse_unless(ctx, viewer_role(code), code)
    if refused:
        return refused
    return Step.end(*before, *await summary_replies(ctx, code))


async def summary_replies(ctx: Context, code: str) -> list[Reply]:
    """The unit's summary with its buttons; for a province or the country, the chart after it
    (carrying the buttons, so they stay under the last message)."""
    result = await tally(ctx.db, code, local_date(ctx.now))
    title = unit_title(ctx, code)
    text = summary_text(result, title, division_kinds(ctx.communes, result))
    rows = await summary_buttons(ctx, result)
    if unit_level(code) == "commune" or not ctx.capabilities.file_upload:
        return [Reply(text, rows)]
    return [Reply(text), Reply("common.file_only", rows, attachment=await chart_of(ctx, result, title))]


async def chart_of(ctx: Context, result: Tally, title: Text | str) -> Attachment:
    """A province's chart ranks its communes (its districts on the pre-2025 map); the country's its
    provinces (34, not 3,321)."""
    name = ctx.content.render(title)
    kinds = division_kinds(ctx.communes, result)
    heading = None
    drawn = result
    if result.unit_code == COUNTRY_CODE:
        rows = await province_rollups(ctx.db, result.as_of, result)
        drawn = Tally(result.unit_code, name, result.as_of, rows, result.totals)
        heading = t("tally.summary.chart_title_provinces", unit=name, date=result.as_of)
    elif any(r.level == "district" for r in result.children):
        # A province of the pre-2025 map: its districts ranked, as its letters report.
        drawn = Tally(result.unit_code, name, result.as_of, result.children, result.totals)
        heading = t("tally.summary.chart_title_districts", unit=name, date=result.as_of)
    provinces = result.unit_code == COUNTRY_CODE
    districts = drawn is not result and not provinces
    shown = glance(drawn, name, ctx.content, kinds, heading, provinces, districts)
    picture = await asyncio.to_thread(chart, drawn, shown)
    return Attachment(
        picture.kind, picture.filename, picture.data, picture.mime_type, caption=t("official.chart_caption")
    )


async def summary_buttons(ctx: Context, result: Tally) -> list[list[Button]]:
    code = result.unit_code
    level = unit_level(code)
    rows = [
        [
            Button(t("official.excel"), payload=ProgressExcel(code).pack()),
            Button(t("official.daily_report"), payload=ReportHour(code).pack()),
        ]
    ]
    if level == "commune":
        rows.append(
            [
                Button(t("official.update_figures"), payload=FiguresOf(code).pack()),
                Button(t("official.script_button"), payload=ScriptOf(code).pack()),
            ]
        )
    elif any(r.level == "district" for r in result.children):
        # A province of the pre-2025 map drills down by district, every one of them.
        districts = sorted(result.children, key=lambda r: fold(r.name))
        buttons = [Button(r.name, payload=ProgressOf(r.code).pack()) for r in districts]
        rows.extend(buttons[i : i + 2] for i in range(0, len(buttons), 2))
        rows.append(
            [
                Button(t("official.update_figures"), payload=FiguresOf(code).pack()),
                Button(t("official.other_commune"), payload=ProgressOtherCommune().pack()),
            ]
        )
    else:
        # Drill-down into the communes furthest behind, as listed in the summary.
        drill = []
        for n, row in enumerate(result.furthest_behind(BEHIND), start=1):
            entry = ctx.communes.get(row.code)
            name = commune_label(entry) if level == "country" and entry else row.name
            drill.append(Button(t("official.drill", number=n, name=name), payload=ProgressOf(row.code).pack()))
        rows.extend(drill[i : i + 2] for i in range(0, len(drill), 2))
        more = [Button(t("official.other_commune"), payload=ProgressOtherCommune().pack())]
        if level == "district":
            # A district's own total (a city's, as the letters report it), beside its communes' sum.
            more.insert(0, Button(t("official.update_figures"), payload=FiguresOf(code).pack()))
        if level == "country":
            more.append(Button(t("official.by_province"), payload=ProgressProvinces().pack()))
        rows.append(more)
    if await roles.check(ctx.db, ctx.user.id, target_role(ctx, code), code):
        rows.append([Button(t("official.set_target"), payload=TargetFor(code).pack())])
    up = _parent(ctx, code)
    if up and await roles.may_view(ctx.db, ctx.user.id, up):
        rows.append(
            [Button(t("official.back_to", unit=unit_title(ctx, up)), payload=ProgressOf(up).pack()), home_button()]
        )
    else:
        rows.append([home_button()])
    return rows


def _parent(ctx: Context, code: str) -> str | None:
    return ctx.communes.parent(code)


async def excel(ctx: Context, code: str) -> Step:
    """The same XLSX as `bluezone-bot tally --format xlsx`: what the Department forwards."""
    refused = await refuse_unless(ctx, viewer_role(code), code)
    if refused:
        return refused
    result = await tally(ctx.db, code, local_date(ctx.now))
    title = unit_title(ctx, code)
    kinds = division_kinds(ctx.communes, result)
    data = await asyncio.to_thread(to_xlsx, result, ctx.content, ctx.content.render(title), kinds)
    document = Attachment(
        "document",
        f"tien-do-{code}-{result.as_of.isoformat()}.xlsx",
        data,
        XLSX,
        caption=t("official.excel_caption", unit=unit_name(ctx, code), date=result.as_of),
    )
    rows = [[Button(t("official.back_summary"), payload=ProgressOf(code).pack()), home_button()]]
    return Step.end(Reply("common.file_only", rows, attachment=document))


# --- daily reports (/baocao) ---------------------------------------------------------------------


async def reports_menu(msg: Incoming, ctx: Context, _: Reports | None = None) -> Step:
    """/baocao and bc: the person's daily reports (each with its cancel button), and their units
    not yet subscribed to."""
    return await _reports_list(ctx)


async def _reports_list(ctx: Context, *before: Reply) -> Step:
    mine = await reports.subscriptions_of(ctx.db, ctx.user.id)
    units = await viewable_units(ctx)
    if not mine and not units:
        if before:  # someone whose role ended stopping their last report: done, not refused
            return Step.end(*(Reply(r.text, [[home_button()]]) for r in before))
        return await refuse_official(ctx)
    subscribed = {s.unit_code for s in mine}
    rows = [
        [
            Button(
                t("official.reports.cancel", unit=unit_title(ctx, s.unit_code)), payload=Unsubscribe(s.unit_code).pack()
            )
        ]
        for s in mine
    ]
    rows += [
        [Button(t("official.reports.add", unit=unit_title(ctx, u)), payload=ReportHour(u).pack())]
        for u in units
        if u not in subscribed
    ]
    rows.append([home_button()])
    if not mine:
        return Step.end(*before, Reply("official.reports.none", rows))
    lines = tuple(t("official.reports.line", unit=unit_title(ctx, s.unit_code), hour=s.hour) for s in mine)
    return Step.end(*before, Reply(t("official.reports.list", lines=Join(lines, "\n")), rows))


async def on_report(msg: Incoming, ctx: Context, button: ReportHour | Subscribe | Unsubscribe) -> Step:
    """bc:s:<unit> choose the hour · bc:h:<unit>:<hour> subscribe · bc:x:<unit> cancel."""
    if not _known_unit(ctx, button.unit):
        return await _reports_list(ctx)
    match button:
        case Unsubscribe():
            return await cancel_report(ctx, button.unit)
        case ReportHour():
            return await ask_hour(ctx, button.unit)
    return await subscribe(ctx, button.unit, button.hour)


async def ask_hour(ctx: Context, code: str, reason: Text | None = None) -> Step:
    refused = await refuse_unless(ctx, viewer_role(code), code)
    if refused:
        return refused
    current = next((s for s in await reports.subscriptions_of(ctx.db, ctx.user.id) if s.unit_code == code), None)
    now = t("official.reports.current_hour", hour=current.hour) if current else ""
    ctx.remember(report_unit=code)
    if ctx.capabilities.buttons:
        hours = [Button(t("official.reports.hour", hour=h), payload=Subscribe(code, h).pack()) for h in REPORT_HOURS]
        rows = [hours[i : i + 4] for i in range(0, len(hours), 4)]
        rows.append([home_button()])
        question = t("official.reports.ask_hour", unit=unit_in_sentence(ctx, code), current=now)
    else:
        # A numbered menu would read "7" as its seventh choice: the hour is typed.
        rows = []
        question = t("official.reports.ask_hour_typed", unit=unit_in_sentence(ctx, code), current=now)
    if reason is not None:
        return Step.to(REPORT_HOUR, Reply(reason), Reply(question, rows))
    return Step.to(REPORT_HOUR, Reply(question, rows))


_HOUR = re.compile(r"(\d{1,2})(?::00)?\s*\D{0,4}")


def read_hour(text: str) -> int | None:
    """ "7", "07", "7h", "7:00", or 7 followed by the word for hours → 7; None when not an hour of the day."""
    match = _HOUR.fullmatch(text.strip())
    return number(match.group(1), 23) if match else None


async def on_hour(msg: Incoming, ctx: Context) -> Step:
    code = ctx.draft.get("report_unit")
    if not code:
        return await _reports_list(ctx)
    hour = read_hour(msg.text or "") if msg.kind is Kind.TEXT else None
    if hour is None:
        return await ask_hour(ctx, code, t("official.reports.bad_hour"))
    return await subscribe(ctx, code, hour)


async def subscribe(ctx: Context, code: str, hour: int) -> Step:
    refused = await refuse_unless(ctx, viewer_role(code), code)
    if refused:
        return refused
    await reports.subscribe(ctx.db, ctx.user.id, code, hour, ctx.now)
    local = ctx.now.astimezone(LOCAL_TIMEZONE)
    first = local.date() if hour > local.hour else local.date() + dt.timedelta(days=1)
    text = t("official.reports.subscribed", unit=unit_in_sentence(ctx, code), hour=hour, first=Day(first))
    rows = [[Button(t("official.reports.mine"), payload=Reports().pack()), home_button()]]
    return Step.end(Reply(text, rows))


async def cancel_report(ctx: Context, code: str) -> Step:
    if not await reports.unsubscribe(ctx.db, ctx.user.id, code):
        return await _reports_list(ctx, Reply(t("official.reports.not_subscribed", unit=unit_in_sentence(ctx, code))))
    return await _reports_list(ctx, Reply(t("official.reports.cancelled", unit=unit_in_sentence(ctx, code))))


# --- the loudspeaker script (/loaphat) -----------------------------------------------------------


async def script_of(msg: Incoming, ctx: Context, button: ScriptOf) -> Step:
    """lp:c:<commune>: that commune's script."""
    if ctx.communes.get(button.commune) is None:
        return await script_start(msg, ctx)
    return await SCRIPT_DOOR.enter(ctx, button.commune)


async def script_start(msg: Incoming, ctx: Context, _: Script | None = None) -> Step:
    """/loaphat, lp: the script of a commune the person coordinates (or covers)."""
    return await SCRIPT_DOOR.start(ctx)


async def script(ctx: Context, code: str) -> Step:
    today = local_date(ctx.now)
    row = (await tally(ctx.db, code, today)).totals
    entry = ctx.communes.get(code)
    name = entry.name if entry else code  # a sentence that opens with the name keeps it as it is
    spoken = commune_in_sentence(entry) if entry else code  # its kind in lower case
    parts: list[Text] = [t("official.script.opening", commune=spoken), t("official.script.about")]
    if row.rate is not None:
        parts.append(
            t(
                "official.script.rate",
                date=SpokenDate(today),
                commune=spoken,
                installed=row.installed,
                rate=Percent(row.rate),
                kind=t(f"official.script.kinds.{row.denominator_kind}"),
            )
        )
    else:
        parts.append(t("official.script.no_figures"))
    if row.target is not None:
        target = Percent.target(row.target.rate)
        if row.gap == 0:
            parts.append(t("official.script.reached", commune=name, target=target))
        elif row.gap is not None:
            parts.append(
                t("official.script.target", target=target, deadline=SpokenDate(row.target.deadline), gap=row.gap)
            )
        else:
            parts.append(
                t("official.script.target_no_figures", target=target, deadline=SpokenDate(row.target.deadline))
            )
    parts.append(t("official.script.call"))
    points = await support_points.in_commune(ctx.db, code)
    if points:
        listed = Join(tuple(t("official.script.point", name=p.name, address=p.address) for p in points), "; ")
        parts.append(t("official.script.points", points=listed))
    else:
        parts.append(t("official.script.no_points"))
    handle = ctx.bot_handles.get("telegram")
    parts.append(t("official.script.help_telegram", handle=handle) if handle else t("official.script.help_web"))
    parts.append(t("official.script.closing"))
    rows = [[Button(t("official.back_summary"), payload=ProgressOf(code).pack()), home_button()]]
    intro = t("official.script.intro", commune=unit_in_sentence(ctx, code), date=today)
    return Step.end(Reply(intro), Reply(t("common.lines", lines=Join(tuple(parts), "\n")), rows))


SCRIPT_DOOR = CommuneDoor(
    Role.COORDINATOR,
    script,
    choice=ScriptOf,
    choose=t("official.script.choose_commune"),
    picked=SCRIPT_PICKED,
    prompt="official.script.ask_commune",
)


async def official(ctx: Context) -> bool:
    return await holds_any(ctx, Role.COORDINATOR, *OFFICERS)


FLOW = Flow(
    name="official",
    buttons={
        Progress: start,
        ProgressOf: on_unit,
        ProgressExcel: on_unit,
        ProgressOtherCommune: other_commune,
        ProgressProvinces: by_province,
        Reports: reports_menu,
        ReportHour: on_report,
        Subscribe: on_report,
        Unsubscribe: on_report,
        Script: script_start,
        ScriptOf: script_of,
    },
    otherwise={Progress.prefix: start, Reports.prefix: reports_menu, Script.prefix: script_start},
    commands={"thongke": start, "baocao": reports_menu, "loaphat": script_start},
    states={VIEW_PICKED: commune_picked, SCRIPT_PICKED: SCRIPT_DOOR.commune_picked, REPORT_HOUR: on_hour},
    menu=[MenuEntry(Progress(), "official.menu", order=70, visible=official)],
)
