"""People and their messenger accounts, looked up (and locked) once per incoming update."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, cast

from sqlalchemy import (
    LABEL_STYLE_TABLENAME_PLUS_COL,
    Table,
    bindparam,
    delete,
    func,
    insert,
    inspect,
    null,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, make_transient_to_detached

from storage.db import is_postgres
from storage.models import Account, Conversation, ProcessedUpdate, User, utcnow
from storage.updates import mark_processed

# last_seen_at is kept to the hour: writing it on every update would cost an UPDATE each time.
SEEN_TO_WITHIN = dt.timedelta(hours=1)


async def open_update(
    session: AsyncSession, channel: str, update_id: str, external_id: str, chat_id: str
) -> tuple[Account, User, Conversation] | None:
    """Mark the update processed and open its person's account (`open_account`, lazy
    conversation); None when it was processed already (a retried webhook), then nothing is opened.

    On PostgreSQL the mark, the account's locked read and, for a person never seen, their new
    person and account are one statement: a round trip and most of a statement's CPU saved on
    every update, two on a person's first."""
    if not is_postgres(session):
        if not await mark_processed(session, channel, update_id):
            return None
        return await open_account(session, channel, external_id, chat_id, lazy_conversation=True)
    params = {
        "p_channel": channel,
        "p_update": update_id,
        "p_now": utcnow(),
        "a_channel": channel,
        "a_external": external_id,
        "a_chat": chat_id,
    }
    row = (await session.execute(_PROCESSED_AND_LOCKED_ACCOUNT, params)).one()
    if not row[0]:
        return None
    if row[1] is not None:
        found = (row[1], row[2], row[3])
        return await open_account(session, channel, external_id, chat_id, lazy_conversation=True, found=found)
    now = params["p_now"]
    values = dict(channel=channel, external_id=external_id, chat_id=chat_id, created_at=now, last_seen_at=now)
    created = await _adopt_new_account(session, row[4], row[5], values)
    if created is None:  # another worker's account of this person came first: it is read, locked
        return await open_account(session, channel, external_id, chat_id, lazy_conversation=True)
    return await open_account(session, channel, external_id, chat_id, lazy_conversation=True, created=created)


async def open_account(
    session: AsyncSession,
    channel: str,
    external_id: str,
    chat_id: str,
    *,
    lazy_conversation: bool = False,
    found: tuple[Account, User, Conversation | None] | Literal[False] | None = False,
    created: tuple[Account, User] | None = None,
) -> tuple[Account, User, Conversation]:
    """The account (created on first contact) with its person and conversation, row-locked.

    The lock (SELECT ... FOR UPDATE on PostgreSQL; SQLite's write lock otherwise) makes two
    workers handling the same person's updates take turns instead of overwriting each other. A
    new account is locked by its own uncommitted INSERT: another worker's INSERT of the same
    account waits for this transaction, then finds it taken and reads it.

    With `lazy_conversation`, a conversation not stored yet is handed back unsaved: the caller
    stores it (`keep_conversation`) only when there is something in it, so a person whose first
    update ends where it started (a poster's /start) costs no conversation row.

    `found`: the locked read, made already by the caller (`open_update`); None, no account.
    `created`: the new account and person, inserted already by the caller (`open_update`).
    """
    if created is None:
        if found is False:
            found = await _locked_account(session, channel, external_id)
        if found is None:
            created = await _new_account(session, channel, external_id, chat_id)
            if created is None:  # another worker created it first; its person is the one
                found = await _locked_account(session, channel, external_id)
    if created is not None:
        (account, user), convo = created, None
    else:
        assert found is not None and found is not False
        account, user, convo = found
        now = utcnow()
        if account.last_seen_at is None or now - account.last_seen_at >= SEEN_TO_WITHIN:
            account.last_seen_at = now
        account.blocked_at = None  # they are writing to us, so they no longer block the bot
        if account.chat_id != chat_id:
            account.chat_id = chat_id
    if convo is None:
        convo = Conversation(account_id=account.id, state=None, draft={}, menu=[])
        if not lazy_conversation:
            session.add(convo)
    # Written now, outside any savepoint a handler later rolls back.
    await session.flush()
    return account, user, convo


def created_here(session: AsyncSession, account: Account) -> bool:
    """Whether `open_account` created this account in this session: the person's first update."""
    return account.id in session.info.get(_CREATED, ())


_CREATED = "accounts_created"  # session.info: ids of the accounts created in the session


def keep_conversation(session: AsyncSession, convo: Conversation) -> None:
    """Store a conversation `open_account(lazy_conversation=True)` handed back unsaved, if it
    holds a step, a draft or a menu (one already stored is saved by the session anyway)."""
    if inspect(convo).transient and (convo.state or convo.draft or convo.menu):
        session.add(convo)


