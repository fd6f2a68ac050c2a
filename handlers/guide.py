"""The step-by-step install guide: pick Android or iPhone, then one screen per step."""

from __future__ import annotations

from handlers.context import Context
from handlers.menu import home_button
from handlers.router import Flow, MenuEntry
from handlers.types import Button, Incoming, Reply, Step
from texts import t
from texts.user_input import INT_MAX, number

GUIDE = "guide"


def platforms(ctx: Context) -> list[str]:
    """The phone kinds the content describes, in its order (a campaign may add or drop one)."""
    return [name for name, node in ctx.content.section("guide").items() if isinstance(node, dict) and "steps" in node]


def choose_platform(ctx: Context, edit: bool = False) -> Reply:
    buttons = [[Button(t(f"guide.{p}.label"), payload=f"{GUIDE}:{p}")] for p in platforms(ctx)]
    return Reply("guide.choose_platform", [*buttons, [home_button()]], edit=edit)


def step_screen(ctx: Context, platform: str, index: int, edit: bool) -> Reply:
    total = ctx.content.count(f"guide.{platform}.steps")
    base = f"guide.{platform}.steps.{index}"
    rows: list[list[Button]] = []
    if ctx.content.has(f"{base}.link_url"):
        rows.append([Button(t(f"{base}.link_label"), url=t(f"{base}.link_url"))])
    nav = [Button(t("common.back"), payload=f"{GUIDE}:{platform}:{index - 1}" if index else GUIDE)]
    if index + 1 < total:
        nav.append(Button(t("common.next"), payload=f"{GUIDE}:{platform}:{index + 1}"))
    rows.append(nav)
    if index + 1 == total:
        rows.append([Button(t("guide.done"), payload="install"), Button(t("guide.ask_question"), payload="faq")])
    rows.append([home_button()])
    text = t("guide.step", number=index + 1, total=total, title=t(f"{base}.title"), body=t(f"{base}.text"))
    return Reply(text, rows, edit=edit)


async def on_button(msg: Incoming, ctx: Context) -> Step:
    """guide → platforms; guide:android → its first step; guide:android:3 → step 4 (edited in place)."""
    parts = (msg.payload or "").split(":")
    if len(parts) == 1:
        return Step.end(choose_platform(ctx, edit=True))
    platform = parts[1]
    if platform not in platforms(ctx):
        return Step.end(choose_platform(ctx))
    index = 0
    if len(parts) > 2:
        typed = number(parts[2], INT_MAX)
        if typed is None:
            return Step.end(choose_platform(ctx))
        index = typed
    total = ctx.content.count(f"guide.{platform}.steps")
    index = min(index, total - 1)
    return Step.end(step_screen(ctx, platform, index, edit=True))


async def start(msg: Incoming, ctx: Context) -> Step:
    """/huongdan: the platform choice as a new message."""
    return Step.end(choose_platform(ctx))


FLOW = Flow(
    name="guide",
    buttons={GUIDE: on_button},
    commands={"huongdan": start, "guide": start},
    menu=[MenuEntry(GUIDE, "menu.guide", order=10)],
)
