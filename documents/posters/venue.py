"""A venue's poster: its words and the link its QR holds, for the bot, the CLI and the landing page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from documents.links import telegram_link
from documents.posters import Poster, make_poster, make_poster_async
from documents.posters.words import PosterWords, poster_words, printed_channels
from storage.folding import fold
from storage.units import province_key
from storage.venue_codes import sign
from texts import t

if TYPE_CHECKING:
    from storage.models import Venue
    from storage.units import CommuneEntry
    from texts.content import Content


class SigningKey(Protocol):
    def reveal(self) -> str: ...


class PosterSettings(Protocol):
    """What a poster reads of the deployment's settings: bot.settings.Settings has these (documents
    sit below bot/, so they name what they need rather than import it)."""

    @property
    def qr_signing_key(self) -> SigningKey | None: ...

    @property
    def public_base_url(self) -> str | None: ...

    @property
    def telegram_bot_username(self) -> str | None: ...

    @property
    def zalo_oa_id(self) -> str | None: ...


class PosterUnavailable(Exception):
    """The deployment cannot make posters yet: `reason` is "no_key" (QR_SIGNING_KEY unset) or
    "no_handle" (the bot's Telegram username is unknown: no token, no TELEGRAM_BOT_USERNAME)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def public_handles(settings: PosterSettings, bot_handles: Mapping[str, str]) -> dict[str, str]:
    """The bot's names to print: what the running channels report (getMe), else the settings."""
    handles = {}
    if settings.telegram_bot_username:
        handles["telegram"] = settings.telegram_bot_username
    if settings.zalo_oa_id:
        handles["zalo_oa"] = settings.zalo_oa_id
    handles.update({k: v for k, v in bot_handles.items() if v})
    return handles


def landing_link(settings: PosterSettings, payload: str) -> str:
    return f"{settings.public_base_url}/q/{payload}"


def poster_gaps(content: Content, settings: PosterSettings, handles: Mapping[str, str]) -> list[str]:
    """What this deployment lacks to make posters (see PosterUnavailable); empty when it can."""
    gaps = []
    if settings.qr_signing_key is None:
        gaps.append("no_key")
    web = settings.public_base_url is not None
    if not handles.get("telegram") and not (web and printed_channels(content, handles)):
        gaps.append("no_handle")
    return gaps


@dataclass(frozen=True)
class PosterRequest:
    words: PosterWords
    qr_data: str
    filename: str  # without extension: "poster-AB23CD7"


def poster_request(
    content: Content, settings: PosterSettings, handles: Mapping[str, str], venue: Venue, commune: CommuneEntry | None
) -> PosterRequest:
    """What to draw for `venue`: its words and the QR's link (the landing page when
    PUBLIC_BASE_URL is set, else the Telegram deep link; Zalo has no deep link, so a Zalo-only
    bot needs the landing page)."""
    gaps = poster_gaps(content, settings, handles)
    if gaps:
        raise PosterUnavailable(gaps[0])
    web = settings.public_base_url is not None
    assert settings.qr_signing_key is not None  # poster_gaps names a missing key
    payload = sign(settings.qr_signing_key.reveal(), venue.code)
    qr_data = landing_link(settings, payload) if web else telegram_link(handles["telegram"], payload)
    words = poster_words(
        content,
        venue_name=venue.name,
        venue_address=venue.address,
        commune=commune_label(content, venue, commune),
        code=venue.code,
        channels=printed_channels(content, handles),
        web=web,
    )
    return PosterRequest(words, qr_data, f"poster-{venue.code}")


def _names(folded_address: str, key: str) -> bool:
    """Whether the address names `key` (folded) as whole words."""
    # e.g. the commune "Duc Hoa" in the address "Ap 3, xa Duc Hoa" (both folded)
    return bool(key) and f" {key} " in f" {folded_address} "


def commune_label(content: Content, venue: Venue, commune: CommuneEntry | None) -> str | None:
    """What the poster adds after the address: the commune and its province, less what the address
    already says (compared without accents or case); None when it says both."""
    if commune is None:
        return venue.commune_code
    address = fold(venue.address)
    # "Phường 1" keeps its prefix: a bare "1" would match a house number.
    has_commune = _names(address, commune.key if not commune.key.isdigit() else fold(commune.name))
    has_province = _names(address, province_key(commune.province_name))
    if has_commune and has_province:
        return None
    if has_commune:
        return commune.province_name
    return content.render(t("commune.label", name=commune.name, province=commune.province_name))


def draw(request: PosterRequest, *, pdf: bool = True, png: bool = True) -> Poster:
    return make_poster(request.words, request.qr_data, pdf=pdf, png=png)


async def draw_async(request: PosterRequest) -> Poster:
    return await make_poster_async(request.words, request.qr_data)
