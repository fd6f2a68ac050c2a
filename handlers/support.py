"""Support points near the citizen: the places in their commune that help people install."""

from __future__ import annotations

from handlers.buttons import Guide, Support, SupportElsewhere
from handlers.communes import ask_commune, commune_label
from handlers.context import Context
from handlers.menu import home_button
from handlers.router import Flow, MenuEntry
from handlers.types import Button, Incoming, Reply, Step
from storage import support_points
from texts import Join, Phone, t

PICKED = "support.commune_picked"


async def show(msg: Incoming, ctx: Context, _: Support | None = None) -> Step:
    """support, /hotro → the points of the remembered commune (asked for when not known yet)."""
    if not ctx.user.commune_code:
        return await elsewhere(msg, ctx)
    return await points_of(ctx, ctx.user.commune_code)


async def elsewhere(msg: Incoming, ctx: Context, _: SupportElsewhere | None = None) -> Step:
    """support:change → pick another commune."""
    return ask_commune(ctx, then=PICKED, prompt="support.ask_commune")


async def commune_picked(msg: Incoming, ctx: Context) -> Step:
    code = ctx.draft["picked_commune"]
    ctx.user.commune_code = code  # remembered for next time
    return await points_of(ctx, code)


async def points_of(ctx: Context, code: str) -> Step:
    entry = ctx.communes.get(code)
    name = commune_label(entry) if entry else code
    points = await support_points.in_commune(ctx.db, code)
    change = Button(t("support.change_commune"), payload=SupportElsewhere().pack())
    if not points:
        rows = [[Button(t("menu.guide"), payload=Guide().pack())], [change], [home_button()]]
        return Step.end(Reply(t("support.none", commune=name), rows))
    lines = [
        t(
            "support.point",
            name=p.name,
            address=p.address,
            hours=p.opening_hours or t("support.hours_unknown"),
            phone=Phone(p.phone) if p.phone else t("support.phone_unknown"),
        )
        for p in points
    ]
    listing = t("support.points", commune=name, count=len(points), points=Join(tuple(lines)))
    return Step.end(Reply(listing, [[change], [home_button()]]))


FLOW = Flow(
    name="support",
    buttons={Support: show, SupportElsewhere: elsewhere},
    otherwise={Support.prefix: show},
    commands={"hotro": show},
    states={PICKED: commune_picked},
    menu=[MenuEntry(Support(), "menu.support", order=30)],
)
