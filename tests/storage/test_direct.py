"""storage.direct: the hot statements sent to asyncpg directly, with what SQLAlchemy would have sent
and handed back; through the session wherever SQLAlchemy has something to do first."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import bindparam, event, insert, select, text

from storage import direct, updates, venues
from storage.accounts import open_account
from storage.counters import bump, defer_until_commit
from storage.db import create_engine, is_infrastructure_error, single_statements
from storage.models import CheckIn, CommuneCount, OutboxMessage, Venue, utcnow
from tests.harness import statements_run, statements_seen

NOW = dt.datetime(2026, 12, 6, 13, 17, tzinfo=dt.UTC)


async def _venue(sessions) -> Venue:
    async with sessions() as db, db.begin():
        return await venues.create_venue(
            db, name="UBND xã", kind="government_office", commune_code="00070", address="1 Đường A"
        )


async def _hot_statements(sessions):
    """Each hot statement with parameters as its caller passes them."""
    venue = await _venue(sessions)
    async with sessions() as db, db.begin():
        account, _, _ = await open_account(db, "telegram", "42", "42")
        check_in = CheckIn(venue_id=venue.id, visitor="telegram:42", channel="telegram", checked_in_at=NOW)
        db.add(check_in)
        await db.flush()
        ids = (
            await db.execute(insert(OutboxMessage).returning(OutboxMessage.id), [_outbox_row(account.id)] * 2)
        ).scalars()
        ids = list(ids)
    reply = {"text": "Chào bạn", "key": "checkin.ok", "buttons": [[{"label": "Có", "payload": "ci:y:1"}]]}
    chain = updates._reply_chain(2)
    replies = {
        "q_channel": "telegram",
        "q_chat": "42",
        "q_account": account.id,
        "q_update": "7",
        "q_now": NOW,
        "q_forget": False,
        "q_until": NOW + dt.timedelta(seconds=60),
        "q_body": reply,
        "q_attachment": None,
        "q_body_1": reply | {"key": "menu"},
        "q_attachment_1": b"%PDF-1.4",
    }
    return venue, [
        (chain, replies),
        (venues._ANSWER, {"a_check_in": check_in.id, "a_visitor": "telegram:42", "a_installed": True}),
        (venues._VENUE_AND_FIRST_CHECK_IN, {"f_code": venue.code, "f_visitor": "v", "f_channel": "zalo", "f_now": NOW}),
        (updates._MARK_SENT, {"m_id": ids[0], "m_now": NOW, "m_body": {"key": "k"}}),
        (updates._MARK_ALL_SENT["postgresql"], {"m_ids": ids, "m_now": NOW}),
    ]


def _outbox_row(account_id: int) -> dict:
    return dict(
        account_id=account_id, channel="telegram", chat_id="42", body={"text": "x"}, created_at=NOW, next_attempt_at=NOW
    )


async def test_the_hot_statements_go_with_the_sql_and_arguments_sqlalchemy_sends(sessions, db_engine):
    if db_engine.dialect.name != "postgresql":
        pytest.skip("statements go to the driver directly on PostgreSQL only")
    _, statements = await _hot_statements(sessions)
    for statement, params in statements:
        sent = []

        def record(_conn, _cursor, sql, parameters, *_args, sent=sent) -> None:
            sent.append((sql, list(parameters)))

        event.listen(db_engine.sync_engine, "before_cursor_execute", record)
        try:
            async with sessions() as db, db.begin():
                await db.execute(statement, params)
                await db.rollback()
        finally:
            event.remove(db_engine.sync_engine, "before_cursor_execute", record)
        plan = direct.compiled(statement, db_engine.dialect)
        assert [(plan.sql, direct.arguments(plan, params))] == sent


async def test_in_a_transaction_they_bypass_sqlalchemy_and_read_back_what_it_would(sessions, db_engine):
    venue, _ = await _hot_statements(sessions)
    read = select(Venue.id, Venue.name, Venue.latitude, Venue.created_at).where(Venue.code == bindparam("code"))
    async with sessions() as db, db.begin():
        await open_account(db, "telegram", "43", "43")  # the transaction's first statement: its BEGIN
        expected = (await db.execute(read, {"code": venue.code})).all()
        with statements_seen(db_engine) as seen:
            got = await direct.rows(db, read, {"code": venue.code})
    assert [tuple(row) for row in got] == [tuple(row) for row in expected]
    assert got[0][3] == venue.created_at and got[0][3].tzinfo is not None  # UTCDateTime's processor applied
    assert seen == ([] if db_engine.dialect.name == "postgresql" else [seen[0]])


async def test_a_transactions_first_statement_goes_through_sqlalchemy_and_is_rolled_back_with_it(sessions):
    """Sent to the driver before SQLAlchemy's BEGIN, it would have been committed on its own."""
    venue = await _venue(sessions)
    check_in = (
        insert(CheckIn)
        .values(venue_id=bindparam("v"), visitor="v", channel="zalo", checked_in_at=bindparam("at"))
        .returning(CheckIn.id)
    )
    async with sessions() as db, db.begin():
        assert await direct.rows(db, check_in, {"v": venue.id, "at": NOW}, inserts_only=True)
        await db.rollback()
    async with sessions() as db:
        assert await db.scalar(select(CheckIn.id)) is None


