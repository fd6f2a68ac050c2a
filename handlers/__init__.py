"""Channel-neutral conversations, one module per flow; `build_router()` puts their tables together."""

from __future__ import annotations

from handlers import (
    announcements,
    audit_log,
    checkin,
    communes,
    coordinators,
    dashboard,
    faq,
    figures_entry,
    guide,
    install,
    link,
    menu,
    officials,
    privacy,
    support,
    targets,
    venues,
    visit_history,
    visits,
    volunteers,
)
from handlers.router import Router


def build_router() -> Router:
    # Free-text handlers run in this order: "CHECKIN AB23CD7" must reach check-in, and a
    # volunteer's shorthand visit line must be read as a visit, before the FAQ search sees words
    # like "install" in them.
    return Router(
        [
            menu.FLOW,
            guide.FLOW,
            checkin.FLOW,
            visits.FLOW,
            link.FLOW,
            faq.FLOW,
            support.FLOW,
            install.FLOW,
            communes.FLOW,
            venues.FLOW,
            visit_history.FLOW,
            volunteers.FLOW,
            coordinators.FLOW,
            officials.FLOW,
            dashboard.FLOW,
            figures_entry.FLOW,
            targets.FLOW,
            privacy.FLOW,
            announcements.FLOW,
            audit_log.FLOW,
        ],
        menu.FALLBACKS,
    )
