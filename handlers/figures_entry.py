"""Official figures entered in chat (/capnhat): a commune's installed count and denominators as
of a date, by its coordinators or its province's officers. Each answer is a tap or a typed value,
checked as it comes; a confirmation screen comes before anything is saved; every entry is dated
and attributed, earlier ones kept as history (handlers/targets.py sets targets the same way).

An installed count above a denominator (or more households than people) is not refused, since an
operator's statistics can do that, but asked about: the official confirms the value or re-types it.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any

from handlers.access import in_commune, refuse_unless, unit_name
from handlers.buttons import (
    CancelFigures,
    FigureIsRight,
    Figures,
    FiguresDay,
    FiguresOf,
    FixInstalled,
    KeepFigure,
    SaveFigures,
    SkipFigure,
)
from handlers.communes import ask_commune
from handlers.context import Context
from handlers.menu import home_button
from handlers.officials import show
from handlers.router import Flow
from handlers.types import Button, Incoming, Kind, Reply, Step
from storage.figures import (
    FIGURE_FIELDS,
    MAX_COUNT,
    last_known,
    parse_count,
    parse_date,
    record_figure,
    target_for,
    targets_in_force,
)
from storage.folding import fold
from storage.roles import Role
from texts import Percent, Text, t
from texts.formats import local_date
from texts.user_input import number

FIG_ANSWER, FIG_CONFIRM, FIG_PICKED = "figures.answer", "figures.confirm", "figures.commune_picked"
# No official figure predates the 2020 campaigns: an earlier date is a mistyped year.
EARLIEST = dt.date(2020, 1, 1)
OPTIONAL = ("population", "households")


# --- reading answers (pure) ----------------------------------------------------------------------


def read_count(text: str) -> int | Text:
    """A typed count ("82.930", "82930", "82 930"), or why it is not one."""
    text = text.strip()
    negative = text.startswith(("-", "−"))
    try:
        value = parse_count(text[1:].strip() if negative else text)
    except ValueError:
        return t("official.figures.reason.not_a_number")
    if value is None:
        return t("official.figures.reason.not_a_number")
    if negative and value:
        return t("official.figures.reason.negative")
    if value > MAX_COUNT:
        return t("official.figures.reason.too_large", value=value)
    return value


_SHORT_DATE = re.compile(r"(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2}))?")


def read_day(text: str, today: dt.date) -> dt.date | None:
    """03/08/2021, 3/8/2021, 2021-08-03, 3/8/21, or 3/8 (this year); None when not a date."""
    text = text.strip()
    try:
        return parse_date(text)
    except ValueError:
        pass
    match = _SHORT_DATE.fullmatch(text)
    if not match:
        return None
    day, month, year = (number(part, 99) for part in match.groups())
    if day is None or month is None or (year is None and match.group(3)):
        return None
    try:
        return dt.date(2000 + year if year is not None else today.year, month, day)
    except ValueError:
        return None


def next_field(fig: dict[str, Any]) -> str | None:
    """The figure entry's next question: the date, then each figure; None once all are answered."""
    if "date" not in fig:
        return "date"
    return next((f for f in FIGURE_FIELDS if f not in fig["answers"]), None)


def effective(fig: dict[str, Any], field: str) -> int | None:
    """A figure as it will stand after saving: the answer, else (kept or skipped) the known value."""
    value = fig["answers"].get(field)
    return value if value is not None else fig["known"].get(field)


def doubt(fig: dict[str, Any], field: str, value: int) -> Text | None:
    """Why `value` for `field` looks mistyped (asked about, not refused); None when it does not."""
    installed = fig["answers"].get("installed")
    if field in ("subscribers", "population") and installed is not None and installed > value:
        return t(
            "official.figures.doubt_installed_over",
            installed=installed,
            value=value,
            kind=t(f"official.figures.kinds.{field}"),
        )
    population = effective(fig, "population")
    if field == "households" and population and value > population:
        return t("official.figures.doubt_households_over", value=value, population=population)
    return None


def typed_words(ctx: Context, name: str) -> set[str]:
    return {fold(w) for w in ctx.content.section(f"official.figures.words.{name}")}


