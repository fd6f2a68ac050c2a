"""The aiohttp server: health checks, metrics, messenger webhooks, the QR landing page, signed media.
`init_app()` wires everything."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from bot import metrics, webpages
from bot.channels import messengers
from bot.dashboard import Dashboard, desk, venues_admin
from bot.dashboard import add_routes as add_dashboard_routes
from bot.dashboard.acting import add_routes as add_acting_routes
from bot.landing import Landing
from bot.landing import add_routes as add_landing_routes
from bot.media import MEDIA_PATH
from bot.service import Service
from bot.settings import Settings
from bot.untrusted import Throttled, quiet_malformed_http
from storage.db import ping

log = logging.getLogger(__name__)

SERVICE = web.AppKey("service", Service)
SETTINGS = web.AppKey("settings", Settings)
LANDING = web.AppKey("landing", Landing)
DASHBOARD = web.AppKey("dashboard", Dashboard)


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers. Cheap and without the database, so that a process manager
    or load balancer does not restart every worker while PostgreSQL restarts (/readyz tells that)."""
    return web.json_response({"status": "ok"})


# Readiness asks the database for one round trip within this; a slower answer counts as none.
READY_TIMEOUT = 2.0
# A load balancer asks every few seconds: while the database is away, a line a minute says so.
probes = Throttled(log)


async def readyz(request: web.Request) -> web.Response:
    """Readiness: 200 when this worker can take traffic (channels started, the database answers
    within READY_TIMEOUT, not stopping); else 503 with the reason, so a load balancer sends
    elsewhere, notably during SIGTERM's drain."""
    service = request.app[SERVICE]
    problems = []
    if service.draining:
        problems.append("draining")
    elif not service.started:
        problems.append("starting")
    try:
        async with asyncio.timeout(READY_TIMEOUT), service.sessions() as db:
            await ping(db)
    except Exception as exc:
        probes.warning("readyz", "readiness check: database unreachable: %s", exc or type(exc).__name__)
        problems.append("database unreachable")
    if problems:
        return web.json_response({"status": "unavailable", "problems": problems}, status=503)
    return web.json_response({"status": "ok", "channels": sorted(service.channels)})


async def metrics_page(request: web.Request) -> web.Response:
    """Prometheus's scrape (bot/metrics.py): every worker's counters and the database's figures."""
    token = request.app[SETTINGS].metrics_token
    if not metrics.authorized(request.headers.get("Authorization"), token.reveal() if token else None):
        return web.json_response({"error": "unauthorized"}, status=401, headers={"WWW-Authenticate": "Bearer"})
    body = await metrics.render(request.app[SERVICE].sessions)
    return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})


def init_metrics_app(settings: Settings, service: Service) -> web.Application:
    """The private listener (METRICS_ADDRESS): /metrics and the health checks, nothing public.
    The service is the main application's, started and stopped by it."""
    app = web.Application(middlewares=[worker_header])
    app[SETTINGS] = settings
    app[SERVICE] = service
    app.router.add_get("/metrics", metrics_page)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


@web.middleware
async def worker_header(request: web.Request, handler) -> web.StreamResponse:
    """Names the worker process that answered (several share one port behind the kernel)."""
    response = await handler(request)
    service = request.app.get(SERVICE)
    if service is not None:
        response.headers["X-Bluezone-Worker"] = str(service.worker)
    return response


def forward_to(channel: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The handler of a messenger's webhook path: its channel answers, when it is configured."""

    async def webhook(request: web.Request) -> web.StreamResponse:
        messenger = request.app[SERVICE].channels.get(channel)
        if messenger is None:
            raise web.HTTPNotFound()
        return await messenger.webhook(request)

    return webhook


async def media_file(request: web.Request) -> web.Response:
    return await request.app[SERVICE].media.serve(request)


def init_app(settings: Settings, service: Service | None = None) -> web.Application:
    """The web application; the service (database, channels, courier) lives in its cleanup_ctx."""
    quiet_malformed_http()
    app = web.Application(client_max_size=1024**2, middlewares=[worker_header])
    app[SETTINGS] = settings

    async def service_ctx(app: web.Application) -> AsyncIterator[None]:
        svc = service or Service(settings)
        if not svc.channels:
            svc.configure_channels()
        app[SERVICE] = svc
        await svc.start()
        yield
        await svc.stop()

    app.cleanup_ctx.append(service_ctx)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if settings.metrics_token is not None:  # never open on the public address: only with the token
        app.router.add_get("/metrics", metrics_page)
    for messenger in messengers():  # every messenger's paths; answered while it is configured
        for path in messenger.CHANNEL.webhook_paths:
            app.router.add_post(path, forward_to(messenger.NAME))
    webpages.setup(app, SERVICE)  # templates, security headers, error pages, / and /privacy
    app[LANDING] = Landing()
    add_landing_routes(app, app[LANDING])
    app[DASHBOARD] = Dashboard()
    add_dashboard_routes(app, app[DASHBOARD])
    desk.add_routes(app, app[DASHBOARD])
    venues_admin.add_routes(app, app[DASHBOARD])
    add_acting_routes(app, app[DASHBOARD])
    app.router.add_get(MEDIA_PATH + "/{file_id}/{filename}", media_file)
    return app
