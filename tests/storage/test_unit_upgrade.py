"""Moving to a new units data version: a database filled under vietnam-provinces 2025.10.1 keeps
every venue, figure and role on its own commune when 2026.9.0 gives that commune another code."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text

from storage.db import create_engine, sessionmaker
from storage.migrate import upgrade
from storage.models import (
    Account,
    Commune,
    CommuneDailyCount,
    Conversation,
    OfficialFigure,
    RoleGrant,
    Target,
    UnitSource,
    User,
    Venue,
    utcnow,
)
from storage.unit_upgrade import UnitsUpgradeBlocked, name_key
from storage.units import division_data, load_units, package_version, pad_unit_code, plan_units

OLD_DATA = Path(__file__).parent / "data" / "units-2025.10.1.tsv"
OLD_VERSION = ("2025.10.1", "2025-10-18")
DAY = dt.date(2021, 8, 3)


def old_data() -> list[dict]:
    """The 2025.10.1 units in the package's nested shape."""
    provinces: list[dict] = []
    for line in OLD_DATA.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            continue
        if line.startswith("\t"):
            code, name, kind = line[1:].split("\t")
            provinces[-1]["wards"].append({"code": int(code), "name": name, "division_type": kind})
        else:
            code, name, kind = line.split("\t")
            provinces.append({"code": int(code), "name": name, "division_type": kind, "wards": []})
    return provinces


@pytest.fixture
async def old_engine(database: dict, tmp_path: Path):
    """A database of its own at revision 0008 (before units knew their version), on each backend."""
    schema = None
    if database["schema"] is None:
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url, schema = database["url"], f"test_old_{uuid.uuid4().hex[:8]}"
        admin = create_engine(url)
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await admin.dispose()
    engine = create_engine(url, schema=schema)
    await upgrade(engine, "0008")
    yield engine
    await engine.dispose()
    if schema:
        admin = create_engine(url)
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


async def fill_as_under_2025_10_1(engine) -> dict[str, int]:
    """What a commune office had stored under 2025.10.1: Phường Kim Liên was 00226, Phường Cầu Giấy
    00167, Phường Văn Miếu - Quốc Tử Giám 00196; Xã Vinh Quý, Lý Quốc and Hạ Lang 01537/01558/01561."""
    data = old_data()
    async with sessionmaker(engine)() as db, db.begin():
        # The tables as they were at 0008 (today's models have columns added since).
        await db.execute(
            sa.insert(_OLD["provinces"]),
            [{"code": f"{p['code']:02d}", "name": p["name"], "division_type": p["division_type"]} for p in data],
        )
        await db.execute(
            sa.insert(_OLD["communes"]),
            [
                {**{k: w[k] for k in ("name", "division_type")}, "code": f"{w['code']:05d}"}
                | {"province_code": f"{p['code']:02d}"}
                for p in data
                for w in p["wards"]
            ],
        )
        coordinator = User(commune_code="00226")
        citizen = User(commune_code="00167")
        db.add_all([coordinator, citizen])
        await db.flush()
        venues = {
            "kim_lien": Venue(code="KL00001", name="Chợ Kim Liên", kind="market", commune_code="00226", address="1"),
            "cau_giay": Venue(code="CG00001", name="Ga Cầu Giấy", kind="other", commune_code="00167", address="2"),
            "van_mieu": Venue(code="VM00001", name="Văn Miếu", kind="other", commune_code="00196", address="3"),
            "vinh_quy": Venue(code="VQ00001", name="UBND Vinh Quý", kind="other", commune_code="01537", address="4"),
            "ly_quoc": Venue(code="LQ00001", name="UBND Lý Quốc", kind="other", commune_code="01558", address="5"),
        }
        db.add_all(venues.values())
        account = Account(channel="test", external_id="kl", chat_id="kl", user_id=coordinator.id)
        db.add(account)
        await db.flush()
        # A form half filled when the upgrade comes, and a numbered menu of communes on screen.
        db.add(
            Conversation(
                account_id=account.id,
                state="figures.ask_installed",
                draft={"picked_commune": "00226", "fig": {"commune": "00167", "installed": 5}, "note": "00226 x"},
                menu=["commune:00226", "commune:00070", "home"],
            )
        )
        db.add_all(
            [
                RoleGrant(user_id=coordinator.id, role="coordinator", unit_code="00226"),
                RoleGrant(user_id=coordinator.id, role="coordinator", unit_code="00167"),
                RoleGrant(user_id=coordinator.id, role="province_officer", unit_code="01"),
                # One count per commune and day: 00196 moves to 00226 while 00226 moves to 00229.
                CommuneDailyCount(commune_code="00226", day=DAY, households_visited=7),
                CommuneDailyCount(commune_code="00196", day=DAY, households_visited=9),
            ]
        )
        await db.flush()
        now = utcnow().replace(tzinfo=None) if db.bind.dialect.name == "sqlite" else utcnow()
        await db.execute(
            sa.insert(_OLD["official_figures"]),
            [
                {
                    "commune_code": code,
                    "as_of": DAY,
                    "installed": n,
                    "subscribers": 10 * n,
                    "source": "t",
                    "entered_at": now,
                }
                for code, n in (("00226", 100), ("00167", 200), ("00196", 300))
            ],
        )
        await db.execute(
            sa.insert(_OLD["targets"]),
            [
                {
                    "unit_code": "00167",
                    "rate_ppm": 600_000,
                    "deadline": DAY,
                    "denominator": "subscribers",
                    "source": "t",
                    "set_at": now,
                }
            ],
        )
        return {name: venue.id for name, venue in venues.items()} | {
            "coordinator": coordinator.id,
            "account": account.id,
        }


