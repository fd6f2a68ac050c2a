"""The aiohttp server: health check, messenger webhooks, the QR landing page, signed media.
`init_app()` wires everything."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable

from aiohttp import web
from sqlalchemy import text

from bot import webpages
from bot.channels import zalo_bot, zalo_oa
from bot.channels.common import json_id
from bot.landing import Landing
from bot.landing import add_routes as add_landing_routes
from bot.media import MEDIA_PATH
from bot.service import Service
from bot.settings import Settings
from bot.untrusted import BadInput, Throttled, loads, quiet_malformed_http
from storage.db import is_infrastructure_error

log = logging.getLogger(__name__)
# Junk from strangers is logged, but at most a line a minute per kind: never a traceback.
junk = Throttled(log)

SERVICE = web.AppKey("service", Service)
SETTINGS = web.AppKey("settings", Settings)
LANDING = web.AppKey("landing", Landing)


async def healthz(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    try:
        async with service.sessions() as db:
            await db.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("health check: database unreachable: %s", exc)
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "channels": sorted(service.channels)})


def _sender_id(data: dict) -> str | None:
    """The sender of a Telegram update read straight from its JSON (message, callback query...),
    cheaper than parsing it; None when it has none in the usual place."""
    for value in data.values():
        if isinstance(value, dict) and isinstance(value.get("from"), dict):
            return json_id(value["from"].get("id")) or None
    return None


async def telegram_webhook(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    channel = service.channels.get("telegram")
    if channel is None:
        raise web.HTTPNotFound()
    if not channel.check_secret(request.headers.get("X-Telegram-Bot-Api-Secret-Token")):
        junk.warning("telegram-401", "telegram webhook: a call without the secret token refused")
        return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
    try:
        data = loads(await request.read())
    except BadInput as exc:
        junk.warning("telegram-400", "telegram webhook: %s refused", exc)
        return web.json_response({"ok": False, "error": str(exc)}, status=400)
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        junk.warning("telegram-400", "telegram webhook: not an update")
        return web.json_response({"ok": False, "error": "not an update"}, status=400)
    guard, sender = service.flood_guard, _sender_id(data)
    if guard and sender is not None and guard.dropping("telegram", sender):
        return web.json_response({"ok": True})  # a flood: dropped before parsing, as it would be after
    try:
        update = channel.parse(data)
    except ValueError as exc:
        junk.warning(
            "telegram-400",
            "telegram webhook: update %s unreadable (%s)",
            data["update_id"],
            type(exc.__cause__).__name__,
        )
        return web.json_response({"ok": False, "error": "not an update"}, status=400)
    try:
        await channel.handle_webhook(update)
    except Exception as exc:
        # Not stored (the engine turns a handler's failure into an apology, so what reaches here
        # is the database or the engine itself): a 5xx makes Telegram deliver it again later,
        # and the processed mark keeps the retry from being handled twice.
        if is_infrastructure_error(exc):
            log.warning("telegram update %s not stored: %s", data.get("update_id"), exc)
        else:
            log.exception("telegram update %s could not be handled", data.get("update_id"))
        return web.json_response({"ok": False, "error": "temporarily unavailable"}, status=503)
    return web.json_response({"ok": True})


@web.middleware
async def worker_header(request: web.Request, handler) -> web.StreamResponse:
    """Names the worker process that answered (several share one port behind the kernel)."""
    response = await handler(request)
    service = request.app.get(SERVICE)
    if service is not None:
        response.headers["X-Bluezone-Worker"] = str(service.worker)
    return response


async def zalo_oa_webhook(request: web.Request) -> web.Response:
    channel = request.app[SERVICE].channels.get(zalo_oa.NAME)
    if channel is None:
        raise web.HTTPNotFound()
    raw = await request.read()
    return await _answer_webhook("zalo_oa", channel.handle_webhook(raw, request.headers.get(zalo_oa.SIGNATURE_HEADER)))


async def zalo_bot_webhook(request: web.Request) -> web.Response:
    channel = request.app[SERVICE].channels.get(zalo_bot.NAME)
    if channel is None:
        raise web.HTTPNotFound()
    if not channel.check_secret(request.headers.get(zalo_bot.SECRET_HEADER)):
        junk.warning("zalo_bot-401", "zalo_bot webhook: a call without the secret token refused")
        return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
    return await _answer_webhook("zalo_bot", channel.handle_webhook(await request.read()))


async def _answer_webhook(name: str, handling: Awaitable[tuple[int, str]]) -> web.Response:
    """200 once the event and its effects are committed (the replies follow from the outbox);
    503 when the database is unreachable, so the messenger delivers the event again."""
    try:
        status, reason = await handling
    except Exception as exc:
        # Not stored: a 5xx makes the messenger deliver it again, and the processed mark keeps
        # a retry of what was stored after all from being handled twice.
        if is_infrastructure_error(exc):
            log.warning("%s event not stored: %s", name, exc)
        else:
            log.exception("%s event could not be stored", name)
        return web.json_response({"ok": False, "error": "temporarily unavailable"}, status=503)
    if status != 200 or reason.startswith("stale"):
        # Answered 200 when stale, so that Zalo does not retry; handled not at all.
        junk.warning(
            f"{name}-{status}-{reason.split(':')[0]}", "%s webhook: event refused (%s %s)", name, status, reason
        )
    return web.json_response({"ok": status == 200, "status": reason}, status=status)


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
    app.router.add_post("/webhooks/telegram", telegram_webhook)
    webpages.setup(app, SERVICE)  # templates, security headers, error pages, / and /privacy
    app[LANDING] = Landing()
    add_landing_routes(app, app[LANDING])
    app.router.add_post("/webhooks/zalo-oa", zalo_oa_webhook)
    app.router.add_post("/webhooks/zalo-bot", zalo_bot_webhook)
    app.router.add_get(MEDIA_PATH + "/{file_id}/{filename}", media_file)
    return app
