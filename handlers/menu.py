"""The greeting and home menu, and what the bot says when it does not understand."""

from __future__ import annotations

from handlers.buttons import Home
from handlers.context import Context
from handlers.router import Fallbacks, Flow
from handlers.types import Button, Incoming, Kind, Reply, Step
from texts import t

NUMBERS = "menu.numbers"  # the content table of the main menu's numbers


async def main_menu(ctx: Context, key: str = "menu.home", **values: object) -> Reply:
    """A message with one button per menu entry the person may use, two to a row, in the order
    of their numbers. Each entry has its number in content (menu.numbers), the one typed where
    there are no buttons: an entry the person may not use leaves a gap, so that a number always
    means the same entry, whatever roles or settings come and go."""
    numbers = entry_numbers(ctx)
    # An entry missing from the table (a test says so) comes last, numbered after the others.
    entries = sorted(await ctx.router.menu_for(ctx), key=lambda e: (e.label not in numbers, numbers.get(e.label, 0)))
    buttons = [Button(t(e.label), payload=e.payload.pack(), number=numbers.get(e.label)) for e in entries]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return Reply(t(key, **values), rows)


def entry_numbers(ctx: Context) -> dict[str, int]:
    """Each main-menu entry's number, by its label's content key."""
    return dict(ctx.content.section(NUMBERS))


def home_button() -> Button:
    return Button(t("common.home"), payload=Home().pack())


async def greet(msg: Incoming, ctx: Context, _: Home | None = None) -> Step:
    """/start, following the account (Zalo), /menu, /huy and the home button: drop any open step
    and show the menu, with the greeting for a first contact."""
    first = msg.kind is Kind.FOLLOW or (msg.command is not None and msg.command[0] == "start")
    key = "menu.greeting" if first else "menu.home"
    return Step.end(await main_menu(ctx, key))


async def not_understood(msg: Incoming, ctx: Context) -> Step:
    """Text nobody recognised, a sticker, a photo, a voice note: a short help line and the menu."""
    return Step.end(await main_menu(ctx, "menu.not_understood"))


async def stale_button(msg: Incoming, ctx: Context) -> Step:
    """A button from an old message, or a payload nobody serves."""
    return Step.end(await main_menu(ctx, "menu.stale_button"))


async def off_topic_in_step(msg: Incoming, ctx: Context) -> Step:
    """A sticker or photo while a question waits: say what is expected; keep the question open."""
    return Step.stay(Reply("menu.off_topic_in_step", [[home_button()]]))


async def show_help(msg: Incoming, ctx: Context) -> Step:
    return Step.end(await main_menu(ctx, "menu.help"))


async def show_account(msg: Incoming, ctx: Context) -> Step:
    """/maso: the person's account as the command line writes it (`bluezone-bot grant ROLE --user
    zalo_oa:<id>`). Zalo ids are app-scoped and shown nowhere else, so an official on Zalo reads
    theirs here and sends it to whoever grants roles."""
    return Step.end(Reply(t("menu.your_account", account=f"{msg.channel}:{msg.user_id}"), [[home_button()]]))


def error_reply() -> Reply:
    """The apology sent when a handler fails; the details go to the log only."""
    return Reply("menu.internal_error", [[home_button()]])


FALLBACKS = Fallbacks(
    home=greet,
    not_understood=not_understood,
    stale_button=stale_button,
    off_topic_in_step=off_topic_in_step,
)

FLOW = Flow(
    name="menu",
    buttons={Home: greet},
    otherwise={Home.prefix: greet},
    commands={"help": show_help, "trogiup": show_help, "maso": show_account},
)