# --- official figures (/capnhat) -----------------------------------------------------------------


async def start(msg: Incoming, ctx: Context, _: Figures | None = None) -> Step:
    """/capnhat and cn: the coordinator's commune (a choice when several; officers pick any)."""
    return await in_commune(
        ctx,
        Role.COORDINATOR,
        begin,
        choice=FiguresOf,
        choose=t("official.figures.choose_commune"),
        picker=lambda: ask_commune(ctx, then=FIG_PICKED, prompt="official.figures.ask_commune"),
    )


async def commune_picked(msg: Incoming, ctx: Context) -> Step:
    return await begin(ctx, ctx.draft["picked_commune"])


async def begin(ctx: Context, code: str) -> Step:
    refused = await refuse_unless(ctx, Role.COORDINATOR, code)
    if refused:
        return refused
    ctx.forget("fig", "picked_commune")
    ctx.remember(fig={"commune": code, "token": secrets.token_hex(4), "answers": {}, "known": {}, "kept": []})
    return await advance(ctx)


async def advance(ctx: Context, reason: Text | None = None) -> Step:
    field = next_field(ctx.draft["fig"])
    if field is None:
        return Step.to(FIG_CONFIRM, await confirmation(ctx))
    return ask(ctx, field, reason)


def ask(ctx: Context, field: str, reason: Text | None = None) -> Step:
    fig = ctx.draft["fig"]
    buttons = ctx.capabilities.buttons
    cancel = "" if buttons else t("official.figures.cancel_typed")
    rows: list[list[Button]] = []
    if field == "date":
        question = t("official.figures.ask_date", commune=unit_name(ctx, fig["commune"]))
        rows = [
            [
                Button(t("official.figures.today"), payload=FiguresDay(0).pack()),
                Button(t("official.figures.yesterday"), payload=FiguresDay(1).pack()),
            ],
            [home_button()],
        ]
    elif field == "installed":
        before = fig["known"].get("installed")
        last = (
            t("official.figures.last_installed", installed=before, date=dt.date.fromisoformat(fig["installed_on"]))
            if before is not None
            else ""
        )
        question = t(
            "official.figures.ask_installed", date=dt.date.fromisoformat(fig["date"]), last=last, cancel=cancel
        )
        rows = [[home_button()]] if buttons else []
    else:
        # Without buttons, the keep and skip answers are typed words (a numbered menu would read
        # a typed count as one of its choices).
        known = fig["known"].get(field)
        if known is not None:
            how = (
                t("official.figures.how_keep")
                if buttons
                else t("official.figures.how_keep_typed", value=known, cancel=cancel)
            )
            offer = Button(t("official.figures.keep", value=known), payload=KeepFigure(field).pack())
        elif field in OPTIONAL:
            how = t("official.figures.how_skip") if buttons else t("official.figures.how_skip_typed", cancel=cancel)
            offer = Button(t("official.figures.skip"), payload=SkipFigure(field).pack())
        else:
            how, offer = t("official.figures.how_type", cancel=cancel), None
        question = {
            "subscribers": t("official.figures.ask_subscribers", how=how),
            "population": t("official.figures.ask_population", how=how),
            "households": t("official.figures.ask_households", how=how),
        }[field]
        if buttons:
            rows = [[offer], [home_button()]] if offer else [[home_button()]]
    text = t("official.figures.retry", reason=reason, question=question) if reason is not None else question
    return Step.to(FIG_ANSWER, Reply(text, rows))


async def on_answer(msg: Incoming, ctx: Context) -> Step:
    """A typed answer to the open question: a date, a count, or the words for keep / skip."""
    fig = ctx.draft.get("fig")
    field = next_field(fig) if fig else None
    if field is None:
        return stale()
    text = (msg.text or "").strip()
    if msg.kind is not Kind.TEXT or not text:
        return ask(ctx, field, t("official.figures.reason.answer_expected"))
    folded = fold(text)
    if field == "date":
        today = local_date(ctx.now)
        if folded in typed_words(ctx, "today"):
            return await set_date(ctx, today)
        if folded in typed_words(ctx, "yesterday"):
            return await set_date(ctx, today - dt.timedelta(days=1))
        day = read_day(text, today)
        if day is None:
            return ask(ctx, "date", t("official.figures.reason.not_a_date"))
        return await set_date(ctx, day)
    if folded in typed_words(ctx, "keep"):
        return await keep(ctx, field)
    if folded in typed_words(ctx, "skip"):
        return await skip(ctx, field)
    value = read_count(text)
    if isinstance(value, Text):
        return ask(ctx, field, value)
    return await give(ctx, field, value)


