"""The permission walk: every command, button and deep link the router knows, driven through the
real engine by every kind of person, with the objects each one names (a pending registration, a
visit, a venue, a draft) made first.

Who may do what is the table ACTIONS below: public, or a role over a unit (the model of
storage/roles.py: an admin covers everything, a province officer their province and its communes,
a coordinator and a volunteer their commune; a higher role may do what a lower one may). An
allowed person gets the real reply, and what the action stores is stored; a refused person gets
the refusal that says why (access.* in content/vi/access.toml, or the action's own "not yours")
and nothing at all is stored. `test_every_entry_is_walked` fails when the router serves a
command, button prefix, deep link or free-text reader that no action here walks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from bot.settings import Secret, Settings
from handlers import build_router
from storage import reports, roles, venues, visits, volunteers
from storage.accounts import find_or_create_person, open_account
from storage.models import Base, User, utcnow
from storage.roles import RANK, Role
from storage.units import COUNTRY_CODE as VN
from tests.harness import ChatDriver, grant_role

A, B = "00070", "00082"  # Phường Hoàn Kiếm and Phường Cửa Nam, both in Hà Nội
P, X = "01", "24"  # Hà Nội (A's province) and Bắc Ninh (another)
PROVINCE_OF = {A: P, B: P}
ACTOR = "700"  # the person walking; the others below are the people the actions name
HELPER, PENDING, INACTIVE, MANAGER, CITIZEN = "800", "801", "802", "803", "804"
FAR_DEADLINE = "31/12/2030"

# Who walks: (role, unit) or None for a citizen with no role.
ACTORS: dict[str, tuple[Role, str] | None] = {
    "citizen": None,
    "volunteer_A": (Role.VOLUNTEER, A),
    "coordinator_A": (Role.COORDINATOR, A),
    "coordinator_B": (Role.COORDINATOR, B),
    "officer_P": (Role.PROVINCE_OFFICER, P),
    "officer_X": (Role.PROVINCE_OFFICER, X),
    "admin": (Role.ADMIN, VN),
}
COMMUNE_LEVEL = {Role.VOLUNTEER, Role.COORDINATOR}


@pytest.fixture
def settings(database: dict) -> Settings:
    """Venue registration and posters need the QR signing key and the bot's name."""
    return Settings(
        database_url=database["url"],
        qr_signing_key=Secret("role-walk-qr-key"),
        telegram_bot_username="bluezone_walk_bot",
    )


# --- who may: the gates ------------------------------------------------------------------------


def _no_role(role: Role) -> str:
    return "access.no_role_volunteer" if role is Role.VOLUNTEER else "access.no_role"


@dataclass(frozen=True)
class Public:
    """Anyone, with or without a role."""

    def refusal(self, actor: str) -> str | None:
        return None


@dataclass(frozen=True)
class Scoped:
    """`role` (or a higher one) over `unit`: what the action names."""

    role: Role
    unit: str

    def refusal(self, actor: str) -> str | None:
        grant = ACTORS[actor]
        if grant is None:
            return _no_role(self.role)
        held, where = grant
        if held is Role.ADMIN:
            covers = True
        elif self.unit == VN:
            covers = False
        elif held is Role.PROVINCE_OFFICER:
            covers = where == PROVINCE_OF.get(self.unit, self.unit)
        else:
            covers = where == self.unit
        enough = RANK[held] >= RANK[self.role]
        if covers and enough:
            return None
        return "access.other_unit" if enough else "access.too_low"


@dataclass(frozen=True)
class Anywhere:
    """`role` (or a higher one) over some unit: the action works on the person's own unit (a
    coordinator's commune; officers and admins are asked which commune)."""

    role: Role

    def refusal(self, actor: str) -> str | None:
        grant = ACTORS[actor]
        if grant is None:
            return _no_role(self.role)
        return None if RANK[grant[0]] >= RANK[self.role] else "access.too_low"


@dataclass(frozen=True)
class FieldWork:
    """A volunteer's own work (their totals, their recent visits, a shorthand line): a
    commune-level role; officers and admins, who log nothing themselves, are told it is for
    volunteers."""

    def refusal(self, actor: str) -> str | None:
        grant = ACTORS[actor]
        return None if grant is not None and grant[0] in COMMUNE_LEVEL else "access.no_role_volunteer"


@dataclass(frozen=True)
class Nobody:
    """Nobody, whatever their role: someone else's visit, venue, draft or check-in."""

    key: str

    def refusal(self, actor: str) -> str | None:
        return self.key


Gate = Public | Scoped | Anywhere | FieldWork | Nobody


# --- driving -------------------------------------------------------------------------------------


class Refused(Exception):
    def __init__(self, keys: list[str]) -> None:
        super().__init__(keys)
        self.keys = keys


Expect = tuple[str, ...] | Mapping[str, tuple[str, ...]]


