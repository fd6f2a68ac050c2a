"""Official figures entered in chat (/capnhat): a commune's installed count and denominators as
of a date, by its coordinators or its district's or province's officers; or a district's or a
province's own total (as the letters report a city's), by its officers. Each answer is a tap or a typed value,
checked as it comes; a confirmation screen comes before anything is saved; every entry is dated
and attributed, earlier ones kept as history (handlers/targets.py sets targets the same way).

An installed count above a denominator (or more households than people) is not refused, since an
operator's statistics can do that, but asked about: the official confirms the value or re-types it.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from handlers.access import CommuneDoor, refuse_unless, unit_in_sentence, unit_name
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
from handlers.context import Context
from handlers.forms import BLANK, Check, Field, Form, Kept, Question, Values, plain
from handlers.menu import home_button
from handlers.officials import show
from handlers.router import Flow
from handlers.types import Button, Incoming, Reply, Step
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
from storage.roles import Role, viewer_role
from storage.units import COUNTRY_CODE, unit_level
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


def date_problem(day: dt.date, today: dt.date) -> Text | None:
    """Why `day` cannot be the date of official figures entered `today`; None when it can."""
    if day > today:
        return t("official.figures.reason.future", date=day)
    if day < EARLIEST:
        return t("official.figures.reason.too_old", date=day)
    return None


def effective(fig: dict[str, Any], field: str) -> int | None:
    """A figure as it will stand after saving: the answer, else (kept or skipped) the known value."""
    value = fig["answers"].get(field)
    return value if value is not None else fig["known"].get(field)


def installed_over(kind: str) -> Check:
    """The doubt for a denominator (`kind`) below the installed count just given."""

    def check(value: int, fig: Mapping[str, Any]) -> Text | None:
        installed = fig["answers"].get("installed")
        if installed is None or installed <= value:
            return None
        kinds = t(f"official.figures.kinds.{kind}")
        return t("official.figures.doubt_installed_over", installed=installed, value=value, kind=kinds)

    return check


def households_over_population(value: int, fig: Mapping[str, Any]) -> Text | None:
    """The doubt for more households than people."""
    population = effective(dict(fig), "population")
    if population and value > population:
        return t("official.figures.doubt_households_over", value=value, population=population)
    return None


def doubt(fig: dict[str, Any], field: str, value: int) -> Text | None:
    """Why `value` for `field` looks mistyped (asked about, not refused); None when it does not."""
    return next(filter(None, (d(value, fig) for d in FORM.field(field).doubts)), None)


def typed_words(ctx: Context, name: str) -> set[str]:
    return {fold(w) for w in ctx.content.section(f"official.figures.words.{name}")}


# --- the form ------------------------------------------------------------------------------------


def _cancel(ctx: Context) -> Text | str:
    return "" if ctx.capabilities.buttons else t("official.figures.cancel_typed")


async def ask_date(ctx: Context, fig: Values) -> Question:
    rows = [
        [
            Button(t("official.figures.today"), payload=FiguresDay(0).pack()),
            Button(t("official.figures.yesterday"), payload=FiguresDay(1).pack()),
        ],
        [home_button()],
    ]
    return Question(t("official.figures.ask_date", commune=unit_in_sentence(ctx, fig["commune"])), rows)


def read_date_answer(text: str, ctx: Context, fig: Values) -> dt.date | Text:
    today, folded = local_date(ctx.now), fold(text)
    if folded in typed_words(ctx, "today"):
        return today
    if folded in typed_words(ctx, "yesterday"):
        return today - dt.timedelta(days=1)
    day = read_day(text, today)
    if day is None:
        return t("official.figures.reason.not_a_date")
    return date_problem(day, today) or day


async def ask_installed(ctx: Context, fig: Values) -> Question:
    before = fig["known"].get("installed")
    last = (
        t("official.figures.last_installed", installed=before, date=dt.date.fromisoformat(fig["installed_on"]))
        if before is not None
        else ""
    )
    date = dt.date.fromisoformat(fig["date"])
    question = t("official.figures.ask_installed", date=date, last=last, cancel=_cancel(ctx))
    return Question(question, [[home_button()]] if ctx.capabilities.buttons else [])


def ask_figure(field: str, words: Callable[[Text], Text]) -> Callable[[Context, Values], Awaitable[Question]]:
    """A denominator's question, offering to keep the value known (or to skip an optional one).
    Without buttons, keeping and skipping are typed words (a numbered menu would read a typed
    count as one of its choices)."""

    async def question(ctx: Context, fig: Values) -> Question:
        buttons, cancel = ctx.capabilities.buttons, _cancel(ctx)
        known = fig["known"].get(field)
        offer: Button | None = None
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
            how = t("official.figures.how_type", cancel=cancel)
        rows = ([[offer]] if offer else []) + [[home_button()]] if buttons else []
        return Question(words(how), rows)

    return question


def parse_figure(text: str, ctx: Context, fig: Values) -> int | Text:
    return read_count(text)


def keep_figure(field: str) -> Callable[[Context, Values], Kept | Text]:
    def keep(ctx: Context, fig: Values) -> Kept | Text:
        if field == "installed":
            return t("official.figures.reason.installed_required")
        known = fig["known"].get(field)
        if known is None:
            return t("official.figures.reason.nothing_to_keep")
        return Kept(known)

    return keep


def skip_figure(field: str) -> Callable[[Context, Values], Any]:
    """Nothing to enter: a known value stays (a blank carries it); an optional one stays blank."""

    def skip(ctx: Context, fig: Values) -> Any:
        if fig["known"].get(field) is not None:
            return keep_figure(field)(ctx, fig)
        if field == "installed":
            return t("official.figures.reason.installed_required")
        if field not in OPTIONAL:
            return t("official.figures.reason.subscribers_required")
        return BLANK

    return skip


def answered(fig: Values, field: str) -> bool:
    return field in fig if field == "date" else field in fig["answers"]


def next_field(fig: Values) -> str | None:
    """The figure entry's next question: the date, then each figure; None once all are answered."""
    return next((f.name for f in FORM.fields if not answered(fig, f.name)), None)


