"""Linking accounts: a one-time code shown on one messenger and typed into the other makes the
two accounts one person, whose data is merged without counting anything twice."""

from __future__ import annotations

import re

from handlers.buttons import NewLinkCode
from handlers.context import Context
from handlers.menu import home_button
from handlers.router import Flow
from handlers.types import Button, Incoming, Kind, Reply, Step
from storage.folding import fold
from storage.identity import CODE_TTL, Redeem, issue_code, merge_people, normalize_code, redeem_code
from texts import t

# "lk 1234 5678" typed as text (outside an open question); "/lienket 1234 5678" works anywhere.
_TYPED_CODE = re.compile(r"^lk\s*([\d .\-]{8,12})$")
_ASKING = {"lien ket", "lien ket tai khoan", "lienket", "lien ket telegram", "lien ket zalo"}


async def intro(msg: Incoming, ctx: Context) -> Step:
    return Step.end(Reply("link.intro", [[Button(t("link.new_code"), payload=NewLinkCode().pack())], [home_button()]]))


async def new_code(msg: Incoming, ctx: Context) -> Step:
    """A fresh one-time code for this person (an earlier unused one stops working)."""
    code = await issue_code(ctx.db, ctx.user.id, ctx.now)
    shown = f"{code[:4]} {code[4:]}"
    return Step.end(Reply(t("link.code", code=shown, minutes=int(CODE_TTL.total_seconds() // 60)), [[home_button()]]))


async def command(msg: Incoming, ctx: Context) -> Step:
    """/lienket: a new code; /lienket 1234 5678: use a code made on the other messenger."""
    args = msg.command[1] if msg.command else ""
    return await redeem(ctx, args) if args else await new_code(msg, ctx)


async def on_button(msg: Incoming, ctx: Context, _: NewLinkCode | None = None) -> Step:
    return await new_code(msg, ctx)


async def by_text(msg: Incoming, ctx: Context) -> Step | None:
    if msg.kind is not Kind.TEXT or not msg.text:
        return None
    folded = fold(msg.text)
    if folded in _ASKING:
        return await intro(msg, ctx)
    typed = _TYPED_CODE.match(msg.text.strip().lower())
    if typed:
        return await redeem(ctx, typed.group(1))
    return None


async def redeem(ctx: Context, typed: str) -> Step:
    code = normalize_code(typed)
    if code is None:
        return Step.end(Reply("link.unknown", [[home_button()]]))
    result = await redeem_code(ctx.db, code, ctx.account.id, ctx.user.id, ctx.now)
    if result.outcome is Redeem.TOO_MANY_TRIES:
        return Step.end(Reply("link.too_many_tries", [[home_button()]]))
    if result.outcome is Redeem.UNKNOWN:
        return Step.end(Reply("link.unknown", [[home_button()]]))
    if result.outcome is Redeem.SAME_PERSON:
        return Step.end(Reply("link.same_person", [[home_button()]]))
    # The person who showed the code stays; this account (and all of its person's data) joins them.
    assert result.issuer is not None
    ctx.user = await merge_people(ctx.db, survivor_id=result.issuer, merged_id=ctx.user.id)
    return Step.end(Reply("link.done", [[home_button()]]))


FLOW = Flow(
    name="link",
    buttons={NewLinkCode: on_button},
    otherwise={NewLinkCode.prefix: on_button},
    commands={"lienket": command, "link": command},
    text=[by_text],
)
