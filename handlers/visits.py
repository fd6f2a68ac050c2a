"""Logging a household visit: by buttons in as few taps as possible, or by a one-line shorthand;
a one-screen summary with [Save] [Edit] [Cancel]; saved exactly once; today's running count."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from handlers import shorthand
from handlers.access import CommuneDoor, check, home_unit, refusal, refuse_unless, unit_name
from handlers.buttons import (
    CancelVisit,
    CountChoice,
    EditPart,
    EditVisit,
    HamletChoice,
    LocateVisit,
    LogVisit,
    LogVisitIn,
    OutcomeChoice,
    RecentVisits,
    SaveVisit,
    ShorthandHelp,
    SkipHousehold,
)
from handlers.context import Context
from handlers.forms import Check, Field, Form, Question, Values
from handlers.menu import home_button
from handlers.router import Flow, MenuEntry
from handlers.types import Ask, Button, Incoming, Kind, Reply, Step
from storage import roles, visits, volunteers
from storage.folding import fold
from storage.models import Visit
from storage.roles import Role
from storage.visits import MAX_PER_HOUSEHOLD, Outcome
from texts import Join, Text, t
from texts.formats import local_date
from texts.user_input import number

HAMLET, HOUSEHOLD, OUTCOME, NUMBER, SUMMARY = (
    f"visit.{s}" for s in ("hamlet", "household", "outcome", "number", "summary")
)
PICKED = "visit.commune_picked"
STATES_OF = {"hamlet": HAMLET, "household": HOUSEHOLD, "outcome": OUTCOME}
COUNTS = visits.COUNT_FIELDS
# Draft keys of the visit being built, in the conversation.
BUILD_KEYS = ("v", "v_quick", "v_token", "v_field", "v_hamlets")
MAX_LINES = 10
NUMBER_BUTTONS = 6
# A count typed (or in a hand-typed button) up to this is answered with what it may be ("at most
# 20"); a longer number is a typo, answered as not a number.
TYPED_COUNT_MOST = 999


# --- the order of questions, and what an answer may be (pure) ---


def covered_before(v: Mapping[str, Any]) -> int:
    """On a return visit, the phones recorded as having the app already (0 on a first visit)."""
    return int(v.get("base_covered") or 0) if v.get("revisit_of") else 0


def bounds(v: dict[str, Any], field: str) -> tuple[int, int]:
    """The answers a count question accepts, given the outcome and the counts before it (on a
    return visit: the phones already having the app are not installed again)."""
    s, i = v.get("smartphones", 0), v.get("installed_now", 0)
    c = covered_before(v)
    outcome = v.get("outcome")
    if field == "smartphones":
        return max(1, c), MAX_PER_HOUSEHOLD
    if field == "installed_now":
        return (1, s - c) if outcome == Outcome.HELPED else (0, 0)
    if outcome == Outcome.ALREADY:
        return max(1, c), s
    if outcome == Outcome.REFUSED:
        return c, s - 1
    return c, s - i


def answer_problem(v: dict[str, Any], field: str, n: int) -> Text | None:
    """Why `n` is not an answer to the count question `field` (None when it is)."""
    lo, hi = bounds(v, field)
    if lo <= n <= hi:
        return None
    outcome = t(f"visit.outcome.{v.get('outcome')}")
    s, i = v.get("smartphones", 0), v.get("installed_now", 0)
    if n > MAX_PER_HOUSEHOLD:
        return t("visit.reason.too_many", number=n, most=MAX_PER_HOUSEHOLD)
    if field == "smartphones":
        return t("visit.reason.needs_phone", outcome=outcome)
    if field == "installed_now":
        if v.get("outcome") != Outcome.HELPED:
            return t("visit.reason.installed_not_helped", outcome=outcome, number=n)
        if n < 1:
            return t("visit.reason.helped_needs_install")
        if v.get("revisit_of"):
            return t("visit.reason.revisit_room", number=n, **_record(v))
        return t("visit.reason.installed_over", number=n, smartphones=s)
    if v.get("outcome") == Outcome.ALREADY and n < 1:
        return t("visit.reason.already_needs_one")
    if v.get("outcome") == Outcome.REFUSED:
        return t("visit.reason.refused_all_had", number=n, smartphones=s)
    return t("visit.reason.already_over", number=n, smartphones=s, installed=i)


def next_question(v: dict[str, Any], quick: bool) -> tuple[str | None, Text | None]:
    """The next thing to ask ("hamlet", "household", "outcome" or a count), with the reason when a
    value already given does not fit; None when the visit is complete. Fills what needs no
    question: zeros for no smartphone / nobody home, the only possible answer when there is one,
    and in a shorthand line (`quick`) counts not written (smartphones = installed + already had)."""
    place = _missing_place(v)
    if place is not None:
        return place, None
    outcome = Outcome(v["outcome"])
    if outcome in (Outcome.NO_SMARTPHONE, Outcome.NOBODY_HOME):
        return _without_phones(v, outcome)
    if v.get("revisit_of") and (full := _from_record(v, outcome)) is not None:
        return _outcome_again(v, full)
    if outcome is not Outcome.HELPED:
        if v.get("installed_now"):
            reason = t(
                "visit.reason.installed_not_helped", outcome=t(f"visit.outcome.{outcome}"), number=v["installed_now"]
            )
            return _outcome_again(v, reason)
        v["installed_now"] = 0
    if quick and "smartphones" not in v and (v.get("installed_now") or v.get("already_installed")):
        v["smartphones"] = v.get("installed_now", 0) + v.get("already_installed", 0)
    return _next_count(v, quick)


def _record(v: Mapping[str, Any]) -> dict[str, int]:
    """A return visit's record, as its messages show it."""
    smartphones = max(int(v.get("smartphones") or 0), int(v.get("base_smartphones") or 0))
    covered = covered_before(v)
    return {"smartphones": smartphones, "covered": covered, "room": max(0, smartphones - covered)}


