"""Frequently asked questions: browsed by buttons, or found from a question typed in free text."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from handlers.buttons import Faq, FaqAnswer, FaqPage
from handlers.context import Context
from handlers.menu import home_button
from handlers.router import Flow, MenuEntry
from handlers.types import Button, Incoming, Kind, Reply, Step
from storage.folding import fold
from texts import t

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
                    FaqAnswer(q["id"]).pack(),
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
    return [[Button(t(f"faq.questions.{position[q]}.question"), payload=FaqAnswer(q).pack())] for q in ids]


def page(ctx: Context, number: int, edit: bool) -> Reply:
    ids = index(ctx).ids
    pages = max(1, -(-len(ids) // PAGE_SIZE))
    number = max(0, min(number, pages - 1))
    rows = question_buttons(ctx, ids[number * PAGE_SIZE : (number + 1) * PAGE_SIZE])
    nav = []
    if number > 0:
        nav.append(Button(t("common.back"), payload=FaqPage(number - 1).pack()))
    if number + 1 < pages:
        nav.append(Button(t("faq.more"), payload=FaqPage(number + 1).pack()))
    if nav:
        rows.append(nav)
    rows.append([home_button()])
    return Reply(t("faq.list", page=number + 1, pages=pages), rows, edit=edit)


def answer(ctx: Context, qid: str, related: Sequence[str] = ()) -> Reply:
    i = index(ctx).ids.index(qid)
    rows = question_buttons(ctx, list(related))
    rows.append([Button(t("faq.all"), payload=Faq().pack()), home_button()])
    return Reply(
        t("faq.answer", question=t(f"faq.questions.{i}.question"), answer=t(f"faq.questions.{i}.answer")), rows
    )


async def first_page(msg: Incoming, ctx: Context, _: Faq) -> Step:
    return Step.end(page(ctx, 0, edit=True))


async def on_page(msg: Incoming, ctx: Context, button: FaqPage) -> Step:
    return Step.end(page(ctx, button.page, edit=True))


async def on_answer(msg: Incoming, ctx: Context, button: FaqAnswer) -> Step:
    if button.question not in index(ctx).ids:
        return await start(msg, ctx)
    return Step.end(answer(ctx, button.question))


async def start(msg: Incoming, ctx: Context) -> Step:
    return Step.end(page(ctx, 0, edit=False))


async def by_text(msg: Incoming, ctx: Context) -> Step | None:
    """A typed question: the best answer, with up to two close ones offered as buttons."""
    hits = index(ctx).search(msg.text or "")
    if not hits:
        return None
    best_score, best = hits[0]
    found = FaqAnswer.read(best)
    if found is None:
        as_button = dataclasses.replace(msg, kind=Kind.BUTTON, payload=best, text=None)
        return await ctx.router.dispatch(as_button, ctx)
    close = [FaqAnswer.read(target) for score, target in hits[1:] if score >= best_score / 2]
    related = [c.question for c in close if c is not None][:2]
    return Step.end(answer(ctx, found.question, related))


FLOW = Flow(
    name="faq",
    buttons={Faq: first_page, FaqPage: on_page, FaqAnswer: on_answer},
    otherwise={Faq.prefix: start},
    commands={"hoidap": start, "faq": start},
    text=[by_text],
    menu=[MenuEntry(Faq(), "menu.faq", order=20)],
)