async def put(ctx: Context, fig: Values, field: str, value: Any) -> Values:
    """The date resets the figures (what is known depends on it); a kept value is stored blank:
    the entry carries the value in force, as an import's blank does."""
    fig = dict(fig)
    if field == "date":
        known = await last_known(ctx.db, fig["commune"], value)
        installed_on = known.installed_on.isoformat() if known.installed_on else None
        fig.update(date=value.isoformat(), known=known.values, answers={}, kept=[], pending=None)
        fig["installed_on"] = installed_on
        return fig
    kept = isinstance(value, Kept)
    fig["answers"] = {**fig["answers"], field: None if kept else plain(value)}
    fig["kept"] = [*fig["kept"], field] if kept else [f for f in fig["kept"] if f != field]
    fig["pending"] = None
    return fig


async def on_doubt(ctx: Context, field: str, value: Any, problem: Text) -> Step:
    """A doubted value is held until the official says it is right, or types it again."""
    fig = ctx.draft["fig"]
    shown = plain(value)
    ctx.remember(fig={**fig, "pending": {"field": field, "value": shown, "kept": isinstance(value, Kept)}})
    rows = [[Button(t("official.figures.sure", value=shown), payload=FigureIsRight().pack())]]
    if field != "households":
        rows.append([Button(t("official.figures.fix_installed"), payload=FixInstalled().pack())])
    rows.append([home_button()])
    return Step.to(FIG_ANSWER, Reply(problem, rows))


async def confirmation(ctx: Context, fig: Values) -> Reply:
    code = fig["commune"]

    def shown(field: str) -> Text | int:
        value = fig["answers"].get(field)
        if value is not None:
            return value
        if field in fig["kept"]:
            return t("official.figures.kept", value=fig["known"][field])
        return t("official.figures.blank")

    province, *district = _above(ctx, code)
    spec = target_for(code, province, await targets_in_force(ctx.db), *district)
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


def _above(ctx: Context, code: str) -> list[str]:
    """(its province, then its district if it has one): where a unit's target may come from."""
    entry = ctx.communes.get(code)
    if entry is not None:
        return [entry.province_code, *([entry.district_code] if entry.district_code else [])]
    district = ctx.communes.districts.get(code)
    return [district[1]] if district else [""]


def entering_role(code: str) -> Role:
    """Who enters a unit's figures: a commune's coordinator (or above), a larger unit's officer."""
    return Role.COORDINATOR if unit_level(code) == "commune" else viewer_role(code)


async def save(ctx: Context, fig: Values) -> Step:
    code = fig["commune"]
    refused = await refuse_unless(ctx, entering_role(code), code)
    if refused:
        return refused
    day = dt.date.fromisoformat(fig["date"])
    values = {f: fig["answers"].get(f) for f in FIGURE_FIELDS}
    await record_figure(ctx.db, code, day, entered_by=ctx.user.id, source="chat", **values)
    return await show(ctx, code, Reply(t("official.figures.saved", commune=unit_in_sentence(ctx, code), date=day)))


async def stale_form(ctx: Context) -> Step:
    return stale()


def _figure(name: str, words: Callable[[Text], Text], *doubts: Check) -> Field:
    return Field(
        name,
        ask_figure(name, words),
        parse_figure,
        doubts=doubts,
        skip=skip_figure(name),
        keep=keep_figure(name),
    )


