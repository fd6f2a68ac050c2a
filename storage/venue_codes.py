"""Venue codes: the short manual code with its check character, and the signed QR payload.

The manual code is 6 characters drawn from 31 that cannot be mistaken for one another (no 0/O,
no 1/I/L), then one check character. 31 is prime and the positions carry the weights 1…7, so the
weighted sum modulo 31 changes with ANY single wrong character and with any two characters
swapped: a mistyped code is caught ("check the code") instead of checking someone in elsewhere.

The QR payload is "c-" + code + 8 characters of HMAC-SHA256(QR_SIGNING_KEY, "checkin:" + code) in
base64url: 17 characters of [A-Za-z0-9_-]. 8 characters are 48 bits; without the key a forger
must guess online, through the bot or the rate-limited landing page, one try per message: at a
thousand tries a second, finding one valid signature takes about 4,500 years on average. Each
further character would add 6 bits and make the QR denser. The signature is not a secret on the
poster (the code is printed beside it): it makes payloads impossible to enumerate or alter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # 31 characters: no 0, O, 1, I, L
BODY_LENGTH = 6
CODE_LENGTH = BODY_LENGTH + 1
SIGNATURE_LENGTH = 8
PAYLOAD_PREFIX = "c"  # the deep-link prefix: "/start c-<code><signature>"

_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_PAYLOAD = re.compile(rf"{PAYLOAD_PREFIX}-([{ALPHABET}]{{{CODE_LENGTH}}})([A-Za-z0-9_-]{{{SIGNATURE_LENGTH}}})")
# What people type around a code: spaces, dashes, dots.
_SEPARATORS = re.compile(r"[\s\-_.]+")

assert len(ALPHABET) == 31 and len(set(ALPHABET)) == 31


def _check_character(body: str) -> str:
    # Choose c so that sum((i + 1) * value) over all 7 positions is 0 mod 31.
    total = sum((i + 1) * _VALUE[ch] for i, ch in enumerate(body))
    weight = len(body) + 1
    # weight * c ≡ -total (mod 31); 31 is prime, so weight has an inverse.
    c = (-total * pow(weight, -1, len(ALPHABET))) % len(ALPHABET)
    return ALPHABET[c]


def new_code() -> str:
    """A fresh random code (the caller makes sure it is not in use)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    return body + _check_character(body)


def normalize_code(typed: str) -> str:
    """What a person typed, as a code candidate: upper case, separators dropped."""
    return _SEPARATORS.sub("", typed or "").upper()


def is_valid_code(code: str) -> bool:
    """True for a well-formed code whose check character matches."""
    if len(code) != CODE_LENGTH or any(ch not in _VALUE for ch in code):
        return False
    return _check_character(code[:BODY_LENGTH]) == code[BODY_LENGTH]


def _signature(key: str, code: str) -> str:
    digest = hmac.new(key.encode(), f"checkin:{code}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:SIGNATURE_LENGTH]


def sign(key: str, code: str) -> str:
    """The QR payload for a venue code: "c-" + code + signature."""
    if not is_valid_code(code):
        raise ValueError(f"not a venue code: {code!r}")
    return f"{PAYLOAD_PREFIX}-{code}{_signature(key, code)}"


def verify(key: str, payload: str) -> str | None:
    """The venue code a payload names, or None when it is malformed, altered or forged."""
    match = _PAYLOAD.fullmatch(payload or "")
    if match is None:
        return None
    code, signature = match.groups()
    if not is_valid_code(code):
        return None
    if not hmac.compare_digest(signature, _signature(key, code)):
        return None
    return code
