"""Messengers without buttons (the Zalo Bot Platform, the terminal), through the real engine: at
most MAX_CHOICES numbered choices a message and "0" for the next page; the main menu's numbers
fixed in content, with gaps for entries a person lacks; no label numbered twice; a message that
asks to choose shows its choices."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from fractions import Fraction

from sqlalchemy import select

from bot.render import MAX_CHOICES, MORE, MORE_KEY, Menu
from bot.settings import Secret
from handlers import build_router
from storage.figures import record_figure, set_target
from storage.models import Account, Conversation
from tests.harness import NO_BUTTONS, ChatDriver, grant_role
from texts import t

PLAIN = "plain"  # a channel of the test's own: the harness's "test" channel has buttons
BAC_GIANG, BAC_NINH = "07210", "24"  # Phường Bắc Giang, in Bắc Ninh (99 communes)
AN_LAC = "07654"  # Xã An Lạc, also in Bắc Ninh
HOAN_KIEM = "00070"
YESTERDAY = dt.date.today() - dt.timedelta(days=1)  # the engine's clock is the real one here
# A numbered choice as common.numbered_option writes it ("{number}. {label}").
OPTION = re.compile(r"^(\d+)\. (.+)$", re.MULTILINE)
# A count's choices as common.value_options writes them ("0 · 1 · 2").
VALUES = re.compile(r"^\d+(?: · \d+)+$", re.MULTILINE)


def options(text: str) -> dict[int, str]:
    return {int(n): label for n, label in OPTION.findall(text)}


def render(service, key: str, **values) -> str:
    return service.content.render(t(key, **values))


async def person(service, user_id: str, role: str | None = None, unit: str | None = None) -> ChatDriver:
    if role is not None and unit is not None:
        await grant_role(service, user_id, role, unit, channel=PLAIN)
    return ChatDriver(service, user_id=user_id, channel=PLAIN, caps=NO_BUTTONS)


async def stored_menu(service, chat: ChatDriver) -> Menu:
    async with service.sessions() as db:
        stored = await db.scalar(
            select(Conversation.menu)
            .join(Account, Account.id == Conversation.account_id)
            .where(Account.channel == PLAIN, Account.external_id == chat.user_id)
        )
        return Menu.load(stored)


# --- paging -----------------------------------------------------------------------------------


async def test_a_province_summary_shows_eight_choices_then_0_for_the_rest(service):
    async with service.sessions() as db, db.begin():
        await record_figure(db, BAC_GIANG, YESTERDAY, entered_by=None, source="t", installed=82930, subscribers=174229)
        await set_target(db, BAC_NINH, Fraction(3, 5), YESTERDAY + dt.timedelta(days=90), set_by=None, source="t")
    chat = await person(service, "901", "province_officer", BAC_NINH)
    await chat.send("/thongke")
    assert chat.keys == ["common.lines", "official.chart_caption"]
    summary, chart = chat.last
    assert summary.text == summary.text.strip() and "\n\n\n" not in summary.text
    # The chart comes with its caption and the choices in one message.
    assert chart.attachment_kind == "image"
    assert chart.text.startswith(render(service, "official.chart_caption"))
    first = options(chart.text)
    assert len(first) == MAX_CHOICES + 1 and first[MORE] == render(service, MORE_KEY)
    assert list(first)[:MAX_CHOICES] == list(range(1, MAX_CHOICES + 1))
    shown = dict(first)
    while MORE in options(chat.text()):
        await chat.send(str(MORE))
        assert chat.keys == [MORE_KEY]
        page = options(chat.text())
        assert 0 < len(page) <= MAX_CHOICES + 1
        assert min(page.keys() - {MORE}) == max(shown.keys() - {MORE}) + 1  # the numbers run on
        shown.update(page)
    menu = await stored_menu(service, chat)
    assert len(menu.choices) > MAX_CHOICES and set(menu.choices) == shown.keys() - {MORE}
    # No label is numbered twice ("3. 1. <commune>"): a drill-down's own number gave way.
    assert not any(OPTION.match(label) or label[0].isdigit() for label in shown.values())
    # A choice of a later page is typed as shown, the step still waiting.
    other = next(n for n, label in shown.items() if label == render(service, "official.other_commune"))
    assert other > MAX_CHOICES
    await chat.send(str(other))
    assert chat.keys == ["official.ask_commune"]


async def test_0_without_more_choices_is_an_answer_like_any_other(service):
    chat = await person(service, "902")
    await chat.send("/menu")
    assert MORE not in options(chat.text())
    await chat.send(str(MORE))
    assert chat.keys == ["menu.not_understood"]


async def test_lists_with_their_own_navigation_fit_one_message(service):
    """The FAQ's pages and the commune picker keep their choices, navigation and home within one
    message where choices are typed: no "0" beside their own "more"."""
    chat = await person(service, "905")
    await chat.send("/menu")
    await chat.send(str(service.content.section("menu.numbers")["menu.faq"]))
    assert chat.keys == ["faq.list"]
    first = options(chat.text())
    assert MORE not in first and len(first) == MAX_CHOICES - 1  # no "back" on the first page
    more = next(n for n, label in first.items() if label == render(service, "faq.more"))
    await chat.send(str(more))
    assert chat.keys == ["faq.list"] and MORE not in options(chat.text())
    assert len(options(chat.text())) == MAX_CHOICES
    await chat.send("/menu")
    await chat.send(str(service.content.section("menu.numbers")["menu.support"]))
    await chat.send("tan phu")  # dozens of communes
    assert chat.keys == ["commune.many_matches"]
    shown = options(chat.text())
    assert len(shown) == MAX_CHOICES and MORE not in shown
    assert shown[MAX_CHOICES] == render(service, "common.home")


# --- the main menu's numbers --------------------------------------------------------------------


def test_every_menu_entry_has_its_own_number_in_content(content):
    numbers = content.section("menu.numbers")
    labels = [e.label for e in build_router().menu]
    assert sorted(numbers) == sorted(labels)
    assert len(set(numbers.values())) == len(numbers) and MORE not in numbers.values()


async def test_menu_numbers_stay_when_a_role_or_a_setting_is_added(service):
    number_of = service.content.section("menu.numbers")
    label_of = {n: render(service, key) for key, n in number_of.items()}

    def expected(*keys: str) -> dict[int, str]:
        return {number_of[k]: label_of[number_of[k]] for k in keys}

    citizen = ("menu.guide", "menu.faq", "menu.support", "menu.installed")
    field_work = ("visit.menu", "visit.menu_recent", "volunteer.menu_me")
    chat = await person(service, "903")
    await chat.send("/menu")
    assert options(chat.text()) == expected(*citizen)
    await chat.send(str(number_of["visit.menu"]))  # a gap: not a choice for this person
    assert not any(k.startswith("visit.") for k in chat.keys)

    await grant_role(service, "903", "volunteer", HOAN_KIEM, channel=PLAIN)
    await chat.send("/menu")
    assert options(chat.text()) == expected(*citizen, *field_work)

    # The QR key set: venue registration appears, and nothing else moves.
    service.engine.settings = dataclasses.replace(service.engine.settings, qr_signing_key=Secret("q" * 32))
    await chat.send("/menu")
    assert options(chat.text()) == expected(*citizen, *field_work, "venue.menu_register")

    # A coordinator too: more entries than a message takes, the numbers still the same.
    await grant_role(service, "903", "coordinator", HOAN_KIEM, channel=PLAIN)
    await chat.send("/menu")
    page = options(chat.text())
    assert len(page) == MAX_CHOICES + 1 and MORE in page
    await chat.send(str(MORE))
    page.update(options(chat.text()))
    del page[MORE]
    assert page == expected(
        *citizen,
        *field_work,
        "coordinator.menu",
        "official.menu",
        "announce.menu",
        "venue.menu_register",
        "dashboard.chat.menu",
    )
    await chat.send(str(number_of["visit.menu"]))
    assert chat.keys == ["visit.ask_hamlet_first"]


# --- a count's choices ------------------------------------------------------------------------


async def test_a_count_question_shows_its_choices_as_the_numbers_they_are(service):
    chat = await person(service, "904", "volunteer", HOAN_KIEM)
    await chat.send("/ghinhan")
    await chat.send("thon 3")
    await chat.send("so 12")
    assert chat.keys == ["visit.ask_outcome"]
    helped = next(n for n, label in options(chat.text()).items() if label == render(service, "visit.outcome.helped"))
    await chat.send(str(helped))
    assert chat.keys == ["visit.ask_smartphones"]
    (values,) = VALUES.findall(chat.text())
    assert not options(chat.text())  # "1" means one phone here, not a first choice
    await chat.send(values.split(" · ")[2])
    assert chat.keys == ["visit.ask_installed_now"]
    assert VALUES.search(chat.text())


# --- a message that asks to choose shows its choices -------------------------------------------

# The messages the walk below must reach: the forms' questions and the pickers that ask to choose.
WALKED = {
    "menu.greeting",
    "menu.home",
    "menu.not_understood",
    "faq.list",
    "commune.choose",
    "commune.choose_similar",
    "commune.former_many",
    "visit.ask_outcome",
    "visit.ask_smartphones",
    "visit.ask_installed_now",
    "visit.ask_hamlet",
    "coordinator.choose_commune",
    "official.figures.ask_date",
    "official.reports.none",
    "official.targets.ask_rate",
    "official.targets.retry",  # with the reason "choose a denominator"
}


# Keys whose words say "choose" and show no choices of their own, and why that is right.
NOT_ASKING = {
    "common.numbered_hint": "the choices' own line",
    "common.numbered_range": "the choices' own line",
    "common.ask_alternatives": "the line above the choices",
    "menu.terminal_intro": "printed once by the terminal: choose by typing a number",
    "landing.install_intro": "a web page: the store buttons are on it",
    "dashboard.problems.no_unit.text": "a web page: its link back to the units is on it",
    "guide.android.steps.5.text": "a setting to choose on the phone",
    "venue.poster_pdf": "a printer setting to choose",
    "official.unknown_unit": "points to a command",
    "official.reports.current_hour": "in a question that asks for an hour, typed",
    "announce.ask_text": "says which citizens chose the commune",
    "announce.nobody": "says which citizens chose the commune",
    "privacy.explain": "says what the person chose",
}


# Keys saying "choose" that the walk does not reach, and why they show choices all the same.
SHOWN_ELSEWHERE = {
    "menu.stale_button": "the main menu's words, as menu.home",
    "volunteer.already_active": "the main menu's words, as menu.home",
    "small_talk.thanks.reply": "the main menu's words, as menu.home",
    "small_talk.greeting.reply": "the main menu's words, as menu.home",
    "small_talk.ack.reply": "the main menu's words, as menu.home",
    "visit.ask_already_installed": "a count, as visit.ask_installed_now",
    "visit.edit_which_correction": "a list of parts, built like visit.ask_outcome",
    "venue.list": "a list of venues, built like official.targets.choose_unit",
    "venue.stale": "points to the main menu, sent with it",
    "visit.reason.refused_all_had": "a reason, inside visit.ask_outcome asked again",
    "visit.reason.no_phone_counts": "a reason, inside visit.ask_outcome asked again",
    "visit.reason.nobody_counts": "a reason, inside visit.ask_outcome asked again",
    "visit.reason.installed_not_helped": "a reason, inside visit.ask_outcome asked again",
    "visit.reason.choose_outcome": "a reason, inside visit.ask_outcome asked again",
    "official.targets.reason.choose_denominator": "a reason, inside official.targets.retry (walked)",
    "visit.reason.revisit_full": "a reason, inside visit.ask_outcome asked again",
    "coordinator.hamlet_pick": "a list of hamlets with buttons on every channel, like visit.ask_hamlet",
}


CHANNEL_WORDS = "channel."  # the words themselves ("bấm", "chọn"), used by the others

# Keys that say the buttons' word ("bấm") itself rather than {press} (content channel.toml),
# and why: the button is not one of the bot's choices, so it is pressed on every channel.
PRESS_ELSEWHERE = {
    "dashboard.chat.link": "the dashboard's login button, on the web page",
    "dashboard.login.text": "a web page",
    "dashboard.login.note": "a web page",
    "dashboard.desk.invite_state": "a web page",
    "dashboard.acting.figures.held": "a web page",
    "dashboard.acting.figures.nothing": "a web page",
    "faq.questions.6.answer": "the phone's own permission dialog",
    "faq.questions.7.answer": "the phone's own permission dialog",
    "faq.questions.12.answer": "the phone's own pairing dialog",
    "guide.android.steps.0.text": "a link (a link line where there are no link buttons)",
    "guide.android.steps.1.text": "the store's button",
    "guide.android.steps.2.text": "the store's button",
    "guide.android.steps.3.text": "the phone's own permission dialog",
    "guide.iphone.steps.0.text": "a link (a link line where there are no link buttons)",
    "landing.intro": "a web page",
    "landing.install_intro": "a web page and the store's button",
    "landing.not_counted.text": "a web page",
    "official.script.help_web": "the store's button, said to citizens",
    "poster.steps.telegram.second": "Telegram's own Start button, on a poster",
    "poster.steps.web.second": "a web page, on a poster",
    "venue.ask_location": "the share-location button, sent only where the messenger has one",
    "venue.location_invalid": "the share-location button, sent only where the messenger has one",
    "visit.ask_location": "the share-location button, sent only where the messenger has one",
    "volunteer.ask_phone_button": "the share-contact button, sent only where the messenger has one",
    "volunteer.phone_retry_button": "the share-contact button, sent only where the messenger has one",
    "volunteer.phone_not_own": "after a shared contact, only where the messenger has the button",
    "web.privacy.cookie": "a web page",
    "web.privacy.address": "a web page",
    "web.errors.405.text": "a web page",
}


def test_every_key_that_says_choose_is_walked_or_explained(content):
    """New words asking to choose need a place in the walk below (or a reason here). A "{press}"
    names the choice it means ("{press} “Lưu”"), shown with it: the walk checks those it reaches."""
    saying = {
        k
        for k in content.keys()
        if k != "common.choose_word"
        and not k.startswith(CHANNEL_WORDS)
        and says_choose(content, content.templates[k].source)
    }
    assert saying - WALKED - NOT_ASKING.keys() - SHOWN_ELSEWHERE.keys() == set()


def test_the_bots_own_choices_are_pressed_with_the_channels_word(content):
    """A key saying "bấm" for one of the bot's choices would say it where numbers are typed too:
    it must say {press} (content channel.toml), or be a button that is not the bot's (reason above)."""
    press = content.campaign["press"].casefold()
    saying = {
        k for k in content.keys() if not k.startswith(CHANNEL_WORDS) and press in content.templates[k].source.casefold()
    }
    assert saying - PRESS_ELSEWHERE.keys() == set()
    assert PRESS_ELSEWHERE.keys() <= saying  # no reason left for words that changed


