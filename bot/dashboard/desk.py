"""A coordinator's desk in the browser, the twin of chat's /dieuphoi (handlers/coordinators.py):
the commune's volunteers (deactivate, reactivate), registrations to approve or refuse, the invite
code and link, with the same storage functions, the same permission check (a coordinator of the
commune, an officer of its province, an admin) at every request, and the same audit entries
(source "web"). The volunteer is told in chat, as when a coordinator acts there.

    GET  /dashboard/desk/<commune>                             the desk; ?done=<what was just done>
    POST /dashboard/desk/<commune>/volunteers/<id>/<action>    approve, refuse, deactivate, reactivate
    POST /dashboard/desk/<commune>/invite                      action=new (a new code) or revoke
    GET  /dashboard/desk/<commune>/hamlets/<ref>?name=         renaming or merging a hamlet, asked
    POST /dashboard/desk/<commune>/hamlets/<ref>               name=: renamed or merged, as chat does
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dashboard.pages import ROOT, Dashboard, Problem, page
from bot.webpages import PAGES, add_page, render
from bot.webpages.forms import read_form
from documents.links import telegram_link
from handlers.access import named, named_in_sentence
from handlers.coordinators import activity_notice, plan_renaming, verdict_notice
from handlers.types import Reply
from storage import roles, visits, volunteers
from storage.models import Volunteer, utcnow
from storage.roles import Role
from storage.units import unit_level
from storage.volunteers import Status
from texts import Phone
from texts.formats import local_date

if TYPE_CHECKING:
    from bot.service import Service

ACTIONS = ("approve", "refuse", "deactivate", "reactivate")
# What the page says after an action (dashboard.desk.done.<key>); anything else in ?done= is ignored.
DONE = (
    "approved",
    "refused",
    "deactivated",
    "reactivated",
    "already",
    "invite_new",
    "invite_revoked",
    "hamlet_renamed",
    "hamlet_merged",
)


def desk_path(code: str) -> str:
    return f"{ROOT}/desk/{code}"


class Desk:
    def __init__(self, dashboard: Dashboard) -> None:
        self.d = dashboard

    async def show(self, request: web.Request) -> web.Response:
        self.d._admit(request)
        code = commune_of(request)
        service = _service(request)
        now = utcnow()
        async with self.d._db(request) as db, db.begin():
            user = await self.d._user(request)
            await _coordinates(db, user, code)
            communes = await service.engine.communes(db)
            everyone = await volunteers.of_commune(db, code)
            all_time = await visits.totals(db, commune_code=code)
            today = await visits.totals(db, commune_code=code, since=local_date(now))
            invite = await volunteers.active_invite(db, code, now)
            keys = {name: key for key, name in (await visits.hamlets_of(db, code)).items()}
            hamlets = [
                (h, visits.hamlet_ref(keys.get(h.hamlet, visits.hamlet_key(h.hamlet))))
                for h in await visits.hamlet_summaries(db, code)
            ]
        handle = service.bot_handles().get("telegram")
        done = request.query.get("done")
        fmt = self.d._formatter(request)
        context: dict[str, Any] = {
            "code": code,
            "title": service.content.render(named(communes, code)),
            "team": [
                (v, all_time.get(v.user_id, visits.Totals()), today.get(v.user_id, visits.Totals()))
                for v in everyone
                if v.status in (Status.ACTIVE, Status.INACTIVE)
            ],
            "pending": [v for v in everyone if v.status == Status.PENDING],
            "invite": invite,
            "hamlets": hamlets,
            "invite_url": telegram_link(handle, f"v-{invite.code}") if invite and handle else None,
            "done": done if done in DONE else None,
            "fmt": fmt,
            "phone": lambda number: fmt(Phone(number)) if number else "—",
            **self.d._frame(request),
        }
        return render(request, "dashboard/desk.html", context)

    async def act(self, request: web.Request) -> web.Response:
        """One volunteer: approved or refused (while pending), deactivated or reactivated."""
        self.d._admit(request)
        code, action = commune_of(request), request.match_info["action"]
        form = await read_form(request)
        service = _service(request)
        now = utcnow()
        async with self.d._db(request) as db, db.begin():
            user = await self.d._user(request, form)
            row = await db.get(Volunteer, int(request.match_info["volunteer"]))
            if row is None or row.commune_code != code:
                raise Problem(404, "volunteer_gone")
            await _coordinates(db, user, row.commune_code)
            where = named_in_sentence(await service.engine.communes(db), code)
            notice: Reply | None = None
            if action in ("approve", "refuse"):
                approve = action == "approve"
                changed = await volunteers.decide(db, row, approve, user, now, source="web")
                notice = verdict_notice(approve, where) if changed else None
                done = ("approved" if approve else "refused") if changed else "already"
            else:
                active = action == "reactivate"
                changed = await volunteers.set_active(db, row, active, user, now, source="web")
                notice = activity_notice(active, where) if changed else None
                done = ("reactivated" if active else "deactivated") if changed else "already"
            queued = await service.engine.queue_for_user(db, row.user_id, [notice]) if notice else []
        service.courier.deliver_soon(queued)  # after the commit: the notice goes only with the change
        raise web.HTTPSeeOther(f"{desk_path(code)}?done={done}")

    async def invite(self, request: web.Request) -> web.Response:
        """The commune's invite: a new code (the old one stops working) or none at all."""
        self.d._admit(request)
        code = commune_of(request)
        form = await read_form(request)
        now = utcnow()
        async with self.d._db(request) as db, db.begin():
            user = await self.d._user(request, form)
            await _coordinates(db, user, code)
            if form.get("action") == "revoke":
                await volunteers.revoke_invites(db, code, now)
                done = "invite_revoked"
            else:
                await volunteers.create_invite(db, code, user, now)
                done = "invite_new"
        raise web.HTTPSeeOther(f"{desk_path(code)}?done={done}#invite")

    async def hamlet(self, request: web.Request) -> web.Response:
        """What the typed name would do (chat's question), with the button that does it."""
        self.d._admit(request)
        code = commune_of(request)
        service = _service(request)
        typed = request.query.get("name", "")
        async with self.d._db(request) as db, db.begin():
            user = await self.d._user(request)
            await _coordinates(db, user, code)
            found = await _hamlet(db, code, request)
            plan = await plan_renaming(db, service.content, code, found, typed)
        shown = service.content.render
        context = {
            "code": code,
            "ref": request.match_info["ref"],
            "old": found[1],
            "typed": typed,
            "merges": plan.merges,
            "question": shown(plan.question) if plan.question else None,
            "problem": shown(plan.problem) if plan.problem else None,
        }
        return render(request, "dashboard/desk_hamlet.html", {**context, **self.d._frame(request)})

    async def rename(self, request: web.Request) -> web.Response:
        self.d._admit(request)
        code, ref = commune_of(request), request.match_info["ref"]
        form = await read_form(request)
        service = _service(request)
        typed = str(form.get("name", ""))
        async with self.d._db(request) as db, db.begin():
            user = await self.d._user(request, form)
            await _coordinates(db, user, code)
            found = await _hamlet(db, code, request)
            plan = await plan_renaming(db, service.content, code, found, typed)
            if plan.question is not None:
                await visits.rename_hamlet(db, code, found[0], plan.typed, user, utcnow(), source="web")
        if plan.question is None:  # no name, or its own: asked again
            raise web.HTTPSeeOther(f"{desk_path(code)}/hamlets/{ref}?{urlencode({'name': typed})}")
        done = "hamlet_merged" if plan.merges else "hamlet_renamed"
        raise web.HTTPSeeOther(f"{desk_path(code)}?done={done}#hamlets")


