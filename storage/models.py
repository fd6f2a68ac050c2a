"""SQLAlchemy models: administrative units, people and their messenger accounts, conversations,
the update/outbox bookkeeping that makes handling exactly-once, and the campaign's own data."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every backend (SQLite has no time zones; we store naive UTC there)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use utcnow()")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# Stable constraint names, so Alembic migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}  # noqa: RUF012 - SQLAlchemy reads it once


# --- administrative units (GSO codes: province "01", district "213", commune "00070") ----------
#
# A database holds one scheme's units (storage/unit_map.py: "2025" or "pre2025"), each row saying
# which; loading the other scheme over stored data is refused (storage/units.py). So every code
# stored in a row that refers to a unit (a person's commune, a venue, a role, a counter) is of the
# database's scheme. Figures and targets, which may be history recorded on the other map, carry
# their own scheme.


class Province(Base):
    __tablename__ = "provinces"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    scheme: Mapped[str] = mapped_column(String(10), default="2025", server_default="2025")
    name: Mapped[str] = mapped_column(String(100))
    division_type: Mapped[str] = mapped_column(String(40))


class District(Base):
    """A district, urban district, town or provincial city: a level of the pre-2025 map only."""

    __tablename__ = "districts"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    scheme: Mapped[str] = mapped_column(String(10), default="pre2025", server_default="pre2025")
    name: Mapped[str] = mapped_column(String(100))
    division_type: Mapped[str] = mapped_column(String(40))
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"), index=True)


class Commune(Base):
    """A xã, phường or đặc khu (or a township before 2025): the unit the campaign counts in."""

    __tablename__ = "communes"

    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    scheme: Mapped[str] = mapped_column(String(10), default="2025", server_default="2025")
    name: Mapped[str] = mapped_column(String(100))
    division_type: Mapped[str] = mapped_column(String(40))
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"), index=True)
    # Its district on the pre-2025 map; None on today's, which has none.
    district_code: Mapped[str | None] = mapped_column(String(3), index=True)


class UnitSource(Base):
    """Which data a scheme of units was loaded from: "2025" (today's provinces and communes) holds
    the vietnam-provinces version its codes mean. Loading another version re-maps stored codes
    (storage/unit_upgrade.py). A scheme per row, so the pre-2025 units can have theirs too."""

    __tablename__ = "unit_sources"

    scheme: Mapped[str] = mapped_column(String(10), primary_key=True)
    package: Mapped[str] = mapped_column(String(40))
    version: Mapped[str] = mapped_column(String(20))
    data_date: Mapped[str] = mapped_column(String(10))  # the package's data retrieval date
    loaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class UnitListVersion(Base):
    """One row: a random token that database triggers change whenever provinces, districts or
    communes change (migration 0017). A process keeps the unit list keyed by it
    (storage/unit_list.py), so a tally reads the token instead of 3,321 communes' names."""

    __tablename__ = "unit_list_versions"
    token: Mapped[str] = mapped_column(String(32), primary_key=True)


# --- people and their messenger accounts --------------------------------------------------------


class User(Base):
    """A person. Holds what the campaign needs about them and nothing more: their commune."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_code: Mapped[str | None] = mapped_column(ForeignKey("communes.code"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # "/ngung": no announcements (broadcasts) any more; "/batdau" clears it.
    opted_out_at: Mapped[dt.datetime | None] = mapped_column()
    # "/xoadulieu": the person's data was erased; the row stays, anonymous, under their counts.
    erased_at: Mapped[dt.datetime | None] = mapped_column()


class Account(Base):
    """One messenger identity (channel + the messenger's user id) of a person."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)  # to the hour (accounts.SEEN_TO_WITHIN)
    # Set when the messenger says the person blocked the bot: nothing more is sent to them.
    blocked_at: Mapped[dt.datetime | None] = mapped_column()


class Conversation(Base):
    """Where an account is in a flow. In the database so any worker can serve the next message."""

    __tablename__ = "conversations"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(64))
    draft: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # On channels without buttons, the last numbered menu: {"choices": {number: payload}, "more":
    # [pages not shown yet]} (bot/render.py, Menu); a list (payloads of 1, 2, 3...) in older rows.
    menu: Mapped[list[Any] | dict[str, Any]] = mapped_column(JSON(), default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- exactly-once handling ----------------------------------------------------------------------


class ProcessedUpdate(Base):
    """An update already handled; inserted in the same transaction as its effects."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    processed_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class Lease(Base):
    """A job one worker of many does at a time (sending announcements), held by `holder` until
    `expires_at` and renewed well before; a holder that dies lets it run out for another to take."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[dt.datetime] = mapped_column()


class OutboxMessage(Base):
    """A rendered message waiting to be (or already) sent; written with the update's effects,
    so a crash after commit delivers it later instead of losing or repeating it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "sent_at", "next_attempt_at"),
        Index("ix_outbox_chat", "channel", "chat_id", "id"),
        UniqueConstraint("broadcast_id", "account_id", name="uq_outbox_broadcast_account"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    # An announcement's copy for one account: unique, so nobody gets the same one twice.
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(64))
    update_id: Mapped[str | None] = mapped_column(String(64))
    # A notice that names another person (a coordinator asked to approve a volunteer): it goes
    # when that person erases their data (storage.privacy), sent or not.
    about_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The farewell to someone who just erased their data: deleted, not kept, once sent or given up.
    forget_when_settled: Mapped[bool] = mapped_column(default=False, server_default=false())
    body: Mapped[dict[str, Any]] = mapped_column()
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[dt.datetime | None] = mapped_column()
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    failed_at: Mapped[dt.datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(300))


# --- campaign data ------------------------------------------------------------------------------


class SupportPoint(Base):
    """A place where citizens get help installing (telecom shop, post office, commune office)."""

    __tablename__ = "support_points"
    __table_args__ = (UniqueConstraint("commune_code", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_code: Mapped[str] = mapped_column(ForeignKey("communes.code"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    opening_hours: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SelfReportedInstall(Base):
    """A citizen saying "I have installed it": once per person, for their commune."""

    __tablename__ = "self_reported_installs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    commune_code: Mapped[str] = mapped_column(ForeignKey("communes.code"), index=True)
    reported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CommuneMetrics:
    """A commune's counters (storage.counters.METRICS), for a day or for all time."""

    households_visited: Mapped[int] = mapped_column(Integer, default=0)
    revisits: Mapped[int] = mapped_column(Integer, default=0)
    smartphones_seen: Mapped[int] = mapped_column(Integer, default=0)
    installs_helped: Mapped[int] = mapped_column(Integer, default=0)
    already_installed: Mapped[int] = mapped_column(Integer, default=0)
    no_smartphone: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)
    nobody_home: Mapped[int] = mapped_column(Integer, default=0)
    checkins: Mapped[int] = mapped_column(Integer, default=0)
    checkins_already_installed: Mapped[int] = mapped_column(Integer, default=0)
    self_reported_installs: Mapped[int] = mapped_column(Integer, default=0)


class CommuneDailyCount(CommuneMetrics, Base):
    """Campaign activity per commune and local day, kept in step with the raw rows.

    Updated (storage.counters.bump) in the same transaction as each visit, check-in, correction,
    deletion and self-reported install, so tallies read these few rows instead of scanning raw
    visits and check-ins. Phone counts (smartphones_seen, installs_helped, already_installed)
    are phones; the outcome counts (no_smartphone, refused, nobody_home) are households. What
    exactly a visit (a first or a return visit, a correction, a deletion) adds: storage.visits.
    """

    __tablename__ = "commune_daily_counts"

    commune_code: Mapped[str] = mapped_column(ForeignKey("communes.code"), primary_key=True)
    # Indexed on its own for the tally's "days after as_of" (usually none).
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True, index=True)


