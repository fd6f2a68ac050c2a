"""Every key the handlers use exists, placeholders match, and every text is NFC Vietnamese."""

from __future__ import annotations

import ast
import datetime as dt
import re
import unicodedata
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from texts import Join, Percent, t
from texts.content import Content, ContentError

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = ROOT / "handlers"
# Code that turns content keys into words: the handlers, the poster, the web pages, the terminal.
WORDING = sorted(
    [
        *HANDLERS.glob("*.py"),
        *(ROOT / "documents").rglob("*.py"),
        ROOT / "bot" / "landing.py",
        *(ROOT / "bot" / "webpages").glob("*.py"),
        ROOT / "bot" / "channels" / "terminal.py",
    ]
)
# The web pages' templates, which call t("key", ...) as the handlers do.
TEMPLATES = sorted((ROOT / "bot" / "webpages" / "templates").rglob("*.html"))
CONTENT = ROOT / "content" / "vi"
VIETNAMESE = re.compile(r"[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]", re.I)


def _key_uses() -> list[tuple[str, str, set[str] | None, bool]]:
    """(where, key or prefix, keyword names or None when unknown, is_prefix) for every use of a
    content key in handlers/: t("k", a=...), Reply("k", a=...), MenuEntry(.., "k"), prompt="k"."""
    uses = []
    for path in WORDING:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            candidates = []
            if name in {"t", "Reply"} and node.args:
                kwargs = {k.arg for k in node.keywords if k.arg}
                known = not any(k.arg is None for k in node.keywords)
                if name == "Reply":
                    kwargs -= {"attachment", "edit", "ask", "close_ask"}
                candidates.append((node.args[0], kwargs if known else None))
            if name == "MenuEntry" and len(node.args) > 1:
                candidates.append((node.args[1], set()))
            for k in node.keywords:
                if k.arg in {"prompt"}:
                    candidates.append((k.value, set()))
            for arg, kwargs in candidates:
                where = f"{path.name}:{node.lineno}"
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    uses.append((where, arg.value, kwargs, False))
                elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
                    uses.append((where, arg.values[0].value, kwargs, True))
    return uses


def _template_key_uses() -> list[tuple[str, str, set[str] | None, bool]]:
    """The same for the templates: {{ t("k", a=...) }}, and t("k." ~ name) as a prefix."""
    from jinja2 import Environment, nodes

    env = Environment()
    uses = []
    for path in TEMPLATES:
        for call in env.parse(path.read_text(encoding="utf-8")).find_all(nodes.Call):
            if not (isinstance(call.node, nodes.Name) and call.node.name == "t" and call.args):
                continue
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            kwargs = None if call.dyn_kwargs is not None else {k.key for k in call.kwargs}
            arg = call.args[0]
            if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
                uses.append((where, arg.value, kwargs, False))
            elif isinstance(arg, nodes.Concat) and isinstance(arg.nodes[0], nodes.Const):
                uses.append((where, arg.nodes[0].value, kwargs, True))
    return uses


@pytest.fixture(scope="module")
def content() -> Content:
    return Content.load(CONTENT)


def test_handlers_use_keys(content):
    uses = _key_uses()
    assert len(uses) > 30  # the scan finds the handlers' keys at all
    assert len(_template_key_uses()) > 20  # and the templates'


@pytest.mark.parametrize("where,key,kwargs,is_prefix", _key_uses() + _template_key_uses())
def test_every_key_exists_and_placeholders_match(content, where, key, kwargs, is_prefix):
    if is_prefix:
        assert any(k.startswith(key) for k in content.keys()), f"{where}: no content key starts with {key!r}"
        return
    assert content.has(key), f"{where}: missing content key {key!r}"
    if kwargs is not None and not (kwargs == set() and not content.templates[key].fields - content.campaign.keys()):
        needed = content.templates[key].fields - content.campaign.keys()
        assert needed == kwargs, f"{where}: {key} needs {sorted(needed)}, handler gives {sorted(kwargs)}"


