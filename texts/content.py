"""Loads the keyed texts of content/<locale>/ and renders them: numbers with Babel, times, days
and phones in the house formats (texts.formats)."""

from __future__ import annotations

import copy
import datetime as dt
import string
import tomllib
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

from babel.numbers import format_decimal, format_percent

from texts import DEFAULT_CONTENT_DIR, Day, Divisions, Join, Percent, Phone, SpokenDate, Text, formats, t

# Values of campaign.toml are available to every template, so the app's name or store link is
# written once: another campaign is a change to that file (and the guide/FAQ), not to code.
CAMPAIGN_SECTION = "campaign"
# Words that depend on how the channel shows choices, available to every template the same way:
# the top-level ones where choices are buttons ("bấm"), NUMBERED_SECTION's where they are typed
# numbers ("chọn"), so the text says what the person actually does (bot/render.py picks).
CHANNEL_SECTION = "channel"
NUMBERED_SECTION = "numbered"


T = TypeVar("T")


class ContentError(Exception):
    """The content files are missing a key, or a template does not fit its values."""


@dataclass(frozen=True)
class Template:
    key: str
    source: str
    fields: frozenset[str]


def _fields(source: str) -> frozenset[str]:
    names = set()
    for _, name, _, _ in string.Formatter().parse(source):
        if name is not None:
            if not name or not name.isidentifier():
                raise ContentError(f"placeholder {{{name}}} is not a plain name")
            names.add(name)
    return frozenset(names)


