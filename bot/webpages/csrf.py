"""CSRF tokens: an HMAC of what identifies the visitor (the landing page's cookie, later a
dashboard session), so no token table is needed and a token is good for that visitor only.

A form carries the token of the cookie the page was served with; a POST whose token does not match
its cookie (no cookie, a cookie made up by a script, a token copied from another phone) is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from bot.logs import mask
from bot.media import signing_key
from bot.settings import Settings

FIELD = "csrf"


def page_key(settings: Settings) -> bytes:
    """The key that signs the tokens, derived from QR_SIGNING_KEY (the landing page needs it
    anyway), else from the key that signs media URLs; a derivation of its own, so a token can never
    stand for a QR signature or a media URL. RuntimeError when the deployment has no secret at all."""
    base = settings.qr_signing_key.reveal().encode() if settings.qr_signing_key else signing_key(settings)
    key = hmac.new(base, b"web-page-csrf", hashlib.sha256).digest()
    mask(key)
    return key


class CsrfTokens:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._key: bytes | None = None

    def token(self, binding: str) -> str:
        if self._key is None:  # derived when a form is first shown: pages without forms need no key
            self._key = page_key(self.settings)
        digest = hmac.new(self._key, b"csrf:" + binding.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def valid(self, binding: str | None, token: object) -> bool:
        if not binding or not isinstance(token, str) or not token:
            return False
        return hmac.compare_digest(token.encode(), self.token(binding).encode())
