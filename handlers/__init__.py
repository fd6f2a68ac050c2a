"""Channel-neutral conversations, one module per flow; `build_router()` puts their tables together."""

from __future__ import annotations

from handlers.router import Router


def build_router() -> Router:
    from handlers import communes, faq, guide, install, menu, support

    return Router(
        [menu.FLOW, guide.FLOW, faq.FLOW, support.FLOW, install.FLOW, communes.FLOW],
        menu.FALLBACKS,
    )
