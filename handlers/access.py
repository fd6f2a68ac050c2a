"""Permission checks for handlers: read from the database at every action (a person's grants
once per update's transaction, see storage.roles), and a refusal that says why (not a hidden
button: a forged or old payload reaches the handler and is refused here)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from handlers.buttons import Register
from handlers.communes import ask_commune, commune_in_sentence, commune_label
from handlers.context import Context
from handlers.menu import home_button
from handlers.payload import Payload
from handlers.types import Button, Incoming, Reply, Step
from storage import roles, volunteers
from storage.roles import Decision, Refusal, Role
from storage.unit_map import pad_unit_code
from storage.units import COUNTRY_CODE, CommuneIndex, unit_level
from texts import Join, Text, t

if TYPE_CHECKING:
    from storage.units import CommuneIndex
    from texts.content import Content

ROLE_NAMES = {
    Role.VOLUNTEER: t("access.role.volunteer"),
    Role.COORDINATOR: t("access.role.coordinator"),
    Role.DISTRICT_OFFICER: t("access.role.district_officer"),
    Role.PROVINCE_OFFICER: t("access.role.province_officer"),
    Role.ADMIN: t("access.role.admin"),
}


class Naming(Protocol):
    """What naming units needs: the words and the communes (a chat's Context, a web page's)."""

    @property
    def content(self) -> Content: ...

    @property
    def communes(self) -> CommuneIndex: ...


def unit_name(ctx: Naming, code: str) -> Text | str:
    """A unit as people name it: a commune with its province, a province, or the whole country."""
    return named(ctx.communes, code)


def unit_in_sentence(ctx: Context, code: str) -> Text | str:
    """`unit_name` written inside a sentence: a commune's kind in lower case."""
    return named_in_sentence(ctx.communes, code)


def named(communes: CommuneIndex, code: str) -> Text | str:
    """`unit_name` from the units' index (for a door without a conversation: the dashboard)."""
    if code == COUNTRY_CODE:
        return t("access.country")
    if unit_level(code) == "province":
        return communes.provinces.get(code, code)
    if unit_level(code) == "district":
        district = communes.districts.get(code)
        return (
            t("commune.district_label", name=district[0], province=communes.provinces.get(district[1], ""))
            if district
            else code
        )
    entry = communes.get(code)
    return commune_label(entry) if entry else code


def named_in_sentence(communes: CommuneIndex, code: str) -> Text | str:
    entry = communes.get(code) if unit_level(code) == "commune" else None
    if entry is None:
        return named(communes, code)
    return t("commune.label", name=commune_in_sentence(entry), province=entry.province_name)


def typed_unit(ctx: Context, typed: str) -> str | None:
    """A unit code as typed ("1", "213", "70", "VN") at its level's width on the deployment's
    map; None when it is not a unit of it."""
    try:
        code = pad_unit_code(typed, ctx.communes.scheme)
    except ValueError:
        return None
    return code if ctx.communes.has_unit(code) else None


def acting_role(ctx: Naming, code: str) -> Role:
    """Who acts over a unit as its officer (sets its target): an admin for the country, a
    province officer for a province, and, on the pre-2025 map, a district officer for a district
    and its communes (a province officer for a commune of today's map)."""
    level = unit_level(code)
    if level == "country":
        return Role.ADMIN
    if level == "district" or (level == "commune" and ctx.communes.parent(code) in ctx.communes.districts):
        return Role.DISTRICT_OFFICER
    return Role.PROVINCE_OFFICER


# Officers: the roles that cover more than one commune, and so pick a commune to act in.
OFFICERS = (Role.DISTRICT_OFFICER, Role.PROVINCE_OFFICER, Role.ADMIN)


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
        units = Join(tuple(unit_in_sentence(ctx, u) for u in decision.units), "; ")
        text = t("access.other_unit", role=role_name, unit=unit_in_sentence(ctx, unit_code), units=units)
    elif decision.refusal is Refusal.TOO_LOW:
        text = t("access.too_low", role=role_name, unit=unit_in_sentence(ctx, unit_code))
    elif decision.refusal is Refusal.ENDED:
        text = t("access.ended", role=role_name, unit=unit_in_sentence(ctx, unit_code))
    elif decision.refusal is Refusal.PENDING:
        pending = [r for r in await volunteers.registrations_of(ctx.db, ctx.user.id) if r.status == "pending"]
        where = unit_in_sentence(ctx, pending[0].commune_code) if pending else unit_in_sentence(ctx, unit_code)
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


@dataclass(frozen=True)
class CommuneDoor:
    """The way into a flow that acts in one commune as `role` ("start → commune picked → refuse
    unless allowed", written once): the person's only commune at once; a choice (buttons
    `choice(code)`, asked with `choose`) when they hold the role in several; the commune picker
    (asking `prompt`, handing back at step `picked`) for officers and admins, who cover many;
    otherwise the refusal that says why. However the commune comes, `go` runs only once the
    person may act there."""

    role: Role
    go: Callable[[Context, str], Awaitable[Step]]
    choice: Callable[[str], Payload]
    choose: Text
    picked: str
    prompt: str

    async def start(self, ctx: Context) -> Step:
        communes = await roles.communes_for(ctx.db, ctx.user.id, self.role)
        if len(communes) == 1:
            return await self.enter(ctx, communes[0])
        if communes:
            rows = [[Button(unit_name(ctx, c), payload=self.choice(c).pack())] for c in communes]
            rows.append([home_button()])
            return Step.end(Reply(self.choose, rows))
        if await roles.has_any(ctx.db, ctx.user.id, set(OFFICERS)):
            return ask_commune(ctx, then=self.picked, prompt=self.prompt)
        unit = await home_unit(ctx)
        return await refusal(ctx, await check(ctx, self.role, unit), self.role, unit)

    async def enter(self, ctx: Context, code: str) -> Step:
        """Into the commune `code`, if the person may act there."""
        refused = await refuse_unless(ctx, self.role, code)
        return refused or await self.go(ctx, code)

    async def commune_picked(self, msg: Incoming, ctx: Context) -> Step:
        """The step the commune picker hands back to."""
        return await self.enter(ctx, ctx.draft["picked_commune"])
