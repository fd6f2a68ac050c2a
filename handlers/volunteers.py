"""Joining as a Youth Union volunteer (by a coordinator's invite, or waiting for approval), and
"Me": a volunteer's totals and rank in their commune."""

from __future__ import annotations

import datetime as dt

from handlers.access import check, home_unit, refusal, unit_in_sentence, unit_name
from handlers.buttons import (
    DeskHamlets,
    LogVisit,
    MyTotals,
    RecentVisits,
    Register,
    RegisterWithoutCode,
    SkipTeam,
    Verdict,
)
from handlers.communes import ask_commune
from handlers.context import Context
from handlers.forms import Field, Form, Question, Values
from handlers.menu import home_button, main_menu
from handlers.router import Flow, MenuEntry
from handlers.types import Ask, Button, Incoming, Kind, Reply, Step
from storage import roles, visits, volunteers
from storage.models import VolunteerInvite
from storage.roles import Role
from storage.volunteers import InviteState, Status
from texts import Join, Phone, Text, t
from texts.formats import local_date
from texts.user_input import is_name

INVITE_LINK = "v"  # deep link: /start v-<invite code>
CODE, PICKED, NAME, PHONE, TEAM = (f"volunteer.{s}" for s in ("code", "commune_picked", "name", "phone", "team"))
DRAFT_KEYS = ("reg_commune", "reg_invite", "reg_name", "reg_phone", "reg_team")


# --- joining ---


async def register_command(msg: Incoming, ctx: Context) -> Step:
    """/dangky [code]: with a code, as the invite link; without, asks for one."""
    code = msg.command[1] if msg.command else ""
    if code:
        return await with_code(ctx, code)
    return ask_code(ctx)


def ask_code(ctx: Context) -> Step:
    ctx.forget(*DRAFT_KEYS)
    rows = [[Button(t("volunteer.no_code"), payload=RegisterWithoutCode().pack())], [home_button()]]
    return Step.to(CODE, Reply("volunteer.ask_code", rows))


async def register(msg: Incoming, ctx: Context, _: Register | None = None) -> Step:
    """reg:start (and any other registration button) → ask for an invite code."""
    return ask_code(ctx)


async def without_code(msg: Incoming, ctx: Context, _: RegisterWithoutCode) -> Step:
    """reg:nocode → register and wait for a coordinator's approval."""
    ctx.forget(*DRAFT_KEYS)
    return ask_commune(ctx, then=PICKED, prompt="volunteer.ask_commune")


async def skip_team(msg: Incoming, ctx: Context, _: SkipTeam) -> Step:
    """reg:skip → no team."""
    if ctx.convo.state == TEAM:
        return await FORM.skip(ctx, "reg_team")
    return await already_registered(ctx)  # a second tap on an old skip button


async def already_registered(ctx: Context) -> Step:
    """Where the person's registration stands, for a button of a registration already finished."""
    for row in reversed(await volunteers.registrations_of(ctx.db, ctx.user.id)):
        if row.status == Status.ACTIVE:
            return Step.end(
                await main_menu(ctx, "volunteer.already_active", commune=unit_in_sentence(ctx, row.commune_code))
            )
        if row.status == Status.PENDING:
            return Step.end(
                Reply(t("access.pending", commune=unit_in_sentence(ctx, row.commune_code)), [[home_button()]])
            )
    return ask_code(ctx)


async def on_code(msg: Incoming, ctx: Context) -> Step:
    if msg.kind is not Kind.TEXT or not (msg.text or "").strip():
        return Step.stay(
            Reply(
                "volunteer.ask_code",
                [[Button(t("volunteer.no_code"), payload=RegisterWithoutCode().pack())], [home_button()]],
            )
        )
    return await with_code(ctx, msg.text or "")


async def invite_link(msg: Incoming, ctx: Context) -> Step:
    """/start v-<code>: the invite link a coordinator shared."""
    code = msg.command[1].partition("-")[2] if msg.command else ""
    return await with_code(ctx, code)


