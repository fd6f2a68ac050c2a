"""A commune coordinator's desk: volunteers with their counts (deactivate, reactivate), pending
registrations to approve or refuse, the invite link and code, and the per-hamlet summary."""

from __future__ import annotations

from documents.links import telegram_link
from handlers.access import in_commune, refuse_unless, unit_name
from handlers.communes import ask_commune
from handlers.context import Context
from handlers.menu import home_button
from handlers.router import Flow, MenuEntry
from handlers.types import Button, Incoming, Reply, Step
from storage import roles, visits, volunteers
from storage.models import Volunteer
from storage.roles import Role
from storage.volunteers import Status
from texts import Join, Phone, t
from texts.formats import local_date
from texts.user_input import INT_MAX, number, record_id

DESK = "co"
PICKED = "coordinator.commune_picked"
PAGE_SIZE = 8


def _back(code: str) -> list[Button]:
    return [Button(t("coordinator.back"), payload=f"{DESK}:c:{code}"), home_button()]


async def start(msg: Incoming, ctx: Context) -> Step:
    """co → the coordinator's commune (asked when several; officers pick any of theirs)."""
    return await in_commune(
        ctx,
        Role.COORDINATOR,
        desk,
        payload=f"{DESK}:c",
        choose=t("coordinator.choose_commune"),
        picker=lambda: ask_commune(ctx, then=PICKED, prompt="coordinator.ask_commune"),
    )


async def commune_picked(msg: Incoming, ctx: Context) -> Step:
    return await desk(ctx, ctx.draft["picked_commune"])


async def on_button(msg: Incoming, ctx: Context) -> Step:
    """co:c:<code> desk · co:v:<code>:<page> volunteers · co:p:<code> pending · co:i:<code>[:new|:x]
    invite · co:h:<code> hamlets · co:off:<id>[:y] / co:on:<id> deactivate / reactivate."""
    parts = (msg.payload or "").split(":")
    if len(parts) < 3:
        return await start(msg, ctx)
    action, target, extra = parts[1], parts[2], parts[3] if len(parts) > 3 else ""
    if action in ("off", "on"):
        return await set_active(ctx, target, action == "on", confirmed=extra == "y")
    if ctx.communes.get(target) is None:
        return await start(msg, ctx)
    if action == "h":
        return await hamlets(ctx, target)
    refused = await refuse_unless(ctx, Role.COORDINATOR, target)
    if refused:
        return refused
    if action == "v":
        return await volunteer_list(ctx, target, number(extra, INT_MAX) or 0)
    if action == "p":
        return await pending(ctx, target)
    if action == "i":
        return await invite(ctx, target, extra)
    return await desk(ctx, target)


async def desk(ctx: Context, code: str) -> Step:
    refused = await refuse_unless(ctx, Role.COORDINATOR, code)
    if refused:
        return refused
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
            Button(t("coordinator.volunteers"), payload=f"{DESK}:v:{code}:0"),
            Button(t("coordinator.hamlets"), payload=f"{DESK}:h:{code}"),
        ],
        [
            Button(t("coordinator.pending_button", count=len(waiting)), payload=f"{DESK}:p:{code}"),
            Button(t("coordinator.invite"), payload=f"{DESK}:i:{code}"),
        ],
        [home_button()],
    ]
    return Step.end(Reply(text, rows))


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
                phone=Phone(v.phone),
                team=v.team or "—",
                households=total.households,
                revisits=total.revisits,
                installs=total.installs,
                today=now.households,
                status=t("coordinator.status_inactive") if v.status == Status.INACTIVE else "",
            )
        )
        if v.status == Status.ACTIVE:
            rows.append([Button(t("coordinator.deactivate", name=v.display_name), payload=f"{DESK}:off:{v.id}")])
        else:
            rows.append([Button(t("coordinator.reactivate", name=v.display_name), payload=f"{DESK}:on:{v.id}")])
    nav = []
    if page > 0:
        nav.append(Button(t("common.back"), payload=f"{DESK}:v:{code}:{page - 1}"))
    if page + 1 < pages:
        nav.append(Button(t("common.next"), payload=f"{DESK}:v:{code}:{page + 1}"))
    if nav:
        rows.append(nav)
    rows.append(_back(code))
    if not everyone:
        return Step.end(Reply(t("coordinator.no_volunteers", commune=unit_name(ctx, code)), rows))
    text = t(
        "coordinator.volunteer_list", commune=unit_name(ctx, code), page=page + 1, pages=pages, lines=Join(tuple(lines))
    )
    return Step.end(Reply(text, rows))


