"""A person's control over their data: no announcements (/ngung, /batdau), erase me (/xoadulieu)."""

from __future__ import annotations

from handlers.buttons import Erase, KeepData
from handlers.context import Context
from handlers.menu import home_button
from handlers.router import Flow
from handlers.types import Button, Incoming, Reply, Step
from storage.privacy import erase_person
from texts import t


async def opt_out(msg: Incoming, ctx: Context) -> Step:
    ctx.user.opted_out_at = ctx.user.opted_out_at or ctx.now
    return Step.end(Reply("privacy.opted_out", [[home_button()]]))


async def opt_in(msg: Incoming, ctx: Context) -> Step:
    ctx.user.opted_out_at = None
    return Step.end(Reply("privacy.opted_in", [[home_button()]]))


async def explain(msg: Incoming, ctx: Context) -> Step:
    """/xoadulieu: what is kept and what erasing means, then a confirmation button."""
    rows = [
        [Button(t("privacy.confirm"), payload=Erase().pack())],
        [Button(t("common.cancel"), payload=KeepData().pack())],
    ]
    return Step.end(Reply("privacy.explain", rows))


async def erase(msg: Incoming, ctx: Context, _: Erase) -> Step:
    """privacy:erase deletes the person's data (the counts stay, anonymous)."""
    await erase_person(ctx.db, ctx.user.id, handling=(msg.channel, msg.update_id))
    ctx.erased = True
    return Step.end(Reply("privacy.erased"))


async def keep(msg: Incoming, ctx: Context, _: KeepData | None = None) -> Step:
    """privacy:keep (or any other privacy button) cancels."""
    return Step.end(Reply("privacy.cancelled", [[home_button()]]))


FLOW = Flow(
    name="privacy",
    buttons={Erase: erase, KeepData: keep},
    otherwise={Erase.prefix: keep},
    commands={"ngung": opt_out, "batdau": opt_in, "xoadulieu": explain},
)
