"""People and their messenger accounts, looked up (and locked) once per incoming update."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from storage.models import Account, Conversation, User, utcnow

# last_seen_at is kept to the hour: writing it on every update would cost an UPDATE each time.
SEEN_TO_WITHIN = dt.timedelta(hours=1)


async def open_account(
    session: AsyncSession, channel: str, external_id: str, chat_id: str, *, lazy_conversation: bool = False
) -> tuple[Account, User, Conversation]:
    """The account (created on first contact) with its person and conversation, row-locked.

    The lock (SELECT ... FOR UPDATE on PostgreSQL; SQLite's write lock otherwise) makes two
    workers handling the same person's updates take turns instead of overwriting each other. A
    new account is locked by its own uncommitted INSERT: another worker's INSERT of the same
    account waits for this transaction, then finds it taken and reads it.

    With `lazy_conversation`, a conversation not stored yet is handed back unsaved: the caller
    stores it (`keep_conversation`) only when there is something in it, so a person whose first
    update ends where it started (a poster's /start) costs no conversation row.
    """
    found = await _locked_account(session, channel, external_id)
    if found is None:
        created = await _new_account(session, channel, external_id, chat_id)
        if created is None:  # another worker created it first; its person is the one
            found = await _locked_account(session, channel, external_id)
            assert found is not None
            account, user, convo = found
        else:
            (account, user), convo = created, None
    else:
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
    """A new person with this account, in two INSERTs; None when another worker's account of the
    same (channel, external id) got there first (then no person is left behind)."""
    now = utcnow()
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
