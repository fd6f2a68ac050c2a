"""Support points near the citizen: the places in their commune that help people install."""

from __future__ import annotations

from handlers import communes
from handlers.access import unit_in_sentence
from handlers.buttons import Guide, Support, SupportElsewhere
from handlers.communes import MAX_QUERY, SEARCH, ask_commune
from handlers.context import Context
from handlers.menu import home_button
from handlers.router import Flow, MenuEntry
from handlers.types import Button, Incoming, Kind, Reply, Step
from storage import support_points
from storage.units import EXACT, FORMER
from texts import Join, Phone, t

PICKED = "support.commune_picked"
# The list of points is on screen: a commune typed now is a new search, not an unknown message.
SHOWN = "support.shown"


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
    name = unit_in_sentence(ctx, code)  # inside a sentence: its kind in lower case
    points = await support_points.in_commune(ctx.db, code)
    change = Button(t("support.change_commune"), payload=SupportElsewhere().pack())
    if not points:
        rows = [[Button(t("menu.guide"), payload=Guide().pack())], [change], [home_button()]]
        return Step.to(SHOWN, Reply(t("support.none", commune=name), rows))
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
    return Step.to(SHOWN, Reply(listing, [[change], [home_button()]]))


async def typed_after_points(msg: Incoming, ctx: Context) -> Step:
    """Text after the list: a commune's name (today's or a former one) searches again; anything
    else is handled as if no step were open (a question for the FAQ, a menu word)."""
    matches = ctx.communes.search((msg.text or "")[:MAX_QUERY]) if msg.kind is Kind.TEXT else []
    # Only a name typed whole: "ok" or "cảm ơn" must not start a search for communes that begin so.
    if any(m.rank in (EXACT, FORMER) for m in matches):
        ctx.remember(commune_then=PICKED)
        step = await communes.on_text(msg, ctx)
        return Step(step.replies, SEARCH) if step.keeps_state else step
    ctx.convo.state = None
    return await ctx.router.dispatch(msg, ctx)


FLOW = Flow(
    name="support",
    buttons={Support: show, SupportElsewhere: elsewhere},
    otherwise={Support.prefix: show},
    commands={"hotro": show},
    states={PICKED: commune_picked, SHOWN: typed_after_points},
    menu=[MenuEntry(Support(), "menu.support", order=30)],
)
