"""/web and the menu's entry: a one-time link into the officials' dashboard in a browser, for
coordinators, province officers, admins and venue managers (storage.web_sessions decides who);
anyone else gets the refusal chat gives for an official's action."""

from __future__ import annotations

from handlers.access import check, home_unit, refusal
from handlers.buttons import WebLogin
from handlers.context import Context
from handlers.menu import home_button
from handlers.router import Flow, MenuEntry
from handlers.types import Button, Incoming, Reply, Step
from storage import web_sessions
from storage.roles import Role
from texts import t

LOGIN_PATH = "/dashboard/login/"


async def login_link(msg: Incoming, ctx: Context, _: WebLogin | None = None) -> Step:
    """A link valid LOGIN_VALID minutes, for this person only, shown without a preview: the
    messenger's preview fetch must not be taken for the person (only the page's button uses it)."""
    if not await web_sessions.may_enter(ctx.db, ctx.user.id):
        # Chat's own refusal of someone with no official role (a citizen, a volunteer), saying why.
        unit = await home_unit(ctx)
        return await refusal(ctx, await check(ctx, Role.COORDINATOR, unit), Role.COORDINATOR, unit)
    base = ctx.settings.public_base_url
    if not base:
        return Step.end(Reply("dashboard.chat.no_address", [[home_button()]]))
    token = await web_sessions.issue_login(ctx.db, ctx.user.id, ctx.now)
    url = f"{base.rstrip('/')}{LOGIN_PATH}{token}"
    minutes = int(web_sessions.LOGIN_VALID.total_seconds() // 60)
    rows = [[Button(t("dashboard.chat.open"), url=url)], [home_button()]]
    return Step.end(Reply(t("dashboard.chat.link", url=url, minutes=minutes), rows, link_preview=False))


async def visible(ctx: Context) -> bool:
    return await web_sessions.may_enter(ctx.db, ctx.user.id)


FLOW = Flow(
    name="dashboard",
    buttons={WebLogin: login_link},
    commands={"web": login_link},
    menu=[MenuEntry(WebLogin(), "dashboard.chat.menu", order=76, visible=visible)],
)
