"""Venue codes catch every single typo; QR payloads refuse every alteration and every forgery."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from storage.venue_codes import (
    ALPHABET,
    CODE_LENGTH,
    is_valid_code,
    new_code,
    normalize_code,
    sign,
    verify,
)

KEY = "a-test-key-of-32-characters-long"
bodies = st.text(alphabet=ALPHABET, min_size=CODE_LENGTH - 1, max_size=CODE_LENGTH - 1)


def code_from(body: str) -> str:
    """The valid code with this body (its one matching check character)."""
    (code,) = [body + c for c in ALPHABET if is_valid_code(body + c)]
    return code


def test_new_codes_are_short_unambiguous_and_valid():
    for _ in range(500):
        code = new_code()
        assert len(code) == 7 and is_valid_code(code)
        assert not set(code) & set("01OIL")


@given(bodies)
def test_each_body_has_exactly_one_check_character(body):
    assert is_valid_code(code_from(body))


@given(bodies)
def test_every_single_character_typo_is_caught(body):
    code = code_from(body)
    for i in range(len(code)):
        for wrong in ALPHABET + "01OIL":
            if wrong != code[i]:
                typo = code[:i] + wrong + code[i + 1 :]
                assert not is_valid_code(typo), (code, typo)


@given(bodies)
def test_every_swap_of_two_characters_is_caught(body):
    code = code_from(body)
    for i in range(len(code)):
        for j in range(i + 1, len(code)):
            if code[i] != code[j]:
                swapped = list(code)
                swapped[i], swapped[j] = swapped[j], swapped[i]
                assert not is_valid_code("".join(swapped))


@given(bodies)
def test_missing_or_extra_characters_are_caught(body):
    code = code_from(body)
    assert not is_valid_code(code[:-1]) and not is_valid_code(code + "A") and not is_valid_code("")


def test_typed_codes_are_normalized():
    code = new_code()
    assert normalize_code(f" {code[:3].lower()} - {code[3:]} ") == code
    assert normalize_code(f"{code[:3]}.{code[3:]}") == code


@given(bodies)
@hsettings(max_examples=50)
def test_payload_round_trip_and_shape(body):
    code = code_from(body)
    payload = sign(KEY, code)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", payload) and len(payload) == 17
    assert payload.split("-", 1)[0] == "c"  # the router's deep-link prefix
    assert verify(KEY, payload) == code


@given(bodies)
@hsettings(max_examples=30)
def test_every_single_character_alteration_is_refused(body):
    payload = sign(KEY, code_from(body))
    for i in range(len(payload)):
        for wrong in "AZaz09_-" + ALPHABET:
            if wrong != payload[i]:
                assert verify(KEY, payload[:i] + wrong + payload[i + 1 :]) is None


def test_truncated_extended_foreign_and_wrong_key_payloads_are_refused():
    a, b = new_code(), new_code()
    payload = sign(KEY, a)
    for n in range(len(payload)):
        assert verify(KEY, payload[:n]) is None
    assert verify(KEY, payload + "x") is None
    assert verify(KEY, sign(KEY, a)[:9] + sign(KEY, b)[9:]) is None  # another venue's signature
    assert verify("another-key-another-key", payload) is None
    assert verify(KEY, payload.replace("c-", "d-", 1)) is None
    with pytest.raises(ValueError):
        sign(KEY, "AAAAAAA" if not is_valid_code("AAAAAAA") else "AAAAAAB")
