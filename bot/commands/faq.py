"""What citizens asked that the FAQ did not answer, for the content team."""

from __future__ import annotations

import click

from bot.commands.common import in_session, load_settings
from storage import faq_misses


@click.group()
def faq() -> None:
    """The FAQ: what citizens asked that nothing answered."""


@faq.command("misses")
@click.option(
    "--min-people",
    type=click.IntRange(min=faq_misses.MIN_PEOPLE),
    default=faq_misses.MIN_PEOPLE,
    show_default=True,
    help="List a phrasing once this many people typed it (never fewer than the default).",
)
def faq_misses_list(min_people: int) -> None:
    """Unanswered phrasings typed by at least 3 people in the last 90 days, the most asked first:
    text folded, digits removed, no link to anyone. Add keywords or answers in content/vi/faq.toml."""
    rows = in_session(load_settings(), lambda db: faq_misses.phrasings(db, min_people))
    if not rows:
        click.echo(f"no unanswered phrasing typed by {min_people} people or more")
        return
    width = max(len(str(r.people)) for r in rows)
    click.echo(f"{'people':>{max(width, 6)}}  last seen   phrasing")
    for r in rows:
        click.echo(f"{r.people:>{max(width, 6)}}  {r.last_seen.isoformat()}  {r.text}")
