"""The audit log in chat, for admins: the latest officials' actions."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from handlers.access import ROLE_NAMES, Naming, refuse_unless, unit_name
from handlers.context import Context
from handlers.menu import home_button
from handlers.router import Flow
from handlers.types import Incoming, Reply, Step
from storage import audit
from storage.models import AuditEntry
from storage.roles import Role
from storage.units import COUNTRY_CODE
from texts import Join, Percent, Text, t

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

SHOWN = 20
# A broadcast's text is in the log whole; a line of the log shows its start.
TEXT_SHOWN = 60


def entry_line(ctx: Naming, entry: AuditEntry, people: dict[int, str]) -> Text:
    who = person(entry.actor_user_id, people) if entry.actor_user_id else t("audit.who_cli")
    action_key = f"audit.actions.{entry.action}"
    action = t(action_key) if ctx.content.has(action_key) else entry.action
    unit = t("audit.unit", unit=unit_name(ctx, entry.unit_code)) if entry.unit_code else ""
    shown = [detail(ctx, name, value, people) for name, value in (entry.details or {}).items() if value is not None]
    details = t("audit.details", details=Join(tuple(shown), ", ")) if shown else ""
    return t("audit.line", when=entry.at, who=who, action=action, unit=unit, details=details)


def person(user_id: int, people: dict[int, str]) -> Text | str:
    return people.get(user_id) or t("audit.who_user", id=str(user_id))


def detail(ctx: Naming, name: str, value: Any, people: dict[int, str]) -> Text:
    """One detail as an admin reads it: a person by name, a role by its name, a rate as a
    percentage, a date in the house format."""
    shown: Any = value
    if name == "user" and isinstance(value, int):
        shown = person(value, people)
    elif name == "role" and value in {r.value for r in Role}:
        shown = ROLE_NAMES[Role(value)]
    elif name == "rate":
        try:
            shown = Percent.target(Fraction(str(value)))
        except (ValueError, ZeroDivisionError):
            shown = str(value)
    elif name in {"deadline", "as_of"} and isinstance(value, str):
        try:
            shown = dt.date.fromisoformat(value)
        except ValueError:
            shown = value
    elif name == "denominator" and ctx.content.has(f"tally.denominators.{value}"):
        shown = t(f"tally.denominators.{value}")
    elif name == "text" and isinstance(value, str) and len(value) > TEXT_SHOWN:
        shown = " ".join(value.split())[: TEXT_SHOWN - 1] + "…"
    elif isinstance(value, int) and not isinstance(value, bool):
        shown = value
    else:
        shown = str(value)
    key = f"audit.detail.{name}"
    if ctx.content.has(key):
        return t(key, value=shown)
    return t("audit.detail.other", name=name, value=shown)


async def readable(db: AsyncSession, ctx: Naming, entries: list[AuditEntry]) -> list[Text]:
    """The entries as admins read them, in chat (/nhatky) and on the dashboard's audit page."""
    mentioned = {e.actor_user_id for e in entries if e.actor_user_id}
    mentioned |= {e.details["user"] for e in entries if isinstance((e.details or {}).get("user"), int)}
    people = await audit.people(db, mentioned)
    return [entry_line(ctx, e, people) for e in entries]


async def show(msg: Incoming, ctx: Context) -> Step:
    """/nhatky [unit code]: the latest entries (admins only)."""
    refused = await refuse_unless(ctx, Role.ADMIN, COUNTRY_CODE)
    if refused:
        return refused
    unit = (msg.command[1] if msg.command else "").strip() or None
    entries = await audit.entries(ctx.db, unit_code=unit, limit=SHOWN)
    if not entries:
        return Step.end(Reply("audit.empty", [[home_button()]]))
    lines = Join(tuple(await readable(ctx.db, ctx, entries)), "\n")
    return Step.end(
        Reply(t("common.lines", lines=Join((t("audit.title", count=len(entries)), lines), "\n")), [[home_button()]])
    )


FLOW = Flow(name="audit", commands={"nhatky": show})