def _from_record(v: dict[str, Any], outcome: Outcome) -> Text | None:
    """A return visit starts from what is recorded: the household's phones (more if the line says
    so) and those already having the app, which are not asked again. Why the outcome cannot be,
    when no phone is left to install on or to refuse."""
    base_smartphones, covered = int(v.get("base_smartphones") or 0), covered_before(v)
    if base_smartphones:
        v["smartphones"] = max(int(v.get("smartphones") or 0), base_smartphones)
    if covered:
        v["already_installed"] = max(int(v.get("already_installed") or 0), covered)
    if outcome in (Outcome.HELPED, Outcome.REFUSED) and base_smartphones and covered >= v["smartphones"]:
        return t("visit.reason.revisit_full", outcome=t(f"visit.outcome.{outcome}"), **_record(v))
    return None


def _missing_place(v: dict[str, Any]) -> str | None:
    """The first of hamlet, household (which may be given as blank) and outcome not given."""
    for name in ("hamlet", "household", "outcome"):
        if not v.get(name) and not (name == "household" and name in v):
            return name
    return None


def _outcome_again(v: dict[str, Any], reason: Text) -> tuple[str, Text]:
    """The outcome asked again (with the counts, which depend on it), saying why."""
    for f in ("outcome", *COUNTS):
        v.pop(f, None)
    return "outcome", reason


def _without_phones(v: dict[str, Any], outcome: Outcome) -> tuple[str | None, Text | None]:
    """No smartphone, nobody home: every count is zero, and a line giving counts is asked again."""
    if any(v.get(f) for f in COUNTS):
        key = "visit.reason.no_phone_counts" if outcome is Outcome.NO_SMARTPHONE else "visit.reason.nobody_counts"
        return _outcome_again(v, t(key, outcome=t(f"visit.outcome.{outcome}")))
    v.update(smartphones=0, installed_now=0, already_installed=0)
    return None, None


def _next_count(v: dict[str, Any], quick: bool) -> tuple[str | None, Text | None]:
    """The first count not given (the only possible answer filled in), or one given that does
    not fit (asked again with the counts after it)."""
    order = ("smartphones", "installed_now", "already_installed")
    for field in order:
        if field not in v:
            lo, hi = bounds(v, field)
            if field != "smartphones" and (lo == hi or (quick and field == "already_installed" and lo == 0)):
                v[field] = lo  # the only possible answer, or "none" left unwritten in a line
                continue
            return field, None
        problem = answer_problem(v, field, v[field])
        if problem is not None:
            for later in order[order.index(field) :]:
                v.pop(later, None)
            return field, problem
    return None, None


def free_text_problem(text: str, limit: int) -> Text | None:
    """Why a hamlet's or household's name cannot be kept: a phone number in it, or too long."""
    if sum(ch.isdigit() for ch in text) >= 8:
        return t("visit.reason.no_phone_numbers")  # citizens' phone numbers are never stored
    if len(text) > limit:
        return t("visit.reason.too_long", most=limit)
    return None


def hamlet_problem(hamlet: str, v: Mapping[str, Any]) -> Text | None:
    return free_text_problem(hamlet, visits.HAMLET_MAX)


def household_problem(household: str, v: Mapping[str, Any]) -> Text | None:
    return free_text_problem(household, visits.HOUSEHOLD_MAX)


def count_problem(field: str) -> Check:
    """The check of a count question: `answer_problem` for that count."""

    def check(n: int, v: Mapping[str, Any]) -> Text | None:
        return answer_problem(dict(v), field, n)

    return check


