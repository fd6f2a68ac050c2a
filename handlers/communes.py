"""The commune picker: type a name (accents optional), choose among the matches by button.

Other flows call `ask_commune(ctx, then=...)`; the chosen code is left in the draft as
"picked_commune" and the conversation continues at the step `then`.
"""

from __future__ import annotations

from handlers.buttons import PickCommune
from handlers.context import Context
from handlers.menu import home_button
from handlers.router import Flow
from handlers.types import MAX_NUMBERED, Button, Incoming, Kind, Reply, Step
from storage.units import EXACT, FORMER, CommuneEntry, Match
from texts import Text, t

SEARCH = "commune.search"
MAX_CHOICES = 8
MAX_QUERY = 100


def commune_label(entry: CommuneEntry) -> Text:
    """The commune's name with its province (and district, on the pre-2025 map), as people tell
    same-named communes apart."""
    if entry.district_name:
        return t("commune.label_district", name=entry.name, district=entry.district_name, province=entry.province_name)
    return t("commune.label", name=entry.name, province=entry.province_name)


def commune_in_sentence(entry: CommuneEntry) -> str:
    """The commune's name inside a sentence: its kind (xa, phuong, dac khu) in lower case, as
    Vietnamese writes it mid-sentence. A sentence that opens with the name keeps it as stored."""
    kind = entry.division_type.lower()  # the division type as the units data stores it, in lower case
    if kind and entry.name.lower().startswith(kind + " "):
        return kind + entry.name[len(kind) :]
    return entry.name


def ask_commune(ctx: Context, then: str, prompt: str = "commune.ask") -> Step:
    ctx.remember(commune_then=then)
    rows = []
    if ctx.user.commune_code and (current := ctx.communes.get(ctx.user.commune_code)):
        rows.append([Button(t("commune.use_current", name=current.name), payload=PickCommune(current.code).pack())])
    rows.append([home_button()])
    return Step.to(SEARCH, Reply(t(prompt), rows))


async def on_text(msg: Incoming, ctx: Context) -> Step:
    """Reads a commune name; takes the one it names, or offers the matches as buttons."""
    if msg.kind is not Kind.TEXT or not (msg.text or "").strip():
        return Step.stay(Reply("commune.type_name", [[home_button()]]))
    query = (msg.text or "").strip()[:MAX_QUERY]
    matches = ctx.communes.search(query, limit=50)
    if not matches:
        return Step.stay(Reply(t("commune.no_match", query=query), [[home_button()]]))
    exact = [m for m in matches if m.rank == EXACT]
    former = [m for m in matches if m.rank == FORMER]
    if len(exact) == 1 or (len(matches) == 1 and not former):
        # One commune has exactly that name: take it (the reply names it, and offers a change).
        return await picked(msg, ctx, (exact or matches)[0].commune)
    if not exact and former and len({m.commune.code for m in former}) == 1:
        return await former_taken(msg, ctx, former[0])
    # Where choices are typed numbers, the list and its home choice fit one message.
    most = MAX_NUMBERED - 1 if ctx.capabilities.numbered else MAX_CHOICES
    shown = matches[:most]
    rows = [[Button(choice_label(m), payload=PickCommune(m.commune.code).pack())] for m in shown]
    rows.append([home_button()])
    return Step.stay(Reply(choices_text(query, matches, exact, former, most), rows))


async def former_taken(msg: Incoming, ctx: Context, match: Match) -> Step:
    """A name from before the merger, of one commune today: that commune, said as such."""
    note = Reply(t("commune.former_now", old=match.former_name, new=commune_label(match.commune)))
    step = await picked(msg, ctx, match.commune)
    return Step((note, *step.replies), step.state)


def choices_text(
    query: str, matches: list[Match], exact: list[Match], former: list[Match], most: int = MAX_CHOICES
) -> Text:
    """What the list of choices is: the parts of a split commune, former names, the same name in
    several provinces, or near names of what was typed."""
    if not exact and former and len({m.former.code for m in former if m.former}) == 1:
        # One former commune, split among several of today's: which part is theirs.
        return t("commune.former_split", old=former[0].former_name, count=len(former))
    if not exact and former:
        # Several former communes had that name: their places of today come first.
        return t("commune.former_many", query=query)
    if len(matches) > most:
        return t("commune.many_matches", shown=most, total=len(matches), query=query)
    if len(exact) == len(matches):
        return t("commune.choose", count=len(matches))  # the same name in several provinces
    # Near names of what was typed (a typo, a prefix): not the same name.
    return t("commune.choose_similar", count=len(matches), query=query)


def choice_label(match: Match) -> Text:
    if match.rank == FORMER and match.former is not None:
        return t(
            "commune.former_label_part" if match.partly else "commune.former_label",
            name=match.commune.name,
            province=match.commune.province_name,
            old=match.former_name,
        )
    return commune_label(match.commune)


async def on_button(msg: Incoming, ctx: Context, button: PickCommune | None = None) -> Step:
    entry = ctx.communes.get(button.code) if button and button.code else None
    if entry is None:
        return Step.stay(Reply("commune.ask", [[home_button()]]))
    return await picked(msg, ctx, entry)


async def picked(msg: Incoming, ctx: Context, entry: CommuneEntry) -> Step:
    then = ctx.draft.get("commune_then")
    ctx.remember(picked_commune=entry.code)
    if not then:
        # A choice from an old list: remember it as the person's commune, as the citizen flows do.
        ctx.user.commune_code = entry.code
        return Step.end(Reply(t("commune.saved", name=commune_label(entry)), [[home_button()]]))
    ctx.forget("commune_then")
    return await ctx.router.resume(then, msg, ctx)


FLOW = Flow(
    name="commune",
    buttons={PickCommune: on_button},
    otherwise={PickCommune.prefix: on_button},
    states={SEARCH: on_text},
)
