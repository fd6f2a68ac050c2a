"""A commune coordinator's desk: volunteers with their counts (deactivate, reactivate), pending
registrations to approve or refuse, the invite link and code, and the per-hamlet summary."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from documents.links import telegram_link
from handlers import shorthand
from handlers.access import OFFICERS, CommuneDoor, refuse_unless, unit_in_sentence, unit_name
from handlers.buttons import (
    Deactivate,
    Desk,
    DeskHamlets,
    DeskInvite,
    DeskOf,
    DeskPending,
    DeskVolunteers,
    HamletList,
    HamletPick,
    HamletRename,
    LogVisit,
    Reactivate,
    Verdict,
)
from handlers.context import Context
from handlers.menu import home_button
from handlers.router import Flow, MenuEntry
from handlers.types import Button, Incoming, Kind, Reply, Step
from handlers.visits import hamlet_problem, household_shown
from storage import roles, visits, volunteers
from storage.models import Volunteer
from storage.roles import Role
from storage.volunteers import Status
from texts import Join, Phone, Text, t
from texts.content import Content
from texts.formats import local_date

PICKED = "coordinator.commune_picked"
HAMLET_NAME = "coordinator.hamlet_name"
PAGE_SIZE = 8
# Hamlets a page: with the page buttons and the way back, at most 8 choices.
HAMLET_PAGE = 5


def _back(code: str) -> list[Button]:
    return [Button(t("coordinator.back"), payload=DeskOf(code).pack()), home_button()]


async def start(msg: Incoming, ctx: Context, _: Desk | None = None) -> Step:
    """co → the coordinator's commune (asked when several; officers pick any of theirs)."""
    return await DOOR.start(ctx)


CommuneButton = DeskOf | DeskVolunteers | DeskPending | DeskInvite | DeskHamlets


async def on_commune_button(msg: Incoming, ctx: Context, button: CommuneButton) -> Step:
    """co:c:<code> desk · co:v:<code>:<page> volunteers · co:p:<code> pending · co:i:<code>[:new|:x]
    invite · co:h:<code> hamlets (volunteers may read it too; the others are a coordinator's)."""
    code = button.commune
    if ctx.communes.get(code) is None:
        return await start(msg, ctx)
    if isinstance(button, DeskHamlets):
        return await hamlets(ctx, code)
    refused = await refuse_unless(ctx, Role.COORDINATOR, code)
    if refused:
        return refused
    match button:
        case DeskVolunteers():
            return await volunteer_list(ctx, code, button.page)
        case DeskPending():
            return await pending(ctx, code)
        case DeskInvite():
            return await invite(ctx, code, button.change)
    return await desk(ctx, code)


async def on_deactivate(msg: Incoming, ctx: Context, button: Deactivate) -> Step:
    """co:off:<id> asks; co:off:<id>:y deactivates."""
    return await set_active(ctx, button.volunteer, False, confirmed=button.sure is not None)


async def on_reactivate(msg: Incoming, ctx: Context, button: Reactivate) -> Step:
    return await set_active(ctx, button.volunteer, True, confirmed=True)


async def unknown_volunteer(msg: Incoming, ctx: Context) -> Step:
    return Step.end(Reply("coordinator.volunteer_unknown", [[home_button()]]))


async def desk(ctx: Context, code: str) -> Step:
    """The desk of a commune the person coordinates (checked by DOOR, or by the button's handler)."""
    active = await volunteers.of_commune(ctx.db, code, Status.ACTIVE)
    waiting = await volunteers.of_commune(ctx.db, code, Status.PENDING)
    today = await visits.totals(ctx.db, commune_code=code, since=local_date(ctx.now))
    text = t(
        "coordinator.desk",
        commune=unit_name(ctx, code),
        active=len(active),
        pending=len(waiting),
        households=sum(x.households for x in today.values()),
        installs=sum(x.installs for x in today.values()),
    )
    rows = [
        [
            Button(t("coordinator.volunteers"), payload=DeskVolunteers(code, 0).pack()),
            Button(t("coordinator.hamlets"), payload=DeskHamlets(code).pack()),
        ],
        [
            Button(t("coordinator.pending_button", count=len(waiting)), payload=DeskPending(code).pack()),
            Button(t("coordinator.invite"), payload=DeskInvite(code).pack()),
        ],
        [home_button()],
    ]
    return Step.end(Reply(text, rows))