async def _hamlet(db: AsyncSession, code: str, request: web.Request) -> tuple[str, str]:
    found = await visits.hamlet_by_ref(db, code, request.match_info["ref"])
    if found is None:  # renamed or merged since the page was read
        raise Problem(404, "hamlet_gone")
    return found


def _service(request: web.Request) -> Service:
    return request.app[PAGES].service(request)


def commune_of(request: web.Request) -> str:
    code = request.match_info["code"]
    try:
        level = unit_level(code)
    except ValueError:
        level = None
    if level != "commune":
        raise Problem(404, "no_unit")
    return code


async def _coordinates(db: AsyncSession, user: int, code: str) -> None:
    """Chat's check before every desk action (handlers.access.refuse_unless, as a coordinator);
    a commune that does not exist is no one's."""
    if not await roles.unit_exists(db, code):
        raise Problem(404, "no_unit")
    if not await roles.check(db, user, Role.COORDINATOR, code):
        raise Problem(403, "not_yours")


def add_routes(app: web.Application, dashboard: Dashboard) -> None:
    desk = Desk(dashboard)
    commune = ROOT + "/desk/{code:[0-9A-Z]{2,5}}"
    add_page(app, commune, name="dashboard.desk", GET=page(desk.show))
    add_page(
        app,
        commune + "/volunteers/{volunteer:[0-9]{1,18}}/{action:" + "|".join(ACTIONS) + "}",
        name="dashboard.desk.volunteer",
        POST=page(desk.act),
    )
    add_page(app, commune + "/invite", name="dashboard.desk.invite", POST=page(desk.invite))
    add_page(
        app,
        commune + "/hamlets/{ref:[0-9a-f]{10}}",
        name="dashboard.desk.hamlet",
        GET=page(desk.hamlet),
        POST=page(desk.rename),
    )