@dataclass
class Walk:
    """One person driving one action: each step is checked against the expected reply keys; for a
    refused person the gate step's answer ends the walk (raising Refused with the keys they got)."""

    chat: ChatDriver
    ids: dict
    actor: str
    refused: bool
    gate_step: int = 0  # the step whose answer is the refusal (after a commune picker: 1)
    steps: int = 0
    touched: set[str] = field(default_factory=set)

    async def press(self, payload: str, expect: Expect) -> None:
        self.touched.add(f"button:{payload.split(':', 1)[0]}")
        await self.chat.press(payload.format(**self.ids))
        self._check(payload, expect)

    async def send(self, text: str, expect: Expect) -> None:
        text = text.format(**self.ids)
        if text.startswith("/"):
            name, _, args = text[1:].partition(" ")
            if name == "start" and args:
                self.touched.add(f"deep_link:{args.split('-', 1)[0]}")
            else:
                self.touched.add(f"command:{name}")
        await self.chat.send(text)
        self._check(text, expect)

    def _check(self, sent: str, expect: Expect) -> None:
        keys = self.chat.keys
        self.steps += 1
        if self.refused and self.steps > self.gate_step:
            raise Refused(keys)
        wanted = expect.get(self.actor, expect.get("*")) if isinstance(expect, Mapping) else expect
        assert keys == list(wanted), (self.actor, sent, keys, self.chat.text())

    def offered(self, prefix: str) -> str:
        """The payload of the last reply's button starting with `prefix`."""
        return next(p for p in self.chat.payloads() if p.startswith(prefix))


Drive = Callable[[Walk], Awaitable[None]]
OFFICERS = ("officer_P", "officer_X", "admin")  # asked which commune where a coordinator is not


@dataclass(frozen=True)
class Action:
    name: str
    gate: Gate
    drive: Drive
    serves: tuple[
        str, ...
    ]  # router entries: "command:<name>", "button:<prefix>", "deep_link:<prefix>", "text:<reader>"
    writes: Mapping[str, frozenset[str]]  # tables an allowed person's action changes, by walker ("*": anyone)
    needs: tuple[str, ...] = ()  # what the action names, made first (see make_world)
    actors: tuple[str, ...] = tuple(ACTORS)  # who walks it (a commune picker only officers and admins see)
    gate_step: int = 0


def press(*steps: tuple[str, Expect]) -> Drive:
    async def drive(w: Walk) -> None:
        for payload, expect in steps:
            await w.press(payload, expect)

    return drive


def send(text: str, expect: Expect) -> Drive:
    async def drive(w: Walk) -> None:
        await w.send(text, expect)

    return drive


def action(
    name: str,
    gate: Gate,
    drive: Drive,
    *serves: str,
    writes: tuple[str, ...] | Mapping[str, tuple[str, ...]] = (),
    needs: tuple[str, ...] = (),
) -> Action:
    by_walker = writes if isinstance(writes, Mapping) else {"*": writes}
    return Action(name, gate, drive, serves, {k: frozenset(v) for k, v in by_walker.items()}, needs)


def picked(name: str, gate: Scoped, opener: str, picker: str, then: tuple[str, ...]) -> Action:
    """An officer or admin opens a flow, is asked for the commune, and picks A: checked then."""
    return Action(
        f"{name} via the commune picker",
        gate,
        press((opener, (picker,)), ("commune:{A}", then)),
        ("button:commune",),
        {"*": frozenset()},
        actors=OFFICERS,
        gate_step=1,
    )


# Replies that depend on who asks.
SUMMARY_COMMUNE = ("common.lines",)
SUMMARY_WITH_CHART = ("common.lines", "official.chart_caption")  # an attachment's key is its caption's