async def _new_account(
    session: AsyncSession, channel: str, external_id: str, chat_id: str
) -> tuple[Account, User] | None:
    """A new person with this account, in two INSERTs (one statement on PostgreSQL); None when
    another worker's account of the same (channel, external id) got there first (then no person
    is left behind)."""
    now = utcnow()
    if is_postgres(session):
        return await _new_account_at_once(session, channel, external_id, chat_id, now)
    user = User(commune_code=None, created_at=now, opted_out_at=None, erased_at=None)
    session.add(user)
    await session.flush()
    values = dict(
        channel=channel, external_id=external_id, chat_id=chat_id, user_id=user.id, created_at=now, last_seen_at=now
    )
    account_id = await session.scalar(_INSERT_ACCOUNT[session.get_bind().dialect.name], values)
    if account_id is None:
        await session.delete(user)
        return None
    session.info.setdefault(_CREATED, set()).add(account_id)
    # The row as inserted, known without reading it back.
    account = Account(id=account_id, blocked_at=None, **values)
    make_transient_to_detached(account)
    session.add(account)
    return account, user


async def _new_account_at_once(
    session: AsyncSession, channel: str, external_id: str, chat_id: str, now: dt.datetime
) -> tuple[Account, User] | None:
    """_new_account on PostgreSQL: the person and the account in one statement (CTEs)."""
    values = dict(channel=channel, external_id=external_id, chat_id=chat_id, created_at=now, last_seen_at=now)
    row = (await session.execute(_INSERT_PERSON_AND_ACCOUNT, values)).one()
    return await _adopt_new_account(session, row[0], row[1], values)


async def _adopt_new_account(
    session: AsyncSession, user_id: Any, account_id: Any, values: dict[str, Any]
) -> tuple[Account, User] | None:
    """The person and account a statement has just inserted (`values`: the account's columns
    but its ids; the person's created_at is the account's), added to the session as they are,
    without reading them back. None when the account was not inserted (another worker's account
    of the same messenger id came first): the person inserted with it is deleted again."""
    if account_id is None:
        await session.execute(delete(User).where(User.id == user_id))
        return None
    session.info.setdefault(_CREATED, set()).add(account_id)
    user = User(id=user_id, commune_code=None, created_at=values["created_at"], opted_out_at=None, erased_at=None)
    account = Account(id=account_id, user_id=user_id, blocked_at=None, **values)
    for new in (user, account):
        make_transient_to_detached(new)
        session.add(new)
    return account, user


_NEW_PERSON = (
    insert(User)
    .values(created_at=bindparam("created_at"), commune_code=None, opted_out_at=None, erased_at=None)
    .returning(User.id)
    .cte("new_person")
)


def _account_of_new_person(person: Any, names: tuple[str, str, str, str, str], cte_name: str) -> Any:
    """The INSERT of the account of the person just inserted by `person` (a CTE returning their
    id), its values the parameters `names` (channel, external id, chat id, created at, last seen
    at), as a CTE returning its id: none when another worker's account of the same messenger id
    is there (then the person is deleted again, see _adopt_new_account)."""
    columns = ("channel", "external_id", "chat_id", "created_at", "last_seen_at")
    values = [
        bindparam(name, type_=Account.__table__.c[column].type) for name, column in zip(names, columns, strict=True)
    ]
    return (
        postgresql.insert(Account)
        .from_select([*columns[:3], "user_id", *columns[3:]], select(*values[:3], person.c.id, *values[3:]))
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
        .returning(Account.id)
        .cte(cte_name)
    )


_NEW_ACCOUNT = _account_of_new_person(
    _NEW_PERSON, ("channel", "external_id", "chat_id", "created_at", "last_seen_at"), "new_account"
)
# The person's id, and the account's (NULL when another worker's account of the same messenger
# id was inserted first: then the person just inserted is deleted again).
_INSERT_PERSON_AND_ACCOUNT = select(_NEW_PERSON.c.id, _NEW_ACCOUNT.c.id).select_from(
    _NEW_PERSON.outerjoin(_NEW_ACCOUNT, true())
)

_INSERT_ACCOUNT = {  # built once per dialect: see storage.db.claim_statement
    name: insert(Account)
    .values(
        channel=bindparam("channel"),
        external_id=bindparam("external_id"),
        chat_id=bindparam("chat_id"),
        user_id=bindparam("user_id"),
        created_at=bindparam("created_at"),
        last_seen_at=bindparam("last_seen_at"),
    )
    .on_conflict_do_nothing(index_elements=["channel", "external_id"])
    .returning(Account.id)
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}

