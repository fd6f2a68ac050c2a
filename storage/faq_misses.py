"""Typed questions nothing answered, counted for the content team without personal data.

What is kept (docs/privacy.md): the text folded to lowercase ASCII with every run of digits
removed (a phone number, a house number, a code), cut to 200 characters; the local day; and a
4-hex-digit tag of the asker, a hash of their id with a random salt of that day. The tag only
tells apart the people who typed the same words on the same day (so one person repeating a
question counts once); 65,536 values shared by every user make it no identifier, and the day's
salt is deleted when the day is over, so no tag can be recomputed from anyone's id afterwards.
Rows are kept `KEPT_DAYS` days.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_insert, rows_changed
from storage.folding import fold
from storage.models import FaqMiss, FaqMissSalt
from texts.formats import local_date

KEPT_DAYS = 90
MAX_LENGTH = 200
# `faq misses` lists a phrasing once this many people typed it: the content team sees what many
# ask, and a phrasing one person wrote (which may hold their name) never reaches it.
MIN_PEOPLE = 3

_DIGITS = re.compile(r"\d+")


def scrub(text: str) -> str:
    """The text as stored: folded, digit runs removed, single spaces, at most MAX_LENGTH characters."""
    return " ".join(_DIGITS.sub(" ", fold(text)).split())[:MAX_LENGTH].strip()


async def _salt(session: AsyncSession, day: dt.date) -> bytes:
    stmt = dialect_insert(session, FaqMissSalt).values(day=day, salt=secrets.token_bytes(32))
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["day"]))
    salt = await session.scalar(select(FaqMissSalt.salt).where(FaqMissSalt.day == day))
    assert salt is not None
    return salt


async def record(session: AsyncSession, text: str, user_id: int, now: dt.datetime) -> None:
    """Count an unanswered question; nothing when no word is left once the digits are gone."""
    scrubbed = scrub(text)
    if not scrubbed:
        return
    day = local_date(now)
    salt = await _salt(session, day)
    asker = hashlib.sha256(salt + str(user_id).encode()).hexdigest()[:4]
    seen = select(FaqMiss.id).where(FaqMiss.text == scrubbed, FaqMiss.day == day, FaqMiss.asker == asker)
    if await session.scalar(seen.limit(1)) is None:
        session.add(FaqMiss(text=scrubbed, day=day, asker=asker))
        await session.flush()


@dataclass(frozen=True)
class Phrasing:
    text: str
    people: int  # distinct askers, each counted once a day
    last_seen: dt.date


async def phrasings(session: AsyncSession, min_people: int = MIN_PEOPLE) -> list[Phrasing]:
    """The unanswered phrasings typed by at least `min_people` people, the most asked first."""
    people = func.count()
    stmt = (
        select(FaqMiss.text, people, func.max(FaqMiss.day))
        .group_by(FaqMiss.text)
        .having(people >= min_people)
        .order_by(people.desc(), FaqMiss.text)
    )
    return [Phrasing(text, n, last) for text, n, last in (await session.execute(stmt)).all()]


async def prune(session: AsyncSession, now: dt.datetime) -> int:
    """Delete misses older than KEPT_DAYS and every salt of a day that is over."""
    today = local_date(now)
    cutoff = today - dt.timedelta(days=KEPT_DAYS)
    old = rows_changed(await session.execute(delete(FaqMiss).where(FaqMiss.day < cutoff)))
    await session.execute(delete(FaqMissSalt).where(FaqMissSalt.day < today))
    return old