class CommuneCount(CommuneMetrics, Base):
    """Running totals per commune: commune_daily_counts summed over every day.

    Bumped (storage.counters.bump) together with the commune's day row, so a tally as of a date
    reads one row per commune and subtracts only the days after that date, instead of summing
    every day; `tally rebuild` recomputes it with the day counters.
    """

    __tablename__ = "commune_counts"

    commune_code: Mapped[str] = mapped_column(ForeignKey("communes.code"), primary_key=True)


# --- venues and check-ins -----------------------------------------------------------------------


class Venue(Base):
    """A check-in point: an office, market, school, bus station… with its poster.

    `code` is the current manual code (printed on the poster, signed into its QR). Revoking the
    poster moves it to revoked_venue_codes and issues a new one. `manager_user_id` is the person
    who registered it in the bot (None for venues added from the command line).
    """

    __tablename__ = "venues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    commune_code: Mapped[str] = mapped_column(ForeignKey("communes.code"), index=True)
    address: Mapped[str] = mapped_column(String(300))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    manager_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RevokedVenueCode(Base):
    """A venue's former code: its old posters are refused with "ask the staff", not "unknown"."""

    __tablename__ = "revoked_venue_codes"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id", ondelete="CASCADE"), index=True)
    revoked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CheckIn(Base):
    """One visitor checking in at a venue. `visitor` is "u:<user id>" for a messenger user or
    "w:<random cookie id>" for the web page: enough to count a person once per 30 minutes and to
    number visitors anonymously in a venue's export; no name, phone number or IP address."""

    __tablename__ = "check_ins"
    __table_args__ = (Index("ix_check_ins_visit", "venue_id", "visitor", "checked_in_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id", ondelete="CASCADE"))
    visitor: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    checked_in_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The visitor's answer to "do you already have the app?"; None until they answer.
    already_installed: Mapped[bool | None] = mapped_column()


