"""The commune picker with the names people use: commune and province in one breath, names from
before the 2025 merger, near names of a typo; and a commune typed over the support points' list."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import User
from tests.harness import ChatDriver


async def pick(service, text: str, user: str = "1001") -> ChatDriver:
    chat = ChatDriver(service, user_id=user)
    await chat.press("support")
    assert chat.keys == ["support.ask_commune"]
    await chat.send(text)
    return chat


async def remembered(service) -> str | None:
    async with service.sessions() as db:
        return (await db.scalars(select(User.commune_code))).one()


def labels(chat: ChatDriver) -> list[str]:
    return [b.label for m in chat.last for row in m.buttons for b in row]


async def test_commune_and_province_in_one_breath(service):
    for i, (text, name) in enumerate(
        [
            # named inside a sentence: the commune's kind in lower case
            ("duc hoa tay ninh", "xã Đức Hòa, Tỉnh Tây Ninh"),
            ("phuong hoan kiem ha noi", "phường Hoàn Kiếm, Thành phố Hà Nội"),
            ("Hà Nội, Hoàn Kiếm", "phường Hoàn Kiếm, Thành phố Hà Nội"),
            ("xa duc hoa, tinh tay ninh", "xã Đức Hòa, Tỉnh Tây Ninh"),
        ]
    ):
        chat = await pick(service, text, user=f"20{i}")
        assert chat.keys == ["support.none"], text
        assert name in chat.text(), text


async def test_tan_phu_dong_nai_is_not_tan_phu_dong(service):
    chat = await pick(service, "tan phu dong nai")
    assert chat.keys == ["support.none"]
    assert "xã Tân Phú, Tỉnh Đồng Nai" in chat.text() and "Đồng Tháp" not in chat.text()


async def test_a_former_name_is_answered_with_todays_commune(service):
    chat = await pick(service, "xã Đức Hòa Hạ, huyện Đức Hòa, Long An")
    assert chat.keys == ["commune.former_now", "support.none"]
    assert "Xã Đức Hòa Hạ, Huyện Đức Hòa cũ, nay thuộc Xã Đức Hòa, Tỉnh Tây Ninh." in chat.text()
    assert await remembered(service) == "27937"  # Xã Đức Hòa, Tây Ninh


async def test_a_split_former_commune_offers_the_new_ones(service):
    # Phường Cống Vị (Ba Đình) went partly to Phường Ngọc Hà (00008) and partly to Phường Giảng Võ (00025).
    chat = await pick(service, "Phường Cống Vị, Ba Đình")
    assert chat.keys == ["commune.former_split"]
    assert sorted(p for p in chat.payloads() if p.startswith("commune:")) == ["commune:00008", "commune:00025"]
    assert "Phường Cống Vị, Quận Ba Đình cũ nay đã chia về 2 xã, phường" in chat.text()
    assert all("có một phần Phường Cống Vị, Quận Ba Đình cũ" in label for label in labels(chat)[:2])
    await chat.press("commune:00025")
    assert chat.keys == ["support.none"]
    assert await remembered(service) == "00025"


async def test_near_names_of_a_typo_are_not_called_the_same_name(service):
    chat = await pick(service, "hoan kim")
    assert chat.keys == ["commune.choose_similar"]
    assert "trùng tên" not in chat.text()
    assert "commune:00070" in chat.payloads()


async def test_the_same_name_in_several_provinces_is_called_so(service):
    chat = await pick(service, "Ba Tơ")
    assert chat.keys == ["commune.choose"]
    assert "Có 2 nơi trùng tên" in chat.text()


async def test_a_commune_typed_over_the_support_points_searches_again(service):
    chat = await pick(service, "Hoàn Kiếm")
    assert chat.keys == ["support.none"]
    await chat.send("Cửa Nam")  # another commune, typed instead of pressing "change"
    assert chat.keys == ["support.none"]
    assert "phường Cửa Nam" in chat.text()
    assert await remembered(service) == "00082"
    await chat.send("duc hoa ha long an")  # a former name works there too
    assert chat.keys == ["commune.former_now", "support.none"]
    await chat.send("asdfgh qwerty")  # not a commune: as anywhere else
    assert chat.keys == ["menu.not_understood"]


async def test_short_words_over_the_support_points_are_not_a_search(service):
    chat = await pick(service, "Hoàn Kiếm")
    for text in ("có", "cảm ơn", "vâng"):  # "có", "vâng" begin many communes' names
        await chat.send(text)
        assert "commune.many_matches" not in chat.keys and "commune.choose_similar" not in chat.keys, text


async def test_a_former_name_of_several_communes_lists_where_each_went(service):
    # Three communes were called Xã Kim Chung before 2025, and no commune is called so today.
    chat = await pick(service, "Kim Chung")
    assert chat.keys == ["commune.former_many"]
    former = [label for label in labels(chat) if "Xã Kim Chung" in label and "cũ" in label]
    assert len(former) >= 3
    assert "trùng tên" not in chat.text()