async def with_code(ctx: Context, code: str) -> Step:
    invite = await volunteers.find_invite(ctx.db, code)
    no_code = [[Button(t("volunteer.register_without_code"), payload=RegisterWithoutCode().pack())], [home_button()]]
    if invite is None:
        return Step.to(CODE, Reply(t("volunteer.code_unknown", code=volunteers.normalize_code(code)[:16]), no_code))
    state = volunteers.invite_state(invite, ctx.now)
    if state is not InviteState.ACTIVE:
        key = "volunteer.code_expired" if state is InviteState.EXPIRED else "volunteer.code_revoked"
        return Step.end(Reply(t(key, commune=unit_in_sentence(ctx, invite.commune_code)), no_code))
    existing = await volunteers.registration(ctx.db, ctx.user.id, invite.commune_code)
    if existing is not None and existing.status == Status.ACTIVE:
        return Step.end(
            await main_menu(ctx, "volunteer.already_active", commune=unit_in_sentence(ctx, invite.commune_code))
        )
    ctx.forget(*DRAFT_KEYS)
    ctx.remember(reg_commune=invite.commune_code, reg_invite=invite.id)
    return await FORM.advance(ctx)


async def commune_picked(msg: Incoming, ctx: Context) -> Step:
    code = ctx.draft["picked_commune"]
    existing = await volunteers.registration(ctx.db, ctx.user.id, code)
    if existing is not None and existing.status == Status.ACTIVE:
        return Step.end(await main_menu(ctx, "volunteer.already_active", commune=unit_in_sentence(ctx, code)))
    ctx.remember(reg_commune=code)
    return await FORM.advance(ctx)


# --- the registration form: name, phone, team ---


def name_problem(name: str | None) -> Text | None:
    """Why a cleaned name (None: empty or too long) is none a coordinator could read."""
    if name is None:
        return t("volunteer.name_invalid", most=volunteers.NAME_MAX)
    if not is_name(name):  # emoji or invisible characters only: a coordinator would see no name
        return t("volunteer.name_no_letter")
    return None


def team_problem(team: str | None) -> Text | None:
    most = volunteers.TEAM_MAX
    if team is None:
        return t("volunteer.team_invalid", most=most)
    return None if is_name(team) else t("volunteer.team_no_letter", most=most)


async def name_question(ctx: Context, d: Values) -> Question:
    return Question(t("volunteer.ask_name", commune=unit_in_sentence(ctx, d["reg_commune"])), [[home_button()]])


def read_name(text: str, ctx: Context, d: Values) -> str | Text:
    name = volunteers.clean_name(text)
    return name_problem(name) or name or ""


async def phone_question(ctx: Context, d: Values) -> Question:
    if ctx.capabilities.request_contact:
        return Question(t("volunteer.ask_phone_button"), ask=Ask.CONTACT)
    return Question(t("volunteer.ask_phone_typed"), [[home_button()]])


def phone_retry(ctx: Context) -> Text:
    return t("volunteer.phone_retry_button" if ctx.capabilities.request_contact else "volunteer.phone_retry_typed")


def read_phone(text: str, ctx: Context, d: Values) -> str | Text:
    return volunteers.normalize_phone(text) or phone_retry(ctx)


async def contact_shared(msg: Incoming, ctx: Context, field: Field) -> Step | None:
    """The phone from the messenger's contact button: the person's own only (any country's)."""
    if field.name != "reg_phone" or msg.kind is not Kind.CONTACT:
        return None
    if not msg.contact_is_own:
        return await FORM.ask(ctx, field.name, t("volunteer.phone_not_own"))
    phone = volunteers.normalize_phone(msg.contact_phone or "", any_country=True)
    if phone is None:
        return await FORM.ask(ctx, field.name, phone_retry(ctx))
    return await FORM.answer(ctx, field.name, phone)


async def team_question(ctx: Context, d: Values) -> Question:
    rows = [[Button(t("volunteer.skip_team"), payload=SkipTeam().pack())], [home_button()]]
    return Question(t("volunteer.ask_team"), rows, close_ask=True)


def read_team(text: str, ctx: Context, d: Values) -> str | Text:
    team = volunteers.clean_name(text, volunteers.TEAM_MAX)
    return team_problem(team) or team or ""


async def stale_form(ctx: Context) -> Step:
    return ask_code(ctx)


async def save(ctx: Context, d: Values) -> Step:
    return await finish(ctx, d.get("reg_team", ""))


FORM = Form(
    key=None,  # the draft's own reg_* keys, as the steps before the form (code, commune) left them
    fields=(
        Field("reg_name", name_question, read_name, step=NAME),
        Field("reg_phone", phone_question, read_phone, step=PHONE),
        Field("reg_team", team_question, read_team, skip=lambda ctx, d: "", step=TEAM),
    ),
    step=NAME,
    save=save,
    stale=stale_form,
    aside=contact_shared,
)