# --- starting ---


async def start(msg: Incoming, ctx: Context, _: LogVisit | None = None) -> Step:
    """visit → the volunteer's commune (asked when they serve several)."""
    return await DOOR.start(ctx)


async def refuse_volunteer(ctx: Context) -> Step:
    """The refusal for someone who is not (or no longer) a volunteer anywhere."""
    unit = await home_unit(ctx)
    return await refusal(ctx, await check(ctx, Role.VOLUNTEER, unit), Role.VOLUNTEER, unit)


async def start_in(msg: Incoming, ctx: Context, button: LogVisitIn) -> Step:
    """visit:c:<code>: in that commune."""
    return await DOOR.enter(ctx, button.commune)


async def begin(ctx: Context, commune_code: str) -> Step:
    ctx.forget(*BUILD_KEYS, "picked_commune")
    ctx.remember(v={"commune_code": commune_code}, v_quick=False)
    return await FORM.advance(ctx)


DOOR = CommuneDoor(
    Role.VOLUNTEER,
    begin,
    choice=LogVisitIn,
    choose=t("visit.choose_commune"),
    picked=PICKED,
    prompt="visit.ask_commune",
)


# --- the form: its questions, and how typed answers are read ---


async def ask_hamlet(ctx: Context, v: Values) -> Question:
    hamlets = await visits.recent_hamlets(ctx.db, v["commune_code"], ctx.user.id)
    ctx.remember(v_hamlets=hamlets)
    rows = [[Button(h, payload=HamletChoice(i).pack())] for i, h in enumerate(hamlets)]
    rows.append([Button(t("visit.syntax_button"), payload=ShorthandHelp().pack()), home_button()])
    return Question(t("visit.ask_hamlet") if hamlets else t("visit.ask_hamlet_first"), rows)


async def ask_household(ctx: Context, v: Values) -> Question:
    if not ctx.capabilities.buttons:  # a numbered menu would read house number "1" as its first choice
        return Question(t("visit.ask_household_typed", hamlet=v["hamlet"]))
    rows = [[Button(t("visit.skip_household"), payload=SkipHousehold().pack())], [home_button()]]
    return Question(t("visit.ask_household", hamlet=v["hamlet"]), rows)


async def ask_outcome(ctx: Context, v: Values) -> Question:
    def choice(outcome: Outcome) -> Button:
        return Button(t(f"visit.outcome.{outcome}"), payload=OutcomeChoice(outcome).pack())

    rows = [
        [choice(Outcome.HELPED), choice(Outcome.ALREADY)],
        [choice(Outcome.NO_SMARTPHONE), choice(Outcome.REFUSED)],
        [choice(Outcome.NOBODY_HOME)],
        [home_button()],
    ]
    return Question(t("visit.ask_outcome"), rows)


def ask_count(field: str, words: Callable[[int, int], Text]) -> Callable[[Context, Values], Awaitable[Question]]:
    """A count's question (`words` of its bounds), with a button per possible answer (the first few)."""

    async def question(ctx: Context, v: Values) -> Question:
        lo, hi = bounds(v, field)
        ctx.remember(v_field=field)
        # Without buttons, the choices are shown as the numbers they are (bot/render.py).
        last = min(hi, lo + NUMBER_BUTTONS - 1)
        choices = [Button(str(n), payload=CountChoice(field, n).pack()) for n in range(lo, last + 1)]
        return Question(words(lo, hi), [choices, [home_button()]])

    return question


def _count_field(name: str, words: Callable[[int, int], Text]) -> Field:
    return Field(name, ask_count(name, words), read_count(name), checks=(count_problem(name),), step=NUMBER)


def read_hamlet(text: str, ctx: Context, v: Values) -> str | Text:
    return shorthand.parse_hamlet(text, shorthand.vocabulary_of(ctx.content)) or t("visit.reason.hamlet_empty")


def read_household(text: str, ctx: Context, v: Values) -> str | Text:
    household = shorthand.parse_household(text, shorthand.vocabulary_of(ctx.content))
    return household or t("visit.reason.household_empty")


def read_outcome(text: str, ctx: Context, v: Values) -> str | Text:
    parsed = shorthand.parse(text, shorthand.vocabulary_of(ctx.content))
    if parsed.outcome and not parsed.unknown:
        return parsed.outcome
    return t("visit.reason.choose_outcome")


def read_count(field: str) -> Callable[[str, Context, Values], int | Text]:
    def read(text: str, ctx: Context, v: Values) -> int | Text:
        count = number(text, TYPED_COUNT_MOST)
        if count is None:
            lo, hi = bounds(v, field)
            return t("visit.reason.not_a_number", lo=lo, hi=hi)
        return count

    return read


