"""Permission checks for handlers: read from the database at every action (a person's grants
once per update's transaction, see storage.roles), and a refusal that says why (not a hidden
button: a forged or old payload reaches the handler and is refused here)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from handlers.buttons import Register
from handlers.communes import commune_label
from handlers.context import Context
from handlers.menu import home_button
from handlers.payload import Payload
from handlers.types import Button, Reply, Step
from storage import roles, volunteers
from storage.roles import Decision, Refusal, Role
from storage.units import COUNTRY_CODE, unit_level
from texts import Join, Text, t

ROLE_NAMES = {
    Role.VOLUNTEER: t("access.role.volunteer"),
    Role.COORDINATOR: t("access.role.coordinator"),
    Role.PROVINCE_OFFICER: t("access.role.province_officer"),
    Role.ADMIN: t("access.role.admin"),
}


def unit_name(ctx: Context, code: str) -> Text | str:
    """A unit as people name it: a commune with its province, a province, or the whole country."""
    if code == COUNTRY_CODE:
        return t("access.country")
    if unit_level(code) == "province":
        return ctx.communes.provinces.get(code, code)
    entry = ctx.communes.get(code)
    return commune_label(entry) if entry else code


async def check(ctx: Context, role: Role, unit_code: str) -> Decision:
    return await roles.check(ctx.db, ctx.user.id, role, unit_code)


async def refuse_unless(ctx: Context, role: Role, unit_code: str) -> Step | None:
    """None when the person may act as `role` over the unit; otherwise the refusal to send."""
    decision = await check(ctx, role, unit_code)
    if decision:
        return None
    return await refusal(ctx, decision, role, unit_code)


async def refusal(ctx: Context, decision: Decision, role: Role, unit_code: str) -> Step:
    """A polite refusal saying why, and what the person can do about it."""
    rows = [[home_button()]]
    role_name = ROLE_NAMES[role]
    if decision.refusal is Refusal.OTHER_UNIT:
        units = Join(tuple(unit_name(ctx, u) for u in decision.units), "; ")
        text = t("access.other_unit", role=role_name, unit=unit_name(ctx, unit_code), units=units)
    elif decision.refusal is Refusal.TOO_LOW:
        text = t("access.too_low", role=role_name, unit=unit_name(ctx, unit_code))
    elif decision.refusal is Refusal.ENDED:
        text = t("access.ended", role=role_name, unit=unit_name(ctx, unit_code))
    elif decision.refusal is Refusal.PENDING:
        pending = [r for r in await volunteers.registrations_of(ctx.db, ctx.user.id) if r.status == "pending"]
        where = unit_name(ctx, pending[0].commune_code) if pending else unit_name(ctx, unit_code)
        text = t("access.pending", commune=where)
    elif role is Role.VOLUNTEER:
        text = t("access.no_role_volunteer")
        rows.insert(0, [Button(t("volunteer.register_button"), payload=Register().pack())])
    else:
        text = t("access.no_role", role=role_name)
    return Step.end(Reply(text, rows))


async def holds_any(ctx: Context, *wanted: Role) -> bool:
    """For menu entries: whether the person holds one of these roles anywhere (from the database)."""
    return await roles.has_any(ctx.db, ctx.user.id, set(wanted) or None)


async def home_unit(ctx: Context) -> str:
    """The unit a person's refusals are about when an action names none: where they registered
    or held a role last, else their commune, else the country."""
    registrations = await volunteers.registrations_of(ctx.db, ctx.user.id)
    if registrations:
        return registrations[-1].commune_code
    grants = await roles.grants_of(ctx.db, ctx.user.id, include_revoked=True)
    if grants:
        return max(grants, key=lambda g: g.granted_at).unit_code
    return ctx.user.commune_code or COUNTRY_CODE


async def in_commune(
    ctx: Context,
    role: Role,
    go: Callable[[Context, str], Awaitable[Step]],
    *,
    choice: Callable[[str], Payload],
    choose: Text,
    picker: Callable[[], Step],
) -> Step:
    """Act as `role` in a commune: the person's only one at once; a choice (buttons
    `choice(code)`) when they hold the role in several; the commune picker for officers and
    admins, who cover many; otherwise the refusal that says why."""
    communes = await roles.communes_for(ctx.db, ctx.user.id, role)
    if len(communes) == 1:
        return await go(ctx, communes[0])
    if communes:
        rows = [[Button(unit_name(ctx, c), payload=choice(c).pack())] for c in communes]
        rows.append([home_button()])
        return Step.end(Reply(choose, rows))
    if await roles.has_any(ctx.db, ctx.user.id, {Role.PROVINCE_OFFICER, Role.ADMIN}):
        return picker()
    unit = await home_unit(ctx)
    return await refusal(ctx, await check(ctx, role, unit), role, unit)