class VenueDailyCount(Base):
    """Check-ins per venue and local day, kept in step with check_ins (today / 7 days / total)."""

    __tablename__ = "venue_daily_counts"

    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    checkins: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    already_installed: Mapped[int] = mapped_column(Integer, default=0)


# --- roles, volunteers and visits ---------------------------------------------------------------


class RoleGrant(Base):
    """A role held over an administrative unit: admin over "VN", a province officer over a
    province, a coordinator or volunteer over a commune. Revoking keeps the row (revoked_at), so
    a refusal can say "your volunteer role was ended" and a re-grant reuses it."""

    __tablename__ = "role_grants"
    __table_args__ = (
        UniqueConstraint("user_id", "role", "unit_code"),
        Index("ix_role_grants_role_unit", "role", "unit_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    unit_code: Mapped[str] = mapped_column(String(5))
    granted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Volunteer(Base):
    """A person's registration as a Youth Union volunteer of one commune.

    The volunteer's own phone is kept only so their coordinator can reach them. `status` is
    pending (waiting for a coordinator), active, refused or inactive (deactivated; past visits stay).
    """

    __tablename__ = "volunteers"
    __table_args__ = (UniqueConstraint("user_id", "commune_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    commune_code: Mapped[str] = mapped_column(ForeignKey("communes.code"), index=True)
    display_name: Mapped[str] = mapped_column(String(80))
    phone: Mapped[str] = mapped_column(String(20))
    team: Mapped[str] = mapped_column(String(80), default="")
    status: Mapped[str] = mapped_column(String(10))
    invite_id: Mapped[int | None] = mapped_column(ForeignKey("volunteer_invites.id", ondelete="SET NULL"))
    registered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class VolunteerInvite(Base):
    """An invite link and code for one commune: expiring, revocable; opening it registers a
    volunteer who is active at once."""

    __tablename__ = "volunteer_invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    commune_code: Mapped[str] = mapped_column(ForeignKey("communes.code"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
    uses: Mapped[int] = mapped_column(Integer, default=0)


class Visit(Base):
    """A household visited by a volunteer. No citizen's name or phone: a hamlet, a house number or
    short description, what happened, phone counts, and a location rounded to about 100 m.

    `token` is the draft's token: a unique key, so two taps on [Save] store one visit. A return
    visit points at the visit it returns to (`revisit_of`) and keeps that visit's figures as its
    baseline, so its counter contribution depends on its own row only (storage.visits.contribution).
    """

    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_household", "commune_code", "hamlet_key", "household_key", "visited_at"),
        Index("ix_visits_volunteer", "volunteer_id", "visited_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(16), unique=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    commune_code: Mapped[str] = mapped_column(ForeignKey("communes.code"))
    hamlet: Mapped[str] = mapped_column(String(80))
    hamlet_key: Mapped[str] = mapped_column(String(80))
    household: Mapped[str] = mapped_column(String(120), default="")
    household_key: Mapped[str] = mapped_column(String(120), default="")
    outcome: Mapped[str] = mapped_column(String(16))
    smartphones: Mapped[int] = mapped_column(Integer, default=0)
    installed_now: Mapped[int] = mapped_column(Integer, default=0)
    already_installed: Mapped[int] = mapped_column(Integer, default=0)
    revisit_of: Mapped[int | None] = mapped_column(ForeignKey("visits.id"), index=True)
    base_outcome: Mapped[str | None] = mapped_column(String(16))
    base_smartphones: Mapped[int] = mapped_column(Integer, default=0)
    base_covered: Mapped[int] = mapped_column(Integer, default=0)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    visited_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    day: Mapped[dt.date] = mapped_column(Date)
    updated_at: Mapped[dt.datetime | None] = mapped_column()
    deleted_at: Mapped[dt.datetime | None] = mapped_column()


class VisitRevision(Base):
    """A correction or deletion of a visit: the figures before and after, who and when."""

    __tablename__ = "visit_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    # The correction's draft token: a second tap on [Save] finds the correction already made.
    token: Mapped[str | None] = mapped_column(String(16), unique=True)
    action: Mapped[str] = mapped_column(String(10))  # "corrected" | "deleted"
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    before: Mapped[dict[str, Any]] = mapped_column()
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class VisitDraft(Base):
    """A visit shown as a summary and not saved yet. In the database, not in the conversation, so
    several summaries (lines typed offline, sent together) each keep a working [Save] button."""

    __tablename__ = "visit_drafts"

    token: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"))
    data: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- official figures, targets and reports ---


class OfficialFigure(Base):
    """Figures an official entered for a unit (a commune, a district or a province of `scheme`) as
    of a date: the operator's installed count and the denominators. Blank fields keep the last
    known value; every entry is kept (history). A unit of the other scheme than the database's is
    history, shown as recorded (storage/unit_map.py carries it onto today's map)."""

    __tablename__ = "official_figures"
    __table_args__ = (Index("ix_official_figures_unit_date", "scheme", "unit_code", "as_of"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scheme: Mapped[str] = mapped_column(String(10), default="2025", server_default="2025")
    unit_code: Mapped[str] = mapped_column(String(5))
    as_of: Mapped[dt.date] = mapped_column(Date)
    installed: Mapped[int | None] = mapped_column(Integer)
    subscribers: Mapped[int | None] = mapped_column(Integer)
    population: Mapped[int | None] = mapped_column(Integer)
    households: Mapped[int | None] = mapped_column(Integer)
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(200))  # "chat", or "import:<file name>"
    entered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Target(Base):
    """An install rate to reach by a deadline, for the country, a province (its communes inherit
    it) or a commune; the latest one set for a unit is in force, earlier ones are history."""

    __tablename__ = "targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scheme: Mapped[str] = mapped_column(String(10), default="2025", server_default="2025")
    unit_code: Mapped[str] = mapped_column(String(5), index=True)
    # Parts per million (600000 = 60%): exact on every backend, unlike floats.
    rate_ppm: Mapped[int] = mapped_column(Integer)
    deadline: Mapped[dt.date] = mapped_column(Date)
    denominator: Mapped[str] = mapped_column(String(20))  # subscribers | population | households
    set_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ReportSubscription(Base):
    """An official's daily summary of a unit, delivered at a local hour, once per day."""

    __tablename__ = "report_subscriptions"
    __table_args__ = (UniqueConstraint("user_id", "unit_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    unit_code: Mapped[str] = mapped_column(String(5))
    hour: Mapped[int] = mapped_column(Integer)  # 0-23, Asia/Ho_Chi_Minh
    last_sent_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- production: announcements, the audit log, data purges ---


class Broadcast(Base):
    """An announcement an official sent to the citizens of a unit who talk to the bot."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(5), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    recipients: Mapped[int] = mapped_column(Integer, default=0)


class AuditEntry(Base):
    """An official's action (targets, figures, grants, announcements, corrections): who, what, when."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_unit_at", "unit_code", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(40))  # "chat", "cli", "import:<file>"
    action: Mapped[str] = mapped_column(String(40))
    unit_code: Mapped[str | None] = mapped_column(String(5))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class DataPurge(Base):
    """Raw rows deleted for retention (check-ins older than the retention period): what and up
    to when, so `tally rebuild` keeps the counters of those days instead of "repairing" them."""

    __tablename__ = "data_purges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    before: Mapped[dt.date] = mapped_column(Date)
    rows: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FaqMiss(Base):
    """A typed question nothing answered, for the content team: its folded text without digits,
    the local day, and a tag telling that day's askers apart (storage/faq_misses.py). No person."""

    __tablename__ = "faq_misses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(String(200), index=True)
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    asker: Mapped[str] = mapped_column(String(8))


class FaqMissSalt(Base):
    """The day's random salt for FaqMiss.asker; deleted once the day is over, so no tag can ever be
    computed again from a person's id."""

    __tablename__ = "faq_miss_salts"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))


# --- Zalo: tokens, links and media -------------------------------------------------------------


class ZaloOaToken(Base):
    """The Official Account's current token pair, one row per Zalo app.

    Each refresh spends the refresh token and returns a new pair, so both are replaced together
    under a row lock (SELECT ... FOR UPDATE; SQLite's write lock) by exactly one worker at a time.
    `seeded_from` is a hash of the ZALO_OA_REFRESH_TOKEN the row was started from: a new one in
    the environment (after an admin re-authorised the app) replaces the stored pair.
    """

    __tablename__ = "zalo_oa_tokens"

    app_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    access_token: Mapped[str] = mapped_column(String(2000))
    refresh_token: Mapped[str] = mapped_column(String(2000))
    expires_at: Mapped[dt.datetime] = mapped_column()
    seeded_from: Mapped[str] = mapped_column(String(64))
    refreshed_at: Mapped[dt.datetime | None] = mapped_column()


class LinkCode(Base):
    """A one-time code a person shows on one messenger and types into another, to be one person."""

    __tablename__ = "link_codes"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    used_at: Mapped[dt.datetime | None] = mapped_column()


class LinkAttempt(Base):
    """Wrong link codes typed by an account in the current hour (guessing is cut off)."""

    __tablename__ = "link_attempts"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class MediaFile(Base):
    """A file a messenger fetches by URL (Zalo Bot Platform photos, OA links), served under a
    signed, expiring URL and deleted after it expires. Keyed by a hash of its recipient and its
    bytes; the recipient's chat is kept so that erasing that person deletes their files too."""

    __tablename__ = "media_files"
    __table_args__ = (Index("ix_media_files_chat", "channel", "chat_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str | None] = mapped_column(String(20))
    chat_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    mime_type: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class InboundEvent(Base):
    """A webhook event answered 200 but not handled yet: the durable queue that lets the Zalo
    webhooks answer within Zalo's 2 seconds whatever the load. Handled in order per person;
    (channel, update_id) is unique, so a retried event is recognised before it is queued twice."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("channel", "update_id"),
        Index("ix_inbound_events_pending", "done_at", "next_attempt_at"),
        Index("ix_inbound_events_person", "channel", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    update_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    incoming: Mapped[dict[str, Any]] = mapped_column()
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[dt.datetime | None] = mapped_column()
    done_at: Mapped[dt.datetime | None] = mapped_column()


# --- the officials' dashboard in a browser ------------------------------------------------------


class DashboardLogin(Base):
    """A one-time link into the dashboard, sent in chat: only its hash is kept (a database read
    gives nobody a way in); used once, by the POST of its page, within minutes."""

    __tablename__ = "dashboard_logins"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column()


class DashboardSession(Base):
    """A browser signed in to the dashboard, by the hash of its cookie; ended by logout, by idling,
    or at once when the person's roles end or their data is erased."""

    __tablename__ = "dashboard_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column()


class DashboardFeed(Base):
    """A person's standing CSV link for one unit (Excel's or Power BI's "From Web"), by its hash;
    answered only while they may still see the unit, and revocable."""

    __tablename__ = "dashboard_feeds"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    unit_code: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column()


__all__ = [
    "Account",
    "AuditEntry",
    "Base",
    "Broadcast",
    "CheckIn",
    "Commune",
    "CommuneDailyCount",
    "Conversation",
    "DashboardFeed",
    "DashboardLogin",
    "DashboardSession",
    "DataPurge",
    "District",
    "InboundEvent",
    "Lease",
    "LinkAttempt",
    "LinkCode",
    "MediaFile",
    "OfficialFigure",
    "OutboxMessage",
    "ProcessedUpdate",
    "Province",
    "ReportSubscription",
    "RevokedVenueCode",
    "RoleGrant",
    "SelfReportedInstall",
    "SupportPoint",
    "Target",
    "User",
    "Venue",
    "VenueDailyCount",
    "Visit",
    "VisitDraft",
    "VisitRevision",
    "Volunteer",
    "VolunteerInvite",
    "ZaloOaToken",
    "utcnow",
]
