"""Frequently asked questions: browsed by buttons, or found from a question typed in free text."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from handlers.buttons import Faq, FaqAnswer, FaqPage
from handlers.context import Context
from handlers.faq_ranking import Candidate, Ranker
from handlers.menu import home_button, main_menu
from handlers.phone_writing import Vocabulary
from handlers.router import Flow, MenuEntry
from handlers.types import MAX_NUMBERED, Button, Incoming, Kind, Reply, Step
from storage import faq_misses
from texts import t
from texts.content import Content

PAGE_SIZE = 7
# Where choices are typed numbers, a page with its back, next and home fits one message.
NUMBERED_PAGE_SIZE = MAX_NUMBERED - 3


def build_ranker(content: Content) -> Ranker:
    """The FAQ's answers and search.toml's menu entries as candidates, read the way people type."""
    writing = content.section("search.writing")
    names = [content.campaign["app_name"], *content.tree.get("campaign", {}).get("app_name_spellings", [])]
    vocabulary = Vocabulary.from_content(writing, names, writing["app"])
    candidates = [
        Candidate(
            FaqAnswer(q["id"]).pack(),
            title=content.render(t(f"faq.questions.{i}.question")),
            keywords=q.get("keywords", []),
            answer=content.render(t(f"faq.questions.{i}.answer")),
        )
        for i, q in enumerate(content.section("faq.questions"))
    ]
    candidates += [
        Candidate(i["payload"], title=content.render(t(i["title"])) if "title" in i else "", keywords=i["keywords"])
        for i in content.section("search.intents")
    ]
    small_talk = {kind: v["phrases"] for kind, v in content.section("small_talk").items() if isinstance(v, dict)}
    return Ranker(
        candidates,
        vocabulary,
        stopwords=content.section("search.stopwords"),
        small_talk=small_talk,
        fillers=content.section("small_talk.fillers"),
    )


class FaqIndex:
    """The FAQ's ids in content order, and the ranker built over it, once per content."""

    def __init__(self, content: Content) -> None:
        self.ids = [q["id"] for q in content.section("faq.questions")]
        self.ranker = build_ranker(content)


def index(ctx: Context) -> FaqIndex:
    return ctx.content.derived("faq.index", FaqIndex)


def question_buttons(ctx: Context, ids: list[str]) -> list[list[Button]]:
    position = {qid: i for i, qid in enumerate(index(ctx).ids)}
    return [[Button(t(f"faq.questions.{position[q]}.question"), payload=FaqAnswer(q).pack())] for q in ids]


def page(ctx: Context, number: int, edit: bool) -> Reply:
    ids = index(ctx).ids
    size = NUMBERED_PAGE_SIZE if ctx.capabilities.numbered else PAGE_SIZE
    pages = max(1, -(-len(ids) // size))
    number = max(0, min(number, pages - 1))
    rows = question_buttons(ctx, ids[number * size : (number + 1) * size])
    nav = []
    if number > 0:
        nav.append(Button(t("common.back"), payload=FaqPage(number - 1).pack()))
    if number + 1 < pages:
        nav.append(Button(t("faq.more"), payload=FaqPage(number + 1).pack()))
    if nav:
        rows.append(nav)
    rows.append([home_button()])
    return Reply(t("faq.list", page=number + 1, pages=pages), rows, edit=edit)


def _menu_label(ctx: Context, payload: str) -> str | None:
    return next((e.label for e in ctx.router.menu if e.payload.pack() == payload), None)


def answer(ctx: Context, qid: str, related: Sequence[str] = ()) -> Reply:
    """The answer, with related questions and the menu entries it points to (`offers` in
    faq.toml: the help answer offers the person's own support points) as buttons."""
    i = index(ctx).ids.index(qid)
    rows = question_buttons(ctx, list(related))
    for payload in ctx.content.section(f"faq.questions.{i}").get("offers", []):
        label = _menu_label(ctx, payload)
        if label:
            rows.append([Button(t(label), payload=payload)])
    rows.append([Button(t("faq.all"), payload=Faq().pack()), home_button()])
    return Reply(
        t("faq.answer", question=t(f"faq.questions.{i}.question"), answer=t(f"faq.questions.{i}.answer")), rows
    )


def choices(ctx: Context, targets: Sequence[str]) -> Reply | None:
    """The close candidates as buttons, to pick the one meant; None when fewer than two can be
    shown (a menu entry without a menu button of its own, such as the Android guide, is left out)."""
    rows = []
    for target in targets:
        if found := FaqAnswer.read(target):
            rows += question_buttons(ctx, [found.question])
        elif label := _menu_label(ctx, target):
            rows.append([Button(t(label), payload=target)])
    if len(rows) < 2:
        return None
    rows.append([Button(t("faq.all"), payload=Faq().pack()), home_button()])
    return Reply("faq.choose", rows)


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


async def by_text(msg: Incoming, ctx: Context) -> Step:
    """A typed question: its answer, or the close ones to choose from; a greeting, thanks or "ok"
    gets a friendly word and the menu. Text that matches nothing is counted, without the person,
    for the content team (`bluezone-bot faq misses`), and gets the "not understood" help line."""
    text = msg.text or ""
    reading = index(ctx).ranker.read(text)
    if reading.small_talk:
        return Step.end(await main_menu(ctx, f"small_talk.{reading.small_talk}.reply"))
    if not reading.targets:
        await faq_misses.record(ctx.db, text, ctx.user.id, ctx.now)
        return await ctx.router.fallbacks.not_understood(msg, ctx)
    if len(reading.targets) > 1:
        offered = choices(ctx, reading.targets)
        if offered is not None:
            return Step.end(offered)
    best = FaqAnswer.read(reading.targets[0])
    if best is None:  # a menu entry: as if its button were pressed
        as_button = dataclasses.replace(msg, kind=Kind.BUTTON, payload=reading.targets[0], text=None)
        return await ctx.router.dispatch(as_button, ctx)
    best_score = reading.ranked[0][0]
    close = [FaqAnswer.read(target) for score, target in reading.ranked[1:] if score >= best_score / 2]
    related = [c.question for c in close if c is not None][:2]
    return Step.end(answer(ctx, best.question, related))


FLOW = Flow(
    name="faq",
    buttons={Faq: first_page, FaqPage: on_page, FaqAnswer: on_answer},
    otherwise={Faq.prefix: start},
    commands={"hoidap": start, "faq": start},
    text=[by_text],
    menu=[MenuEntry(Faq(), "menu.faq", order=20)],
)