FORM = Form(
    key="fig",
    fields=(
        Field("date", ask_date, read_date_answer),
        Field("installed", ask_installed, parse_figure, skip=skip_figure("installed"), keep=keep_figure("installed")),
        _figure(
            "subscribers", lambda how: t("official.figures.ask_subscribers", how=how), installed_over("subscribers")
        ),
        _figure("population", lambda how: t("official.figures.ask_population", how=how), installed_over("population")),
        _figure("households", lambda how: t("official.figures.ask_households", how=how), households_over_population),
    ),
    step=FIG_ANSWER,
    confirm=FIG_CONFIRM,
    summary=confirmation,
    save=save,
    stale=stale_form,
    retry="official.figures.retry",
    answer_expected=t("official.figures.reason.answer_expected"),
    press_save="official.figures.press_save",
    skip_words=lambda ctx: typed_words(ctx, "skip"),
    keep_words=lambda ctx: typed_words(ctx, "keep"),
    answered=answered,
    put=put,
    on_doubt=on_doubt,
)


# --- official figures (/capnhat) -----------------------------------------------------------------


async def start(msg: Incoming, ctx: Context, _: Figures | None = None) -> Step:
    """/capnhat and cn: the coordinator's commune (a choice when several; officers pick any)."""
    return await DOOR.start(ctx)


async def begin(ctx: Context, code: str) -> Step:
    ctx.forget("fig", "picked_commune")
    ctx.remember(fig={"commune": code, "token": secrets.token_hex(4), "answers": {}, "known": {}, "kept": []})
    return await FORM.advance(ctx)


DOOR = CommuneDoor(
    Role.COORDINATOR,
    begin,
    choice=FiguresOf,
    choose=t("official.figures.choose_commune"),
    picked=FIG_PICKED,
    prompt="official.figures.ask_commune",
)


async def start_in(msg: Incoming, ctx: Context, button: FiguresOf) -> Step:
    """cn:c:<unit>: that commune's figures, or a district's or province's own (from its summary)."""
    code = button.commune
    if not ctx.communes.has_unit(code) or code == COUNTRY_CODE:
        return await start(msg, ctx)
    if unit_level(code) == "commune":
        return await DOOR.enter(ctx, code)
    refused = await refuse_unless(ctx, entering_role(code), code)
    return refused or await begin(ctx, code)


async def on_end(msg: Incoming, ctx: Context, button: SaveFigures | CancelFigures) -> Step:
    """cn:save:<token> · cn:no:<token>: of the entry open (an older entry's button leaves it open)."""
    fig = ctx.draft.get("fig")
    if not fig:
        return stale()
    if button.token != fig.get("token"):
        step = await FORM.advance(ctx)
        return Step((Reply("official.figures.stale_open"), *step.replies), step.state)
    if isinstance(button, CancelFigures):
        rows = [[Button(t("official.figures.again"), payload=FiguresOf(fig["commune"]).pack()), home_button()]]
        return Step.end(Reply("official.figures.cancelled", rows))
    field, _ = FORM.open_field(ctx, fig)
    if field is not None:
        return await FORM.ask(ctx, field.name)
    return await save(ctx, fig)


FieldButton = FiguresDay | KeepFigure | SkipFigure | FigureIsRight | FixInstalled


async def on_field_button(msg: Incoming, ctx: Context, button: FieldButton) -> Step:
    """cn:d:<days ago> · cn:k:<field> keep · cn:s:<field> skip · cn:ok a doubted value is right ·
    cn:fix re-type the installed count. A button of an earlier question asks the open one again."""
    fig = ctx.draft.get("fig")
    if not fig:
        return stale()
    field, _ = FORM.open_field(ctx, fig)
    if field is None:
        return await FORM.finish(ctx)
    pending = fig.get("pending")
    match button:
        case FixInstalled():
            ctx.remember(fig={**fig, "answers": {}, "kept": [], "pending": None})
            return await FORM.ask(ctx, "installed")
        case FigureIsRight() if pending and pending["field"] == field.name:
            value = Kept(pending["value"]) if pending["kept"] else pending["value"]
            return await FORM.answer(ctx, field.name, value, sure=True)
        case FiguresDay() if field.name == "date":
            return await FORM.answer(ctx, "date", local_date(ctx.now) - dt.timedelta(days=button.days_ago))
        case KeepFigure() if button.field == field.name:
            return await FORM.keep(ctx, field.name)
        case SkipFigure() if button.field == field.name:
            return await FORM.skip(ctx, field.name)
    return await FORM.ask(ctx, field.name)


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
    states={**FORM.steps(), FIG_PICKED: DOOR.commune_picked},
)
