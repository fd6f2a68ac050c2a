"""The audit log in chat, for admins: the latest officials' actions."""

from __future__ import annotations

import json

from handlers.access import refuse_unless
from handlers.context import Context
from handlers.menu import home_button
from handlers.router import Flow
from handlers.types import Incoming, Reply, Step
from storage import audit
from storage.roles import Role
from storage.units import COUNTRY_CODE
from texts import Join, t

SHOWN = 20


def entry_line(ctx: Context, entry) -> object:
    who = t("audit.who_user", id=entry.actor_user_id) if entry.actor_user_id else t("audit.who_cli")
    action_key = f"audit.actions.{entry.action}"
    action = t(action_key) if ctx.content.has(action_key) else entry.action
    unit = t("audit.unit", unit=entry.unit_code) if entry.unit_code else ""
    details = json.dumps(entry.details, ensure_ascii=False, separators=(",", ":")) if entry.details else ""
    return t("audit.line", when=entry.at, who=who, action=action, unit=unit, details=details[:200])


async def show(msg: Incoming, ctx: Context) -> Step:
    """/nhatky [unit code]: the latest entries (admins only)."""
    refused = await refuse_unless(ctx, Role.ADMIN, COUNTRY_CODE)
    if refused:
        return refused
    unit = (msg.command[1] if msg.command else "").strip() or None
    entries = await audit.entries(ctx.db, unit_code=unit, limit=SHOWN)
    if not entries:
        return Step.end(Reply("audit.empty", [[home_button()]]))
    lines = Join(tuple(entry_line(ctx, e) for e in entries), "\n")
    return Step.end(
        Reply(t("common.lines", lines=Join((t("audit.title", count=len(entries)), lines), "\n")), [[home_button()]])
    )


FLOW = Flow(name="audit", commands={"nhatky": show})