async def finish(ctx: Context, team: str) -> Step:
    """Register: active at once with a working invite, else pending and the coordinators told."""
    d = ctx.draft
    if not all(k in d for k in ("reg_commune", "reg_name", "reg_phone")):
        return ask_code(ctx)
    commune = d["reg_commune"]
    invite = None
    if d.get("reg_invite"):
        invite = await ctx.db.get(VolunteerInvite, d["reg_invite"])
    row = await volunteers.register(
        ctx.db,
        ctx.user.id,
        commune,
        display_name=d["reg_name"],
        phone=d["reg_phone"],
        team=team,
        now=ctx.now,
        invite=invite,
    )
    where = unit_in_sentence(ctx, commune)
    if row.status == Status.ACTIVE:
        if invite is not None and invite.created_by:
            ctx.notify(
                invite.created_by,
                Reply(t("volunteer.joined_notice", name=row.display_name, commune=where)),
                about=ctx.user.id,
            )
        return Step.end(await main_menu(ctx, "volunteer.welcome", commune=where))
    coordinators = await roles.holders(ctx.db, Role.COORDINATOR, commune)
    for coordinator in coordinators:
        ctx.notify(coordinator, approval_request(row, where), about=ctx.user.id)
    key = "volunteer.pending" if coordinators else "volunteer.pending_no_coordinator"
    if invite is not None:  # the invite stopped working between the link and the last answer
        key = "volunteer.pending_invite_gone"
    return Step.end(Reply(t(key, commune=where), [[home_button()]]))


def approval_request(row, where) -> Reply:
    rows = [
        [
            Button(t("volunteer.approve"), payload=Verdict("ok", row.id).pack()),
            Button(t("volunteer.refuse"), payload=Verdict("no", row.id).pack()),
        ]
    ]
    text = t(
        "volunteer.approval_request", name=row.display_name, phone=Phone(row.phone), team=row.team or "—", commune=where
    )
    return Reply(text, rows)


# --- "Me": my totals and my rank ---


async def me(msg: Incoming, ctx: Context, _: MyTotals | None = None) -> Step:
    communes = await roles.communes_for(ctx.db, ctx.user.id, Role.VOLUNTEER)
    if not communes:
        unit = await home_unit(ctx)
        return await refusal(ctx, await check(ctx, Role.VOLUNTEER, unit), Role.VOLUNTEER, unit)
    today = local_date(ctx.now)
    week_start = today - dt.timedelta(days=today.weekday())
    lines = []
    for code in communes:
        periods = {}
        for name, since in (("today", today), ("week", week_start), ("all", None)):
            periods[name] = (await visits.totals(ctx.db, volunteer_id=ctx.user.id, commune_code=code, since=since)).get(
                ctx.user.id, visits.Totals()
            )
        everyone = await visits.totals(ctx.db, commune_code=code)
        rank, out_of = visits.rank_of(ctx.user.id, {who: tot.households for who, tot in everyone.items()})
        lines.append(
            t(
                "volunteer.me_commune",
                commune=unit_name(ctx, code),
                today=periods["today"].households,
                today_installs=periods["today"].installs,
                week=periods["week"].households,
                week_installs=periods["week"].installs,
                total=periods["all"].households,
                total_installs=periods["all"].installs,
                revisits=periods["all"].revisits,
                rank=rank,
                out_of=out_of,
            )
        )
    rows = [
        [
            Button(t("visit.menu"), payload=LogVisit().pack()),
            Button(t("visit.menu_recent"), payload=RecentVisits().pack()),
        ],
        *[
            [Button(t("volunteer.hamlets_of", commune=unit_name(ctx, c)), payload=DeskHamlets(c).pack())]
            for c in communes
        ],
        [home_button()],
    ]
    return Step.end(Reply(t("volunteer.me", communes=Join(tuple(lines))), rows))


async def field_worker(ctx: Context) -> bool:
    return await roles.has_any(ctx.db, ctx.user.id, {Role.VOLUNTEER, Role.COORDINATOR})


FLOW = Flow(
    name="volunteer",
    buttons={Register: register, RegisterWithoutCode: without_code, SkipTeam: skip_team, MyTotals: me},
    otherwise={Register.prefix: register, MyTotals.prefix: me},
    commands={"dangky": register_command, "toi": me},
    states={CODE: on_code, PICKED: commune_picked, **FORM.steps()},
    deep_links={INVITE_LINK: invite_link},
    menu=[MenuEntry(MyTotals(), "volunteer.menu_me", order=62, visible=field_worker)],
)