_OLD = {
    "provinces": sa.table("provinces", sa.column("code"), sa.column("name"), sa.column("division_type")),
    "communes": sa.table(
        "communes", sa.column("code"), sa.column("name"), sa.column("division_type"), sa.column("province_code")
    ),
    "official_figures": sa.table(
        "official_figures",
        *(sa.column(c) for c in ("commune_code", "as_of", "installed", "subscribers", "source", "entered_at")),
    ),
    "targets": sa.table(
        "targets", *(sa.column(c) for c in ("unit_code", "rate_ppm", "deadline", "denominator", "source", "set_at"))
    ),
}


async def commune_name(db, code: str) -> str:
    return (await db.get(Commune, code)).name


async def test_upgrade_keeps_everything_on_its_own_commune(old_engine):
    ids = await fill_as_under_2025_10_1(old_engine)
    await upgrade(old_engine)  # 0009 records that these units are 2025.10.1's
    async with sessionmaker(old_engine)() as db:
        assert (await db.get(UnitSource, "2025")).version == "2025.10.1"
        plan = await plan_units(db)
    assert not plan.blocked, plan.report()
    moves = plan.mapping
    assert moves["00226"] == "00229" and moves["00167"] == "00166" and moves["00196"] == "00226"
    assert (moves["01537"], moves["01558"], moves["01561"]) == ("01561", "01537", "01558")
    report = "\n".join(plan.report())
    assert "moved 00226 → 00229 Phường Kim Liên (" in report
    assert "renamed 01501 'Xã Đàm Thuỷ' → 'Xã Đàm Thủy'" in report

    async with sessionmaker(old_engine)() as db, db.begin():
        assert await load_units(db) == (34, 3321)

    async with sessionmaker(old_engine)() as db:
        assert (await db.get(UnitSource, "2025")).version == package_version()[0] == "2026.9.0"

        async def venue_commune(name: str) -> str:
            venue = await db.get(Venue, ids[name])
            return await commune_name(db, venue.commune_code)

        assert await venue_commune("kim_lien") == "Phường Kim Liên"
        assert await venue_commune("cau_giay") == "Phường Cầu Giấy"
        assert await venue_commune("van_mieu") == "Phường Văn Miếu - Quốc Tử Giám"
        assert await venue_commune("vinh_quy") == "Xã Vinh Quý"
        assert await venue_commune("ly_quoc") == "Xã Lý Quốc"
        figures = {f.installed: await commune_name(db, f.unit_code) for f in (await db.scalars(select(OfficialFigure)))}
        # Stored before migration 0014: on today's map, scheme 2025.
        assert {f.scheme for f in await db.scalars(select(OfficialFigure))} == {"2025"}
        assert {t.scheme for t in await db.scalars(select(Target))} == {"2025"}
        assert figures == {
            100: "Phường Kim Liên",
            200: "Phường Cầu Giấy",
            300: "Phường Văn Miếu - Quốc Tử Giám",
        }
        grants = {
            g.unit_code for g in await db.scalars(select(RoleGrant).where(RoleGrant.user_id == ids["coordinator"]))
        }
        assert grants == {"00229", "00166", "01"}
        counts = {c.commune_code: c.households_visited for c in await db.scalars(select(CommuneDailyCount))}
        assert counts == {"00229": 7, "00226": 9}
        assert (await db.scalar(select(Target.unit_code))) == "00166"
        users = {u.commune_code for u in await db.scalars(select(User))}
        assert users == {"00229", "00166"}
        conversation = await db.get(Conversation, ids["account"])
        assert conversation.draft == {
            "picked_commune": "00229",
            "fig": {"commune": "00166", "installed": 5},
            "note": "00226 x",
        }
        assert conversation.menu == ["commune:00229", "commune:00070", "home"]
        assert await db.get(Commune, "00167") is None  # no code of the old data is left over
        assert not [c for c in await db.scalars(select(Commune.code)) if c.startswith("~")]

    # Loading again is a no-op: the version is recorded.
    async with sessionmaker(old_engine)() as db, db.begin():
        assert await load_units(db) == (34, 3321)
        assert (await db.get(Venue, ids["kim_lien"])).commune_code == "00229"


