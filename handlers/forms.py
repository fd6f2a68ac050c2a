"""One form engine: a form is declared (its fields, each with its question and buttons, parser,
checks, skip and keep; a summary; save) and this engine asks, re-asks with the reason, summarises
and saves. Visits, official figures, targets and volunteer registration are declared on it.

A field's checks are plain functions of the value and the form's values so far, returning why the
value is not an answer (a content Text) or None, so that what is not a conversation (a web grid
of figures) can call the same ones. A form keeps its values in the draft under its own key,
in its own layout (`answered` and `put` read and write it): a conversation open when the bot
was updated goes on where it was.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from handlers.context import Context
from handlers.types import Ask, Button, Incoming, Kind, Reply, Step
from storage.folding import fold
from texts import Text, t

Values = dict[str, Any]
# Why `value` cannot be the field's answer, given the form's values so far; None when it can.
Check = Callable[[Any, Mapping[str, Any]], Text | None]


@dataclass(frozen=True)
class Kept:
    """An answer that keeps the value in force (a form may store it blank, as a figure's is)."""

    value: Any


class Blank:
    """An answer left blank (skipped where a field may be)."""

    def __repr__(self) -> str:
        return "BLANK"


BLANK = Blank()


@dataclass(frozen=True)
class Question:
    """A field's question as asked now: its text and buttons, and the messenger's own share button."""

    text: Text
    rows: list[list[Button]] = field(default_factory=list)
    ask: Ask | None = None
    close_ask: bool = False


@dataclass(frozen=True)
class Field:
    """One question of a form.

    `parse` reads a typed answer (the value, or the Text saying why it is none); `checks` are
    run on every answer, typed or pressed, and refuse it; `doubts` ask about it (the form's
    `on_doubt` asks "are you sure?") and are passed over once the person said so; `skip` and `keep` give the answer of the skip and
    keep buttons and typed words (a value, a `Kept`, or why not); `step` is the step waiting for
    the answer when the form's one step is not enough (a visit's number pad).
    """

    name: str
    question: Callable[[Context, Values], Awaitable[Question]]
    parse: Callable[[str, Context, Values], Any]
    checks: tuple[Check, ...] = ()
    doubts: tuple[Check, ...] = ()
    skip: Callable[[Context, Values], Any] | None = None
    keep: Callable[[Context, Values], Any] | None = None
    step: str | None = None


def _in(values: Values, name: str) -> bool:
    return name in values


def plain(value: Any) -> Any:
    """An answer as its value: a kept one as the value kept, a blank one as None."""
    if isinstance(value, Kept):
        return value.value
    return None if value is BLANK else value


async def _put(ctx: Context, values: Values, name: str, value: Any) -> Values:
    return {**values, name: plain(value)}


@dataclass(frozen=True)
class Form:
    """A form's declaration; its methods are the engine.

    `key` names its values in the draft; `step` waits for an answer, `confirm` at the summary.
    `retry` is the content key of a question asked again ({reason} then {question}); without
    one the reason is asked instead of the question, with the question's buttons. Hooks a form
    may give: `answered`/`put` for its layout, `next` for an order that depends on the answers
    (it may fill in values and say why one given does not fit), `aside` for a message read
    before the field's parser (a location sent meanwhile), `on_doubt` for asking about a value a
    field's doubts question, `done` for what follows the last answer (by default the summary at
    `confirm`, or `save` when there is no summary).
    """

    key: str | None  # None: the values are the draft's own keys
    fields: tuple[Field, ...]
    step: str
    stale: Callable[[Context], Awaitable[Step]]
    save: Callable[[Context, Values], Awaitable[Step]] | None = None
    summary: Callable[[Context, Values], Awaitable[Reply]] | None = None
    confirm: str | None = None
    retry: str | None = None
    answer_expected: Text | None = None  # said to a sticker or an empty message
    press_save: str | None = None  # said to a message at the summary
    skip_words: Callable[[Context], set[str]] | None = None
    keep_words: Callable[[Context], set[str]] | None = None
    answered: Callable[[Values, str], bool] = _in
    put: Callable[[Context, Values, str, Any], Awaitable[Values]] = _put
    next: Callable[[Context, Values], tuple[str | None, Text | None]] | None = None
    aside: Callable[[Incoming, Context, Field], Awaitable[Step | None]] | None = None
    done: Callable[[Context, Values], Awaitable[Step]] | None = None
    on_doubt: Callable[[Context, str, Any, Text], Awaitable[Step]] | None = None

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def values(self, ctx: Context) -> Values | None:
        """The form's values in the draft; None when no form of this kind is open."""
        if not ctx.draft:
            return None
        return dict(ctx.draft) if self.key is None else ctx.draft.get(self.key)

    def _values(self, ctx: Context) -> Values:
        values = self.values(ctx)
        assert values is not None  # asked only while the form is open
        return values

    def _store(self, ctx: Context, values: Values) -> None:
        if self.key is None:
            ctx.remember(**values)
        else:
            ctx.remember(**{self.key: values})

    def open_field(self, ctx: Context, values: Values) -> tuple[Field | None, Text | None]:
        """The field to ask next (None when all are answered), and why when a value given does
        not fit; the values the order filled in are remembered."""
        if self.next is None:
            return next((f for f in self.fields if not self.answered(values, f.name)), None), None
        values = dict(values)
        name, reason = self.next(ctx, values)
        self._store(ctx, values)
        return (self.field(name) if name else None), reason

    # --- asking ---

    async def advance(self, ctx: Context, reason: Text | None = None) -> Step:
        """Ask the next question, or go on to the summary (or save) when nothing is missing."""
        values = self._values(ctx)
        field, problem = self.open_field(ctx, values)
        if field is None:
            return await self.finish(ctx)
        return await self.ask(ctx, field.name, problem or reason)

    async def finish(self, ctx: Context) -> Step:
        values = self._values(ctx)
        if self.done is not None:
            return await self.done(ctx, values)
        if self.summary is not None and self.confirm is not None:
            return Step.to(self.confirm, await self.summary(ctx, values))
        assert self.save is not None, "a form ends with a summary, a save, or its own `done`"
        return await self.save(ctx, values)

    async def ask(self, ctx: Context, name: str, reason: Text | None = None) -> Step:
        field = self.field(name)
        question = await field.question(ctx, self._values(ctx))
        text = question.text
        if reason is not None:
            text = t(self.retry, reason=reason, question=question.text) if self.retry else reason
        # A share button taken away when the question is first asked is gone when it is asked again.
        reply = Reply(text, question.rows, ask=question.ask, close_ask=question.close_ask and reason is None)
        return Step.to(field.step or self.step, reply)

    # --- answers ---

    async def on_answer(self, msg: Incoming, ctx: Context) -> Step:
        """The step handler: a typed answer to the open question (or skip / keep, typed)."""
        values = self.values(ctx)
        field = self.open_field(ctx, values)[0] if values is not None else None
        if values is None or field is None:
            return await self.stale(ctx)
        if self.aside is not None and (step := await self.aside(msg, ctx, field)) is not None:
            return step
        text = (msg.text or "").strip() if msg.kind is Kind.TEXT else ""
        if not text and self.answer_expected is not None:  # else the parser says what an empty answer lacks
            return await self.ask(ctx, field.name, self.answer_expected)
        folded = fold(text)
        if field.keep is not None and self.keep_words and folded in self.keep_words(ctx):
            return await self.keep(ctx, field.name)
        if field.skip is not None and self.skip_words and folded in self.skip_words(ctx):
            return await self.skip(ctx, field.name)
        value = field.parse(text, ctx, values)
        if isinstance(value, Text):
            return await self.ask(ctx, field.name, value)
        return await self.answer(ctx, field.name, value)

    async def answer(self, ctx: Context, name: str, value: Any, sure: bool = False) -> Step:
        """An answer to the field (typed, or a button's): checked, kept, then the next question.
        `sure`: the person confirmed a doubted value."""
        field = self.field(name)
        values = self._values(ctx)
        if value is not BLANK:
            for check in field.checks:
                problem = check(plain(value), values)
                if problem is not None:
                    return await self.ask(ctx, name, problem)
            for doubt in () if sure or self.on_doubt is None else field.doubts:
                problem = doubt(plain(value), values)
                if problem is not None and self.on_doubt is not None:
                    return await self.on_doubt(ctx, name, value, problem)
        self._store(ctx, await self.put(ctx, values, name, value))
        return await self.advance(ctx)

    async def skip(self, ctx: Context, name: str) -> Step:
        return await self._given(ctx, name, self.field(name).skip)

    async def keep(self, ctx: Context, name: str) -> Step:
        return await self._given(ctx, name, self.field(name).keep)

    async def _given(self, ctx: Context, name: str, how: Callable[[Context, Values], Any] | None) -> Step:
        """The answer a skip or keep gives (a field without one asks again)."""
        if how is None:
            return await self.ask(ctx, name)
        value = how(ctx, self._values(ctx))
        if value is None or isinstance(value, Text):  # None: nothing to skip to or keep
            return await self.ask(ctx, name, value)
        return await self.answer(ctx, name, value)

    # --- the summary ---

    async def on_summary_text(self, msg: Incoming, ctx: Context) -> Step:
        """A message while the summary waits for [Save]: the summary again."""
        values = self.values(ctx)
        if not values or self.summary is None:
            return await self.stale(ctx)
        before = [Reply(self.press_save)] if self.press_save else []
        return Step.stay(*before, await self.summary(ctx, values))

    def steps(self) -> dict[str, Callable[[Incoming, Context], Awaitable[Step]]]:
        """The form's rows of its flow's table: the steps waiting for an answer, and the summary."""
        table: dict[str, Callable[[Incoming, Context], Awaitable[Step]]] = {self.step: self.on_answer}
        table.update({f.step: self.on_answer for f in self.fields if f.step})
        if self.confirm is not None:
            table[self.confirm] = self.on_summary_text
        return table