_LOCKED_ACCOUNT = (  # built once: see storage.db.claim_statement
    select(Account, User, Conversation)
    .join(User, User.id == Account.user_id)
    .outerjoin(Conversation, Conversation.account_id == Account.id)
    .where(Account.channel == bindparam("a_channel"), Account.external_id == bindparam("a_external"))
    .with_for_update(of=Account)
    .execution_options(populate_existing=True)
)


_PROCESSED = cast(Table, ProcessedUpdate.__table__)
_LOCKED = (
    select(Account, User, Conversation)
    .join(User, User.id == Account.user_id)
    .outerjoin(Conversation, Conversation.account_id == Account.id)
    .where(Account.channel == bindparam("a_channel"), Account.external_id == bindparam("a_external"))
    .with_for_update(of=Account)
    .set_label_style(LABEL_STYLE_TABLENAME_PLUS_COL)
    .cte("locked")
)
_PROCESSED_NOW = (
    postgresql.insert(_PROCESSED)
    .values(
        channel=bindparam("p_channel", type_=_PROCESSED.c.channel.type),
        update_id=bindparam("p_update", type_=_PROCESSED.c.update_id.type),
        processed_at=bindparam("p_now", type_=_PROCESSED.c.processed_at.type),
    )
    .on_conflict_do_nothing(index_elements=["channel", "update_id"])
    .returning(_PROCESSED.c.channel)
    .cte("processed_now")
)
_FRESH = select(func.count().label("fresh")).select_from(_PROCESSED_NOW).subquery("fresh")
# A person never seen (the update marked now, no account found): their person and account.
_PERSON_IF_NEW = (
    insert(User)
    .from_select(
        ["commune_code", "created_at", "opted_out_at", "erased_at"],
        select(null(), bindparam("p_now", type_=User.created_at.type), null(), null()).where(
            select(_PROCESSED_NOW.c.channel).exists(), ~select(_LOCKED.c.accounts_id).exists()
        ),
    )
    .returning(User.id)
    .cte("person_if_new")
)
_ACCOUNT_IF_NEW = _account_of_new_person(
    _PERSON_IF_NEW, ("a_channel", "a_external", "a_chat", "p_now", "p_now"), "account_if_new"
)
# mark_processed, _LOCKED_ACCOUNT and _INSERT_PERSON_AND_ACCOUNT in one statement (PostgreSQL):
# whether the update is new (1: marked now, 0: marked before), then the account with its person
# and conversation, locked, or NULLs; then, for a new update of a person never seen, the ids of
# the person and account inserted for them (the account's NULL when another worker's account of
# the same messenger id came first: see _adopt_new_account). The lock sits in a CTE, which the
# new person's condition reads too: FOR UPDATE may not name the nullable side of an outer join,
# and the joins are outer so that a person never seen before still gets the first column.
_PROCESSED_AND_LOCKED_ACCOUNT = (
    select(
        _FRESH.c.fresh,
        aliased(Account, _LOCKED),
        aliased(User, _LOCKED),
        aliased(Conversation, _LOCKED),
        _PERSON_IF_NEW.c.id,
        _ACCOUNT_IF_NEW.c.id,
    )
    .select_from(_FRESH.outerjoin(_LOCKED, true()).outerjoin(_PERSON_IF_NEW, true()).outerjoin(_ACCOUNT_IF_NEW, true()))
    .execution_options(populate_existing=True)
)


async def _locked_account(
    session: AsyncSession, channel: str, external_id: str
) -> tuple[Account, User, Conversation | None] | None:
    """The account with its person and conversation in one query; only the account row is locked."""
    row = (await session.execute(_LOCKED_ACCOUNT, {"a_channel": channel, "a_external": external_id})).one_or_none()
    return None if row is None else (row[0], row[1], row[2])


async def accounts_of(session: AsyncSession, user_id: int) -> list[Account]:
    return list((await session.scalars(select(Account).where(Account.user_id == user_id))).all())


async def find_account(session: AsyncSession, channel: str, external_id: str) -> Account | None:
    """The account of this messenger id, if the person has written to the bot."""
    stmt = select(Account).where(Account.channel == channel, Account.external_id == external_id)
    return (await session.scalars(stmt)).one_or_none()


async def find_or_create_person(session: AsyncSession, channel: str, external_id: str) -> tuple[User, bool]:
    """The person behind a messenger id, created (with their account) when they never wrote to
    the bot: the CLI grants roles before people start the bot. In a private chat the chat id is
    the user id (Telegram, Zalo), so the account can be written to as soon as they do start.
    Returns (person, created)."""
    account = await find_account(session, channel, external_id)
    if account is not None:
        user = await session.get(User, account.user_id)
        assert user is not None
        return user, False
    user = User()
    session.add(user)
    await session.flush()
    now = utcnow()
    session.add(
        Account(
            channel=channel,
            external_id=external_id,
            chat_id=external_id,
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
        )
    )
    await session.flush()
    return user, True
