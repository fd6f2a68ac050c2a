"""The officials' dashboard in a browser: the same people and the same permission checks as chat
(storage.roles, storage.web_sessions), the same figures (storage.tally), the same files
(documents.tally_exports).

    GET  /dashboard/login/<token>     one [sign in] button; a messenger's preview reads this, harmlessly
    POST /dashboard/login/<token>     uses the one-time link, opens a session → 303 /dashboard
    GET  /dashboard                   the person's units and venues (straight to the only one)
    GET  /dashboard/unit/<code>       a unit's page; ?sort=&order=desc&behind=1&stale=N
    GET  /dashboard/unit/<code>.xlsx  the table on screen (same parameters); also .csv
    POST /dashboard/unit/<code>/feeds a standing CSV link for Excel or Power BI "From Web"
    POST /dashboard/feeds/<key>/revoke
    GET  /dashboard/feed/<token>.csv  the standing link (no cookie: Power BI has none)
    GET  /dashboard/venues            a venue manager's venues and their check-ins
    POST /dashboard/logout            → 303 /dashboard/signed-out

Acting (chat's desks through a second door, same checks, audited with source "web"): a
coordinator's desk in bot/dashboard/desk.py (/dashboard/desk/...), venues' codes and posters in
bulk in bot/dashboard/venues_admin.py (/dashboard/venues/...).

Every page reads the session and the person's right to the unit from the database at every
request, so a revoked role or an erased person is out at their next click.
"""

from bot.dashboard.pages import Dashboard, add_routes

__all__ = ["Dashboard", "add_routes"]
