"""Every button payload the bot sends, as typed values (handlers/payload.py), grouped by flow.

One module for all of them, because flows open each other (the desk's "log a visit", a summary's
"update figures") and because this is a contract: buttons already in people's chats carry these
exact strings ("guide:android:3", "vs:save:<token>:r"), so a change here is a change of the wire.
A flow's table (`Flow.buttons`) maps these types to its handlers.
"""

from __future__ import annotations

from typing import Annotated, Literal

from handlers.payload import Between, Payload
from texts.user_input import BIGINT_MAX, INT_MAX

RecordId = Annotated[int, Between(1, INT_MAX)]  # a database id (INTEGER on PostgreSQL)
Index = Annotated[int, Between(0, INT_MAX)]

# --- the menu, the guide, citizens' flows ---


class Home(Payload, prefix="menu"):
    """The home button on nearly every message."""


class Guide(Payload, prefix="guide"):
    """guide: the platforms; guide:<platform>: its first step; guide:<platform>:<step>."""

    platform: str | None = None
    step: Index | None = None


class Installed(Payload, prefix="install"):
    """ "I have installed it"."""


class Faq(Payload, prefix="faq"):
    """The first page of questions."""


class FaqPage(Payload, prefix="faq", action="p"):
    page: Index


class FaqAnswer(Payload, prefix="faq", action="q"):
    question: str  # the question's id in content/vi/faq.toml


class Support(Payload, prefix="support"):
    """Support points of the person's commune."""


class SupportElsewhere(Payload, prefix="support", action="change"):
    """Support points of another commune (asks which)."""


class PickCommune(Payload, prefix="commune"):
    """A commune chosen in the commune picker."""

    code: str | None = None


class NewLinkCode(Payload, prefix="link", action="new"):
    pass


class Erase(Payload, prefix="privacy", action="erase"):
    pass


class KeepData(Payload, prefix="privacy", action="keep"):
    pass


class CheckInAnswer(Payload, prefix="ci"):
    """After a check-in: y already installed, n not yet (show the guide)."""

    answer: Literal["y", "n"]
    check_in: Annotated[int, Between(1, BIGINT_MAX)]


# --- venues ---


class RegisterVenue(Payload, prefix="venue"):
    pass


class VenueKind(Payload, prefix="venue", action="kind"):
    kind: str


class SkipVenueLocation(Payload, prefix="venue", action="skip"):
    pass


class ConfirmVenue(Payload, prefix="venue", action="ok"):
    pass


class RedoVenue(Payload, prefix="venue", action="redo"):
    pass


class MyVenues(Payload, prefix="venues"):
    pass


class VenueDetails(Payload, prefix="venues", action="v"):
    venue: RecordId


class VenuePoster(Payload, prefix="venues", action="p"):
    venue: RecordId


class VenueExport(Payload, prefix="venues", action="x"):
    venue: RecordId


class VenueRevokeAsk(Payload, prefix="venues", action="r"):
    venue: RecordId


class VenueRevoke(Payload, prefix="venues", action="R"):
    venue: RecordId


# --- visits ---


class LogVisit(Payload, prefix="visit"):
    """Log a visit: in the volunteer's commune, or asks which."""


class LogVisitIn(Payload, prefix="visit", action="c"):
    commune: str


class HamletChoice(Payload, prefix="vh"):
    index: Index  # in the recent hamlets offered (kept in the draft)


class SkipHousehold(Payload, prefix="vx"):
    pass


class OutcomeChoice(Payload, prefix="vo"):
    outcome: str


class CountChoice(Payload, prefix="vn"):
    field: str
    count: Annotated[int, Between(0, 999)]


class SaveVisit(Payload, prefix="vs", action="save"):
    """Save a summary's visit; r: as a return visit to the household recorded, n: another household
    (its house reference is asked again)."""

    token: str
    choice: Literal["r", "n"] | None = None


class EditVisit(Payload, prefix="vs", action="edit"):
    token: str


class CancelVisit(Payload, prefix="vs", action="cancel"):
    token: str


class LocateVisit(Payload, prefix="vs", action="loc"):
    token: str


class EditPart(Payload, prefix="ve"):
    token: str
    part: Literal["hamlet", "household", "result", "back"]


class ShorthandHelp(Payload, prefix="vhelp"):
    pass


class RecentVisits(Payload, prefix="vl"):
    """My recent visits, a page of them (the first when absent)."""

    page: Index | None = None


class ViewVisit(Payload, prefix="vv"):
    visit: RecordId


class CorrectVisit(Payload, prefix="vc"):
    visit: RecordId


class DeleteVisit(Payload, prefix="vd"):
    visit: RecordId
    sure: Literal["y"] | None = None