async def set_date(ctx: Context, day: dt.date) -> Step:
    today = local_date(ctx.now)
    if day > today:
        return ask(ctx, "date", t("official.figures.reason.future", date=day))
    if day < EARLIEST:
        return ask(ctx, "date", t("official.figures.reason.too_old", date=day))
    fig = dict(ctx.draft["fig"])
    known = await last_known(ctx.db, fig["commune"], day)
    fig.update(
        date=day.isoformat(),
        known=known.values,
        answers={},
        kept=[],
        pending=None,
        installed_on=known.installed_on.isoformat() if known.installed_on else None,
    )
    ctx.remember(fig=fig)
    return await advance(ctx)


async def keep(ctx: Context, field: str) -> Step:
    if field == "installed":
        return ask(ctx, field, t("official.figures.reason.installed_required"))
    known = ctx.draft["fig"]["known"].get(field)
    if known is None:
        return ask(ctx, field, t("official.figures.reason.nothing_to_keep"))
    return await give(ctx, field, known, kept=True)


async def skip(ctx: Context, field: str) -> Step:
    """Nothing to enter: a known value stays (a blank carries it); an optional one stays blank."""
    if ctx.draft["fig"]["known"].get(field) is not None:
        return await keep(ctx, field)
    if field == "installed":
        return ask(ctx, field, t("official.figures.reason.installed_required"))
    if field not in OPTIONAL:
        return ask(ctx, field, t("official.figures.reason.subscribers_required"))
    fig = ctx.draft["fig"]
    ctx.remember(fig={**fig, "answers": {**fig["answers"], field: None}})
    return await advance(ctx)


async def give(ctx: Context, field: str, value: int, kept: bool = False, sure: bool = False) -> Step:
    fig = dict(ctx.draft["fig"])
    problem = None if sure else doubt(fig, field, value)
    if problem is not None:
        ctx.remember(fig={**fig, "pending": {"field": field, "value": value, "kept": kept}})
        rows = [[Button(t("official.figures.sure", value=value), payload=FigureIsRight().pack())]]
        if field != "households":
            rows.append([Button(t("official.figures.fix_installed"), payload=FixInstalled().pack())])
        rows.append([home_button()])
        return Step.to(FIG_ANSWER, Reply(problem, rows))
    # A kept value is stored blank: the entry carries the value in force, as an import's blank does.
    fig["answers"] = {**fig["answers"], field: None if kept else value}
    fig["kept"] = [*fig["kept"], field] if kept else [f for f in fig["kept"] if f != field]
    fig["pending"] = None
    ctx.remember(fig=fig)
    return await advance(ctx)


async def confirmation(ctx: Context) -> Reply:
    fig = ctx.draft["fig"]
    code = fig["commune"]

    def shown(field: str) -> Text | int:
        value = fig["answers"].get(field)
        if value is not None:
            return value
        if field in fig["kept"]:
            return t("official.figures.kept", value=fig["known"][field])
        return t("official.figures.blank")

    entry = ctx.communes.get(code)
    spec = target_for(code, entry.province_code if entry else None, await targets_in_force(ctx.db))
    kind = spec.denominator if spec else "subscribers"
    rate = Percent.of(fig["answers"]["installed"], effective(fig, kind) or 0)
    text = t(
        "official.figures.confirm",
        commune=unit_name(ctx, code),
        date=dt.date.fromisoformat(fig["date"]),
        installed=fig["answers"]["installed"],
        subscribers=shown("subscribers"),
        population=shown("population"),
        households=shown("households"),
        rate=t("official.figures.confirm_rate", rate=rate, kind=t(f"tally.denominators.{kind}")) if rate else "",
    )
    rows = [
        [
            Button(t("official.figures.save"), payload=SaveFigures(fig["token"]).pack()),
            Button(t("common.cancel"), payload=CancelFigures(fig["token"]).pack()),
        ]
    ]
    return Reply(text, rows)


