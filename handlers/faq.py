"""Frequently asked questions: browsed by buttons, or found from a question typed in free text."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from handlers.context import Context
from handlers.faq_ranking import Candidate, Ranker
from handlers.menu import home_button, main_menu
from handlers.phone_writing import Vocabulary
from handlers.router import Flow, MenuEntry
from handlers.types import Button, Incoming, Kind, Reply, Step
from storage import faq_misses
from texts import t
from texts.content import Content
from texts.user_input import INT_MAX, number

FAQ = "faq"
PAGE_SIZE = 7


def build_ranker(content: Content) -> Ranker:
    """The FAQ's answers and search.toml's menu entries as candidates, read the way people type."""
    writing = content.section("search.writing")
    names = [content.campaign["app_name"], *content.tree.get("campaign", {}).get("app_name_spellings", [])]
    vocabulary = Vocabulary.from_content(writing, names, writing["app"])
    candidates = [
        Candidate(
            f"{FAQ}:q:{q['id']}",
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


def _menu_label(ctx: Context, payload: str) -> str | None:
    return next((e.label for e in ctx.router.menu if e.payload == payload), None)


def answer(ctx: Context, qid: str, related: Sequence[str] = ()) -> Reply:
    """The answer, with related questions and the menu entries it points to (`offers` in
    faq.toml: the help answer offers the person's own support points) as buttons."""
    i = index(ctx).ids.index(qid)
    rows = question_buttons(ctx, list(related))
    for payload in ctx.content.section(f"faq.questions.{i}").get("offers", []):
        label = _menu_label(ctx, payload)
        if label:
            rows.append([Button(t(label), payload=payload)])
    rows.append([Button(t("faq.all"), payload=FAQ), home_button()])
    return Reply(
        t("faq.answer", question=t(f"faq.questions.{i}.question"), answer=t(f"faq.questions.{i}.answer")), rows
    )


def choices(ctx: Context, targets: Sequence[str]) -> Reply | None:
    """The close candidates as buttons, to pick the one meant; None when fewer than two can be
    shown (a menu entry without a menu button of its own, such as the Android guide, is left out)."""
    rows = []
    for target in targets:
        if target.startswith(f"{FAQ}:q:"):
            rows += question_buttons(ctx, [target.split(":", 2)[2]])
        elif label := _menu_label(ctx, target):
            rows.append([Button(t(label), payload=target)])
    if len(rows) < 2:
        return None
    rows.append([Button(t("faq.all"), payload=FAQ), home_button()])
    return Reply("faq.choose", rows)


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
    best = reading.targets[0]
    if not best.startswith(f"{FAQ}:q:"):
        as_button = dataclasses.replace(msg, kind=Kind.BUTTON, payload=best, text=None)
        return await ctx.router.dispatch(as_button, ctx)
    best_score = reading.ranked[0][0]
    related = [
        target.split(":", 2)[2]
        for score, target in reading.ranked[1:]
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
