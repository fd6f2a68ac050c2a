"""Leases: a job one worker of many does at a time, taken when free or run out, renewed by its
holder (one statement each, on the single-statement engine: see storage.db.single_statements)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.models import Lease, UTCDateTime, utcnow


def _take_statement(dialect: str):
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Lease).values(
        name=bindparam("l_name"), holder=bindparam("l_holder"), expires_at=bindparam("l_until", type_=UTCDateTime())
    )
    return insert.on_conflict_do_update(
        index_elements=[Lease.name],
        set_={"holder": insert.excluded.holder, "expires_at": insert.excluded.expires_at},
        # Renewed by its holder, or taken over once it ran out; else left alone, and no row back.
        where=(Lease.holder == insert.excluded.holder) | (Lease.expires_at < bindparam("l_now", type_=UTCDateTime())),
    ).returning(Lease.holder)


_TAKE = {dialect: _take_statement(dialect) for dialect in ("postgresql", "sqlite")}


async def take(conn: AsyncConnection, name: str, holder: str, duration: dt.timedelta) -> bool:
    """Take or renew the lease `name` for `holder` for `duration`; whether it holds it now.
    Times are this worker's clock, as for the outbox's leases: machines keep theirs in sync (NTP)."""
    now = utcnow()
    params = {"l_name": name, "l_holder": holder, "l_until": now + duration, "l_now": now}
    return await conn.scalar(_TAKE[conn.dialect.name], params) == holder


async def give_up(conn: AsyncConnection, name: str, holder: str) -> None:
    """Let go (a worker stopping): another takes it at its next try, not after it runs out."""
    await conn.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))
