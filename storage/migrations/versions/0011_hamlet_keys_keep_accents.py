"""hamlet keys keep accents: names differing only in a tone are two hamlets; an unaccented
spelling joins the one accented hamlet it matches

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime
from storage.visits import hamlet_key, match_hamlet

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

visits = sa.table(
    "visits",
    sa.column("id", sa.Integer),
    sa.column("commune_code", sa.String),
    sa.column("hamlet", sa.String),
    sa.column("hamlet_key", sa.String),
    sa.column("visited_at", UTCDateTime()),
)


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(visits.c.id, visits.c.commune_code, visits.c.hamlet).order_by(visits.c.visited_at, visits.c.id)
    ).all()
    per_commune: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for row in rows:
        per_commune[row.commune_code].append((row.id, row.hamlet))
    for commune_rows in per_commune.values():
        known: dict[str, str] = {}  # key → the first spelling
        for _, name in commune_rows:
            known.setdefault(hamlet_key(name), name)
        # An unaccented spelling joins the one accented hamlet it matches; the others stay.
        target = {k: match_hamlet(name, {o: n for o, n in known.items() if o != k}) for k, name in known.items()}
        for visit_id, name in commune_rows:
            new = target[hamlet_key(name)]
            bind.execute(
                sa.update(visits).where(visits.c.id == visit_id).values(hamlet=new, hamlet_key=hamlet_key(new))
            )


def downgrade() -> None:
    # The old keys folded accents away; recomputing them loses nothing but the distinction.
    from storage.folding import fold

    bind = op.get_bind()
    for row in bind.execute(sa.select(visits.c.id, visits.c.hamlet)).all():
        bind.execute(sa.update(visits).where(visits.c.id == row.id).values(hamlet_key=fold(row.hamlet)[:80]))
