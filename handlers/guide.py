"""The step-by-step install guide: pick Android or iPhone, then one screen per step."""

from __future__ import annotations

from handlers.buttons import Faq, Guide, Installed
from handlers.context import Context
from handlers.menu import home_button
from handlers.router import Flow, MenuEntry
from handlers.types import Button, Incoming, Reply, Step
from texts import t


def platforms(ctx: Context) -> list[str]:
    """The phone kinds the content describes, in its order (a campaign may add or drop one)."""
    return [name for name, node in ctx.content.section("guide").items() if isinstance(node, dict) and "steps" in node]


def choose_platform(ctx: Context, edit: bool = False) -> Reply:
    buttons = [[Button(t(f"guide.{p}.label"), payload=Guide(p).pack())] for p in platforms(ctx)]
    return Reply("guide.choose_platform", [*buttons, [home_button()]], edit=edit)


def step_screen(ctx: Context, platform: str, index: int, edit: bool) -> Reply:
    total = ctx.content.count(f"guide.{platform}.steps")
    base = f"guide.{platform}.steps.{index}"
    rows: list[list[Button]] = []
    if ctx.content.has(f"{base}.link_url"):
        rows.append([Button(t(f"{base}.link_label"), url=t(f"{base}.link_url"))])
    back = Guide(platform, index - 1) if index else Guide()
    nav = [Button(t("common.back"), payload=back.pack())]
    if index + 1 < total:
        nav.append(Button(t("common.next"), payload=Guide(platform, index + 1).pack()))
    rows.append(nav)
    if index + 1 == total:
        done = Button(t("guide.done"), payload=Installed().pack())
        rows.append([done, Button(t("guide.ask_question"), payload=Faq().pack())])
    rows.append([home_button()])
    text = t("guide.step", number=index + 1, total=total, title=t(f"{base}.title"), body=t(f"{base}.text"))
    return Reply(text, rows, edit=edit)


async def on_button(msg: Incoming, ctx: Context, button: Guide) -> Step:
    """guide → platforms; guide:android → its first step; guide:android:3 → step 4 (edited in place)."""
    if button.platform is None:
        return Step.end(choose_platform(ctx, edit=True))
    if button.platform not in platforms(ctx):
        return Step.end(choose_platform(ctx))
    total = ctx.content.count(f"guide.{button.platform}.steps")
    index = min(button.step or 0, total - 1)
    return Step.end(step_screen(ctx, button.platform, index, edit=True))


async def start(msg: Incoming, ctx: Context) -> Step:
    """/huongdan: the platform choice as a new message."""
    return Step.end(choose_platform(ctx))


FLOW = Flow(
    name="guide",
    buttons={Guide: on_button},
    otherwise={Guide.prefix: start},  # a mangled step: the platforms again, as a new message
    commands={"huongdan": start, "guide": start},
    menu=[MenuEntry(Guide(), "menu.guide", order=10)],
)
