"""Targets set in chat (/chitieu): an install rate by a deadline on a chosen denominator, for the
country (admins), a province or one of its communes (its province officers). A province's communes
inherit its target unless they have their own; earlier targets are kept as history."""

from __future__ import annotations

import datetime as dt
import secrets
from fractions import Fraction
from typing import Any

from handlers.access import OFFICERS, check, holds_any, home_unit, refusal, refuse_unless, unit_in_sentence
from handlers.buttons import (
    CancelTarget,
    KeepDeadline,
    SaveTarget,
    TargetCommune,
    TargetDenominator,
    TargetFor,
    TargetProvinces,
    TargetRate,
    Targets,
)
from handlers.communes import ask_commune
from handlers.context import Context
from handlers.figures_entry import read_day, typed_words
from handlers.forms import Field, Form, Kept, Question, Values
from handlers.menu import home_button
from handlers.officials import provinces, show, target_role, unit_title
from handlers.router import Flow
from handlers.types import Button, Incoming, Reply, Step
from storage import roles
from storage.figures import DENOMINATORS, TargetSpec, parse_rate, set_target, target_for, targets_in_force
from storage.folding import fold
from storage.roles import Role
from storage.units import COUNTRY_CODE, unit_level
from texts import Percent, Text, t
from texts.formats import local_date

ANSWER, CONFIRM, PICKED = "target.answer", "target.confirm", "target.commune_picked"
RATE_BUTTONS = (50, 60, 70, 80, 100)


def next_target_field(tg: dict[str, Any]) -> str | None:
    return next((f for f in ("rate", "deadline", "denominator") if f not in tg), None)


async def targets_start(msg: Incoming, ctx: Context, _: Targets | None = None) -> Step:
    """/chitieu and ct: the units the person sets targets for (an officer's province or district,
    or one of its communes; for an admin also the country and any province)."""
    grants = [g for g in await roles.grants_of(ctx.db, ctx.user.id) if g.role in OFFICERS]
    if not grants:
        unit = await home_unit(ctx)
        return await refusal(ctx, await check(ctx, Role.PROVINCE_OFFICER, unit), Role.PROVINCE_OFFICER, unit)
    rows = []
    if any(g.role is Role.ADMIN for g in grants):
        rows.append(
            [
                Button(t("tally.country"), payload=TargetFor(COUNTRY_CODE).pack()),
                Button(t("official.targets.a_province"), payload=TargetProvinces().pack()),
            ]
        )
    rows += [
        [Button(unit_title(ctx, g.unit_code), payload=TargetFor(g.unit_code).pack())]
        for g in grants
        if g.role in (Role.PROVINCE_OFFICER, Role.DISTRICT_OFFICER)
    ]
    rows.append([Button(t("official.targets.a_commune"), payload=TargetCommune().pack())])
    rows.append([home_button()])
    return Step.end(Reply("official.targets.choose_unit", rows))


async def target_commune_picked(msg: Incoming, ctx: Context) -> Step:
    return await begin_target(ctx, ctx.draft["picked_commune"])


async def begin_target(ctx: Context, code: str) -> Step:
    refused = await refuse_unless(ctx, target_role(ctx, code), code)
    if refused:
        return refused
    spec = await _target_in_force(ctx, code)
    ctx.forget("tg", "picked_commune")
    tg: dict[str, Any] = {"unit": code, "token": secrets.token_hex(4)}
    if spec is not None and spec.deadline >= local_date(ctx.now):
        tg["current_deadline"] = spec.deadline.isoformat()
    ctx.remember(tg=tg)
    return await FORM.advance(ctx)


async def _target_in_force(ctx: Context, code: str) -> TargetSpec | None:
    entry = ctx.communes.get(code) if unit_level(code) == "commune" else None
    district = ctx.communes.districts.get(code)
    province = entry.province_code if entry else district[1] if district else None
    above = [entry.district_code] if entry and entry.district_code else []
    return target_for(code, province, await targets_in_force(ctx.db), *above)


def deadline_problem(day: dt.date, today: dt.date) -> Text | None:
    """Why `day` cannot be a target's deadline set `today`; None when it can."""
    return t("official.targets.reason.past", date=day) if day < today else None