async def aside(msg: Incoming, ctx: Context, field: Field) -> Step | None:
    """A location sent while a question waits is kept for the visit; a whole shorthand line typed
    at any question is read as such."""
    if msg.kind is Kind.LOCATION and msg.location is not None:
        rounded = visits.round_location(msg.location.latitude, msg.location.longitude)
        if rounded:
            ctx.remember(v={**ctx.draft["v"], "latitude": rounded[0], "longitude": rounded[1]})
        return await FORM.ask(ctx, field.name, t("visit.location_kept"))
    text = (msg.text or "") if msg.kind is Kind.TEXT else ""
    if text.strip() and shorthand.parse(text, shorthand.vocabulary_of(ctx.content)).is_visit:
        return await from_line(ctx, ctx.draft["v"]["commune_code"], text, keep=ctx.draft["v"])
    return None


def skip_words(ctx: Context) -> set[str]:
    return {fold(w) for w in ctx.content.section("visit.skip_words")}


async def hamlet_button(msg: Incoming, ctx: Context, button: HamletChoice) -> Step:
    choices = ctx.draft.get("v_hamlets") or []
    if "v" not in ctx.draft or button.index >= len(choices):
        return await stale(ctx)
    return await FORM.answer(ctx, "hamlet", choices[button.index])


async def skip_household(msg: Incoming, ctx: Context, _: SkipHousehold | None = None) -> Step:
    if "v" not in ctx.draft:
        return await stale(ctx)
    return await FORM.answer(ctx, "household", "")


async def outcome_button(msg: Incoming, ctx: Context, button: OutcomeChoice) -> Step:
    if "v" not in ctx.draft or button.outcome not in set(Outcome):
        return await stale(ctx)
    return await FORM.answer(ctx, "outcome", button.outcome)


async def number_button(msg: Incoming, ctx: Context, button: CountChoice) -> Step:
    if "v" not in ctx.draft or button.field not in COUNTS:
        return await stale(ctx)
    if ctx.draft.get("v_field") != button.field:  # a button of an earlier question: ask the current one
        return await FORM.advance(ctx)
    return await FORM.answer(ctx, button.field, button.count)


async def stale(ctx: Context) -> Step:
    """A button of a visit no longer being logged (an old message)."""
    return Step.end(Reply("visit.stale", [[Button(t("visit.menu"), payload=LogVisit().pack())], [home_button()]]))


async def stale_button(msg: Incoming, ctx: Context) -> Step:
    return await stale(ctx)


# --- the shorthand line ---


async def by_text(msg: Incoming, ctx: Context) -> Step | None:
    """Free text that is a shorthand visit line (or several, one a line), typed outside a flow."""
    text = msg.text or ""
    vocabulary = shorthand.vocabulary_of(ctx.content)
    lines = [line for line in text.splitlines() if line.strip()][: MAX_LINES + 1]
    if not lines or not any(shorthand.parse(line, vocabulary).is_visit for line in lines):
        return None
    communes = await roles.communes_for(ctx.db, ctx.user.id, Role.VOLUNTEER)
    if not communes:
        return await refuse_volunteer(ctx)
    commune = await visits.last_commune(ctx.db, ctx.user.id, communes) or communes[0]
    if len(lines) == 1:
        return await from_line(ctx, commune, lines[0])
    return await from_lines(ctx, commune, lines)


def _from_parsed(parsed: shorthand.Parsed, commune_code: str, keep: dict[str, Any] | None) -> dict[str, Any]:
    v: dict[str, Any] = {"commune_code": commune_code}
    if keep:  # typed while answering: what was answered stays unless the line says otherwise
        v.update({k: keep[k] for k in ("hamlet", "household", "latitude", "longitude") if k in keep})
    if parsed.hamlet:
        v["hamlet"] = parsed.hamlet
    v["household"] = parsed.household if parsed.household is not None else v.get("household", "")
    for name in COUNTS:
        if getattr(parsed, name) is not None:
            v[name] = getattr(parsed, name)
    outcome = parsed.outcome or visits.infer_outcome(parsed.smartphones, parsed.installed_now, parsed.already_installed)
    if outcome:
        v["outcome"] = str(outcome)
    return v


def _line_problem(parsed: shorthand.Parsed, line: str) -> Text | None:
    if parsed.unknown or parsed.repeated:
        parts = Join(tuple(f"“{p}”" for p in parsed.unknown) or tuple(parsed.repeated), ", ")
        return t("visit.line_unclear", line=line, parts=parts)
    for value, limit in ((parsed.hamlet, visits.HAMLET_MAX), (parsed.household, visits.HOUSEHOLD_MAX)):
        if value and (problem := free_text_problem(value, limit)):
            return problem
    return None