async def test_an_ambiguous_match_stops_with_nothing_changed(old_engine):
    ids = await fill_as_under_2025_10_1(old_engine)
    await upgrade(old_engine)
    # A new version where two communes of Hà Nội are both called Phường Kim Liên: which one the
    # stored 00226 means is for the operator to say.
    data = [dict(p, wards=list(p["wards"])) for p in division_data()]
    data[0]["wards"].append({"code": 99991, "name": "Phường Kim Liên", "division_type": "phường"})
    async with sessionmaker(old_engine)() as db:
        with pytest.raises(UnitsUpgradeBlocked) as blocked:
            async with db.begin():
                await load_units(db, data, ("2099.1.0", "2099-01-01"))
    (item,) = blocked.value.plan.unresolved
    assert item.old.code == "00226" and {c.code for c in item.candidates} == {"00229", "99991"}
    assert any(line.startswith("TO DECIDE 00226 Phường Kim Liên") for line in blocked.value.plan.report())
    async with sessionmaker(old_engine)() as db:
        assert (await db.get(UnitSource, "2025")).version == "2025.10.1"
        assert (await db.get(Venue, ids["kim_lien"])).commune_code == "00226"
        assert await commune_name(db, "00226") == "Phường Kim Liên"

    # The operator's decision unblocks it.
    async with sessionmaker(old_engine)() as db, db.begin():
        await load_units(db, data, ("2099.1.0", "2099-01-01"), decisions={"00226": "99991"})
    async with sessionmaker(old_engine)() as db:
        assert (await db.get(Venue, ids["kim_lien"])).commune_code == "99991"
        assert (await db.get(Venue, ids["cau_giay"])).commune_code == "00166"


def test_name_key_equates_spellings_not_names():
    assert name_key("Xã  Đàm Thuỷ") == name_key("Xã Đàm Thủy") == name_key("xã đàm thủy")
    assert name_key("Phường Hoà Bình") == name_key("Phường Hòa Bình")
    assert name_key("Xã Chân Mây – Lăng Cô") == name_key("Xã Chân Mây - Lăng Cô")
    assert name_key("Phường B'Lao") == name_key("Phường B’Lao")
    assert name_key("Xã Ea H’leo") == name_key("Xã Ea H’Leo")
    assert name_key("Xã Phú Hòa") != name_key("Xã Phù Hòa")
    assert name_key("Xã Tân Phú") != name_key("Xã Tân Phũ")


@given(st.text(max_size=40))
def test_name_key_is_stable(name):
    assert name_key(name_key(name)) == name_key(name)


def test_codes_are_padded_to_their_level():
    assert pad_unit_code("1") == "01"
    assert pad_unit_code("01") == "01"
    assert pad_unit_code("167") == "00167"
    assert pad_unit_code("1537") == "01537"
    assert pad_unit_code("vn") == "VN"
    for bad in ("", "123456", "abc", "1.5"):
        with pytest.raises(ValueError):
            pad_unit_code(bad)


async def test_migration_pads_unit_codes_typed_short(old_engine):
    ids = await fill_as_under_2025_10_1(old_engine)
    async with sessionmaker(old_engine)() as db, db.begin():
        db.add(RoleGrant(user_id=ids["coordinator"], role="volunteer", unit_code="167"))
        now = utcnow().replace(tzinfo=None) if db.bind.dialect.name == "sqlite" else utcnow()
        await db.execute(
            sa.insert(_OLD["targets"]),
            [
                {
                    "unit_code": "1",
                    "rate_ppm": 500_000,
                    "deadline": DAY,
                    "denominator": "subscribers",
                    "source": "t",
                    "set_at": now,
                }
            ],
        )
    await upgrade(old_engine)
    async with sessionmaker(old_engine)() as db:
        assert "00167" in set(await db.scalars(select(RoleGrant.unit_code).where(RoleGrant.role == "volunteer")))
        assert set(await db.scalars(select(Target.unit_code))) == {"00167", "01"}