def _flatten(prefix: str, node: Any, out: dict[str, Any]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _flatten(f"{prefix}.{k}" if prefix else k, v, out)
    elif isinstance(node, list) and all(isinstance(x, dict) for x in node) and node:
        for i, item in enumerate(node):
            _flatten(f"{prefix}.{i}", item, out)
    else:
        out[prefix] = node


def _strings(node: Any) -> dict[str, str]:
    """A section's text values (not its lists or subsections)."""
    return {k: v for k, v in node.items() if isinstance(v, str)} if isinstance(node, dict) else {}


def _nfc(node: Any) -> Any:
    if isinstance(node, str):
        return unicodedata.normalize("NFC", node)
    if isinstance(node, list):
        return [_nfc(x) for x in node]
    if isinstance(node, dict):
        return {k: _nfc(v) for k, v in node.items()}
    return node


class Content:
    """Every word a user reads, by key ("guide.android.steps.0.text"), for one locale."""

    def __init__(self, tree: Mapping[str, Any], locale: str = "vi_VN") -> None:
        self.locale = locale
        self.tree = _nfc(dict(tree))
        flat: dict[str, Any] = {}
        _flatten("", self.tree, flat)
        self.templates: dict[str, Template] = {}
        for key, value in flat.items():
            if isinstance(value, str):
                self.templates[key] = Template(key, value, _fields(value))
        # Every template's globals: the campaign's values and the channel's words.
        self.campaign: dict[str, str] = {
            **_strings(self.tree.get(CAMPAIGN_SECTION, {})),
            **_strings(self.tree.get(CHANNEL_SECTION, {})),
        }
        self._derived: dict[str, Any] = {}

    def derived(self, name: str, build: Callable[[Content], T]) -> T:
        """A value built once from these words (the FAQ's index, the shorthand vocabulary) and kept
        with them: it goes when they go, instead of in a module-level cache keyed by id()."""
        if name not in self._derived:
            self._derived[name] = build(self)
        return self._derived[name]

    def numbered(self) -> Content:
        """These words as a channel showing its choices as typed numbers reads them: the
        channel's words of that kind ("chọn" for "bấm"); the same templates, shared, not copied."""

        def build(content: Content) -> Content:
            view = copy.copy(content)
            channel = content.tree.get(CHANNEL_SECTION, {})
            view.campaign = {**content.campaign, **_strings(channel.get(NUMBERED_SECTION, {}))}
            view._derived = {"numbered": view}
            return view

        return self.derived("numbered", build)

    @classmethod
    def load(cls, directory: Path | str = DEFAULT_CONTENT_DIR, locale: str = "vi_VN") -> Content:
        directory = Path(directory)
        files = sorted(directory.glob("*.toml"))
        if not files:
            raise ContentError(f"no content files in {directory}")
        tree: dict[str, Any] = {}
        for path in files:
            with path.open("rb") as f:
                try:
                    tree[path.stem] = tomllib.load(f)
                except tomllib.TOMLDecodeError as e:
                    raise ContentError(f"{path.name}: {e}") from e
        content = cls(tree, locale)
        content.validate()
        return content

    def validate(self) -> None:
        """Every template may only use campaign values and its own placeholders; checked at start."""
        for name, value in self.numbered().campaign.items():
            if _fields(value):
                raise ContentError(f"global value {name} must not contain placeholders")
        channel = self.tree.get(CHANNEL_SECTION, {})
        if _strings(channel).keys() != _strings(channel.get(NUMBERED_SECTION, {})).keys():
            raise ContentError(f"{CHANNEL_SECTION}.{NUMBERED_SECTION} must give the same words as {CHANNEL_SECTION}")

    # -- structure, for handlers that walk lists of content (guide steps, FAQ entries) --

    def has(self, key: str) -> bool:
        return key in self.templates

    def section(self, path: str) -> Any:
        node: Any = self.tree
        for part in path.split("."):
            if isinstance(node, list):
                node = node[int(part)]
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                raise ContentError(f"no content section {path!r}")
        return node

    def count(self, path: str) -> int:
        node = self.section(path)
        if not isinstance(node, list):
            raise ContentError(f"{path!r} is not a list")
        return len(node)

    def keys(self) -> Iterator[str]:
        return iter(self.templates)

    # -- rendering --

    def render(self, text: Text | str) -> str:
        if isinstance(text, str):  # data shown verbatim (a commune's name)
            return unicodedata.normalize("NFC", text)
        template = self.templates.get(text.key)
        if template is None:
            raise ContentError(f"missing content key {text.key!r}")
        values = {**self.campaign, **{k: self.format_value(v) for k, v in text.values.items()}}
        missing = template.fields - values.keys()
        if missing:
            raise ContentError(f"{text.key}: no value for {sorted(missing)}")
        return unicodedata.normalize("NFC", template.source.format_map(values))

    def format_value(self, value: Any) -> str:
        """Numbers and percentages in the locale's way (82.930; 47,59%); times, days and phones in
        the house formats (texts.formats): lúc 13:17 ngày 06/12/2026; 6/12/2026; Chủ nhật, ngày
        6/12/2026; read aloud, ngày 6 tháng 12 năm 2026; 0912 345 678."""
        if isinstance(value, Text):
            return self.render(value)
        if isinstance(value, Join):
            return value.separator.join(self.format_value(v) for v in value.items)
        if isinstance(value, bool) or value is None:
            return str(value)
        if isinstance(value, Percent):
            pattern = "#,##0" + ("." + "0" * value.digits if value.digits else "") + "%"
            return format_percent(value.truncated(), format=pattern, locale=self.locale)
        if isinstance(value, (int, Decimal)):
            return format_decimal(value, locale=self.locale)
        if isinstance(value, (float, Fraction)):
            return format_decimal(Decimal(float(value)).quantize(Decimal("0.01")), locale=self.locale)
        if isinstance(value, dt.datetime):  # a moment: in Vietnam's time, with its date
            day = formats.local_moment(value).date()
            return self.render(t("formats.moment", time=formats.clock(value), date=formats.padded_date(day)))
        if isinstance(value, dt.date):
            return formats.plain_date(value)
        if isinstance(value, Day):
            weekday = t(f"formats.weekdays.{formats.weekday(value.date)}")
            return self.render(t("formats.day", weekday=weekday, date=formats.plain_date(value.date)))
        if isinstance(value, SpokenDate):
            return self.render(t("formats.spoken_date", **formats.spoken_date(value.date)))
        if isinstance(value, dt.time):
            return formats.clock(value)
        if isinstance(value, Divisions):
            kinds = {unicodedata.normalize("NFC", k.lower()) for k in value.kinds}
            (only,) = kinds if len(kinds) == 1 else (None,)
            if only is not None and self.has(f"formats.divisions.{only}"):
                return self.render(t(f"formats.divisions.{only}"))
            return self.render(t("formats.divisions.mixed"))
        if isinstance(value, Phone):
            return unicodedata.normalize("NFC", formats.phone(value.number))
        return unicodedata.normalize("NFC", str(value))
