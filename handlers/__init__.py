"""Channel-neutral conversations, one module per flow; `build_router()` puts their tables together."""

from __future__ import annotations

from handlers.router import Router


def build_router() -> Router:
    from handlers import checkin, communes, faq, guide, install, menu, support, venues

    # Free-text handlers run in this order: "CHECKIN AB23CD7" must reach check-in before the FAQ search.
    return Router(
        [menu.FLOW, guide.FLOW, checkin.FLOW, faq.FLOW, support.FLOW, install.FLOW, communes.FLOW, venues.FLOW],
        menu.FALLBACKS,
    )