async def set_active(ctx: Context, raw_id: str, active: bool, confirmed: bool) -> Step:
    volunteer_id = record_id(raw_id)
    row = await ctx.db.get(Volunteer, volunteer_id) if volunteer_id else None
    if row is None:
        return Step.end(Reply("coordinator.volunteer_unknown", [[home_button()]]))
    refused = await refuse_unless(ctx, Role.COORDINATOR, row.commune_code)
    if refused:
        return refused
    where = unit_name(ctx, row.commune_code)
    if not active and not confirmed:
        rows = [
            [
                Button(t("coordinator.deactivate_confirm"), payload=f"{DESK}:off:{row.id}:y"),
                Button(t("common.no"), payload=f"{DESK}:v:{row.commune_code}:0"),
            ]
        ]
        return Step.end(Reply(t("coordinator.deactivate_ask", name=row.display_name, commune=where), rows))
    changed = await volunteers.set_active(ctx.db, row, active, ctx.user.id, ctx.now)
    if changed:
        notice = "volunteer.reactivated_notice" if active else "volunteer.deactivated_notice"
        ctx.notify(row.user_id, Reply(t(notice, commune=where), [[home_button()]]))
    key = "coordinator.reactivated" if active else "coordinator.deactivated"
    rows = [[Button(t("coordinator.volunteers"), payload=f"{DESK}:v:{row.commune_code}:0")], _back(row.commune_code)]
    return Step.end(Reply(t(key, name=row.display_name), rows))


async def pending(ctx: Context, code: str) -> Step:
    waiting = await volunteers.of_commune(ctx.db, code, Status.PENDING)
    if not waiting:
        return Step.end(Reply(t("coordinator.pending_none", commune=unit_name(ctx, code)), [_back(code)]))
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
            Button(t("coordinator.approve_name", name=v.display_name), payload=f"vr:ok:{v.id}"),
            Button(t("coordinator.refuse_name", name=v.display_name), payload=f"vr:no:{v.id}"),
        ]
        for v in waiting[:PAGE_SIZE]
    ]
    rows.append(_back(code))
    return Step.end(Reply(t("coordinator.pending", commune=unit_name(ctx, code), lines=Join(tuple(lines))), rows))


async def decide(msg: Incoming, ctx: Context) -> Step:
    """vr:ok:<id> / vr:no:<id>: a coordinator approves or refuses a registration."""
    _, verdict, raw = ((msg.payload or "").split(":") + ["", ""])[:3]
    volunteer_id = record_id(raw)
    row = await ctx.db.get(Volunteer, volunteer_id) if volunteer_id else None
    if row is None or verdict not in ("ok", "no"):
        return Step.end(Reply("coordinator.volunteer_unknown", [[home_button()]]))
    refused = await refuse_unless(ctx, Role.COORDINATOR, row.commune_code)
    if refused:
        return refused
    where = unit_name(ctx, row.commune_code)
    rows = [[Button(t("coordinator.pending_button_plain"), payload=f"{DESK}:p:{row.commune_code}")], [home_button()]]
    if not await volunteers.decide(ctx.db, row, verdict == "ok", ctx.user.id, ctx.now):
        status = t(f"coordinator.status.{row.status}")
        return Step.end(Reply(t("coordinator.already_decided", name=row.display_name, status=status), rows))
    if verdict == "ok":
        ctx.notify(
            row.user_id,
            Reply(
                t("volunteer.approved_notice", commune=where),
                [[Button(t("visit.menu"), payload="visit")], [home_button()]],
            ),
        )
        return Step.end(Reply(t("coordinator.approved", name=row.display_name), rows))
    ctx.notify(row.user_id, Reply(t("volunteer.refused_notice", commune=where), [[home_button()]]))
    return Step.end(Reply(t("coordinator.refused", name=row.display_name), rows))


async def invite(ctx: Context, code: str, action: str) -> Step:
    """The commune's invite: shown (made when there is none), renewed (:new) or revoked (:x)."""
    where = unit_name(ctx, code)
    if action == "x":
        await volunteers.revoke_invites(ctx.db, code, ctx.now)
        rows = [[Button(t("coordinator.invite_new"), payload=f"{DESK}:i:{code}:new")], _back(code)]
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
            Button(t("coordinator.invite_new"), payload=f"{DESK}:i:{code}:new"),
            Button(t("coordinator.invite_revoke"), payload=f"{DESK}:i:{code}:x"),
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
            revisit=t("coordinator.hamlet_revisit", households=Join(tuple(x or "—" for x in h.nobody_home), ", "))
            if h.nobody_home
            else "",
        )
        for h in summaries
    ]
    return Step.end(
        Reply(t("coordinator.hamlet_summary", commune=unit_name(ctx, code), lines=Join(tuple(lines))), rows)
    )


async def coordinator_or_above(ctx: Context) -> bool:
    return await roles.has_any(ctx.db, ctx.user.id, {Role.COORDINATOR, Role.PROVINCE_OFFICER, Role.ADMIN})


FLOW = Flow(
    name="coordinator",
    buttons={DESK: on_button, "vr": decide},
    commands={"dieuphoi": start},
    states={PICKED: commune_picked},
    menu=[MenuEntry(DESK, "coordinator.menu", order=65, visible=coordinator_or_above)],
)