async def from_line(ctx: Context, commune_code: str, line: str, keep: dict[str, Any] | None = None) -> Step:
    """One shorthand line: what it says goes into the visit; anything missing is asked."""
    parsed = shorthand.parse(line, shorthand.vocabulary_of(ctx.content))
    problem = _line_problem(parsed, line)
    if problem is not None:
        rows = [[Button(t("visit.syntax_button"), payload=ShorthandHelp().pack()), home_button()]]
        return Step.stay(Reply(problem, rows))
    refused = await refuse_unless(ctx, Role.VOLUNTEER, commune_code)
    if refused:
        return refused
    ctx.forget(*BUILD_KEYS)
    ctx.remember(v=_from_parsed(parsed, commune_code, keep), v_quick=True)
    return await FORM.advance(ctx)


async def from_lines(ctx: Context, commune_code: str, lines: list[str]) -> Step:
    """Several lines at once (typed offline, sent together): a summary for each complete line."""
    refused = await refuse_unless(ctx, Role.VOLUNTEER, commune_code)
    if refused:
        return refused
    vocabulary = shorthand.vocabulary_of(ctx.content)
    replies: list[Reply] = []
    if len(lines) > MAX_LINES:
        replies.append(Reply(t("visit.too_many_lines", most=MAX_LINES)))
        lines = lines[:MAX_LINES]
    for line in lines:
        parsed = shorthand.parse(line, vocabulary)
        problem = _line_problem(parsed, line) if parsed.is_visit else t("visit.line_not_visit", line=line)
        if problem is None:
            v = _from_parsed(parsed, commune_code, None)
            field, reason = next_question(v, quick=True)
            if field is None:
                v["hamlet"] = await visits.resolve_hamlet(ctx.db, commune_code, v["hamlet"])
                token = await visits.create_draft(ctx.db, ctx.user.id, v, ctx.now)
                replies.append(await summary_reply(ctx, token, v, None))
                continue
            problem = t("visit.line_incomplete", line=line, missing=reason or t(f"visit.missing.{field}"))
        replies.append(Reply(problem))
    ctx.forget(*BUILD_KEYS)
    return Step.end(*replies)


# --- the summary, and saving ---


async def summary(ctx: Context) -> Step:
    """Keep the visit as a draft (one per summary, so each summary's buttons keep working) and
    show it with [Save] [Edit] [Cancel]."""
    v = ctx.draft["v"]
    v["hamlet"] = await visits.resolve_hamlet(ctx.db, v["commune_code"], v["hamlet"])
    token = ctx.draft.get("v_token")
    draft = await visits.get_draft(ctx.db, token, ctx.user.id) if token else None
    if draft is not None:
        await visits.update_draft(ctx.db, draft, v)
        token = draft.token
    else:
        token = await visits.create_draft(ctx.db, ctx.user.id, v, ctx.now)
    ctx.forget(*BUILD_KEYS)
    ctx.remember(v_token=token)
    correction = draft.visit_id if draft is not None else None
    return Step.to(SUMMARY, await summary_reply(ctx, token, {**(draft.data if draft else {}), **v}, correction))


async def summary_reply(ctx: Context, token: str, v: dict[str, Any], correction: int | None) -> Reply:
    duplicate = None
    if correction is None:
        duplicate = await visits.find_duplicate(ctx.db, v["commune_code"], v["hamlet"], v.get("household", ""))
    revisit = duplicate is not None and v.get("revisit_of") == duplicate.id
    if revisit:
        title: Text = t("visit.summary_revisit")
        # A household never found with phones (nobody home before) has no record worth showing.
        note: Text | str = t("visit.revisit_record", **_record(v)) if v.get("base_smartphones") else ""
    else:
        title = t("visit.summary_correction") if correction else t("visit.summary_new")
        note = await _duplicate_line(ctx, duplicate) if duplicate else ""
    text = t("visit.summary", title=title, details=details(ctx, v), duplicate=note)
    if duplicate and not revisit:
        rows = [
            [Button(t("visit.save_revisit"), payload=SaveVisit(token, "r").pack())],
            [Button(t("visit.save_new_household"), payload=SaveVisit(token, "n").pack())],
        ]
    else:
        rows = [[Button(t("visit.save"), payload=SaveVisit(token).pack())]]
    rows.append(
        [
            Button(t("visit.edit"), payload=EditVisit(token).pack()),
            Button(t("visit.cancel"), payload=CancelVisit(token).pack()),
        ]
    )
    if ctx.capabilities.request_location and v.get("latitude") is None:
        rows.append([Button(t("visit.add_location"), payload=LocateVisit(token).pack())])
    return Reply(text, rows)


def household_shown(household: str) -> Text | str:
    """A house reference as people read it: a house number with its word (visit.house_number),
    never a bare number that reads like a count; a description as written."""
    return t("visit.house_number", number=household) if household[:1].isdigit() else household