def says_choose(content, text: str) -> bool:
    return render_word(content) in text.casefold()


def render_word(content) -> str:
    return content.render(t("common.choose_word")).casefold()


async def test_every_message_that_says_choose_shows_its_choices(service):
    """The walk: the forms' questions (a visit, official figures, a target, daily reports), the
    pickers (communes, a coordinator's communes, the FAQ) and the menus, on a channel without
    buttons. Every message saying "choose" shows choices (numbered, or a count's values), and none
    says "bấm" for one of the bot's choices."""
    async with service.sessions() as db, db.begin():
        await record_figure(db, BAC_GIANG, YESTERDAY, entered_by=None, source="t", installed=100, subscribers=200)
    seen: set[str] = set()
    problems: list[tuple[str, str]] = []
    pressed: list[tuple[str, str]] = []  # "bấm" where the bot's choices are typed numbers
    press = service.content.campaign["press"].casefold()

    async def say(chat: ChatDriver, *lines: str) -> None:
        for line in lines:
            await chat.send(line)
            for message in chat.last:
                seen.add(message.key)
                if message.key not in PRESS_ELSEWHERE and press in message.text.casefold():
                    pressed.append((message.key, message.text))
                if message.key in NOT_ASKING or not says_choose(service.content, message.text):
                    continue
                if not (options(message.text) or VALUES.search(message.text)):
                    problems.append((message.key, message.text))

    def pick(chat: ChatDriver, key: str, **values) -> str:
        label = render(service, key, **values)
        return str(next(n for n, shown in options(chat.text()).items() if shown == label))

    number = {key: str(n) for key, n in service.content.section("menu.numbers").items()}
    citizen = await person(service, "910")
    await say(citizen, "/start", "/menu", "xyz qwerty", "cam on", "chao ban", "vang")
    await say(citizen, number["menu.faq"])
    for commune in ("ba to", "hoan kim", "kim chung"):  # the same name, a typo, a former name
        await say(citizen, "/menu", number["menu.support"], commune)

    walker = await person(service, "911", "volunteer", HOAN_KIEM)
    await say(walker, "/ghinhan", "thon 3", "so 12")
    await say(walker, pick(walker, "visit.outcome.helped"), "4", "3", "1")
    await say(walker, pick(walker, "visit.save"))
    await say(walker, "/ghinhan")  # the hamlets now listed

    coordinator = await person(service, "912", "coordinator", BAC_GIANG)
    await grant_role(service, "912", "coordinator", AN_LAC, channel=PLAIN)
    await say(coordinator, "/capnhat", "1")
    await say(coordinator, "/menu", number["coordinator.menu"])
    await say(coordinator, "/menu", "/baocao")
    await say(coordinator, "/menu", "/ghinhan")

    officer = await person(service, "913", "province_officer", BAC_NINH)
    await say(officer, "/chitieu")
    await say(officer, "1", "60%", "31/12/2030", "cu tri")

    assert WALKED <= seen, WALKED - seen
    assert not problems, problems
    assert not pressed, pressed
