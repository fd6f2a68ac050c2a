"""Reading what strangers send: JSON with a depth limit, a field found in raw bytes, ASCII-only
numbers, and warnings that cannot flood the log."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.settings import Settings
from bot.untrusted import BadInput, Throttled, ascii_int, depth, field_values, loads


@given(st.binary(max_size=300))
def test_loads_refuses_junk_with_bad_input_only(raw):
    try:
        loads(raw)
    except BadInput:
        pass


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000,
        b"[" * 33 + b"]" * 33,
        b'{"a":' * 40 + b"1" + b"}" * 40,
        b"1" + b"0" * 5000,
        b"\xff\xfe",
        b"",
        b"NaN-ish",
    ],
)
def test_loads_refuses_deep_huge_and_broken_json(raw):
    with pytest.raises(BadInput):
        loads(raw)


def test_depth():
    assert depth(1) == 0 and depth([]) == 1 and depth({"a": [1, {"b": []}]}) == 4
    assert loads(b"[" * 32 + b"]" * 32) is not None  # the limit itself is readable


def test_field_values_find_the_digits_a_signature_covers():
    assert field_values(b'{"timestamp": "1700000000000", "x": {"timestamp":12}}', "timestamp") == [
        "1700000000000",
        "12",
    ]
    assert field_values(b'{"timestamp": 1.5e3}', "timestamp") == []
    assert field_values(b'{"timestamp": "\xc2\xb2"}', "timestamp") == []  # "²" is not a digit here
    assert len(field_values(b'{"timestamp":1}' * 100, "timestamp")) == 8  # bounded


@given(st.text(max_size=30))
def test_ascii_int_reads_only_ascii_digits(text):
    value = ascii_int(text)
    assert value is None or (text.isascii() and text.isdigit() and value == int(text))


def test_ascii_int_refuses_lookalikes_and_giants():
    assert [ascii_int(v) for v in ("²", "①", "٣", "１２", "9" * 5000, "-1", " 1", "")] == [None] * 8
    assert ascii_int("0042") == 42


def test_throttled_warnings(caplog):
    log = logging.getLogger("bot.test_throttle")
    throttle = Throttled(log, every=60.0)
    with caplog.at_level(logging.WARNING, logger="bot.test_throttle"):
        for _ in range(100):
            throttle.warning("junk", "junk refused (%s)", 400)
        throttle.warning("other", "other refused")
    assert [r.getMessage() for r in caplog.records] == ["junk refused (400)", "other refused"]
    throttle._last["junk"] -= 61
    with caplog.at_level(logging.WARNING, logger="bot.test_throttle"):
        throttle.warning("junk", "junk refused (%s)", 401)
    assert caplog.records[-1].getMessage() == "junk refused (401) (and 99 more like it since)"


def test_event_age_setting_stays_below_the_deduplication_window():
    assert Settings.from_env({}).zalo_event_max_age_hours == 24
    assert Settings.from_env({"ZALO_EVENT_MAX_AGE_HOURS": "48"}).zalo_event_max_age_hours == 48
    with pytest.raises(ValueError, match="less than 168"):
        Settings.from_env({"ZALO_EVENT_MAX_AGE_HOURS": "168"})
