"""A volunteer's recent visits: viewed, corrected or deleted within 24 hours (every change kept
as history, the counters following)."""

from __future__ import annotations

from handlers.access import refuse_unless
from handlers.buttons import CorrectVisit, DeleteVisit, RecentVisits, ViewVisit
from handlers.context import Context
from handlers.menu import home_button
from handlers.router import Flow, MenuEntry
from handlers.types import Button, Incoming, Reply, Step
from handlers.visits import details, edit_menu, field_worker, household_shown, refuse_volunteer, today_line
from storage import roles, visits
from storage.models import Visit
from storage.roles import Role
from texts import t


async def correct(msg: Incoming, ctx: Context, button: CorrectVisit) -> Step:
    """vc:<id>: correct one of my visits (within 24 hours)."""
    visit = await _own_visit(ctx, button.visit)
    if isinstance(visit, Step):
        return visit
    refused = await refuse_unless(ctx, Role.VOLUNTEER, visit.commune_code)
    if refused:
        return refused
    token = await visits.create_draft(ctx.db, ctx.user.id, visits.snapshot(visit), ctx.now, visit_id=visit.id)
    return edit_menu(ctx, token, visits.snapshot(visit), True)


def not_found() -> Step:
    return Step.end(
        Reply("visit.not_found", [[Button(t("visit.menu_recent"), payload=RecentVisits().pack())], [home_button()]])
    )


async def not_found_button(msg: Incoming, ctx: Context) -> Step:
    """A visit's button with no visit id in it (forged or mangled)."""
    return not_found()


async def _own_visit(ctx: Context, visit_id: int) -> Visit | Step:
    visit = await visits.get_visit(ctx.db, visit_id)
    if visit is None or visit.deleted_at is not None:
        return not_found()
    if visit.volunteer_id != ctx.user.id:
        return Step.end(Reply("visit.not_yours", [[home_button()]]))
    if not visits.changeable(visit, ctx.now):
        return Step.end(
            Reply("visit.too_late", [[Button(t("visit.menu_recent"), payload=RecentVisits().pack())], [home_button()]])
        )
    return visit


# Visits a page: with the page buttons and the menu button, 8 choices, what a messenger without
# buttons shows as one numbered list.
PAGE_SIZE = 5


async def recent(msg: Incoming, ctx: Context, button: RecentVisits | None = None) -> Step:
    """vl[:<page>]: my visits, latest first, a page at a time, each opening to correct or delete."""
    if not await roles.communes_for(ctx.db, ctx.user.id, Role.VOLUNTEER) and not await visits.recent_of(
        ctx.db, ctx.user.id, 1
    ):
        return await refuse_volunteer(ctx)
    total = await visits.count_of(ctx.db, ctx.user.id)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(button.page or 0, pages - 1) if button is not None else 0
    rows = [
        [
            Button(
                t(
                    "visit.list_button",
                    hamlet=v.hamlet,
                    household=household_shown(v.household) or "—",
                    outcome=t(f"visit.outcome.{v.outcome}"),
                ),
                payload=ViewVisit(v.id).pack(),
            )
        ]
        for v in await visits.recent_of(ctx.db, ctx.user.id, PAGE_SIZE, page * PAGE_SIZE)
    ]
    nav = []
    if page > 0:
        nav.append(Button(t("common.back"), payload=RecentVisits(page - 1).pack()))
    if page + 1 < pages:
        nav.append(Button(t("common.next"), payload=RecentVisits(page + 1).pack()))
    rows.append([*nav, home_button()])
    if not total:
        return Step.end(Reply(t("visit.recent_none"), rows))
    return Step.end(Reply(t("visit.recent", page=page + 1, pages=pages, count=total), rows))


async def view(msg: Incoming, ctx: Context, button: ViewVisit) -> Step:
    visit = await visits.get_visit(ctx.db, button.visit)
    if visit is None or visit.volunteer_id != ctx.user.id or visit.deleted_at is not None:
        return not_found()
    corrections = sum(1 for r in await visits.history(ctx.db, visit.id) if r.action == "corrected")
    rows = []
    if visits.changeable(visit, ctx.now):
        rows.append(
            [
                Button(t("visit.correct"), payload=CorrectVisit(visit.id).pack()),
                Button(t("visit.delete"), payload=DeleteVisit(visit.id).pack()),
            ]
        )
    rows.append([Button(t("visit.menu_recent"), payload=RecentVisits().pack()), home_button()])
    text = t(
        "visit.view",
        when=visit.visited_at,
        details=details(ctx, visits.snapshot(visit)),
        revisit=t("visit.view_revisit") if visit.revisit_of else "",
        corrections=t("visit.view_corrections", count=corrections) if corrections else "",
        locked="" if visits.changeable(visit, ctx.now) else t("visit.view_locked"),
    )
    return Step.end(Reply(text, rows))


async def remove(msg: Incoming, ctx: Context, button: DeleteVisit) -> Step:
    """vd:<id> asks; vd:<id>:y deletes (within 24 hours; counts follow)."""
    visit = await _own_visit(ctx, button.visit)
    if isinstance(visit, Step):
        return visit
    refused = await refuse_unless(ctx, Role.VOLUNTEER, visit.commune_code)
    if refused:
        return refused
    if await visits.has_return_visits(ctx.db, visit):
        return Step.end(
            Reply(
                "visit.delete_has_revisit",
                [[Button(t("visit.correct"), payload=CorrectVisit(visit.id).pack())], [home_button()]],
            )
        )
    if button.sure is None:
        rows = [
            [
                Button(t("visit.delete_confirm"), payload=DeleteVisit(visit.id, "y").pack()),
                Button(t("common.no"), payload=ViewVisit(visit.id).pack()),
            ]
        ]
        return Step.end(Reply(t("visit.delete_ask", details=details(ctx, visits.snapshot(visit))), rows))
    await visits.delete_visit(ctx.db, visit, ctx.user.id, ctx.now)
    return Step.end(
        Reply(
            t("visit.deleted", today=await today_line(ctx)),
            [[Button(t("visit.menu_recent"), payload=RecentVisits().pack()), home_button()]],
        )
    )


FLOW = Flow(
    name="visit_history",
    buttons={RecentVisits: recent, ViewVisit: view, CorrectVisit: correct, DeleteVisit: remove},
    otherwise={
        RecentVisits.prefix: recent,
        ViewVisit.prefix: not_found_button,
        CorrectVisit.prefix: not_found_button,
        DeleteVisit.prefix: not_found_button,
    },
    commands={"luotham": recent},
    menu=[MenuEntry(RecentVisits(), "visit.menu_recent", order=61, visible=field_worker)],
)
