"""The links that open a chat with the bot, one place for their formats: printed on posters,
shown on the web pages and in chat (a volunteer's invite), and offered by the channels themselves."""

from __future__ import annotations


def chat_link(channel: str, handle: str, payload: str | None = None) -> str | None:
    """The link that opens `channel`'s chat with the bot named `handle`. Telegram's carries
    `payload` to the bot's /start (a check-in, an invite); Zalo has no start parameter, so its
    link opens the OA's chat and the person sends the code themselves. None: no such link."""
    if channel == "telegram":
        return telegram_link(handle, payload) if payload else f"https://t.me/{handle}"
    if channel == "zalo_oa":
        return f"https://zalo.me/{handle}"
    return None


def telegram_link(username: str, payload: str) -> str:
    """Telegram's deep link: always a link (chat_link's None is for other channels)."""
    return f"https://t.me/{username}?start={payload}"
