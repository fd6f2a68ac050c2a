"""What a poster says, from the content files: the venue, the steps, the manual fallback, and the
messengers to name (`printed_channels`, the hook a new channel such as Zalo plugs into)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from texts import Join, t

if TYPE_CHECKING:
    from texts.content import Content

# The order messengers are named in; channels not listed follow by name. A channel is printed
# when the bot has a public handle on it (Service.bot_handles) and content/vi/poster.toml has its
# line (poster.channels.<name>); its manual instruction is poster.send_to.<name>, if written.
PRINT_ORDER = ("telegram", "zalo_oa", "zalo_bot")
STEP_NAMES = ("first", "second", "third")


@dataclass(frozen=True)
class PosterWords:
    title: str  # the PDF's title
    headline: str
    subheadline: str
    venue_name: str
    venue_address: str
    steps: tuple[str, ...]
    manual_instruction: str
    manual_message: str
    channels: str
    footer: str


@dataclass(frozen=True)
class PrintedChannel:
    name: str
    handle: str


def printed_channels(
    content: Content, handles: Mapping[str, str], order: tuple[str, ...] = PRINT_ORDER
) -> list[PrintedChannel]:
    """The messengers a poster (and, in its own order, a web page) names, in print order."""
    names = [n for n, h in handles.items() if h and content.has(f"poster.channels.{n}")]
    rank = {n: i for i, n in enumerate(order)}
    names.sort(key=lambda n: (rank.get(n, len(order)), n))
    return [PrintedChannel(n, handles[n].lstrip("@")) for n in names]


def poster_words(
    content: Content,
    *,
    venue_name: str,
    venue_address: str,
    commune: str | None,
    code: str,
    channels: list[PrintedChannel],
    web: bool,
) -> PosterWords:
    """The poster's texts. `commune`: what follows the address (None when the address names the
    commune and province already). `web`: the QR opens the landing page (PUBLIC_BASE_URL) rather than Telegram."""
    if not channels:
        raise ValueError("a poster needs at least one messenger to name")
    first = channels[0]
    instruction_key = f"poster.send_to.{first.name}"
    if content.has(instruction_key):
        instruction = content.render(t(instruction_key, handle=first.handle))
    else:
        instruction = content.render(t("poster.send_to.other", handle=first.handle))
    variant = "web" if web else "telegram"
    return PosterWords(
        title=content.render(t("poster.title", venue=venue_name)),
        headline=content.render(t("poster.headline")),
        subheadline=content.render(t("poster.subheadline")),
        venue_name=venue_name,
        venue_address=(
            content.render(t("poster.venue_address", address=venue_address, commune=commune))
            if commune
            else venue_address
        ),
        steps=tuple(content.render(t(f"poster.steps.{variant}.{n}")) for n in STEP_NAMES),
        manual_instruction=instruction,
        manual_message=content.render(t("poster.manual_message", code=code)),
        channels=content.render(
            t(
                "poster.channels_line",
                channels=Join(tuple(t(f"poster.channels.{c.name}", handle=c.handle) for c in channels), " · "),
            )
        ),
        footer=content.render(t("poster.footer", code=code)),
    )
