""" "I have installed it": a citizen's self-reported install, counted once for their commune."""

from __future__ import annotations

from handlers.access import unit_in_sentence
from handlers.buttons import FaqAnswer, Guide, Installed
from handlers.communes import ask_commune
from handlers.context import Context
from handlers.menu import home_button
from handlers.router import Flow, MenuEntry
from handlers.types import Button, Incoming, Reply, Step
from storage.installs import report_install, reported_install
from texts import t

PICKED = "install.commune_picked"


async def start(msg: Incoming, ctx: Context, _: Installed | None = None) -> Step:
    """Counts the install, asking for the commune first if we do not know it yet."""
    previous = await reported_install(ctx.db, ctx.user.id)
    if previous is not None:
        return Step.end(already(ctx, previous.reported_at, previous.commune_code))
    if not ctx.user.commune_code:
        return ask_commune(ctx, then=PICKED, prompt="install.ask_commune")
    return await record(ctx, ctx.user.commune_code)


async def commune_picked(msg: Incoming, ctx: Context) -> Step:
    ctx.user.commune_code = ctx.draft["picked_commune"]
    return await record(ctx, ctx.user.commune_code)


async def record(ctx: Context, commune_code: str) -> Step:
    if not await report_install(ctx.db, ctx.user.id, commune_code):
        # Counted meanwhile (a double tap handled by another worker): say so, count nothing.
        previous = await reported_install(ctx.db, ctx.user.id)
        assert previous is not None  # report_install refuses only a person already counted
        return Step.end(already(ctx, previous.reported_at, previous.commune_code))
    rows = [
        [Button(t("install.help_relatives"), payload=FaqAnswer("relatives").pack())],
        [Button(t("menu.guide"), payload=Guide().pack()), home_button()],
    ]
    return Step.end(Reply(t("install.counted", commune=unit_in_sentence(ctx, commune_code)), rows))


def already(ctx: Context, when, commune_code: str) -> Reply:
    name = unit_in_sentence(ctx, commune_code)
    rows = [[Button(t("install.help_relatives"), payload=FaqAnswer("relatives").pack())], [home_button()]]
    return Reply(t("install.already", when=when, commune=name), rows)


FLOW = Flow(
    name="install",
    buttons={Installed: start},
    otherwise={Installed.prefix: start},
    commands={"dacai": start},
    states={PICKED: commune_picked},
    menu=[MenuEntry(Installed(), "menu.installed", order=40)],
)