def by_actor(default: tuple[str, ...], **others: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {"*": default, **others}


def for_officers(keys: tuple[str, ...], default: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {"*": default, **{o: keys for o in OFFICERS}}


# --- the multi-step drives -----------------------------------------------------------------------


async def log_visit_in_a(w: Walk) -> None:
    await w.press("visit:c:{A}", ("visit.ask_hamlet_first",))
    await w.send("Thôn 5", ("visit.ask_household",))
    await w.press("vx", ("visit.ask_outcome",))
    await w.press("vo:helped", ("visit.ask_smartphones",))
    await w.press("vn:smartphones:2", ("visit.ask_installed_now",))
    await w.press("vn:installed_now:1", ("visit.ask_already_installed",))
    await w.press("vn:already_installed:1", ("visit.summary",))
    await w.press(w.offered("vs:save:"), ("visit.saved",))


async def pick_hamlet_in_a(w: Walk) -> None:
    await w.press("visit:c:{A}", ("visit.ask_hamlet",))
    await w.press("vh:0", ("visit.ask_household",))


async def shorthand_line(w: Walk) -> None:
    await w.send("thôn 1 số 1 1 máy cài 1", ("visit.summary",))
    await w.press(w.offered("vs:save:"), ("visit.saved",))


async def correct_own_visit(w: Walk) -> None:
    await w.press("vc:{own_visit}", ("visit.edit_which_correction",))
    await w.press(w.offered("ve:").rsplit(":", 1)[0] + ":household", ("visit.ask_household",))
    await w.send("số 9", ("visit.summary",))
    await w.press(w.offered("vs:save:"), ("visit.corrected",))


async def summary_edit_and_cancel(w: Walk) -> None:
    await w.press("vs:edit:{own_draft}", ("visit.edit_which",))
    await w.press("vs:cancel:{own_draft}", ("visit.cancelled",))


async def figures_for_a(w: Walk) -> None:
    await w.press("cn:c:{A}", ("official.figures.ask_date",))
    await w.press("cn:d:0", ("official.figures.ask_installed",))
    await w.send("5", ("official.figures.ask_subscribers",))
    await w.send("10", ("official.figures.ask_population",))
    await w.press("cn:s:population", ("official.figures.ask_households",))
    await w.press("cn:s:households", ("official.figures.confirm",))
    await w.press(w.offered("cn:save:"), ("official.figures.saved", *SUMMARY_COMMUNE))


def target_for(unit: str, summary: tuple[str, ...]) -> Drive:
    async def drive(w: Walk) -> None:
        await w.press(f"ct:u:{unit}", ("official.targets.ask_rate",))
        await w.press("ct:r:60", ("official.targets.ask_deadline",))
        await w.send(FAR_DEADLINE, ("official.targets.ask_denominator",))
        await w.press("ct:n:subscribers", ("official.targets.confirm",))
        await w.press(w.offered("ct:save:"), ("official.targets.saved", *summary))

    return drive


def announce_to(unit: str) -> Drive:
    async def drive(w: Walk) -> None:
        await w.press(f"ann:u:{unit}", ("announce.ask_text",))
        await w.send("Tối nay họp tổ dân phố về cài đặt Bluezone.", ("announce.preview",))
        await w.press("ann:send", ("announce.queued",))

    return drive


# --- the table -----------------------------------------------------------------------------------

V = Role.VOLUNTEER
C = Role.COORDINATOR
PO = Role.PROVINCE_OFFICER
AD = Role.ADMIN
GREETING, HOME = ("menu.greeting",), ("menu.home",)

ACTIONS: list[Action] = [
    # The router's own and the citizen flows: everyone.
    action("start", Public(), send("/start", GREETING), "command:start"),
    *[action(f"/{c}", Public(), send(f"/{c}", HOME), f"command:{c}") for c in ("menu", "huy", "cancel")],
    action("menu button", Public(), press(("menu", HOME)), "button:menu"),
    *[action(f"/{c}", Public(), send(f"/{c}", ("menu.help",)), f"command:{c}") for c in ("help", "trogiup")],
    action("/maso", Public(), send("/maso", ("menu.your_account",)), "command:maso"),
    *[
        action(f"/{c}", Public(), send(f"/{c}", ("guide.choose_platform",)), f"command:{c}")
        for c in ("guide", "huongdan")
    ],
    action("guide button", Public(), press(("guide", ("guide.choose_platform",))), "button:guide"),
    *[action(f"/{c}", Public(), send(f"/{c}", ("faq.list",)), f"command:{c}") for c in ("faq", "hoidap")],
    action("faq button", Public(), press(("faq", ("faq.list",))), "button:faq"),
    action("faq by text", Public(), send("app có tốn pin không", ("faq.answer",)), "text:handlers.faq.by_text"),
    action("/hotro", Public(), send("/hotro", ("support.ask_commune",)), "command:hotro"),
    action("support button", Public(), press(("support", ("support.ask_commune",))), "button:support"),
    action("/dacai", Public(), send("/dacai", ("install.ask_commune",)), "command:dacai"),
    action("install button", Public(), press(("install", ("install.ask_commune",))), "button:install"),
    action("commune choice", Public(), press(("commune:{A}", ("commune.saved",))), "button:commune", writes=("users",)),
    action("/checkin", Public(), send("/checkin", ("checkin.ask_code",)), "command:checkin"),
    action(
        "check in by text",
        Public(),
        send("CHECKIN {venue_code}", ("checkin.thanks",)),
        "text:handlers.checkin.by_text",
        writes=("check_ins", "venue_daily_counts", "commune_daily_counts", "commune_counts"),
        needs=("venue",),
    ),
    action("forged poster link", Public(), send("/start c-AB23CD7xxxx", ("checkin.link_invalid",)), "deep_link:c"),
    action(
        "answer own check-in",
        Public(),
        press(("ci:y:{own_checkin}", ("checkin.installed_thanks",))),
        "button:ci",
        writes=("check_ins", "venue_daily_counts", "commune_daily_counts", "commune_counts"),
        needs=("venue", "own_checkin"),
    ),
    action(
        "answer another's check-in", Nobody("menu.stale_button"), press(("ci:y:{their_checkin}", ())), needs=("venue",)
    ),
    *[
        action(f"/{c}", Public(), send(f"/{c}", ("link.code",)), f"command:{c}", writes=("link_codes",))
        for c in ("lienket", "link")
    ],
    action("link button", Public(), press(("link", ("link.code",))), "button:link", writes=("link_codes",)),
    action("link by text", Public(), send("liên kết", ("link.intro",)), "text:handlers.link.by_text"),
    action("/dangkydiem", Public(), send("/dangkydiem", ("venue.ask_name",)), "command:dangkydiem"),
    action("venue button", Public(), press(("venue", ("venue.ask_name",))), "button:venue"),
    action("/diemcheckin", Public(), send("/diemcheckin", ("venue.none",)), "command:diemcheckin"),
    action(
        "own venue",
        Public(),
        press(("venues:v:{own_venue}", ("venue.details",)), ("venues:x:{own_venue}", ("venue.export_caption",))),
        "button:venues",
        needs=("own_venue",),
    ),
    *[
        action(
            f"another's venue {a}", Nobody("venue.stale"), press((f"venues:{a}:{{their_venue}}", ())), needs=("venue",)
        )
        for a in ("v", "p", "x", "r", "R")
    ],
    *[
        action(f"/{c}", Public(), send(f"/{c}", (f"privacy.{k}",)), f"command:{c}", writes=w)
        for c, k, w in (("ngung", "opted_out", ("users",)), ("batdau", "opted_in", ()), ("xoadulieu", "explain", ()))
    ],
    action("privacy keep", Public(), press(("privacy:keep", ("privacy.cancelled",))), "button:privacy"),
    action(
        "erase me",
        Public(),
        press(("privacy:erase", ("privacy.erased",))),
        writes=by_actor(("users", "accounts", "role_grants"), citizen=("users", "accounts")),
    ),
    # Joining as a volunteer: anyone may ask (a coordinator then decides).
    action("/dangky", Public(), send("/dangky", ("volunteer.ask_code",)), "command:dangky"),
    action("register button", Public(), press(("reg:start", ("volunteer.ask_code",))), "button:reg"),
    action(
        "invite link", Public(), send("/start v-{invite}", ("volunteer.ask_name",)), "deep_link:v", needs=("invite",)
    ),
    action(
        "register and wait",
        Public(),
        press(("reg:nocode", ("volunteer.ask_commune",)), ("commune:{A}", ("volunteer.ask_name",))),
    ),
    # Logging visits: a volunteer (or above) of the commune.
    *[
        action(f"start a visit ({how})", Anywhere(V), drive, entry)
        for how, drive, entry in (
            (
                "button",
                press(("visit", for_officers(("visit.ask_commune",), ("visit.ask_hamlet_first",)))),
                "button:visit",
            ),
            (
                "/ghinhan",
                send("/ghinhan", for_officers(("visit.ask_commune",), ("visit.ask_hamlet_first",))),
                "command:ghinhan",
            ),
        )
    ],
    action(
        "log a visit in A",
        Scoped(V, A),
        log_visit_in_a,
        "button:visit",
        "button:vx",
        "button:vo",
        "button:vn",
        "button:vs",
        writes=("visits", "commune_daily_counts", "commune_counts"),
    ),
    action("pick a hamlet in A", Scoped(V, A), pick_hamlet_in_a, "button:vh", needs=("helper",)),
    action(
        "shorthand line",
        FieldWork(),
        shorthand_line,
        "text:handlers.visits.by_text",
        writes=("visits", "commune_daily_counts", "commune_counts"),
    ),
    action(
        "save own draft in A",
        Scoped(V, A),
        press(("vs:save:{own_draft}", ("visit.saved",))),
        writes=("visits", "commune_daily_counts", "commune_counts", "visit_drafts"),
        needs=("own_draft",),
    ),
    action(
        "edit and cancel own draft", Public(), summary_edit_and_cancel, writes=("visit_drafts",), needs=("own_draft",)
    ),
    action(
        "edit own draft field",
        Public(),
        press(("ve:{own_draft}:household", ("visit.ask_household",))),
        "button:ve",
        needs=("own_draft",),
    ),
    *[
        action(
            f"another's draft {a}",
            Nobody("visit.draft_expired"),
            press((f"vs:{a}:{{their_draft}}", ())),
            needs=("helper",),
        )
        for a in ("save", "edit", "cancel", "loc")
    ],
    action(
        "another's draft field",
        Nobody("visit.draft_expired"),
        press(("ve:{their_draft}:result", ())),
        needs=("helper",),
    ),
    *[
        action(f"visit step {p} without a visit", Nobody("visit.stale"), press((p, ())))
        for p in ("vh:0", "vx", "vo:helped", "vn:smartphones:1")
    ],
    *[
        action(f"syntax ({how})", Public(), drive, entry)
        for how, drive, entry in (
            ("button", press(("vhelp", ("visit.syntax",))), "button:vhelp"),
            ("/cuphap", send("/cuphap", ("visit.syntax",)), "command:cuphap"),
        )
    ],
    # One's own visits: corrected and deleted by their author, while still a volunteer there.
    *[
        action(f"recent visits ({how})", FieldWork(), drive, entry)
        for how, drive, entry in (
            ("button", press(("vl", ("visit.recent_none",))), "button:vl"),
            ("/luotham", send("/luotham", ("visit.recent_none",)), "command:luotham"),
        )
    ],
    action("view own visit", Public(), press(("vv:{own_visit}", ("visit.view",))), "button:vv", needs=("own_visit",)),
    action("view another's visit", Nobody("visit.not_found"), press(("vv:{their_visit}", ())), needs=("helper",)),
    action(
        "correct own visit in A",
        Scoped(V, A),
        correct_own_visit,
        "button:vc",
        writes=("visits", "visit_revisions", "audit_log"),
        needs=("own_visit",),
    ),
    action("correct another's visit", Nobody("visit.not_yours"), press(("vc:{their_visit}", ())), needs=("helper",)),
    action(
        "delete own visit in A",
        Scoped(V, A),
        press(("vd:{own_visit}", ("visit.delete_ask",)), ("vd:{own_visit}:y", ("visit.deleted",))),
        "button:vd",
        writes=("visits", "visit_revisions", "commune_daily_counts", "commune_counts", "audit_log"),
        needs=("own_visit",),
    ),
    action("delete another's visit", Nobody("visit.not_yours"), press(("vd:{their_visit}:y", ())), needs=("helper",)),
    *[
        action(f"my totals ({how})", FieldWork(), drive, entry)
        for how, drive, entry in (
            ("button", press(("vme", ("volunteer.me",))), "button:vme"),
            ("/toi", send("/toi", ("volunteer.me",)), "command:toi"),
        )
    ],
    action("hamlets of A", Scoped(V, A), press(("co:h:{A}", ("coordinator.hamlet_summary",))), needs=("helper",)),
    # The coordinator's desk: a coordinator (or above) of the commune.
    *[
        action(f"desk ({how})", Anywhere(C), drive, entry)
        for how, drive, entry in (
            ("button", press(("co", for_officers(("coordinator.ask_commune",), ("coordinator.desk",)))), "button:co"),
            (
                "/dieuphoi",
                send("/dieuphoi", for_officers(("coordinator.ask_commune",), ("coordinator.desk",))),
                "command:dieuphoi",
            ),
        )
    ],
    action("desk of A", Scoped(C, A), press(("co:c:{A}", ("coordinator.desk",)))),
    action("volunteers of A", Scoped(C, A), press(("co:v:{A}:0", ("coordinator.volunteer_list",))), needs=("helper",)),
    action("pending of A", Scoped(C, A), press(("co:p:{A}", ("coordinator.pending",))), needs=("pending",)),
    action("invite of A", Scoped(C, A), press(("co:i:{A}", ("coordinator.invite_text",))), needs=("invite",)),  # shown
    action(
        "new invite of A",
        Scoped(C, A),
        press(("co:i:{A}:new", ("coordinator.invite_text",))),
        writes=("volunteer_invites",),
    ),
    action(
        "revoke invites of A",
        Scoped(C, A),
        press(("co:i:{A}:x", ("coordinator.invite_revoked",))),
        writes=("volunteer_invites",),
        needs=("invite",),
    ),
    action(
        "deactivate in A (asked)",
        Scoped(C, A),
        press(
            ("co:off:{helper_registration}", ("coordinator.deactivate_ask",)),
            ("co:off:{helper_registration}:y", ("coordinator.deactivated",)),
        ),
        writes=("volunteers", "role_grants", "audit_log"),
        needs=("helper",),
    ),
    action(
        "deactivate in A (forged confirm)",
        Scoped(C, A),
        press(("co:off:{helper_registration}:y", ("coordinator.deactivated",))),
        writes=("volunteers", "role_grants", "audit_log"),
        needs=("helper",),
    ),
    action(
        "reactivate in A",
        Scoped(C, A),
        press(("co:on:{inactive_registration}", ("coordinator.reactivated",))),
        writes=("volunteers", "role_grants", "audit_log"),
        needs=("inactive",),
    ),
    action(
        "approve in A",
        Scoped(C, A),
        press(("vr:ok:{pending_registration}", ("coordinator.approved",))),
        "button:vr",
        writes=("volunteers", "role_grants", "audit_log"),
        needs=("pending",),
    ),
    action(
        "refuse in A",
        Scoped(C, A),
        press(("vr:no:{pending_registration}", ("coordinator.refused",))),
        writes=("volunteers", "audit_log"),
        needs=("pending",),
    ),
    # Figures and reports: a unit's viewer (coordinator of a commune, officer of a province, admin of the country).
    *[
        action(f"summary ({how})", Anywhere(C), drive, entry)
        for how, drive, entry in (
            ("button", press(("tk", for_officers(SUMMARY_WITH_CHART, SUMMARY_COMMUNE))), "button:tk"),
            ("/thongke", send("/thongke", for_officers(SUMMARY_WITH_CHART, SUMMARY_COMMUNE)), "command:thongke"),
        )
    ],
    action("summary of A", Scoped(C, A), press(("tk:u:{A}", SUMMARY_COMMUNE))),
    action("/thongke A", Scoped(C, A), send("/thongke {A}", SUMMARY_COMMUNE)),
    action("/thongke P", Scoped(PO, P), send("/thongke {P}", SUMMARY_WITH_CHART)),
    action("summary of P", Scoped(PO, P), press(("tk:u:{P}", SUMMARY_WITH_CHART))),
    action("summary of the country", Scoped(AD, VN), press(("tk:u:{VN}", SUMMARY_WITH_CHART))),
    action("Excel of A", Scoped(C, A), press(("tk:x:{A}", ("official.excel_caption",)))),
    action("Excel of P", Scoped(PO, P), press(("tk:x:{P}", ("official.excel_caption",)))),
    action("another commune", Anywhere(C), press(("tk:f", for_officers(("official.ask_commune",), SUMMARY_COMMUNE)))),
    action("by province", Scoped(AD, VN), press(("tk:p", ("official.choose_province",)))),
    *[
        action(f"daily reports ({how})", Anywhere(C), drive, entry)
        for how, drive, entry in (
            ("button", press(("bc", ("official.reports.none",))), "button:bc"),
            ("/baocao", send("/baocao", ("official.reports.none",)), "command:baocao"),
        )
    ],
    action("report hour for A", Scoped(C, A), press(("bc:s:{A}", ("official.reports.ask_hour",)))),
    action(
        "subscribe to A",
        Scoped(C, A),
        press(("bc:h:{A}:7", ("official.reports.subscribed",))),
        writes=("report_subscriptions",),
    ),
    action(
        "subscribe to P",
        Scoped(PO, P),
        press(("bc:h:{P}:7", ("official.reports.subscribed",))),
        writes=("report_subscriptions",),
    ),
    action(
        "cancel own report",
        Public(),
        press(
            (
                "bc:x:{A}",
                by_actor(
                    ("official.reports.cancelled", "official.reports.none"),
                    citizen=("official.reports.cancelled",),
                    volunteer_A=("official.reports.cancelled",),
                ),
            )
        ),
        writes=("report_subscriptions",),
        needs=("own_subscription",),
    ),
    *[
        action(f"loudspeaker script ({how})", Anywhere(C), drive, entry)
        for how, drive, entry in (
            (
                "button",
                press(
                    ("lp", for_officers(("official.script.ask_commune",), ("official.script.intro", "common.lines")))
                ),
                "button:lp",
            ),
            (
                "/loaphat",
                send(
                    "/loaphat",
                    for_officers(("official.script.ask_commune",), ("official.script.intro", "common.lines")),
                ),
                "command:loaphat",
            ),
        )
    ],
    action("script of A", Scoped(C, A), press(("lp:c:{A}", ("official.script.intro", "common.lines")))),
    *[
        action(f"figures ({how})", Anywhere(C), drive, entry)
        for how, drive, entry in (
            (
                "button",
                press(("cn", for_officers(("official.figures.ask_commune",), ("official.figures.ask_date",)))),
                "button:cn",
            ),
            (
                "/capnhat",
                send("/capnhat", for_officers(("official.figures.ask_commune",), ("official.figures.ask_date",))),
                "command:capnhat",
            ),
        )
    ],
    action("figures for A", Scoped(C, A), figures_for_a, "button:cn", writes=("official_figures", "audit_log")),
    action(
        "save a figures draft for A",
        Scoped(C, A),
        press(("cn:save:{fig_token}", ("official.figures.saved", *SUMMARY_COMMUNE))),
        writes=("official_figures", "audit_log"),
        needs=("figures_draft",),
    ),
    # Targets: a province officer for the province and its communes, an admin for the country.
    *[
        action(f"targets ({how})", Anywhere(PO), drive, entry)
        for how, drive, entry in (
            ("button", press(("ct", ("official.targets.choose_unit",))), "button:ct"),
            ("/chitieu", send("/chitieu", ("official.targets.choose_unit",)), "command:chitieu"),
        )
    ],
    action("target for P", Scoped(PO, P), target_for(P, SUMMARY_WITH_CHART), writes=("targets", "audit_log")),
    action("target for A", Scoped(PO, A), target_for(A, SUMMARY_COMMUNE), writes=("targets", "audit_log")),
    action(
        "target for the country", Scoped(AD, VN), target_for(VN, SUMMARY_WITH_CHART), writes=("targets", "audit_log")
    ),
    action(
        "save a target draft for A",
        Scoped(PO, A),
        press(("ct:save:{tg_token}", ("official.targets.saved", *SUMMARY_COMMUNE))),
        writes=("targets", "audit_log"),
        needs=("target_draft",),
    ),
    action("target for a commune", Anywhere(PO), press(("ct:c", ("official.targets.ask_commune",)))),
    action("target for a province", Scoped(AD, VN), press(("ct:p", ("official.targets.choose_province",)))),
    # Announcements: a coordinator to the commune, a province officer to the province.
    *[
        action(f"announce ({how})", Anywhere(C), drive, entry)
        for how, drive, entry in (
            ("button", press(("ann", for_officers(("announce.ask_commune",), ("announce.ask_text",)))), "button:ann"),
            (
                "/thongbao",
                send("/thongbao", for_officers(("announce.ask_commune",), ("announce.ask_text",))),
                "command:thongbao",
            ),
        )
    ],
    action(
        "announce in A, scope",
        Scoped(C, A),
        press(
            (
                "ann:c:{A}",
                by_actor(
                    ("announce.ask_text",), officer_P=("announce.choose_scope",), admin=("announce.choose_scope",)
                ),
            )
        ),
    ),
    action("announce to A", Scoped(C, A), announce_to(A), writes=("broadcasts", "audit_log"), needs=("audience",)),
    action("announce to P", Scoped(PO, P), announce_to(P), writes=("broadcasts", "audit_log"), needs=("audience",)),
    action(
        "send an announcement draft for A",
        Scoped(C, A),
        press(("ann:send", ("announce.queued",))),
        writes=("broadcasts", "audit_log"),
        needs=("audience", "announce_draft"),
    ),
    # Steps of an entry nobody opened (an old message, a forged payload): nothing to save.
    *[
        action(f"figures step {p} without an entry", Nobody("official.figures.stale"), press((p, ())))
        for p in (
            "cn:d:0",
            "cn:k:subscribers",
            "cn:s:population",
            "cn:ok",
            "cn:fix",
            "cn:save:f1a2b3c4",
            "cn:no:f1a2b3c4",
        )
    ],
    *[
        action(f"target step {p} without a target", Nobody("official.targets.stale"), press((p, ())))
        for p in ("ct:r:60", "ct:dk", "ct:n:subscribers", "ct:save:t1a2b3c4", "ct:no:t1a2b3c4")
    ],
    action("announcement send without a text", Nobody("announce.gone"), press(("ann:send", ()))),
    # The commune picker hands the chosen commune back to the flow, which checks it then.
    picked("start a visit", Scoped(V, A), "visit", "visit.ask_commune", ("visit.ask_hamlet_first",)),
    picked("desk", Scoped(C, A), "co", "coordinator.ask_commune", ("coordinator.desk",)),
    picked("figures", Scoped(C, A), "cn", "official.figures.ask_commune", ("official.figures.ask_date",)),
    picked("target", Scoped(PO, A), "ct:c", "official.targets.ask_commune", ("official.targets.ask_rate",)),
    picked("summary", Scoped(C, A), "tk:f", "official.ask_commune", SUMMARY_COMMUNE),
    picked("script", Scoped(C, A), "lp", "official.script.ask_commune", ("official.script.intro", "common.lines")),
    picked("announce", Scoped(C, A), "ann", "announce.ask_commune", ("announce.choose_scope",)),
    # The dashboard's one-time link: any official (no public address here, and the reply says so).
    *[
        action(f"dashboard link ({how})", Anywhere(C), drive, entry)
        for how, drive, entry in (
            ("button", press(("web", ("dashboard.chat.no_address",))), "button:web"),
            ("/web", send("/web", ("dashboard.chat.no_address",)), "command:web"),
        )
    ],
    # The audit log: admins.
    action("/nhatky", Scoped(AD, VN), send("/nhatky", ("common.lines",)), "command:nhatky"),
    action("/nhatky A", Scoped(AD, VN), send("/nhatky {A}", ("common.lines",)), needs=("helper",)),
]


# --- the world every walk starts in --------------------------------------------------------------


def _visit(commune: str, hamlet: str, household: str) -> dict:
    return {
        "commune_code": commune,
        "hamlet": hamlet,
        "household": household,
        "outcome": "helped",
        "smartphones": 2,
        "installed_now": 1,
        "already_installed": 1,
    }


async def _person(db, external_id: str) -> int:
    return (await find_or_create_person(db, "test", external_id))[0].id


async def _volunteer(db, user_id: int, status: str, now: dt.datetime) -> int:
    row = await volunteers.register(
        db,
        user_id,
        A,
        display_name=f"Người {user_id}",
        phone="+84912000" + str(user_id).zfill(3)[-3:],
        team="",
        now=now,
    )
    if status != "pending":
        await roles.grant(db, user_id, Role.VOLUNTEER, A)
        if status == "inactive":
            await roles.revoke(db, user_id, Role.VOLUNTEER, A)
        row.status = status
    return row.id


async def make_world(service, actor: str, needs: tuple[str, ...]) -> dict:
    """The walker with their role, and what the action names (`needs`), made directly in storage:
    other people's objects (an active volunteer of A with a visit and an unsaved draft, a pending
    or a deactivated registration, another person's venue with a check-in, a citizen of A to
    announce to, an invite) and the walker's own (a visit, a draft, a subscription, an open step,
    as a former or forged holder would have them, so the check at the last step is walked)."""
    grant = ACTORS[actor]
    if grant is not None:
        await grant_role(service, ACTOR, grant[0].value, grant[1])
    now = utcnow()
    ids = {"A": A, "B": B, "P": P, "VN": VN}
    async with service.sessions() as db, db.begin():
        me = ids["actor_id"] = await _person(db, ACTOR)
        _, _, convo = await open_account(db, "test", ACTOR, ACTOR)
        for need in needs:
            if need == "helper":
                helper = await _person(db, HELPER)
                ids["helper_registration"] = await _volunteer(db, helper, "active", now)
                ids["their_visit"] = (
                    await visits.save_visit(db, visits.new_token(), helper, _visit(A, "Thôn 2", "7"), now)
                ).id
                ids["their_draft"] = await visits.create_draft(db, helper, _visit(A, "Thôn 2", "8"), now)
            elif need in ("pending", "inactive"):
                ids[f"{need}_registration"] = await _volunteer(
                    db, await _person(db, PENDING if need == "pending" else INACTIVE), need, now
                )
            elif need == "venue":
                venue = await venues.create_venue(
                    db,
                    name="Chợ Hàng Da",
                    kind="market",
                    commune_code=A,
                    address="Phố Hàng Da",
                    manager_user_id=await _person(db, MANAGER),
                )
                ids["their_venue"], ids["venue_code"] = venue.id, venue.code
                visitor = await _person(db, CITIZEN)
                ids["their_checkin"] = (
                    await venues.record_check_in(db, venue, f"u:{visitor}", "test", now)
                ).check_in.id
            elif need == "audience":
                (await db.get(User, await _person(db, CITIZEN))).commune_code = A
            elif need == "invite":
                ids["invite"] = (await volunteers.create_invite(db, A, None, now)).code
            elif need == "own_visit":
                ids["own_visit"] = (
                    await visits.save_visit(db, visits.new_token(), me, _visit(A, "Thôn 4", "3"), now)
                ).id
            elif need == "own_draft":
                ids["own_draft"] = await visits.create_draft(db, me, _visit(A, "Thôn 4", "4"), now)
            elif need == "own_venue":
                venue = await venues.create_venue(
                    db, name="Nhà văn hoá", kind="other", commune_code=A, address="Số 1", manager_user_id=me
                )
                ids["own_venue"] = venue.id
            elif need == "own_checkin":
                venue = (await venues.find_by_code(db, ids["venue_code"])).venue
                ids["own_checkin"] = (await venues.record_check_in(db, venue, f"u:{me}", "test", now)).check_in.id
            elif need == "own_subscription":
                await reports.subscribe(db, me, A, 7, now)
            elif need == "figures_draft":
                ids["fig_token"] = "f1a2b3c4"
                convo.state = "figures.confirm"
                convo.draft = {
                    "fig": {
                        "commune": A,
                        "token": ids["fig_token"],
                        "date": now.date().isoformat(),
                        "answers": {"installed": 5, "subscribers": 10, "population": None, "households": None},
                        "known": {},
                        "kept": [],
                        "pending": None,
                        "installed_on": None,
                    }
                }
            elif need == "target_draft":
                ids["tg_token"] = "t1a2b3c4"
                convo.state = "target.confirm"
                convo.draft = {
                    "tg": {
                        "unit": A,
                        "token": ids["tg_token"],
                        "rate": "3/5",
                        "deadline": "2030-12-31",
                        "denominator": "subscribers",
                    }
                }
            elif need == "announce_draft":
                convo.state = "announce.text"
                convo.draft = {"announce_unit": A, "announce_text": "Tối nay họp tổ dân phố."}
            else:
                raise AssertionError(f"unknown need {need}")
    return ids


# Bookkeeping every update writes (the processed mark, the outbox, the conversation) and the
# reference data; everything else is what an action stores.
BOOKKEEPING = {"provinces", "communes", "conversations", "processed_updates", "outbox", "inbound_events"}
MOVING_COLUMNS = {("accounts", "last_seen_at")}


async def snapshot(service) -> dict[str, list[str]]:
    tables = {}
    async with service.sessions() as db:
        for table in Base.metadata.sorted_tables:
            if table.name in BOOKKEEPING:
                continue
            columns = [c for c in table.columns if (table.name, c.name) not in MOVING_COLUMNS]
            rows = (await db.execute(select(*columns))).all()
            tables[table.name] = sorted(repr(tuple(r)) for r in rows)
    return tables


def changed(before: dict[str, list[str]], after: dict[str, list[str]]) -> set[str]:
    return {name for name in before if before[name] != after[name]}


# --- the walk ------------------------------------------------------------------------------------


def stores_under_a_role(act: Action) -> bool:
    return not isinstance(act.gate, Public) and any(act.writes.values())


# The whole matrix runs on SQLite; on PostgreSQL, the privileged actions that store something
# (where a refusal must roll nothing in and an allowed write must land), to keep the suite short.
CASES = [
    (backend, act, actor)
    for act in ACTIONS
    for actor in act.actors
    for backend in ("sqlite", "postgresql")
    if backend == "sqlite" or stores_under_a_role(act)
]


@pytest.mark.slow  # about 1,300 cases, minutes in all: `make test` walks them, `make test-fast` does not
@pytest.mark.parametrize(
    ("database", "act", "actor"),
    CASES,
    indirect=["database"],
    ids=[f"{backend}-{act.name}-{actor}" for backend, act, actor in CASES],
)
async def test_walk(service, act: Action, actor: str):
    ids = await make_world(service, actor, act.needs)
    chat = ChatDriver(service, user_id=ACTOR)
    refusal = act.gate.refusal(actor)
    walk = Walk(chat, ids, actor, refused=refusal is not None, gate_step=act.gate_step)
    before = await snapshot(service)
    if refusal is None:
        await act.drive(walk)
        assert changed(before, await snapshot(service)) == act.writes.get(actor, act.writes["*"])
        assert {s for s in act.serves if not s.startswith("text:")} <= walk.touched
    else:
        with pytest.raises(Refused) as refused:
            await act.drive(walk)
        assert refused.value.keys == [refusal], chat.text()
        assert changed(before, await snapshot(service)) == set()


def test_every_entry_is_walked():
    """A command, button prefix, deep link or free-text reader the router serves and no action
    walks is a new way in whose permissions nobody classified: add it to ACTIONS."""
    served = {f"{e.kind}:{e.name}" for e in build_router().entries()}
    walked = {s for a in ACTIONS for s in a.serves}
    assert served - walked == set(), "not classified"
    assert walked - served == set(), "classified but no longer served"


def test_the_walk_names_each_case_once():
    names = [a.name for a in ACTIONS]
    assert len(names) == len(set(names))