def test_dynamic_key_families_are_complete(content):
    """The guide's and FAQ's keys built at run time: every step and question has its texts."""
    platforms = [n for n, v in content.section("guide").items() if isinstance(v, dict) and "steps" in v]
    assert platforms == ["android", "iphone"]
    for p in platforms:
        assert content.has(f"guide.{p}.label")
        for i in range(content.count(f"guide.{p}.steps")):
            assert content.has(f"guide.{p}.steps.{i}.title") and content.has(f"guide.{p}.steps.{i}.text")
            assert content.has(f"guide.{p}.steps.{i}.link_url") == content.has(f"guide.{p}.steps.{i}.link_label")
            content.render(t(f"guide.{p}.steps.{i}.text"))
    ids = [q["id"] for q in content.section("faq.questions")]
    assert len(ids) == len(set(ids)) >= 12
    for i in range(len(ids)):
        question = content.render(t(f"faq.questions.{i}.question"))
        assert len(question) <= 64, question  # fits a button
        content.render(t(f"faq.questions.{i}.answer"))
    for intent in content.section("search.intents"):
        assert intent["payload"].split(":")[0] in {"guide", "faq", "support", "install", "venue", "venues"}


def test_every_text_is_nfc_and_content_lives_in_content():
    for path in CONTENT.glob("*.toml"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert unicodedata.is_normalized("NFC", line), f"{path.name}:{n} is not NFC"
    for path in WORDING + TEMPLATES:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0] if path.suffix == ".py" else line
            assert not VIETNAMESE.search(code), (
                f"{path.parent.name}/{path.name}:{n}: Vietnamese text belongs in content/vi/"
            )


def test_campaign_values_fill_every_template(content):
    for key, template in content.templates.items():
        if template.fields <= content.campaign.keys():
            rendered = content.render(t(key))
            assert "{" not in rendered, key


def test_missing_key_and_missing_value_are_errors(content):
    with pytest.raises(ContentError):
        content.render(t("no.such.key"))
    with pytest.raises(ContentError):
        content.render(t("commune.no_match"))  # needs {query}


def test_vietnamese_formatting(content):
    f = content.format_value
    assert f(82930) == "82.930"
    assert f(174229) == "174.229"
    assert f(Percent.of(82930, 174229)) == "47,59%"
    assert f(Percent(Fraction(59996, 100000))) == "59,99%"  # never rounded up to 60%
    assert f(Percent.of(678, 10000)) == "6,78%"
    assert Percent.of(1, 0) is None
    assert f(dt.date(2021, 8, 31)) == "31/8/2021"  # the house formats (tests/texts/test_formats.py)
    assert f(dt.datetime(2021, 8, 31, 3, 5, tzinfo=dt.UTC)) == "lúc 10:05 ngày 31/08/2021"  # shown in Vietnam's time
    assert f(Join(("a", t("common.home")), " | ")) == "a | 🏠 Menu chính"


@given(st.integers(0, 10**7), st.integers(1, 10**7))
def test_percent_is_truncated_never_rounded_up(numerator, denominator):
    shown = Percent.of(numerator, denominator).truncated()
    exact = Fraction(numerator, denominator)
    assert Fraction(shown) <= exact < Fraction(shown) + Fraction(1, 10000)


def test_bad_content_is_refused_at_load(tmp_path):
    (tmp_path / "campaign.toml").write_text('app_name = "{x}"\n', encoding="utf-8")
    with pytest.raises(ContentError):
        Content.load(tmp_path)
    (tmp_path / "campaign.toml").write_text('app_name = "X"\n', encoding="utf-8")
    (tmp_path / "menu.toml").write_text('home = "{1x}"\n', encoding="utf-8")
    with pytest.raises(ContentError):
        Content.load(tmp_path)
    (tmp_path / "menu.toml").write_text("home = \n", encoding="utf-8")
    with pytest.raises(ContentError):
        Content.load(tmp_path)
    with pytest.raises(ContentError):
        Content.load(tmp_path / "empty")
