"""Administrative units: loading, codes, and the commune search's ranking and tolerance."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from storage.folding import fold
from storage.models import Commune, Province
from storage.units import CommuneIndex, load_units, unit_level


@pytest.fixture(scope="module")
def index() -> CommuneIndex:
    return CommuneIndex.from_data()


async def test_units_loaded_and_reload_is_idempotent(sessions):
    async with sessions() as db, db.begin():
        assert await load_units(db) == (34, 3321)
        assert await load_units(db) == (34, 3321)
    async with sessions() as db:
        hk = await db.get(Commune, "00070")
        assert hk.name == "Phường Hoàn Kiếm" and hk.province_code == "01"
        assert (await db.get(Province, "01")).name == "Thành phố Hà Nội"
        assert (
            await db.scalar(select(func.count()).select_from(Commune).where(Commune.division_type == "đặc khu")) == 13
        )


async def test_index_from_database_equals_index_from_data(sessions, index):
    async with sessions() as db:
        from_db = await CommuneIndex.load(db)
    assert len(from_db) == len(index) == 3321
    assert from_db.get("00070") == index.get("00070")


def test_unit_levels():
    assert unit_level("VN") == "country"
    assert unit_level("01") == "province"
    assert unit_level("00070") == "commune"
    with pytest.raises(ValueError):
        unit_level("7")


@pytest.mark.parametrize(
    "query",
    [
        "Hoàn Kiếm",
        "hoan kiem",
        "HOAN KIEM",
        "Phường Hoàn Kiếm",
        "phuong hoan kiem",
        "p. Hoàn Kiếm",
        unicodedata.normalize("NFD", "Hoàn Kiếm"),
        "00070",
        "70",
    ],
)
def test_exact_names_in_any_spelling(index, query):
    assert index.search(query)[0].commune.code == "00070"


def test_old_and_new_tone_placement(index):
    old = [m.commune.code for m in index.search("Phú Hoà")]
    new = [m.commune.code for m in index.search("Phú Hòa")]
    assert old == new and old
    assert [m.commune.code for m in index.search("Thuỵ Anh")] == [m.commune.code for m in index.search("Thụy Anh")]


def test_d_and_dac_khu_prefix(index):
    hits = index.search("Đặc khu Phú Quý")
    assert hits[0].commune.name == "Đặc khu Phú Quý"
    assert index.search("dac khu phu quy")[0].commune.code == hits[0].commune.code
    assert index.search("Phu Quy")[0].commune.code == hits[0].commune.code


def test_ranking_exact_before_prefix_before_fuzzy(index):
    hits = index.search("Phú Hòa")
    ranks = [m.rank for m in hits]
    assert ranks == sorted(ranks)
    assert ranks[0] == 0 and 1 in ranks
    assert all(m.commune.key == "phu hoa" for m in hits if m.rank == 0)


def test_typo_found_fuzzily(index):
    hits = index.search("Hoan Kiem")
    assert hits[0].commune.code == "00070"
    assert any(m.commune.code == "00070" for m in index.search("hoan kim"))


def test_province_filter(index):
    everywhere = index.search("Tân Phú")
    in_dong_nai = index.search("Tân Phú, Đồng Nai")
    assert len(in_dong_nai) < len(everywhere)
    assert {m.commune.province_name for m in in_dong_nai} == {"Tỉnh Đồng Nai"}
    assert {m.commune.province_code for m in index.search("Tân Phú", province_code="75")} <= {"75"}
    assert index.search("Tân Phú, Atlantis") == []


def test_nothing_found(index):
    assert index.search("") == []
    assert index.search("zzzzzz qqqq") == []


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_input_is_searchable(text):
    index = _INDEX
    results = index.search(text)
    assert len(results) <= 50
    assert [m.rank for m in results] == sorted(m.rank for m in results)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(range(3321)))
def test_every_commune_is_found_by_its_own_name(i):
    entry = _INDEX.entries[i]
    for spelling in (entry.name, fold(entry.name), f"{entry.name}, {entry.province_name}"):
        assert entry.code in [m.commune.code for m in _INDEX.search(spelling)]


_INDEX = CommuneIndex.from_data()