def denominator_named(typed: str, ctx: Context) -> str | None:
    """The denominator a typed name means, by either of the names content gives it."""
    folded = fold(typed)
    for d in DENOMINATORS:
        names = {
            fold(ctx.content.render(t(f"official.targets.denominators.{d}"))),
            fold(ctx.content.render(t(f"tally.denominators.{d}"))),
        }
        if folded in names:
            return d
    return None


async def ask_rate(ctx: Context, tg: Values) -> Question:
    code = tg["unit"]
    spec = await _target_in_force(ctx, code)
    if spec is None:
        current: Text = t("official.targets.current_none")
    else:
        source = (
            t("official.targets.current_own")
            if spec.unit_code == code
            else t("official.targets.current_inherited", unit=unit_in_sentence(ctx, spec.unit_code))
        )
        current = t(
            "official.targets.current",
            rate=Percent.target(spec.rate),
            deadline=spec.deadline,
            source=source,
            kind=t(f"tally.denominators.{spec.denominator}"),
        )
    question = t("official.targets.ask_rate", unit=unit_in_sentence(ctx, code), current=current)
    label = "official.targets.rate_button"
    rows = [
        [Button(t(label, rate=Percent.target(Fraction(p, 100))), payload=TargetRate(p).pack()) for p in RATE_BUTTONS],
        [home_button()],
    ]
    return Question(question, rows)


def read_rate(text: str, ctx: Context, tg: Values) -> str | Text:
    try:
        return str(parse_rate(text))
    except ValueError:
        return t("official.targets.reason.not_a_rate")


async def ask_deadline(ctx: Context, tg: Values) -> Question:
    kept = tg.get("current_deadline")
    question = t(
        "official.targets.ask_deadline",
        rate=Percent.target(Fraction(tg["rate"])),
        current=t("official.targets.current_deadline", deadline=dt.date.fromisoformat(kept)) if kept else "",
    )
    rows = [[Button(t("official.targets.keep_deadline"), payload=KeepDeadline().pack())]] if kept else []
    return Question(question, [*rows, [home_button()]])


def read_deadline(text: str, ctx: Context, tg: Values) -> str | Text:
    today = local_date(ctx.now)
    day = read_day(text, today)
    if day is None:
        return t("official.targets.reason.not_a_date")
    return deadline_problem(day, today) or day.isoformat()


def keep_deadline(ctx: Context, tg: Values) -> Kept | Text:
    kept = tg.get("current_deadline")
    return Kept(kept) if kept else t("official.targets.reason.not_a_date")


async def ask_denominator(ctx: Context, tg: Values) -> Question:
    question = t("official.targets.ask_denominator", rate=Percent.target(Fraction(tg["rate"])))
    rows = [
        [Button(t(f"official.targets.denominators.{d}"), payload=TargetDenominator(d).pack()) for d in DENOMINATORS],
        [home_button()],
    ]
    return Question(question, rows)


def read_denominator(text: str, ctx: Context, tg: Values) -> str | Text:
    return denominator_named(text, ctx) or t("official.targets.reason.choose_denominator")


async def confirmation(ctx: Context, tg: Values) -> Reply:
    scope = {
        "country": t("official.targets.scope_country"),
        "province": t("official.targets.scope_province"),
        "district": t("official.targets.scope_district"),
        "commune": t("official.targets.scope_commune"),
    }[unit_level(tg["unit"])]
    text = t(
        "official.targets.confirm",
        unit=unit_title(ctx, tg["unit"]),
        rate=Percent.target(Fraction(tg["rate"])),
        kind=t(f"tally.denominators.{tg['denominator']}"),
        deadline=dt.date.fromisoformat(tg["deadline"]),
        scope=scope,
    )
    rows = [
        [
            Button(t("official.figures.save"), payload=SaveTarget(tg["token"]).pack()),
            Button(t("common.cancel"), payload=CancelTarget(tg["token"]).pack()),
        ]
    ]
    return Reply(text, rows)


async def unit_chosen(msg: Incoming, ctx: Context, button: TargetFor) -> Step:
    """ct:u:<unit>: that unit's target (the country, a province or a commune)."""
    code = button.unit
    if not ctx.communes.has_unit(code):
        return await targets_start(msg, ctx)
    return await begin_target(ctx, code)


