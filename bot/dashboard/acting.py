"""The dashboard's actions: official figures for many units at once, a target, and (admins)
the audit log; each with chat's own checks, permissions and audit entries.

    GET  /dashboard/unit/<code>/act     the figures grid (a commune, or the units one level down) and the target form
    POST /dashboard/unit/<code>/figures the grid: the rows that pass chat's checks stored → 303 back
    POST /dashboard/unit/<code>/target  a target, as /chitieu sets it → 303 back
    GET  /dashboard/audit               the audit log as /nhatky shows it (?unit=<code>)

After a POST the page shows what was stored and, again, the rows that were not (their typed
cells carried in a short-lived cookie, checked anew on the GET), so a reload stores nothing twice.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import zlib
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dashboard.pages import ROOT, Dashboard, Problem, page, unit_path
from bot.webpages import PAGES, add_page, render
from bot.webpages.forms import read_form
from handlers.audit_log import readable
from handlers.figures_entry import entering_role
from handlers.figures_grid import GridRow, check_row, check_target, read_grid_date
from handlers.officials import target_role
from storage import audit, roles
from storage.figures import DENOMINATORS, FIGURE_FIELDS, figures_as_of, known_as_of, record_figure, set_target
from storage.models import utcnow
from storage.roles import Role
from storage.units import COUNTRY_CODE, CommuneIndex, unit_level
from texts import Percent, Text, t
from texts.content import Content
from texts.formats import local_date

CARRIED = "bz_acting"  # what the last POST stored and held back, for the page it leads to
CARRIED_MAX = 3500  # bytes of cookie; browsers drop a cookie above 4096
SOURCE = "web"  # the entries' source, beside chat's "chat" and an import's file name
AUDIT_SHOWN = 100


@dataclass(frozen=True)
class Naming:
    """What handlers.access.unit_name needs of a page (a chat has its Context)."""

    content: Content
    communes: CommuneIndex


class Acting:
    def __init__(self, dashboard: Dashboard) -> None:
        self.d = dashboard

    # -- the page --

    async def act_page(self, request: web.Request) -> web.Response:
        d = self.d
        d._admit(request)
        code = _unit(request)
        carried = _read_carried(request.cookies.get(CARRIED), code)
        today = local_date(utcnow())
        content = request.app[PAGES].service(request).content
        async with d._db(request) as db, db.begin():
            user = await d._user(request)
            await d._may_view(db, user, code)
            names = await _names(request, db)
            units = await _rows_for(db, names, user, code)
            target_units = await _target_units(db, names, user, code)
            if not units and not target_units:
                raise Problem(403, "not_yours")
            date_text = carried.get("d") or today.strftime("%d/%m/%Y")
            day = read_grid_date(date_text, today)
            known_day = day if isinstance(day, dt.date) else today
            history = await figures_as_of(db, [c for c, _ in units], known_day)
            title = await d._unit_title(request, db, code)
            titles = {u: await d._unit_title(request, db, u) for u in target_units}
        held: dict[str, list[str]] = carried.get("rows", {})
        rows = []
        for c, name in units:
            known = known_as_of(history.get(c, []), known_day).values
            typed = dict(zip(FIGURE_FIELDS, held.get(c, ["", "", "", ""]), strict=False))
            checked = check_row(c, typed, known, sure=False) if c in held else GridRow(c, typed)
            rows.append(
                {
                    "code": c,
                    "name": name,
                    "cells": checked.cells,
                    "known": {f: known[f] for f in FIGURE_FIELDS},
                    "problems": [content.render(p) for p in checked.problems],
                    "doubts": [content.render(p) for p in checked.doubts],
                }
            )
        notices = [content.render(_text(n)) for n in carried.get("notices", [])]
        target_typed = {"unit": "", "rate": "", "deadline": "", "denominator": "", **(carried.get("tg") or {})}
        context = {
            "code": code,
            "title": title,
            "date_text": date_text,
            "date_problem": content.render(day) if isinstance(day, Text) and "d" in carried else None,
            "rows": rows,
            "notices": notices,
            "held": bool(held),
            "target_units": [(u, titles[u]) for u in target_units],
            "target": target_typed,
            "target_problems": [content.render(_text(p)) for p in carried.get("tgp", [])],
            "denominators": DENOMINATORS,
            "fmt": d._formatter(request),
            **d._frame(request),
        }
        response = render(request, "dashboard/act.html", context)
        if CARRIED in request.cookies:
            response.del_cookie(CARRIED, path=ROOT)
        return response

    # -- figures for many units --

    async def save_figures(self, request: web.Request) -> web.Response:
        d = self.d
        d._admit(request)
        code = _unit(request)
        form = await read_form(request)
        today = local_date(utcnow())
        date_text = str(form.get("date", "")).strip()
        carried: dict[str, Any] = {"u": code, "d": date_text, "rows": {}, "notices": []}
        typed = {
            c: [str(form.get(f"{f}-{c}", "")) for f in FIGURE_FIELDS]
            for c in {str(k).split("-", 1)[1] for k in form if str(k).startswith("installed-")}
        }
        async with d._db(request) as db, db.begin():
            user = await d._user(request, form)
            await d._may_view(db, user, code)
            allowed = {c for c, _ in await _rows_for(db, await _names(request, db), user, code)}
            if not allowed:
                raise Problem(403, "not_yours")
            day = read_grid_date(date_text, today)
            entered = {c: cells for c, cells in typed.items() if c in allowed and any(v.strip() for v in cells)}
            if isinstance(day, Text):
                carried["rows"] = entered
            else:
                history = await figures_as_of(db, list(entered), day)
                saved = 0
                for c, cells in sorted(entered.items()):
                    known = known_as_of(history.get(c, []), day).values
                    row = check_row(c, dict(zip(FIGURE_FIELDS, cells, strict=True)), known, bool(form.get(f"sure-{c}")))
                    if row.ready:
                        v = row.values
                        await record_figure(
                            db,
                            c,
                            day,
                            entered_by=user,
                            source=SOURCE,
                            installed=v["installed"],
                            subscribers=v["subscribers"],
                            population=v["population"],
                            households=v["households"],
                        )
                        saved += 1
                    else:
                        carried["rows"][c] = cells
                if saved:
                    carried["notices"].append(
                        ["dashboard.acting.figures.saved", {"count": saved, "date": day.isoformat()}]
                    )
                if not entered:
                    carried["notices"].append(["dashboard.acting.figures.nothing", {}])
        if carried["rows"]:
            carried["notices"].append(["dashboard.acting.figures.held", {}])
        raise self._back(request, code, carried, "#figures")

    # -- a target --

    async def save_target(self, request: web.Request) -> web.Response:
        d = self.d
        d._admit(request)
        code = _unit(request)
        form = await read_form(request)
        today = local_date(utcnow())
        fields = {k: str(form.get(k, "")).strip() for k in ("unit", "rate", "deadline", "denominator")}
        carried: dict[str, Any] = {"u": code, "notices": []}
        async with d._db(request) as db, db.begin():
            user = await d._user(request, form)
            await d._may_view(db, user, code)
            names = await _names(request, db)
            unit = fields["unit"]
            if unit not in await _target_units(db, names, user, code):
                raise Problem(403, "not_yours")
            entry = check_target(unit, fields["rate"], fields["deadline"], fields["denominator"], today)
            if isinstance(entry, list):
                carried["tg"] = fields
                carried["tgp"] = [[p.key, dict(p.values)] for p in entry]
            elif await roles.check(db, user, target_role(names, unit), unit):
                await set_target(db, unit, entry.rate, entry.deadline, entry.denominator, set_by=user, source=SOURCE)
                saved = {
                    "unit": await d._unit_title(request, db, unit),
                    "rate": str(entry.rate),
                    "kind": entry.denominator,
                    "deadline": entry.deadline.isoformat(),
                }
                carried["notices"].append(["official.targets.saved", saved])
            else:
                raise Problem(403, "not_yours")
        raise self._back(request, code, carried, "#target")

    # -- the audit log --

    async def audit_log(self, request: web.Request) -> web.Response:
        d = self.d
        d._admit(request)
        unit = request.query.get("unit", "").strip() or None
        content = request.app[PAGES].service(request).content
        async with d._db(request) as db, db.begin():
            user = await d._user(request)
            if not await roles.check(db, user, Role.ADMIN, COUNTRY_CODE):
                raise Problem(403, "not_yours")
            entries = await audit.entries(db, unit_code=unit, limit=AUDIT_SHOWN)
            lines = await readable(db, await _names(request, db), entries)
        context = {
            "lines": [content.render(line) for line in lines],
            "unit": unit or "",
            **d._frame(request),
        }
        return render(request, "dashboard/audit.html", context)

    def _back(self, request: web.Request, code: str, carried: dict[str, Any], anchor: str) -> web.HTTPSeeOther:
        response = web.HTTPSeeOther(f"{unit_path(code)}/act{anchor}")
        value = _fit(carried)
        self.d._set_cookie(request, response, CARRIED, value, max_age=300)
        return response


async def _names(request: web.Request, db: AsyncSession) -> Naming:
    """The words and the map, as chat's handlers have them (the engine's one index of units)."""
    service = request.app[PAGES].service(request)
    return Naming(service.content, await service.engine.communes(db))


def _unit(request: web.Request) -> str:
    code = request.match_info["code"]
    try:
        unit_level(code)
    except ValueError:
        raise Problem(404, "no_unit") from None
    return code


def _children(index: CommuneIndex, code: str) -> list[tuple[str, str]]:
    """The grid's rows, as (code, name): a commune itself, else the units one level down on the
    map (the country's provinces; a province's communes today, before 2025 its districts, and a
    district's communes), as the unit's page lists them."""
    if unit_level(code) == "commune":
        entry = index.get(code)
        return [(code, entry.name)] if entry else []
    if code == COUNTRY_CODE:
        return sorted(index.provinces.items(), key=lambda p: p[1])
    districts = sorted((name, d) for d, (name, province) in index.districts.items() if province == code)
    if districts:
        return [(d, name) for name, d in districts]
    return [(e.code, e.name) for e in index.entries if index.parent(e.code) == code]


async def _rows_for(db: AsyncSession, names: Naming, user: int, code: str) -> list[tuple[str, str]]:
    """The grid's rows where the person enters figures as /capnhat lets them (`entering_role`: a
    coordinator their commune, a district or province officer theirs, an admin any)."""
    grants = await roles.grants_of(db, user, include_revoked=True)
    return [
        (c, name) for c, name in _children(names.communes, code) if _may(grants, entering_role(c), c, names.communes)
    ]


async def _target_units(db: AsyncSession, names: Naming, user: int, code: str) -> list[str]:
    """The units the target form offers: this unit and the grid's, each where the person sets
    targets as /chitieu lets them (`target_role`)."""
    units = [code, *(c for c, _ in _children(names.communes, code) if c != code)]
    grants = await roles.grants_of(db, user, include_revoked=True)
    return [u for u in units if _may(grants, target_role(names, u), u, names.communes)]


def _may(grants: list[roles.Grant], role: Role, code: str, index: CommuneIndex) -> bool:
    """`roles.check`'s answer for one of many units: its decision on the grants read once, the
    district and province from the index instead of a read per commune (a province has up to 168)."""
    level = unit_level(code)
    entry = index.get(code) if level == "commune" else None
    district: str | None
    province: str | None
    if level == "province":
        district, province = None, code
    elif level == "district":
        found = index.districts.get(code)
        district, province = code, found[1] if found else None
    else:
        district, province = (entry.district_code, entry.province_code) if entry else (None, None)
    return bool(roles.decide(grants, role, code, province, district))


def _text(carried: list[Any]) -> Text:
    """A notice or a problem as carried: its key and values, dates and rates restored."""
    key, values = carried[0], dict(carried[1])
    for name in ("date", "deadline"):
        if isinstance(values.get(name), str):
            values[name] = dt.date.fromisoformat(values[name])
    if "rate" in values:
        values["rate"] = Percent.target(Fraction(values["rate"]))
    if "kind" in values:
        values["kind"] = t(f"tally.denominators.{values['kind']}")
    return t(key, **values)


def _pack(carried: dict[str, Any]) -> str:
    raw = json.dumps(carried, separators=(",", ":"), ensure_ascii=False, default=_plain).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode()


def _fit(carried: dict[str, Any]) -> str:
    """The cookie's value; when the rows held back do not fit a cookie, the first half of them
    (again, until they fit), and a notice saying how many more to enter again."""
    value, held = _pack(carried), len(carried.get("rows", {}))
    while len(value) > CARRIED_MAX and carried.get("rows"):
        kept = dict(sorted(carried["rows"].items())[: len(carried["rows"]) // 2])
        notices = [n for n in carried["notices"] if n[0] != "dashboard.acting.figures.lost"]
        lost = ["dashboard.acting.figures.lost", {"count": held - len(kept)}]
        carried = {**carried, "rows": kept, "notices": [*notices, lost]}
        value = _pack(carried)
    return value


def _plain(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"not carried: {value!r}")


def _read_carried(value: str | None, code: str) -> dict[str, Any]:
    """The last POST's outcome for this unit's page; nothing when absent, another unit's or unreadable."""
    if not value:
        return {}
    try:
        carried = json.loads(zlib.decompress(base64.urlsafe_b64decode(value.encode())))
    except (ValueError, zlib.error, binascii.Error):
        return {}
    return carried if isinstance(carried, dict) and carried.get("u") == code else {}


def add_routes(app: web.Application, dashboard: Dashboard) -> None:
    a = Acting(dashboard)
    unit = ROOT + "/unit/{code:[0-9A-Z]{2,5}}"
    add_page(app, unit + "/act", name="dashboard.act", GET=page(a.act_page))
    add_page(app, unit + "/figures", name="dashboard.figures", POST=page(a.save_figures))
    add_page(app, unit + "/target", name="dashboard.target", POST=page(a.save_target))
    add_page(app, ROOT + "/audit", name="dashboard.audit", GET=page(a.audit_log))