DOOR = CommuneDoor(
    Role.COORDINATOR,
    desk,
    choice=DeskOf,
    choose=t("coordinator.choose_commune"),
    picked=PICKED,
    prompt="coordinator.ask_commune",
)


async def volunteer_list(ctx: Context, code: str, page: int) -> Step:
    everyone = [v for v in await volunteers.of_commune(ctx.db, code) if v.status in (Status.ACTIVE, Status.INACTIVE)]
    pages = max(1, -(-len(everyone) // PAGE_SIZE))
    page = max(0, min(page, pages - 1))
    shown = everyone[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    all_time = await visits.totals(ctx.db, commune_code=code)
    today = await visits.totals(ctx.db, commune_code=code, since=local_date(ctx.now))
    lines = []
    rows = []
    for v in shown:
        total, now = all_time.get(v.user_id, visits.Totals()), today.get(v.user_id, visits.Totals())
        lines.append(
            t(
                "coordinator.volunteer_line",
                name=v.display_name,
                phone=Phone(v.phone) if v.phone else "—",
                team=v.team or "—",
                households=total.households,
                revisits=total.revisits,
                installs=total.installs,
                today=now.households,
                status=t("coordinator.status_inactive") if v.status == Status.INACTIVE else "",
            )
        )
        if v.status == Status.ACTIVE:
            rows.append([Button(t("coordinator.deactivate", name=v.display_name), payload=Deactivate(v.id).pack())])
        else:
            rows.append([Button(t("coordinator.reactivate", name=v.display_name), payload=Reactivate(v.id).pack())])
    nav = []
    if page > 0:
        nav.append(Button(t("common.back"), payload=DeskVolunteers(code, page - 1).pack()))
    if page + 1 < pages:
        nav.append(Button(t("common.next"), payload=DeskVolunteers(code, page + 1).pack()))
    if nav:
        rows.append(nav)
    rows.append(_back(code))
    if not everyone:
        return Step.end(Reply(t("coordinator.no_volunteers", commune=unit_name(ctx, code)), rows))
    text = t(
        "coordinator.volunteer_list",
        commune=unit_in_sentence(ctx, code),
        page=page + 1,
        pages=pages,
        lines=Join(tuple(lines)),
    )
    return Step.end(Reply(text, rows))


async def set_active(ctx: Context, volunteer_id: int, active: bool, confirmed: bool) -> Step:
    row = await ctx.db.get(Volunteer, volunteer_id)
    if row is None:
        return Step.end(Reply("coordinator.volunteer_unknown", [[home_button()]]))
    refused = await refuse_unless(ctx, Role.COORDINATOR, row.commune_code)
    if refused:
        return refused
    where = unit_in_sentence(ctx, row.commune_code)
    if not active and not confirmed:
        rows = [
            [
                Button(t("coordinator.deactivate_confirm"), payload=Deactivate(row.id, "y").pack()),
                Button(t("common.no"), payload=DeskVolunteers(row.commune_code, 0).pack()),
            ]
        ]
        return Step.end(Reply(t("coordinator.deactivate_ask", name=row.display_name, commune=where), rows))
    changed = await volunteers.set_active(ctx.db, row, active, ctx.user.id, ctx.now)
    if changed:
        ctx.notify(row.user_id, activity_notice(active, where))
    key = "coordinator.reactivated" if active else "coordinator.deactivated"
    rows = [
        [Button(t("coordinator.volunteers"), payload=DeskVolunteers(row.commune_code, 0).pack())],
        _back(row.commune_code),
    ]
    return Step.end(Reply(t(key, name=row.display_name), rows))


async def pending(ctx: Context, code: str) -> Step:
    waiting = await volunteers.of_commune(ctx.db, code, Status.PENDING)
    if not waiting:
        return Step.end(Reply(t("coordinator.pending_none", commune=unit_in_sentence(ctx, code)), [_back(code)]))
    lines = [
        t(
            "coordinator.pending_line",
            name=v.display_name,
            phone=Phone(v.phone),
            team=v.team or "—",
            when=v.registered_at,
        )
        for v in waiting
    ]
    rows = [
        [
            Button(t("coordinator.approve_name", name=v.display_name), payload=Verdict("ok", v.id).pack()),
            Button(t("coordinator.refuse_name", name=v.display_name), payload=Verdict("no", v.id).pack()),
        ]
        for v in waiting[:PAGE_SIZE]
    ]
    rows.append(_back(code))
    return Step.end(
        Reply(t("coordinator.pending", commune=unit_in_sentence(ctx, code), lines=Join(tuple(lines))), rows)
    )


async def decide(msg: Incoming, ctx: Context, button: Verdict) -> Step:
    """vr:ok:<id> / vr:no:<id>: a coordinator approves or refuses a registration."""
    verdict = button.verdict
    row = await ctx.db.get(Volunteer, button.volunteer)
    if row is None:
        return await unknown_volunteer(msg, ctx)
    refused = await refuse_unless(ctx, Role.COORDINATOR, row.commune_code)
    if refused:
        return refused
    where = unit_in_sentence(ctx, row.commune_code)
    rows = [
        [Button(t("coordinator.pending_button_plain"), payload=DeskPending(row.commune_code).pack())],
        [home_button()],
    ]
    if not await volunteers.decide(ctx.db, row, verdict == "ok", ctx.user.id, ctx.now):
        status = t(f"coordinator.status.{row.status}")
        return Step.end(Reply(t("coordinator.already_decided", name=row.display_name, status=status), rows))
    ctx.notify(row.user_id, verdict_notice(verdict == "ok", where))
    key = "coordinator.approved" if verdict == "ok" else "coordinator.refused"
    return Step.end(Reply(t(key, name=row.display_name), rows))


def verdict_notice(approved: bool, where: Text | str) -> Reply:
    """What a volunteer is told of their registration's verdict (in chat or on the dashboard)."""
    if approved:
        rows = [[Button(t("visit.menu"), payload=LogVisit().pack())], [home_button()]]
        return Reply(t("volunteer.approved_notice", commune=where), rows)
    return Reply(t("volunteer.refused_notice", commune=where), [[home_button()]])


def activity_notice(active: bool, where: Text | str) -> Reply:
    """What a volunteer is told when a coordinator deactivates or reactivates them."""
    notice = "volunteer.reactivated_notice" if active else "volunteer.deactivated_notice"
    return Reply(t(notice, commune=where), [[home_button()]])


async def invite(ctx: Context, code: str, action: str | None) -> Step:
    """The commune's invite: shown (made when there is none), renewed (:new) or revoked (:x)."""
    where = unit_in_sentence(ctx, code)
    if action == "x":
        await volunteers.revoke_invites(ctx.db, code, ctx.now)
        rows = [[Button(t("coordinator.invite_new"), payload=DeskInvite(code, "new").pack())], _back(code)]
        return Step.end(Reply(t("coordinator.invite_revoked", commune=where), rows))
    current = None if action == "new" else await volunteers.active_invite(ctx.db, code, ctx.now)
    if current is None:
        current = await volunteers.create_invite(ctx.db, code, ctx.user.id, ctx.now)
    handle = ctx.bot_handles.get("telegram")
    link = t("coordinator.invite_link", url=telegram_link(handle, f"v-{current.code}")) if handle else ""
    text = t(
        "coordinator.invite_text",
        commune=where,
        code=current.code,
        link=link,
        expires=current.expires_at,
        uses=current.uses,
    )
    rows = [
        [
            Button(t("coordinator.invite_new"), payload=DeskInvite(code, "new").pack()),
            Button(t("coordinator.invite_revoke"), payload=DeskInvite(code, "x").pack()),
        ],
        _back(code),
    ]
    return Step.end(Reply(text, rows))


async def hamlets(ctx: Context, code: str) -> Step:
    """Per hamlet: households visited, helped, no smartphone, refused, nobody home to revisit.
    Volunteers of the commune may read it too (they go back to the nobody-home households)."""
    refused = await refuse_unless(ctx, Role.VOLUNTEER, code)
    if refused:
        return refused
    summaries = await visits.hamlet_summaries(ctx.db, code)
    rows = [[home_button()]]
    if await roles.check(ctx.db, ctx.user.id, Role.COORDINATOR, code):
        rows = [_back(code)]
        if summaries:
            rows.insert(0, [Button(t("coordinator.hamlets_edit"), payload=HamletList(code, 0).pack())])
    if not summaries:
        return Step.end(Reply(t("coordinator.hamlets_none", commune=unit_name(ctx, code)), rows))
    lines = [
        t(
            "coordinator.hamlet_line",
            hamlet=h.hamlet,
            households=h.households,
            helped=h.helped,
            installs=h.installs,
            no_smartphone=h.no_smartphone,
            refused=h.refused,
            nobody_home=len(h.nobody_home),
            revisit=t(
                "coordinator.hamlet_revisit",
                households=Join(tuple(household_shown(x) or "—" for x in h.nobody_home), ", "),
            )
            if h.nobody_home
            else "",
        )
        for h in summaries
    ]
    return Step.end(
        Reply(t("coordinator.hamlet_summary", commune=unit_name(ctx, code), lines=Join(tuple(lines))), rows)
    )


# --- renaming and merging hamlets ---


async def hamlet_list(msg: Incoming, ctx: Context, button: HamletList) -> Step:
    """co:hl:<code>:<page>: the commune's hamlets, each to rename or merge."""
    code = button.commune
    refused = await _coordinates(ctx, code)
    if refused:
        return refused
    summaries = await visits.hamlet_summaries(ctx.db, code)
    keys = {name: key for key, name in (await visits.hamlets_of(ctx.db, code)).items()}
    pages = max(1, -(-len(summaries) // HAMLET_PAGE))
    page = min(button.page, pages - 1)
    rows = [
        [
            Button(
                t("coordinator.hamlet_button", hamlet=h.hamlet, households=h.households),
                payload=HamletPick(code, visits.hamlet_ref(keys.get(h.hamlet, visits.hamlet_key(h.hamlet)))).pack(),
            )
        ]
        for h in summaries[page * HAMLET_PAGE : (page + 1) * HAMLET_PAGE]
    ]
    nav = []
    if page > 0:
        nav.append(Button(t("common.back"), payload=HamletList(code, page - 1).pack()))
    if page + 1 < pages:
        nav.append(Button(t("common.next"), payload=HamletList(code, page + 1).pack()))
    rows.append([*nav, Button(t("coordinator.hamlets"), payload=DeskHamlets(code).pack())])
    return Step.end(Reply(t("coordinator.hamlet_pick", page=page + 1, pages=pages), rows))


async def hamlet_pick(msg: Incoming, ctx: Context, button: HamletPick) -> Step:
    """co:hp:<code>:<ref>: ask the hamlet's new name (another hamlet's name merges them)."""
    code = button.commune
    refused = await _coordinates(ctx, code)
    if refused:
        return refused
    found = await visits.hamlet_by_ref(ctx.db, code, button.hamlet)
    if found is None:
        return _hamlet_gone(code)
    ctx.forget("hamlet_new")
    ctx.remember(hamlet_commune=code, hamlet_ref=button.hamlet)
    rows = [[Button(t("coordinator.hamlets"), payload=DeskHamlets(code).pack())]]
    return Step.to(HAMLET_NAME, Reply(t("coordinator.hamlet_ask_name", hamlet=found[1]), rows))


async def hamlet_name(msg: Incoming, ctx: Context) -> Step:
    """The new name, typed: read as the visit form reads a hamlet, then confirmed."""
    code, ref = ctx.draft.get("hamlet_commune"), ctx.draft.get("hamlet_ref")
    if not code or not ref:
        return _hamlet_gone(code)
    found = await visits.hamlet_by_ref(ctx.db, code, ref)
    if found is None:
        return _hamlet_gone(code)
    plan = await plan_renaming(ctx.db, ctx.content, code, found, (msg.text or "") if msg.kind is Kind.TEXT else "")
    if plan.problem is not None:
        return Step.stay(Reply(t("coordinator.hamlet_retry", reason=plan.problem, hamlet=found[1])))
    if plan.question is None:
        return Step.stay(Reply(t("coordinator.hamlet_same", hamlet=plan.target)))
    ctx.remember(hamlet_new=plan.typed)
    yes = t("coordinator.hamlet_merge_yes" if plan.merges else "coordinator.hamlet_rename_yes")
    rows = [
        [Button(yes, payload=HamletRename(code, ref).pack()), Button(t("common.no"), payload=DeskHamlets(code).pack())]
    ]
    return Step.stay(Reply(plan.question, rows))


@dataclass(frozen=True)
class Renaming:
    """A typed new name for a hamlet, read: why it is none (`problem`), or what it does (`target`,
    whether it `merges` into another hamlet) and the question confirming it (None: it is the
    hamlet's own name)."""

    typed: str
    target: str = ""
    merges: bool = False
    problem: Text | None = None
    question: Text | None = None


async def plan_renaming(db: AsyncSession, content: Content, code: str, found: tuple[str, str], text: str) -> Renaming:
    """What renaming the hamlet `found` (key, name) to `text` would do (chat and the dashboard ask
    the same question)."""
    typed = shorthand.parse_hamlet((text or "").strip(), shorthand.vocabulary_of(content)) or ""
    problem = hamlet_problem(typed, {}) if typed else t("visit.reason.hamlet_empty")
    if problem is not None:
        return Renaming(typed, problem=problem)
    target, merges = await visits.rename_target(db, code, found[0], typed)
    if target == found[1]:
        return Renaming(typed, target)
    households = {h.hamlet: h.households for h in await visits.hamlet_summaries(db, code)}
    names = {"old": found[1], "new": target, "old_households": households.get(found[1], 0)}
    if merges:
        shared = await visits.shared_households(db, code, found[0], visits.hamlet_key(target))
        question = t(
            "coordinator.hamlet_merge_ask",
            **names,
            new_households=households.get(target, 0),
            shared=t("coordinator.hamlet_merge_shared", count=shared) if shared else "",
        )
    else:
        question = t("coordinator.hamlet_rename_ask", **names)
    return Renaming(typed, target, merges, question=question)


async def hamlet_rename(msg: Incoming, ctx: Context, button: HamletRename) -> Step:
    """co:hr:<code>:<ref>: the rename or merge, confirmed: every visit moves, counts stay."""
    code = button.commune
    refused = await _coordinates(ctx, code)
    if refused:
        return refused
    typed = ctx.draft.get("hamlet_new")
    found = await visits.hamlet_by_ref(ctx.db, code, button.hamlet)
    if found is None or not typed or ctx.draft.get("hamlet_ref") != button.hamlet:
        return _hamlet_gone(code)
    target, merges = await visits.rename_target(ctx.db, code, found[0], typed)
    await visits.rename_hamlet(ctx.db, code, found[0], typed, ctx.user.id, ctx.now)
    ctx.forget("hamlet_commune", "hamlet_ref", "hamlet_new")
    key = "coordinator.hamlet_merged" if merges else "coordinator.hamlet_renamed"
    rows = [[Button(t("coordinator.hamlets"), payload=DeskHamlets(code).pack())], _back(code)]
    return Step.end(Reply(t(key, old=found[1], new=target), rows))


def _hamlet_gone(code: str | None) -> Step:
    rows = [[Button(t("coordinator.hamlets"), payload=DeskHamlets(code).pack())]] if code else []
    return Step.end(Reply(t("coordinator.hamlet_gone"), [*rows, [home_button()]]))


async def _coordinates(ctx: Context, code: str) -> Step | None:
    """The refusal for anyone who does not coordinate this commune (None for who does)."""
    if ctx.communes.get(code) is None:
        return await DOOR.start(ctx)
    return await refuse_unless(ctx, Role.COORDINATOR, code)


async def coordinator_or_above(ctx: Context) -> bool:
    return await roles.has_any(ctx.db, ctx.user.id, {Role.COORDINATOR, *OFFICERS})


FLOW = Flow(
    name="coordinator",
    buttons={
        Desk: start,
        DeskOf: on_commune_button,
        DeskVolunteers: on_commune_button,
        DeskPending: on_commune_button,
        DeskInvite: on_commune_button,
        DeskHamlets: on_commune_button,
        HamletList: hamlet_list,
        HamletPick: hamlet_pick,
        HamletRename: hamlet_rename,
        Deactivate: on_deactivate,
        Reactivate: on_reactivate,
        Verdict: decide,
    },
    otherwise={Desk.prefix: start, Verdict.prefix: unknown_volunteer},
    commands={"dieuphoi": start},
    states={PICKED: DOOR.commune_picked, HAMLET_NAME: hamlet_name},
    menu=[MenuEntry(Desk(), "coordinator.menu", order=65, visible=coordinator_or_above)],
)
