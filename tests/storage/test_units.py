"""Administrative units: loading, codes, and the commune search's ranking and tolerance."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from storage.folding import fold
from storage.models import Commune, Province
from storage.units import EXACT, FORMER, FUZZY, PREFIX, CommuneIndex, load_units, unit_level


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
    assert ranks[0] == EXACT and PREFIX in ranks
    assert all(m.commune.key == "phu hoa" for m in hits if m.rank == EXACT)


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


@pytest.mark.parametrize(
    ("query", "name", "province"),
    [
        ("duc hoa tay ninh", "Xã Đức Hòa", "Tỉnh Tây Ninh"),
        ("phuong hoan kiem ha noi", "Phường Hoàn Kiếm", "Thành phố Hà Nội"),
        ("Hà Nội, Hoàn Kiếm", "Phường Hoàn Kiếm", "Thành phố Hà Nội"),
        ("thanh pho ha noi phuong hoan kiem", "Phường Hoàn Kiếm", "Thành phố Hà Nội"),
        ("xã Đức Hòa tỉnh Tây Ninh", "Xã Đức Hòa", "Tỉnh Tây Ninh"),
        ("tp hcm ben thanh", "Phường Bến Thành", "Thành phố Hồ Chí Minh"),
        ("tan phu dong nai", "Xã Tân Phú", "Tỉnh Đồng Nai"),
    ],
)
def test_commune_and_province_in_one_breath(index, query, name, province):
    hits = index.search(query)
    exact = [m for m in hits if m.rank == EXACT]
    assert [(m.commune.name, m.commune.province_name) for m in exact] == [(name, province)]
    assert hits[0] == exact[0]


def test_a_name_that_ends_like_a_province_is_still_found(index):
    # "Tân Phú Đông" is a commune of Đồng Tháp: typed whole, it is found as a name.
    assert index.search("Tân Phú Đông")[0].commune.name == "Xã Tân Phú Đông"


def test_former_name_answered_with_todays_commune(index):
    for query in (
        "xã Đức Hòa Hạ, huyện Đức Hòa, Long An",
        "Đức Hòa Hạ",
        "duc hoa ha duc hoa long an",
        "Đức Hòa Hạ, Tây Ninh",
    ):
        (hit,) = index.search(query)
        assert hit.rank == FORMER and hit.former.name == "Xã Đức Hòa Hạ", query
        assert (hit.commune.name, hit.commune.province_name) == ("Xã Đức Hòa", "Tỉnh Tây Ninh")
    # Today's name wins over a former one of the same spelling.
    assert index.search("Hoàn Kiếm")[0].rank == EXACT


def test_a_split_former_commune_offers_each_part(index):
    split = next(c for c in index.former.by_code.values() if len(c.became) > 1)
    hits = index.search(f"{split.name}, {split.district_name}, {split.province_name}")
    former = [m for m in hits if m.rank == FORMER]
    assert {m.commune.code for m in former} == {code for code, _ in split.became}
    assert all(m.partly for m in former)


def test_former_names_only_when_no_commune_has_that_name_today(index):
    # Phường Hàng Bạc (Hoàn Kiếm district) is now part of Phường Hoàn Kiếm.
    hits = index.search("Phường Hàng Bạc")
    assert hits[0].rank == FORMER and hits[0].commune.code == "00070"


def test_near_names_of_a_typo_are_fuzzy_not_exact(index):
    hits = index.search("hoan kim")
    assert hits and all(m.rank == FUZZY for m in hits)


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
