"""A visitor checking in at a venue: by scanning its poster (a deep link), or by typing its code
("CHECKIN AB23CD7", "/checkin AB23CD7"); then "do you already have the app?"."""

from __future__ import annotations

import re

from handlers.buttons import CheckInAnswer
from handlers.context import Context
from handlers.guide import choose_platform
from handlers.menu import home_button
from handlers.router import Flow
from handlers.types import Button, Incoming, Kind, Reply, Step
from storage import venues
from storage.venue_codes import PAYLOAD_PREFIX, is_valid_code, normalize_code, verify
from texts import t

ASK_CODE = "checkin.code"
# "CHECKIN AB23CD7", "check in ab23 cd7", "Check-in: AB23CD7"; the keyword is printed on posters.
TYPED = re.compile(r"\s*check[\s\-]?in\b[\s:]*(.*)", re.IGNORECASE | re.DOTALL)
MAX_TYPED = 40


def visitor_of(ctx: Context) -> str:
    """The person, as check-ins know them: by the bot's own id, never their messenger's."""
    return f"u:{ctx.user.id}"


def question(check_in_id: int) -> list[list[Button]]:
    return [
        [Button(t("checkin.have_app"), payload=CheckInAnswer("y", check_in_id).pack())],
        [Button(t("checkin.need_guide"), payload=CheckInAnswer("n", check_in_id).pack())],
    ]


async def by_deep_link(msg: Incoming, ctx: Context) -> Step:
    """/start c-<code><signature>: the poster's QR. A forged or altered payload stores nothing."""
    payload = msg.command[1] if msg.command else ""
    key = ctx.settings.qr_signing_key
    code = verify(key.reveal(), payload) if key is not None else None
    if code is None:
        return Step.end(Reply("checkin.link_invalid", [[home_button()]]))
    return await check_in(msg, ctx, code)


async def by_command(msg: Incoming, ctx: Context) -> Step:
    """/checkin AB23CD7, or /checkin alone (then the code is asked for)."""
    typed = msg.command[1] if msg.command else ""
    if not typed:
        return Step.to(ASK_CODE, Reply("checkin.ask_code", [[home_button()]]))
    return await by_code(msg, ctx, typed)


async def by_text(msg: Incoming, ctx: Context) -> Step | None:
    """Free text starting with the keyword CHECKIN; anything else is not ours."""
    match = TYPED.fullmatch(msg.text or "")
    if match is None:
        return None
    if not match.group(1).strip():
        return Step.to(ASK_CODE, Reply("checkin.ask_code", [[home_button()]]))
    return await by_code(msg, ctx, match.group(1))


async def code_typed(msg: Incoming, ctx: Context) -> Step:
    """The answer to "which code?": the code, with or without the keyword."""
    if msg.kind is not Kind.TEXT or not (msg.text or "").strip():
        return Step.stay(Reply("checkin.ask_code", [[home_button()]]))
    text = msg.text or ""
    match = TYPED.fullmatch(text)
    return await by_code(msg, ctx, match.group(1) if match else text)


async def by_code(msg: Incoming, ctx: Context, typed: str) -> Step:
    code = normalize_code(typed[:MAX_TYPED])
    if not is_valid_code(code):
        # A wrong character, a missing one, an O for a 0: say so and let them type it again.
        return Step.to(ASK_CODE, Reply(t("checkin.code_invalid", code=typed.strip()[:MAX_TYPED]), [[home_button()]]))
    return await check_in(msg, ctx, code)


async def check_in(msg: Incoming, ctx: Context, code: str) -> Step:
    found, result = await venues.check_in_by_code(
        ctx.db, code, visitor_of(ctx), msg.channel, ctx.now, first_contact=ctx.first_contact
    )
    if found.venue is None:
        return Step.to(ASK_CODE, Reply(t("checkin.code_unknown", code=code), [[home_button()]]))
    venue = found.venue
    if found.revoked or result is None:
        return Step.end(Reply(t("checkin.revoked", venue=venue.name), [[home_button()]]))
    if result.new:
        return Step.end(Reply(t("checkin.thanks", venue=venue.name), question(result.check_in.id)))
    earlier = result.check_in
    rows = question(earlier.id) if earlier.already_installed is None else [[home_button()]]
    return Step.end(Reply(t("checkin.already", venue=venue.name, time=earlier.checked_in_at), rows))


async def on_answer(msg: Incoming, ctx: Context, button: CheckInAnswer) -> Step:
    """[Already installed] or [Not yet, show me]: stored with the check-in; the second opens the guide."""
    installed = button.answer == "y"
    answered = await venues.answer_installed(ctx.db, button.check_in, visitor_of(ctx), installed)
    if not answered:
        return await ctx.router.fallbacks.stale_button(msg, ctx)
    if installed:
        return Step.end(Reply("checkin.installed_thanks", [[home_button()]], edit=True))
    return Step.end(Reply("checkin.guide_follows", edit=True), choose_platform(ctx))


FLOW = Flow(
    name="checkin",
    buttons={CheckInAnswer: on_answer},
    commands={"checkin": by_command},
    states={ASK_CODE: code_typed},
    deep_links={PAYLOAD_PREFIX: by_deep_link},
    text=[by_text],
)
