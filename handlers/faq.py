"""Frequently asked questions: browsed by buttons, or found from a question typed in free text."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from handlers.context import Context
from handlers.menu import home_button
from handlers.router import Flow, MenuEntry
from handlers.types import Button, Incoming, Kind, Reply, Step
from storage.folding import fold
from texts import t
from texts.user_input import INT_MAX, number

FAQ = "faq"
PAGE_SIZE = 7
MIN_SCORE = 2.0


@dataclass(frozen=True)
class Entry:
    target: str  # "faq:q:<id>" for an answer, or a menu payload for an intent
    keywords: tuple[str, ...]  # folded
    words: frozenset[str]  # folded question words, minus stopwords


class FaqIndex:
    """Keyword search over the FAQ and the intents of content/vi/search.toml.

    A keyword found as whole words scores 1 + its word count (longer phrases are more telling);
    each question word found scores 0.5. Accents are folded away on both sides.
    """

    def __init__(self, ctx: Context) -> None:
        stop = {fold(w) for w in ctx.content.section("search.stopwords")}
        self.ids = [q["id"] for q in ctx.content.section("faq.questions")]
        self.entries: list[Entry] = []
        for i, q in enumerate(ctx.content.section("faq.questions")):
            question = ctx.content.render(t(f"faq.questions.{i}.question"))
            self.entries.append(
                Entry(
                    f"{FAQ}:q:{q['id']}",
                    tuple(fold(k) for k in q.get("keywords", [])),
                    frozenset(fold(question).split()) - stop,
                )
            )
        for intent in ctx.content.section("search.intents"):
            self.entries.append(Entry(intent["payload"], tuple(fold(k) for k in intent["keywords"]), frozenset()))

    def search(self, text: str) -> list[tuple[float, str]]:
        folded = fold(text)
        padded = f" {folded} "
        words = set(folded.split())
        scored = []
        for order, entry in enumerate(self.entries):
            score: float = sum(1 + len(k.split()) for k in entry.keywords if k and f" {k} " in padded)
            score += 0.5 * len(entry.words & words)
            if score >= MIN_SCORE:
                scored.append((score, -order, entry.target))
        scored.sort(reverse=True)
        return [(score, target) for score, _, target in scored]


_indexes: dict[int, FaqIndex] = {}


def index(ctx: Context) -> FaqIndex:
    key = id(ctx.content)
    if key not in _indexes:
        _indexes[key] = FaqIndex(ctx)
    return _indexes[key]


def question_buttons(ctx: Context, ids: list[str]) -> list[list[Button]]:
    position = {qid: i for i, qid in enumerate(index(ctx).ids)}
    return [[Button(t(f"faq.questions.{position[q]}.question"), payload=f"{FAQ}:q:{q}")] for q in ids]


def page(ctx: Context, number: int, edit: bool) -> Reply:
    ids = index(ctx).ids
    pages = max(1, -(-len(ids) // PAGE_SIZE))
    number = max(0, min(number, pages - 1))
    rows = question_buttons(ctx, ids[number * PAGE_SIZE : (number + 1) * PAGE_SIZE])
    nav = []
    if number > 0:
        nav.append(Button(t("common.back"), payload=f"{FAQ}:p:{number - 1}"))
    if number + 1 < pages:
        nav.append(Button(t("faq.more"), payload=f"{FAQ}:p:{number + 1}"))
    if nav:
        rows.append(nav)
    rows.append([home_button()])
    return Reply(t("faq.list", page=number + 1, pages=pages), rows, edit=edit)


def answer(ctx: Context, qid: str, related: Sequence[str] = ()) -> Reply:
    i = index(ctx).ids.index(qid)
    rows = question_buttons(ctx, list(related))
    rows.append([Button(t("faq.all"), payload=FAQ), home_button()])
    return Reply(
        t("faq.answer", question=t(f"faq.questions.{i}.question"), answer=t(f"faq.questions.{i}.answer")), rows
    )


async def on_button(msg: Incoming, ctx: Context) -> Step:
    """faq → first page; faq:p:N → page N; faq:q:<id> → that answer."""
    parts = (msg.payload or "").split(":")
    if len(parts) == 3 and parts[1] == "q" and parts[2] in index(ctx).ids:
        return Step.end(answer(ctx, parts[2]))
    shown = number(parts[2], INT_MAX) if len(parts) == 3 and parts[1] == "p" else None
    if shown is not None:
        return Step.end(page(ctx, shown, edit=True))
    return Step.end(page(ctx, 0, edit=len(parts) == 1))


async def start(msg: Incoming, ctx: Context) -> Step:
    return Step.end(page(ctx, 0, edit=False))


async def by_text(msg: Incoming, ctx: Context) -> Step | None:
    """A typed question: the best answer, with up to two close ones offered as buttons."""
    hits = index(ctx).search(msg.text or "")
    if not hits:
        return None
    best_score, best = hits[0]
    if not best.startswith(f"{FAQ}:q:"):
        as_button = dataclasses.replace(msg, kind=Kind.BUTTON, payload=best, text=None)
        return await ctx.router.dispatch(as_button, ctx)
    related = [
        target.split(":", 2)[2]
        for score, target in hits[1:]
        if target.startswith(f"{FAQ}:q:") and score >= best_score / 2
    ][:2]
    return Step.end(answer(ctx, best.split(":", 2)[2], related))


FLOW = Flow(
    name="faq",
    buttons={FAQ: on_button},
    commands={"hoidap": start, "faq": start},
    text=[by_text],
    menu=[MenuEntry(FAQ, "menu.faq", order=20)],
)