async def target_provinces(msg: Incoming, ctx: Context, _: TargetProvinces) -> Step:
    return await provinces(ctx, TargetFor, "official.targets.choose_province", Role.ADMIN)


async def target_commune(msg: Incoming, ctx: Context, _: TargetCommune) -> Step:
    if not await holds_any(ctx, *OFFICERS):
        return await targets_start(msg, ctx)
    return ask_commune(ctx, then=PICKED, prompt="official.targets.ask_commune")


async def on_target_end(msg: Incoming, ctx: Context, button: SaveTarget | CancelTarget) -> Step:
    """ct:save:<token> · ct:no:<token>: of the target open (an older one's button leaves it open)."""
    tg = ctx.draft.get("tg")
    if not tg:
        return target_stale()
    if button.token != tg.get("token"):
        step = await FORM.advance(ctx)
        return Step((Reply("official.targets.stale_open"), *step.replies), step.state)
    if isinstance(button, CancelTarget):
        return Step.end(Reply("official.targets.cancelled", [[home_button()]]))
    return await FORM.advance(ctx) if next_target_field(tg) else await save_target(ctx, tg)


async def on_target_field(msg: Incoming, ctx: Context, button: TargetRate | KeepDeadline | TargetDenominator) -> Step:
    """ct:r:<percent> · ct:dk keep the deadline · ct:n:<denominator>. A button of an earlier
    question asks the open one again."""
    tg = ctx.draft.get("tg")
    if not tg:
        return target_stale()
    field = next_target_field(tg)
    if field is None:
        return await FORM.finish(ctx)
    match button:
        case TargetRate() if field == "rate" and button.percent in RATE_BUTTONS:
            return await FORM.answer(ctx, field, str(Fraction(button.percent, 100)))
        case KeepDeadline() if field == "deadline" and tg.get("current_deadline"):
            return await FORM.keep(ctx, field)
        case TargetDenominator() if field == "denominator" and button.denominator in DENOMINATORS:
            return await FORM.answer(ctx, field, button.denominator)
    return await FORM.ask(ctx, field)


async def save_target(ctx: Context, tg: Values) -> Step:
    code = tg["unit"]
    refused = await refuse_unless(ctx, target_role(ctx, code), code)
    if refused:
        return refused
    rate, deadline = Fraction(tg["rate"]), dt.date.fromisoformat(tg["deadline"])
    await set_target(ctx.db, code, rate, deadline, tg["denominator"], set_by=ctx.user.id, source="chat")
    saved = t(
        "official.targets.saved",
        unit=unit_in_sentence(ctx, code),
        rate=Percent.target(rate),
        kind=t(f"tally.denominators.{tg['denominator']}"),
        deadline=deadline,
    )
    return await show(ctx, code, Reply(saved))


def target_stale() -> Step:
    return Step.end(Reply("official.targets.stale", [[home_button()]]))


async def stale_form(ctx: Context) -> Step:
    return target_stale()


FORM = Form(
    key="tg",
    fields=(
        Field("rate", ask_rate, read_rate),
        Field("deadline", ask_deadline, read_deadline, keep=keep_deadline),
        Field("denominator", ask_denominator, read_denominator),
    ),
    step=ANSWER,
    confirm=CONFIRM,
    summary=confirmation,
    save=save_target,
    stale=stale_form,
    retry="official.targets.retry",
    answer_expected=t("official.targets.reason.answer_expected"),
    press_save="official.targets.press_save",
    keep_words=lambda ctx: typed_words(ctx, "keep"),
)


FLOW = Flow(
    name="target",
    buttons={
        Targets: targets_start,
        TargetFor: unit_chosen,
        TargetProvinces: target_provinces,
        TargetCommune: target_commune,
        TargetRate: on_target_field,
        KeepDeadline: on_target_field,
        TargetDenominator: on_target_field,
        SaveTarget: on_target_end,
        CancelTarget: on_target_end,
    },
    otherwise={Targets.prefix: targets_start},
    commands={"chitieu": targets_start},
    states={**FORM.steps(), PICKED: target_commune_picked},
)