def details(ctx: Context, v: dict[str, Any]) -> Text:
    """The visit's lines, as in the summary and in the list of recent visits."""
    outcome = v.get("outcome")
    phones: Text | str = ""
    if outcome not in (Outcome.NO_SMARTPHONE, Outcome.NOBODY_HOME):
        phones = t(
            "visit.summary_phones",
            smartphones=v.get("smartphones", 0),
            installed=v.get("installed_now", 0),
            already=v.get("already_installed", 0),
        )
    return t(
        "visit.details",
        commune=unit_name(ctx, v["commune_code"]),
        hamlet=v["hamlet"],
        household=household_shown(v.get("household") or "") or t("visit.household_none"),
        outcome=t(f"visit.outcome.{outcome}"),
        phones=phones,
        location=t("visit.summary_location") if v.get("latitude") is not None else "",
    )


async def _duplicate_line(ctx: Context, earlier: Visit) -> Text:
    who = (await volunteers.names(ctx.db, {earlier.volunteer_id}, earlier.commune_code)).get(earlier.volunteer_id)
    if earlier.volunteer_id == ctx.user.id:
        by: Text | str = t("visit.by_you")
    else:
        by = who or t("visit.by_someone")
    return t("visit.duplicate", when=earlier.visited_at, by=by, outcome=t(f"visit.outcome.{earlier.outcome}"))


REVISIT_KEYS = ("revisit_of", "base_smartphones", "base_covered")


async def start_revisit(ctx: Context, token: str, data: dict[str, Any], record: visits.Household) -> Step:
    """ "Yes, a return visit": the household's record is the start; what the line says is kept
    where it fits, and only what is missing or does not fit is asked (then the summary). A line
    that fits as it is, with nothing changed from the summary shown, is saved at once."""
    v = {k: val for k, val in data.items() if k not in REVISIT_KEYS}
    v.update(
        revisit_of=record.latest.id,
        base_smartphones=record.smartphones,
        base_covered=max(record.covered, record.installs),
    )
    draft_v = dict(v)
    field, _reason = next_question(v, quick=True)
    unchanged = all(v.get(k) == data.get(k) for k in ("outcome", *COUNTS))
    if field is None and unchanged and not await visits.over_household(ctx.db, v):
        draft = await visits.get_draft(ctx.db, token, ctx.user.id)
        if draft is not None:
            await visits.update_draft(ctx.db, draft, v)
            return await save(ctx, token, "r")
    ctx.forget(*BUILD_KEYS)
    ctx.remember(v=draft_v, v_quick=True, v_token=token)
    step = await FORM.advance(ctx)
    if field is None or not record.smartphones:
        return step
    return Step((Reply(t("visit.revisit_intro", **_record(v))), *step.replies), step.state)


async def on_save(msg: Incoming, ctx: Context, button: SaveVisit) -> Step:
    return await save(ctx, button.token, button.choice)


async def on_edit(msg: Incoming, ctx: Context, button: EditVisit) -> Step:
    draft = await visits.get_draft(ctx.db, button.token, ctx.user.id)
    if draft is None:
        return await _gone(ctx, button.token)
    return edit_menu(ctx, button.token, draft.data, bool(draft.visit_id))


async def on_cancel(msg: Incoming, ctx: Context, button: CancelVisit) -> Step:
    draft = await visits.get_draft(ctx.db, button.token, ctx.user.id)
    if draft is None:
        return await _gone(ctx, button.token)
    await visits.claim_draft(ctx.db, button.token, ctx.user.id)
    rows = [[Button(t("visit.log_another"), payload=LogVisitIn(draft.data["commune_code"]).pack())], [home_button()]]
    return Step.end(Reply(t("visit.cancelled"), rows, close_ask=bool(draft.data.get("location_asked"))))


async def on_locate(msg: Incoming, ctx: Context, button: LocateVisit) -> Step:
    draft = await visits.get_draft(ctx.db, button.token, ctx.user.id)
    if draft is None:
        return await _gone(ctx, button.token)
    await visits.update_draft(ctx.db, draft, {"location_asked": True})
    ctx.forget(*BUILD_KEYS)
    ctx.remember(v_token=button.token)
    return Step.to(SUMMARY, Reply("visit.ask_location", ask=Ask.LOCATION))


