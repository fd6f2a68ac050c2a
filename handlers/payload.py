"""Button payloads as typed values that pack and unpack themselves, after aiogram 3's `CallbackData`.

A payload class names its prefix (what the router dispatches on) and, for a flow with several
buttons under one prefix, its action; its fields follow, joined by ":":

    class SaveVisit(Payload, prefix="vs", action="save"):
        token: str
        choice: Literal["r", "n"] | None = None

    SaveVisit("ab12").pack() == "vs:save:ab12"
    SaveVisit.read("vs:save:ab12:r") == SaveVisit("ab12", "r")

Fields are `str`, `int` (ASCII digits; `Annotated[int, Between(lo, hi)]` bounds it), a `Literal` of
strings, or any of these `| None` with a default of None: an absent trailing field reads as None
and a None one is left off, so the wire format is the one people's old buttons already carry.
Packing checks Telegram's limit on callback data (64 bytes of UTF-8); reading never raises for
what a person sends (`read` gives None, and the flow's `otherwise` answers).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Self, dataclass_transform

from texts.user_input import number

SEPARATOR = ":"
MAX_BYTES = 64  # Telegram's callback_data limit, in bytes of UTF-8


@dataclass(frozen=True)
class Between:
    """Bounds of an int field: `Annotated[int, Between(1, INT_MAX)]`."""

    least: int
    most: int


@dataclass(frozen=True)
class _Field:
    name: str
    kind: type | None  # str or int; None for a Literal
    choices: tuple[str, ...] = ()  # a Literal's values
    bounds: Between | None = None
    optional: bool = False

    def encode(self, value: Any) -> str:
        text = str(value)
        if SEPARATOR in text:
            raise ValueError(f"{self.name}={text!r} holds the separator {SEPARATOR!r}")
        if self.decode(text) != value:
            raise ValueError(f"{self.name}={value!r} is not a value of this field")
        return text

    def decode(self, text: str) -> Any:
        """The field's value, or None when `text` is not one."""
        if self.kind is None:
            return text if text in self.choices else None
        if self.kind is str:
            return text or None  # an empty part is a missing one
        bounds = self.bounds or Between(0, 2**63 - 1)
        value = number(text, bounds.most) if text == text.strip() else None
        return value if value is not None and value >= bounds.least else None


def _describe(name: str, hint: Any, has_default: bool) -> _Field:
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != 1 or not has_default:
            raise TypeError(f"field {name}: only `X | None = None` may be optional")
        hint, optional = args[0], True
    bounds = None
    if typing.get_origin(hint) is Annotated:
        hint, *extras = typing.get_args(hint)
        bounds = next((e for e in extras if isinstance(e, Between)), None)
    if typing.get_origin(hint) is Literal:
        choices = typing.get_args(hint)
        if not all(isinstance(c, str) for c in choices):
            raise TypeError(f"field {name}: a Literal of strings only")
        return _Field(name, None, choices, optional=optional)
    if hint not in (str, int):
        raise TypeError(f"field {name}: {hint!r} is not str, int or a Literal")
    return _Field(name, hint, bounds=bounds, optional=optional)


@dataclass_transform(frozen_default=True)
class Payload:
    """A button's payload; subclasses are frozen dataclasses (see the module's docstring)."""

    prefix: ClassVar[str]
    action: ClassVar[str | None]
    _fields: ClassVar[tuple[_Field, ...] | None]

    def __init_subclass__(cls, *, prefix: str, action: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for part in (prefix, action or "x"):
            if not part or SEPARATOR in part:
                raise ValueError(f"{cls.__name__}: prefix and action are non-empty and hold no {SEPARATOR!r}")
        cls.prefix, cls.action, cls._fields = prefix, action, None
        dataclass(frozen=True)(cls)

    @classmethod
    def fields(cls) -> tuple[_Field, ...]:
        """The fields, read from the annotations once (they name types defined after the class)."""
        if cls._fields is None:
            hints = typing.get_type_hints(cls, include_extras=True)
            described = []
            for f in dataclasses.fields(cls):  # type: ignore[arg-type]  # every subclass is made a dataclass
                has_default = f.default is not dataclasses.MISSING
                described.append(_describe(f.name, hints[f.name], has_default))
            optional = [f.optional for f in described]
            if optional != sorted(optional):
                raise TypeError(f"{cls.__name__}: optional fields come last")
            cls._fields = tuple(described)
        return cls._fields

    def pack(self) -> str:
        """The payload as a button carries it; ValueError when it cannot be one."""
        parts = [self.prefix, *([self.action] if self.action else [])]
        values = [(f, getattr(self, f.name)) for f in self.fields()]
        while values and values[-1][1] is None and values[-1][0].optional:
            values.pop()
        parts += [f.encode(value) for f, value in values]
        packed = SEPARATOR.join(parts)
        if len(packed.encode("utf-8")) > MAX_BYTES:
            raise ValueError(f"{packed!r} is longer than Telegram's {MAX_BYTES} bytes")
        return packed

    @classmethod
    def unpack(cls, raw: str) -> Self:
        """The payload `raw` packs; ValueError when it is not one of this class."""
        parsed = cls.read(raw)
        if parsed is None:
            raise ValueError(f"{raw!r} is not a {cls.__name__}")
        return parsed

    @classmethod
    def read(cls, raw: str | None) -> Self | None:
        """The payload `raw` packs, or None (an old button, a forged or mistyped one)."""
        parts = (raw or "").split(SEPARATOR)
        head = [cls.prefix, *([cls.action] if cls.action else [])]
        if parts[: len(head)] != head:
            return None
        fields, given = cls.fields(), parts[len(head) :]
        required = sum(1 for f in fields if not f.optional)
        if not required <= len(given) <= len(fields):
            return None
        values = {}
        for f, text in zip(fields, given, strict=False):
            value = f.decode(text)
            if value is None:
                return None
            values[f.name] = value
        return cls(**values)


def prefix_of(raw: str | None) -> str:
    """The prefix a raw payload names: which flow's buttons may read it."""
    return (raw or "").partition(SEPARATOR)[0]