async def test_what_the_session_holds_is_flushed_first(sessions):
    venue = await _venue(sessions)
    async with sessions() as db, db.begin():
        await open_account(db, "telegram", "44", "44")
        db.add(CheckIn(venue_id=venue.id, visitor="pending", channel="telegram", checked_in_at=NOW))
        rows = await direct.rows(db, select(CheckIn.visitor).where(CheckIn.venue_id == bindparam("v")), {"v": venue.id})
    assert [row[0] for row in rows] == ["pending"]


async def test_counters_kept_for_commit_are_added_before_a_statement_that_reads(sessions):
    day = dt.date(2026, 12, 6)
    read = select(CommuneCount.checkins).where(CommuneCount.commune_code == bindparam("c"))
    async with sessions() as db, db.begin():
        defer_until_commit(db)
        await open_account(db, "telegram", "45", "45")
        await bump(db, "00070", day, checkins=2)
        assert [row[0] for row in await direct.rows(db, read, {"c": "00070"})] == [2]


async def test_a_statement_counted_by_a_listener_goes_through_sqlalchemy(sessions):
    venue = await _venue(sessions)
    read = select(Venue.name).where(Venue.id == bindparam("v"))
    async with statements_run(sessions) as statements, sessions() as db, db.begin():
        await open_account(db, "telegram", "46", "46")
        before = len(statements)
        assert [row[0] for row in await direct.rows(db, read, {"v": venue.id})] == ["UBND xã"]
    assert len(statements) == before + 1


async def test_a_statement_rendered_per_execution_is_refused(db_engine):
    expanding = select(Venue.id).where(Venue.id.in_(bindparam("ids", expanding=True)))
    with pytest.raises(ValueError, match="expanding"):
        direct.compiled(expanding, db_engine.dialect)


async def test_entity_is_the_sessions_own_object_or_a_persistent_one_built_from_the_row(sessions):
    venue = await _venue(sessions)
    columns = select(*Venue.__table__.columns).where(Venue.id == bindparam("v"))
    async with sessions() as db, db.begin():
        await open_account(db, "telegram", "47", "47")
        row = (await direct.rows(db, columns, {"v": venue.id}))[0]
        built = direct.entity(db, Venue, row)
        assert (built.code, built.name, built.created_at) == (venue.code, venue.name, venue.created_at)
        assert built in db and await db.get(Venue, venue.id) is built
        assert direct.entity(db, Venue, row) is built
        built.name = "Chợ"  # a persistent object: its change is written as any other
    async with sessions() as db:
        assert (await db.get(Venue, venue.id)).name == "Chợ"


async def test_marks_on_a_connection_outside_a_transaction(sessions, db_engine):
    _, statements = await _hot_statements(sessions)
    (_, marks), (_, all_marks) = statements[-2:]
    async with single_statements(db_engine).begin() as conn:
        await updates.mark_sent_together(conn, all_marks["m_ids"])
    async with sessions() as db:
        rows = (await db.execute(select(OutboxMessage.sent_at, OutboxMessage.body))).all()
    assert len(rows) == 2 and all(sent is not None and body == {"key": None} for sent, body in rows)
    assert utcnow() - rows[0][0] < dt.timedelta(minutes=1)


async def test_marks_in_a_transaction_are_rolled_back_with_it(sessions, db_engine):
    _, statements = await _hot_statements(sessions)
    ids = statements[-1][1]["m_ids"]
    async with db_engine.connect() as conn:
        async with conn.begin() as transaction:
            await updates.mark_sent_together(conn, ids)  # the transaction's first statement
            await transaction.rollback()
    async with sessions() as db:
        assert await db.scalar(select(OutboxMessage.id).where(OutboxMessage.sent_at.is_not(None))) is None


async def test_a_connection_lost_under_the_marks_leaves_the_pool(database):
    """The server restarted under a pool of one: the marks fail once (an infrastructure error: the
    courier keeps them in memory), and the next ones go on a new connection."""
    if "postgresql" not in database["url"]:
        pytest.skip("SQLite has no connection to lose")
    engine = create_engine(database["url"], schema=database["schema"], pool_size=1, max_overflow=0)
    single = single_statements(engine)
    try:
        async with single.connect() as conn:
            backend = await conn.scalar(text("SELECT pg_backend_pid()"))
        async with create_engine(database["url"]).connect() as admin:
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            await admin.commit()
        await asyncio.sleep(0.2)  # the connection hears it is closed
        outcomes = []
        for _ in range(3):
            try:
                async with single.begin() as conn:
                    await updates.mark_sent_together(conn, [1, 2])
                outcomes.append("ok")
            except Exception as exc:
                outcomes.append(f"infrastructure={is_infrastructure_error(exc)}")
        assert outcomes == ["infrastructure=True", "ok", "ok"]
    finally:
        await engine.dispose()


async def test_a_parameter_missing_is_an_error_not_a_null(db_engine):
    plan = direct.compiled(select(Venue.id).where(Venue.code == bindparam("code")), db_engine.dialect)
    with pytest.raises(ValueError, match="code"):
        direct.arguments(plan, {"cod": "QC86ECE"})
    without_values = direct.compiled(Venue.__table__.update().where(Venue.id == bindparam("v")), db_engine.dialect)
    with pytest.raises(ValueError, match="required"):
        direct.arguments(without_values, {"v": 1, "name": "Chợ"})  # every other column would be NULL