async def on_confirm_text(msg: Incoming, ctx: Context) -> Step:
    if not ctx.draft.get("fig"):
        return stale()
    return Step.stay(Reply("official.figures.press_save"), await confirmation(ctx))


async def start_in(msg: Incoming, ctx: Context, button: FiguresOf) -> Step:
    """cn:c:<commune>: that commune's figures."""
    if ctx.communes.get(button.commune) is None:
        return await start(msg, ctx)
    return await begin(ctx, button.commune)


async def on_end(msg: Incoming, ctx: Context, button: SaveFigures | CancelFigures) -> Step:
    """cn:save:<token> · cn:no:<token>: of the entry open (an older entry's button leaves it open)."""
    fig = ctx.draft.get("fig")
    if not fig:
        return stale()
    if button.token != fig.get("token"):
        step = await advance(ctx)
        return Step((Reply("official.figures.stale_open"), *step.replies), step.state)
    if isinstance(button, SaveFigures):
        return await save(ctx)
    rows = [[Button(t("official.figures.again"), payload=FiguresOf(fig["commune"]).pack()), home_button()]]
    return Step.end(Reply("official.figures.cancelled", rows))


FieldButton = FiguresDay | KeepFigure | SkipFigure | FigureIsRight | FixInstalled


async def on_field_button(msg: Incoming, ctx: Context, button: FieldButton) -> Step:
    """cn:d:<days ago> · cn:k:<field> keep · cn:s:<field> skip · cn:ok a doubted value is right ·
    cn:fix re-type the installed count. A button of an earlier question asks the open one again."""
    fig = ctx.draft.get("fig")
    if not fig:
        return stale()
    field = next_field(fig)
    if field is None:
        return Step.to(FIG_CONFIRM, await confirmation(ctx))
    pending = fig.get("pending")
    match button:
        case FixInstalled():
            ctx.remember(fig={**fig, "answers": {}, "kept": [], "pending": None})
            return ask(ctx, "installed")
        case FigureIsRight() if pending and pending["field"] == field:
            return await give(ctx, field, pending["value"], kept=pending["kept"], sure=True)
        case FiguresDay() if field == "date":
            return await set_date(ctx, local_date(ctx.now) - dt.timedelta(days=button.days_ago))
        case KeepFigure() if button.field == field:
            return await keep(ctx, field)
        case SkipFigure() if button.field == field:
            return await skip(ctx, field)
    return ask(ctx, field)


async def save(ctx: Context) -> Step:
    fig = ctx.draft["fig"]
    field = next_field(fig)
    if field is not None:
        return ask(ctx, field)
    code = fig["commune"]
    refused = await refuse_unless(ctx, Role.COORDINATOR, code)
    if refused:
        return refused
    day = dt.date.fromisoformat(fig["date"])
    values = {f: fig["answers"].get(f) for f in FIGURE_FIELDS}
    await record_figure(ctx.db, code, day, entered_by=ctx.user.id, source="chat", **values)
    return await show(ctx, code, Reply(t("official.figures.saved", commune=unit_name(ctx, code), date=day)))


def stale() -> Step:
    return Step.end(Reply("official.figures.stale", [[home_button()]]))


FLOW = Flow(
    name="figures",
    buttons={
        Figures: start,
        FiguresOf: start_in,
        FiguresDay: on_field_button,
        KeepFigure: on_field_button,
        SkipFigure: on_field_button,
        FigureIsRight: on_field_button,
        FixInstalled: on_field_button,
        SaveFigures: on_end,
        CancelFigures: on_end,
    },
    otherwise={Figures.prefix: start},
    commands={"capnhat": start},
    states={FIG_ANSWER: on_answer, FIG_CONFIRM: on_confirm_text, FIG_PICKED: commune_picked},
)
