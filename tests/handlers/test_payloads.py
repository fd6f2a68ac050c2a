"""Button payloads as typed values: they read back what they pack, keep the wire format of buttons
already in people's chats, refuse what Telegram would refuse (over 64 bytes), and every type the
bot sends has a handler."""

from __future__ import annotations

import inspect
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers import build_router, buttons
from handlers.buttons import (
    CheckInAnswer,
    DeleteVisit,
    DeskInvite,
    Guide,
    Home,
    PickCommune,
    SaveVisit,
    Subscribe,
)
from handlers.payload import MAX_BYTES, Between, Payload, prefix_of

TYPES = sorted(
    (c for _, c in inspect.getmembers(buttons, inspect.isclass) if issubclass(c, Payload) and c is not Payload),
    key=lambda c: c.__name__,
)
HANDLERS = Path(__file__).resolve().parents[2] / "handlers"


def _values(hint: object) -> st.SearchStrategy:
    """Any value a field of this type may hold, as a handler could pass it when packing."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return st.none() | _values(inner)
    if typing.get_origin(hint) is Annotated:
        base, *extras = typing.get_args(hint)
        bounds = next(e for e in extras if isinstance(e, Between))
        return st.integers(bounds.least, bounds.most)
    if typing.get_origin(hint) is Literal:
        return st.sampled_from(typing.get_args(hint))
    if hint is int:
        return st.integers(0, 2**63 - 1)
    return st.text(st.characters(blacklist_characters=":", blacklist_categories=("Cs",)), min_size=1, max_size=30)


def instances(kind: type[Payload]) -> st.SearchStrategy:
    hints = typing.get_type_hints(kind, include_extras=True)
    fields = [f.name for f in kind.fields()]
    return st.fixed_dictionaries({name: _values(hints[name]) for name in fields}).map(lambda kw: kind(**kw))


def test_the_catalogue_is_found():
    assert len(TYPES) > 60


@pytest.mark.parametrize("kind", TYPES, ids=lambda c: c.__name__)
@settings(deadline=None)  # a machine shared with other work: correctness only, never time
@given(data=st.data())
def test_unpack_reads_back_what_pack_packs(kind, data):
    payload = data.draw(instances(kind))
    values = [getattr(payload, f.name) for f in kind.fields()]
    # A None before a value cannot be written (an absent part is only ever a trailing one).
    gap = None in values and any(v is not None for v in values[values.index(None) :])
    wire = ":".join([kind.prefix, *([kind.action] if kind.action else []), *(str(v) for v in values if v is not None)])
    if gap or len(wire.encode("utf-8")) > MAX_BYTES:
        with pytest.raises(ValueError):
            payload.pack()
        return
    packed = payload.pack()
    assert packed == wire
    assert kind.unpack(packed) == payload
    assert prefix_of(packed) == kind.prefix
    # No other type of the same prefix reads it: the router's choice does not depend on order.
    others = [k for k in TYPES if k is not kind and k.prefix == kind.prefix and k.read(packed) is not None]
    assert others == []


@settings(deadline=None)
@given(raw=st.text(max_size=80))
def test_reading_anything_never_raises(raw):
    for kind in TYPES:
        read = kind.read(raw)
        assert read is None or read.pack() == raw or kind.read(read.pack()) == read


def test_the_wire_format_is_kept():
    """The strings people's old buttons carry, and the tests of the flows press."""
    assert Home().pack() == "menu"
    assert Guide().pack() == "guide"
    assert Guide("android").pack() == "guide:android"
    assert Guide("android", 3).pack() == "guide:android:3"
    assert Guide.unpack("guide:android:3") == Guide("android", 3)
    assert SaveVisit("ab12cd").pack() == "vs:save:ab12cd"
    assert SaveVisit.unpack("vs:save:ab12cd:r") == SaveVisit("ab12cd", "r")
    assert DeleteVisit(7, "y").pack() == "vd:7:y"
    assert DeskInvite("00070", "new").pack() == "co:i:00070:new"
    assert Subscribe("01", 7).pack() == "bc:h:01:7"
    assert CheckInAnswer("n", 2**40).pack() == f"ci:n:{2**40}"
    assert PickCommune("00070").pack() == "commune:00070"


@pytest.mark.parametrize(
    "raw",
    [
        "guide:android:x",  # not a number
        "guide:android:3:4",  # a part too many
        "vs:save",  # the token missing
        "vs:save:ab12cd:z",  # not a choice the summary offers
        "vd:0",  # no record has id 0
        "vd:2147483648",  # beyond an INTEGER id
        "bc:h:01:24",  # not an hour
        "ci:y:²",  # a digit that is not ASCII
        "ci:y: 7",  # spaces are not part of a payload
        "menu:x",
    ],
)
def test_what_is_not_a_payload_of_ours_reads_as_none(raw):
    assert all(kind.read(raw) is None for kind in TYPES)


def test_packing_checks_telegrams_64_bytes_of_utf8():
    assert len(PickCommune("đ" * 28).pack().encode()) == 64  # "commune:" and 28 two-byte letters
    with pytest.raises(ValueError, match="64 bytes"):
        PickCommune("đ" * 29).pack()  # 37 characters, but 66 bytes
    with pytest.raises(ValueError):
        PickCommune("a:b").pack()  # the separator inside a value
    with pytest.raises(ValueError):
        DeleteVisit(0).pack()  # out of the field's bounds


def test_every_type_has_a_handler_and_one_owner():
    router = build_router()
    served = [kind for table in router.buttons.values() for kind, _ in table]
    assert sorted(served, key=lambda c: c.__name__) == TYPES
    assert len({(k.prefix, k.action) for k in TYPES}) == len(TYPES)


def test_no_handler_splits_a_payload_by_hand():
    by_hand = re.compile(r"payload\s*or\s*\"\"\)\s*\.(split|partition)|payload=f\"|payload=\"")
    found = [
        f"{path.name}:{n}"
        for path in sorted(HANDLERS.glob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if by_hand.search(line)
    ]
    assert found == []