# --- volunteers and coordinators ---


class Register(Payload, prefix="reg", action="start"):
    pass


class RegisterWithoutCode(Payload, prefix="reg", action="nocode"):
    pass


class SkipTeam(Payload, prefix="reg", action="skip"):
    pass


class MyTotals(Payload, prefix="vme"):
    pass


class Desk(Payload, prefix="co"):
    """The coordinator's desk: in their commune, or asks which."""


class DeskOf(Payload, prefix="co", action="c"):
    commune: str


class DeskVolunteers(Payload, prefix="co", action="v"):
    commune: str
    page: Index


class DeskPending(Payload, prefix="co", action="p"):
    commune: str


class DeskInvite(Payload, prefix="co", action="i"):
    """The invite: shown; new: renewed; x: revoked."""

    commune: str
    change: Literal["new", "x"] | None = None


class DeskHamlets(Payload, prefix="co", action="h"):
    commune: str


class Deactivate(Payload, prefix="co", action="off"):
    volunteer: RecordId
    sure: Literal["y"] | None = None


class Reactivate(Payload, prefix="co", action="on"):
    volunteer: RecordId


class HamletList(Payload, prefix="co", action="hl"):
    """The commune's hamlets to rename or merge, a page of them."""

    commune: str
    page: Index


class HamletPick(Payload, prefix="co", action="hp"):
    """A hamlet to rename or merge (`hamlet`: storage.visits.hamlet_ref of its key)."""

    commune: str
    hamlet: str


class HamletRename(Payload, prefix="co", action="hr"):
    """Confirm the rename (or merge) typed for that hamlet."""

    commune: str
    hamlet: str


class Verdict(Payload, prefix="vr"):
    """A coordinator approves (ok) or refuses (no) a registration."""

    verdict: Literal["ok", "no"]
    volunteer: RecordId


# --- officials ---


class Progress(Payload, prefix="tk"):
    pass


class ProgressOf(Payload, prefix="tk", action="u"):
    unit: str


class ProgressExcel(Payload, prefix="tk", action="x"):
    unit: str


class ProgressOtherCommune(Payload, prefix="tk", action="f"):
    pass


class ProgressProvinces(Payload, prefix="tk", action="p"):
    pass


class Reports(Payload, prefix="bc"):
    pass


class ReportHour(Payload, prefix="bc", action="s"):
    """Choose the hour of a unit's daily report."""

    unit: str


class Subscribe(Payload, prefix="bc", action="h"):
    unit: str
    hour: Annotated[int, Between(0, 23)]


class Unsubscribe(Payload, prefix="bc", action="x"):
    unit: str


class Script(Payload, prefix="lp"):
    pass


class ScriptOf(Payload, prefix="lp", action="c"):
    commune: str


class Figures(Payload, prefix="cn"):
    pass


class FiguresOf(Payload, prefix="cn", action="c"):
    commune: str


class FiguresDay(Payload, prefix="cn", action="d"):
    days_ago: Annotated[int, Between(0, 1)]  # today, yesterday


class KeepFigure(Payload, prefix="cn", action="k"):
    field: str


class SkipFigure(Payload, prefix="cn", action="s"):
    field: str


class FigureIsRight(Payload, prefix="cn", action="ok"):
    """A doubted value is right after all."""


class FixInstalled(Payload, prefix="cn", action="fix"):
    """Re-type the installed count (a doubted value was wrong)."""


class SaveFigures(Payload, prefix="cn", action="save"):
    token: str


class CancelFigures(Payload, prefix="cn", action="no"):
    token: str


class Targets(Payload, prefix="ct"):
    pass


class TargetFor(Payload, prefix="ct", action="u"):
    unit: str


class TargetProvinces(Payload, prefix="ct", action="p"):
    pass


class TargetCommune(Payload, prefix="ct", action="c"):
    pass


class TargetRate(Payload, prefix="ct", action="r"):
    percent: Annotated[int, Between(0, 100)]


class KeepDeadline(Payload, prefix="ct", action="dk"):
    pass


class TargetDenominator(Payload, prefix="ct", action="n"):
    denominator: str


class SaveTarget(Payload, prefix="ct", action="save"):
    token: str


class CancelTarget(Payload, prefix="ct", action="no"):
    token: str


class Announce(Payload, prefix="ann"):
    pass


class AnnounceIn(Payload, prefix="ann", action="c"):
    """A coordinator's choice among their communes."""

    commune: str


class AnnounceTo(Payload, prefix="ann", action="u"):
    unit: str


class SendAnnouncement(Payload, prefix="ann", action="send"):
    pass


# --- the dashboard in a browser ---


class WebLogin(Payload, prefix="web"):
    """A one-time link into the dashboard."""
