"""A commune named inside a sentence has its kind in lower case (as Vietnamese writes it), in
every flow that names one: coordinators, targets, visits, volunteers, install, venues. A name opening a sentence, a line or a labelled value keeps its capital."""

from __future__ import annotations

import re

from sqlalchemy import select

from storage.models import Commune, Volunteer, VolunteerInvite
from tests.handlers.test_checkin_flows import register, settings  # noqa: F401 - settings is a fixture
from tests.handlers.test_official_flows import official
from tests.harness import ChatDriver

HOAN_KIEM = "00070"  # Phường Hoàn Kiếm, Hà Nội
HA_NOI = "01"
# What comes before a word in the middle of a sentence: a word, a comma, an opening bracket.
MID_SENTENCE = re.compile(r"[\w,(][ \t]*$")


def capitals_mid_sentence(text: str, kinds: set[str]) -> list[str]:
    """The places where a division word with its capital stands inside a sentence."""
    found = []
    for kind in kinds:
        for match in re.finditer(rf"(?<!\w){re.escape(kind)}(?=\s)", text):
            if MID_SENTENCE.search(text[: match.start()]):
                found.append(text[max(0, match.start() - 40) : match.end() + 20])
    return found


async def division_words(service) -> tuple[set[str], str]:
    """The division types as the units data stores them (capitalised), and the test commune's name."""
    async with service.sessions() as db:
        kinds = set((await db.scalars(select(Commune.division_type).distinct())).all())
        name = (await db.scalars(select(Commune.name).where(Commune.code == HOAN_KIEM))).one()
    return {k[:1].upper() + k[1:] for k in kinds if k}, name


async def test_the_check_finds_a_capital_mid_sentence(service):
    kinds, name = await division_words(service)
    assert capitals_mid_sentence(f"x {name}", kinds)  # as a message read before the fix
    assert not capitals_mid_sentence(f"{name}\nx: {name}", kinds)


async def test_no_flow_capitalises_a_commune_mid_sentence(service):
    kinds, _ = await division_words(service)
    coordinator = await official(service, "900", "coordinator", HOAN_KIEM)
    for payload in ("co", f"co:v:{HOAN_KIEM}:0", f"co:p:{HOAN_KIEM}", f"co:h:{HOAN_KIEM}", f"co:i:{HOAN_KIEM}"):
        await coordinator.press(payload)

    # A registration without a code: pending, the coordinator asked, approved, told.
    binh = ChatDriver(service, user_id="901")
    for step in ("reg:nocode", "Hoàn Kiếm", "Trần Thị Bình", "0912345679", "reg:skip"):
        await (binh.press(step) if step.startswith("reg:") else binh.send(step))
    assert binh.keys == ["volunteer.pending"]
    await coordinator.press(f"co:p:{HOAN_KIEM}")
    await coordinator.press(next(p for p in coordinator.payloads() if p.startswith("vr:ok:")))
    await binh.send("/dangky")  # already a volunteer
    async with service.sessions() as db:
        row = (await db.scalars(select(Volunteer).where(Volunteer.display_name == "Trần Thị Bình"))).one()
    for payload in (f"co:off:{row.id}", f"co:off:{row.id}:y", f"co:on:{row.id}"):
        await coordinator.press(payload)

    # By invite: joined, welcomed; then a revoked code.
    async with service.sessions() as db:
        code = (await db.scalars(select(VolunteerInvite.code).where(VolunteerInvite.revoked_at.is_(None)))).one()
    an = ChatDriver(service, user_id="902")
    await an.send(f"/start v-{code}")
    await an.send("Nguyễn Văn An")
    await an.send("0912345678")
    await an.press("reg:skip")
    await coordinator.press(f"co:i:{HOAN_KIEM}:x")
    late = ChatDriver(service, user_id="903")
    await late.send(f"/start v-{code}")
    assert late.keys == ["volunteer.code_revoked"]

    # A visit, the volunteer's own figures.
    await an.send("thôn 3 số 12 4 máy cài 3")
    await an.press(next(p for p in an.payloads() if p.startswith("vs:save:")))
    await an.send("/toi")

    # A citizen's install, counted and then already counted.
    citizen = ChatDriver(service, user_id="904")
    await citizen.press("install")
    await citizen.send("Hoàn Kiếm")
    await citizen.press("install")
    assert citizen.keys == ["install.already"]

    # A venue's details.
    manager = ChatDriver(service, user_id="905")
    venue = await register(manager)
    await manager.press(f"venues:v:{venue.id}")

    # A commune's target, from the province officer.
    officer = await official(service, "906", "province_officer", HA_NOI)
    await officer.press("ct:c")
    await officer.send("Hoàn Kiếm")
    assert officer.keys == ["official.targets.ask_rate"]

    texts = [s.message.text for s in coordinator.channel.sent]
    assert len(texts) > 30
    assert [found for text in texts for found in capitals_mid_sentence(text, kinds)] == []