async def on_summary_text(msg: Incoming, ctx: Context) -> Step:
    """At a summary: a location is added to it; a new shorthand line starts the next visit; any
    other message is read as if no question were open (the summary's buttons keep working)."""
    if msg.kind is Kind.LOCATION and msg.location is not None:
        token = ctx.draft.get("v_token")
        draft = await visits.get_draft(ctx.db, token, ctx.user.id) if token else None
        rounded = visits.round_location(msg.location.latitude, msg.location.longitude)
        if draft is None or rounded is None:
            return Step.end(Reply("visit.location_no_visit", [[home_button()]], close_ask=True))
        await visits.update_draft(ctx.db, draft, {"latitude": rounded[0], "longitude": rounded[1]})
        reply = await summary_reply(ctx, draft.token, draft.data, draft.visit_id)
        return Step.stay(Reply("visit.location_saved", close_ask=True), reply)
    ctx.forget(*BUILD_KEYS)
    ctx.convo.state = None
    return await ctx.router.dispatch(msg, ctx)


async def save(ctx: Context, token: str, choice: str | None) -> Step:
    """Store the visit (or the correction) exactly once, whatever the number of taps or workers.
    A household already recorded is saved as a return visit, measured against its record."""
    draft = await visits.get_draft(ctx.db, token, ctx.user.id)
    if draft is None:
        return await _gone(ctx, token)
    data = dict(draft.data)
    refused = await refuse_unless(ctx, Role.VOLUNTEER, data["commune_code"])
    if refused:
        return refused
    close = bool(data.get("location_asked")) and data.get("latitude") is None
    if draft.visit_id is not None:
        return await _save_correction(ctx, token, draft.visit_id, data, close)
    record = await visits.household_of(ctx.db, data["commune_code"], data["hamlet"], data.get("household", ""))
    if record is not None and choice == "n":
        return await other_household(ctx, token, data)
    if record is not None and data.get("revisit_of") != record.latest.id:
        if choice == "r":
            return await start_revisit(ctx, token, data, record)
        # Someone saved this household since the summary was shown: ask first.
        return Step.to(SUMMARY, await summary_reply(ctx, token, _first_visit(data), None))
    if record is not None and await visits.over_household(ctx.db, data):
        # Installs saved for this household since it was measured: measure it again.
        return await start_revisit(ctx, token, data, record)
    if not await visits.claim_draft(ctx.db, token, ctx.user.id):
        return await _gone(ctx, token)
    visit = await visits.save_visit(
        ctx.db, token, ctx.user.id, data, ctx.now, revisit_of=record.latest if record is not None else None
    )
    if visit is None:
        return await _gone(ctx, token)
    key = "visit.saved_revisit" if visit.revisit_of else "visit.saved"
    return Step.end(Reply(t(key, today=await today_line(ctx)), after_save_rows(data["commune_code"]), close_ask=close))


def _first_visit(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in REVISIT_KEYS}


async def other_household(ctx: Context, token: str, data: dict[str, Any]) -> Step:
    """ "No, another household": a household is its house reference, so it is asked again, to tell
    the two apart."""
    v = _first_visit(data)
    v.pop("household", None)
    ctx.forget(*BUILD_KEYS)
    ctx.remember(v=v, v_quick=False, v_token=token)
    return await FORM.advance(ctx, t("visit.reason.other_household"))


async def _save_correction(ctx: Context, token: str, visit_id: int, data: dict[str, Any], close: bool) -> Step:
    visit = await visits.get_visit(ctx.db, visit_id)
    if visit is None or visit.volunteer_id != ctx.user.id:
        return await stale(ctx)
    if not visits.changeable(visit, ctx.now):
        return Step.end(Reply("visit.too_late", [[home_button()]], close_ask=close))
    if await visits.over_household(ctx.db, {**data, "commune_code": visit.commune_code}, exclude=visit.id):
        step = edit_menu(ctx, token, data, True)
        return Step((Reply("visit.reason.correction_over_household"), *step.replies), step.state)
    if not await visits.claim_draft(ctx.db, token, ctx.user.id):
        return await _gone(ctx, token)
    await visits.correct_visit(ctx.db, visit, data, ctx.user.id, ctx.now, token)
    return Step.end(
        Reply(t("visit.corrected", today=await today_line(ctx)), after_save_rows(visit.commune_code), close_ask=close)
    )


def after_save_rows(commune_code: str) -> list[list[Button]]:
    return [
        [Button(t("visit.log_another"), payload=LogVisitIn(commune_code).pack())],
        [Button(t("visit.menu_recent"), payload=RecentVisits().pack()), home_button()],
    ]


async def _gone(ctx: Context, token: str) -> Step:
    """A summary whose draft is no more: saved already (a second tap), or too old."""
    if await visits.by_token(ctx.db, token) is not None:
        return Step.end(Reply(t("visit.already_saved", today=await today_line(ctx)), [[home_button()]]))
    if await visits.revision_by_token(ctx.db, token) is not None:
        return Step.end(Reply(t("visit.already_corrected"), [[home_button()]]))
    return Step.end(
        Reply("visit.draft_expired", [[Button(t("visit.menu"), payload=LogVisit().pack())], [home_button()]])
    )


