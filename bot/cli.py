"""The `bluezone-bot` command. Each subject's commands live in bot/commands/; this puts them together."""

from __future__ import annotations

import click

from bot.commands import data, roles, service, tally, venues, zalo


@click.group()
def main() -> None:
    """Bluezone outreach bot: install guides, QR check-in, volunteer visits, commune tallies."""


main.add_command(service.run)
main.add_command(service.chat)
main.add_command(service.settings_command)
main.add_command(data.db)
main.add_command(data.units)
main.add_command(data.support_points)
main.add_command(venues.venue)
main.add_command(venues.poster)
main.add_command(venues.posters)
main.add_command(roles.grant)
main.add_command(roles.revoke)
main.add_command(roles.list_roles)
main.add_command(roles.audit_log)
main.add_command(tally.tally)
main.add_command(tally.figures)
main.add_command(tally.target)
main.add_command(zalo.zalo)


if __name__ == "__main__":
    main()
