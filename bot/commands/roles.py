"""Roles from the command line: the first admins, officers and coordinators (`grant`, `revoke`,
`roles`). Coordinators then invite volunteers from inside the bot."""

from __future__ import annotations

import re

import click
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.common import in_session, load_settings, own_map, units_option
from storage import roles, volunteers
from storage.accounts import accounts_of, find_account, find_or_create_person
from storage.models import Commune, District, Province, utcnow
from storage.roles import LEVEL, Role
from storage.unit_map import SCHEME_PRE2025, WIDTH
from storage.units import COUNTRY_CODE
from texts.user_input import number

ROLE_NAMES = [r.value for r in Role]
_USER = re.compile(r"(?P<channel>[a-z_]+):(?P<id>[A-Za-z0-9_\-]{1,64})")
# The messengers a person can be reached on ("terminal" is `bluezone-bot chat`'s local user).
CHANNELS = ("telegram", "zalo_oa", "zalo_bot", "terminal")


def parse_user(value: str) -> tuple[str, str]:
    """ "telegram:123456789" → ("telegram", "123456789")."""
    match = _USER.fullmatch(value.strip())
    if not match:
        raise click.BadParameter(
            "write it as CHANNEL:ID, e.g. telegram:123456789 (the person's Telegram user id) or "
            "zalo_oa:4318802913410839210 (the person sends /maso to the bot to read theirs)"
        )
    if match["channel"] not in CHANNELS:
        raise click.BadParameter(f"unknown channel {match['channel']!r}: one of {', '.join(CHANNELS)}")
    return match["channel"], match["id"]


def unit_code(role: Role, value: str | None) -> str:
    """The unit for the role, leading zeros optional: commune 70 → 00070, district 9 → 009 (on
    the pre-2025 map), province 1 → 01."""
    level = LEVEL[role]
    if level == "country":
        if value not in (None, "", COUNTRY_CODE):
            raise click.BadParameter(f"an admin covers the whole country: leave --unit out or give {COUNTRY_CODE}")
        return COUNTRY_CODE
    code = number(value, 99999)
    if code is None:
        raise click.BadParameter(f"a {role.value} needs --unit with the GSO code of a {level}")
    return str(code).zfill(WIDTH[level])


def target(role: str, user: str, unit: str | None, scheme: str) -> tuple[Role, str, str, str]:
    """(role, channel, external id, unit code) from the command's arguments, checked; `scheme`
    is the deployment's map."""
    the_role = Role(role)
    if LEVEL[the_role] == "district" and scheme != SCHEME_PRE2025:
        raise click.UsageError("districts are a level of the pre2025 units only: this deployment has none")
    channel, external_id = parse_user(user)
    return the_role, channel, external_id, unit_code(the_role, unit)


async def describe_unit(db: AsyncSession, code: str) -> str:
    if code == COUNTRY_CODE:
        return "the whole country"
    if len(code) == 2:
        province = await db.get(Province, code)
        return province.name if province else code
    if len(code) == 3:
        district = await db.get(District, code)
        return district.name if district else code
    commune = await db.get(Commune, code)
    if commune is None:
        return code
    province = await db.get(Province, commune.province_code)
    return f"{commune.name}, {province.name if province else commune.province_code}"


async def describe_person(db: AsyncSession, user_id: int) -> str:
    """A person as `--user` takes them: their accounts ("telegram:123, zalo_oa:456")."""
    accounts = sorted(await accounts_of(db, user_id), key=lambda a: a.id)
    return ", ".join(f"{a.channel}:{a.external_id}" for a in accounts) or f"person {user_id}"


role_argument = click.argument("role", type=click.Choice(ROLE_NAMES))
user_option = click.option("--user", "user", required=True, help="CHANNEL:ID, e.g. telegram:123456789")
unit_option = click.option(
    "--unit", "unit", help="GSO code: a commune (00070), a district (213, pre2025), a province (01); none for admin"
)


@click.command()
@role_argument
@user_option
@unit_option
@units_option
def grant(role: str, user: str, unit: str | None, scheme: str | None) -> None:
    """Give ROLE over a unit to a person (who may not have written to the bot yet)."""
    the_role, channel, external_id, code = target(role, user, unit, own_map(load_settings(), scheme))

    async def work(db: AsyncSession) -> str:
        person, created = await find_or_create_person(db, channel, external_id)
        try:
            new = await roles.grant(db, person.id, the_role, code)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        if the_role is Role.VOLUNTEER:  # a profile, so the coordinator's desk counts and lists them
            await volunteers.ensure_profile(db, person.id, code, f"{channel}:{external_id}", utcnow())
        where = await describe_unit(db, code)
        verb = "granted" if new else "already held:"
        note = " (not yet started the bot; the role applies as soon as they do)" if created else ""
        return f"{verb} {the_role.value} of {code} ({where}) to {channel}:{external_id}{note}"

    click.echo(in_session(load_settings(), work))


@click.command()
@role_argument
@user_option
@unit_option
@units_option
def revoke(role: str, user: str, unit: str | None, scheme: str | None) -> None:
    """End ROLE over a unit for a person."""
    the_role, channel, external_id, code = target(role, user, unit, own_map(load_settings(), scheme))

    async def work(db: AsyncSession) -> bool:
        account = await find_account(db, channel, external_id)
        if account is None or not await roles.revoke(db, account.user_id, the_role, code):
            return False
        if the_role is Role.VOLUNTEER:
            await volunteers.end_profile(db, account.user_id, code, utcnow())
        return True

    if not in_session(load_settings(), work):
        raise click.ClickException(f"{channel}:{external_id} does not hold {the_role.value} of {code}")
    click.echo(f"revoked {the_role.value} of {code} from {channel}:{external_id}")


@click.command("roles")
@click.option("--unit", "unit", help="only the roles held over this unit (GSO code)")
@units_option
def list_roles(unit: str | None, scheme: str | None) -> None:
    """List who holds which role over which unit."""
    own_map(load_settings(), scheme)

    async def work(db: AsyncSession) -> list[str]:
        lines = []
        for g in await roles.list_grants(db, unit.strip() if unit else None):
            who = await describe_person(db, g.user_id)
            lines.append(f"{g.role.value:<17} {g.unit_code:<5} {await describe_unit(db, g.unit_code):<45} {who}")
        return lines

    lines = in_session(load_settings(), work)
    for line in lines:
        click.echo(line)
    if not lines:
        click.echo("no roles granted")


@click.command("audit")
@click.option("--unit", help="Only entries about this unit (commune, province or VN).")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@units_option
def audit_log(unit: str | None, limit: int, scheme: str | None) -> None:
    """Officials' actions (targets, figures, grants, announcements, corrections), latest first."""
    own_map(load_settings(), scheme)
    import json

    from storage import audit

    entries = in_session(load_settings(), lambda db: audit.entries(db, unit_code=unit, limit=limit))
    for e in entries:
        who = f"user {e.actor_user_id}" if e.actor_user_id else "cli"
        click.echo(
            f"{e.at.isoformat(timespec='seconds')}  {who:<10}  {e.action:<22} {e.unit_code or '-':<5}  "
            f"{json.dumps(e.details, ensure_ascii=False)}"
        )
    if not entries:
        click.echo("no entries")
