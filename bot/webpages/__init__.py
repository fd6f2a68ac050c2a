"""The web pages' foundation, shared by the QR's landing page and the pages to come (the officials'
dashboard): Jinja2 templates that escape by default with every word from content/vi, CSRF tokens,
security headers on every response, and Vietnamese error pages, including for addresses no route
serves. `setup(app, service_key)` wires it into the aiohttp app; a page's route is added with
`add_page`, so that its errors become pages while the webhooks keep their answers for machines.

Templates live in bot/webpages/templates/ (package data, so an installed wheel has them): beside the
code that renders them, as Datasette keeps its own; the words they show live in content/vi/.
"""

from __future__ import annotations

from aiohttp import web

from bot.webpages import general
from bot.webpages.errors import PageError, error_pages, security_headers
from bot.webpages.rendering import FORWARD, PAGES, Forward, Pages, add_page, render, setup_templates

__all__ = ["FORWARD", "PAGES", "Forward", "PageError", "Pages", "add_page", "render", "setup"]


def setup(app: web.Application, service_key: web.AppKey) -> None:
    """Templates, the middlewares (outermost first: security headers, a trailing slash or doubled
    slashes redirected to the address that exists, error pages) and the general pages."""
    app[PAGES] = Pages(service_key)
    setup_templates(app)
    app.middlewares.extend(
        [security_headers, web.normalize_path_middleware(append_slash=False, remove_slash=True), error_pages]
    )
    general.add_routes(app)