async def today_line(ctx: Context) -> Text:
    today = local_date(ctx.now)
    mine = (await visits.totals(ctx.db, volunteer_id=ctx.user.id, since=today)).get(ctx.user.id, visits.Totals())
    return t("visit.today", households=mine.households, revisits=mine.revisits, installs=mine.installs)


# --- editing a summary ---


def edit_menu(ctx: Context, token: str, data: dict[str, Any], correction: bool) -> Step:
    ctx.forget(*BUILD_KEYS)
    ctx.remember(v_token=token)
    rows = [
        [Button(t("visit.edit_hamlet", hamlet=data["hamlet"]), payload=EditPart(token, "hamlet").pack())],
        [Button(t("visit.edit_household"), payload=EditPart(token, "household").pack())],
        [Button(t("visit.edit_result"), payload=EditPart(token, "result").pack())],
        [Button(t("visit.back_to_summary"), payload=EditPart(token, "back").pack())],
    ]
    key = "visit.edit_which_correction" if correction else "visit.edit_which"
    return Step.to(SUMMARY, Reply(t(key), rows))


async def edit_field(msg: Incoming, ctx: Context, button: EditPart) -> Step:
    """ve:<token>:<hamlet|household|result|back>: ask that again, then back to the summary."""
    token, what = button.token, button.part
    draft = await visits.get_draft(ctx.db, token, ctx.user.id)
    if draft is None:
        return await _gone(ctx, token)
    v = dict(draft.data)
    if what == "hamlet":
        v.pop("hamlet", None)
    elif what == "household":
        v.pop("household", None)
    elif what == "result":
        for name in ("outcome", *COUNTS):
            v.pop(name, None)
    ctx.forget(*BUILD_KEYS)
    ctx.remember(v=v, v_quick=False, v_token=token)
    return await FORM.advance(ctx)


async def syntax(msg: Incoming, ctx: Context, _: ShorthandHelp | None = None) -> Step:
    """The shorthand's syntax, with the examples; the open question (if any) stays open."""
    return Step.stay(Reply("visit.syntax", [[home_button()]]))


async def summary_step(ctx: Context, v: Values) -> Step:
    return await summary(ctx)


FORM = Form(
    key="v",
    fields=(
        Field("hamlet", ask_hamlet, read_hamlet, checks=(hamlet_problem,), step=HAMLET),
        Field(
            "household",
            ask_household,
            read_household,
            checks=(household_problem,),
            skip=lambda c, v: "",
            step=HOUSEHOLD,
        ),
        Field("outcome", ask_outcome, read_outcome, step=OUTCOME),
        _count_field("smartphones", lambda lo, hi: t("visit.ask_smartphones", lo=lo, hi=hi)),
        _count_field("installed_now", lambda lo, hi: t("visit.ask_installed_now", lo=lo, hi=hi)),
        _count_field("already_installed", lambda lo, hi: t("visit.ask_already_installed", lo=lo, hi=hi)),
    ),
    step=HAMLET,
    next=lambda ctx, v: next_question(v, bool(ctx.draft.get("v_quick"))),
    aside=aside,
    answer_expected=t("visit.reason.answer_expected"),
    skip_words=skip_words,
    retry="visit.retry",
    done=summary_step,
    stale=stale,
)


async def field_worker(ctx: Context) -> bool:
    return await roles.has_any(ctx.db, ctx.user.id, {Role.VOLUNTEER, Role.COORDINATOR})


FLOW = Flow(
    name="visit",
    buttons={
        LogVisit: start,
        LogVisitIn: start_in,
        HamletChoice: hamlet_button,
        SkipHousehold: skip_household,
        OutcomeChoice: outcome_button,
        CountChoice: number_button,
        SaveVisit: on_save,
        EditVisit: on_edit,
        CancelVisit: on_cancel,
        LocateVisit: on_locate,
        EditPart: edit_field,
        ShorthandHelp: syntax,
    },
    otherwise={
        LogVisit.prefix: start,
        HamletChoice.prefix: stale_button,
        SkipHousehold.prefix: skip_household,
        OutcomeChoice.prefix: stale_button,
        CountChoice.prefix: stale_button,
        SaveVisit.prefix: stale_button,
        EditPart.prefix: stale_button,
        ShorthandHelp.prefix: syntax,
    },
    commands={"ghinhan": start, "cuphap": syntax},
    states={
        **FORM.steps(),
        SUMMARY: on_summary_text,
        PICKED: DOOR.commune_picked,
    },
    text=[by_text],
    menu=[
        MenuEntry(LogVisit(), "visit.menu", order=60, visible=field_worker),
    ],
)
