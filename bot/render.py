"""Turns a handler's replies into words for one channel: content lookup, then the channel's limits
(numbered menus where there are no buttons, long text split at paragraph boundaries)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.channels.base import Capabilities, OutButton, OutMessage
from handlers.types import Reply
from texts import Text, t
from texts.content import Content


@dataclass(frozen=True)
class Rendered:
    message: OutMessage
    attachment: bytes | None


def render_step(
    replies: tuple[Reply, ...], content: Content, caps: Capabilities, message_ref: str | None
) -> tuple[list[Rendered], list[str] | None]:
    """The messages to send, and the numbered menu to remember (None: leave no menu).

    On a channel without buttons every payload button of the step gets a number, counted across
    the step's replies; the typed number is mapped back to the payload on the next message. A reply
    with more buttons than the channel allows in one message (`max_buttons`) is numbered the same way.
    """
    out: list[Rendered] = []
    menu: list[str] = []
    for reply in replies:
        text = content.render(reply.text)
        rows: list[list[OutButton]] = []
        numbered: list[str] = []
        links: list[str] = []
        # Too many buttons for one message: this reply gets the button-less treatment.
        as_buttons = caps.buttons and (
            caps.max_buttons is None or sum(len(row) for row in reply.buttons) <= caps.max_buttons
        )
        for row in reply.buttons:
            out_row = []
            for button in row:
                label = content.render(button.label)
                url = content.render(button.url) if isinstance(button.url, Text) else button.url
                if url is not None:
                    if caps.url_buttons and as_buttons:
                        out_row.append(OutButton(label=label, url=url))
                    else:
                        links.append(content.render(t("common.link_line", label=label, url=url)))
                elif as_buttons:
                    out_row.append(OutButton(label=label, payload=button.payload))
                elif button.payload:
                    menu.append(button.payload)
                    numbered.append(content.render(t("common.numbered_option", number=len(menu), label=label)))
            if out_row:
                rows.append(out_row)
        extra = []
        if links:
            extra.append("\n".join(links))
        if numbered:
            first = len(menu) - len(numbered) + 1
            extra.append("\n".join(numbered))
            extra.append(content.render(t("common.numbered_hint", choices=_choices(first, len(menu), content))))
        if extra:
            text = text + "\n\n" + "\n".join(extra)

        # The messenger's share-contact / share-location button, where it has one.
        ask = reply.ask if reply.ask and getattr(caps, f"request_{reply.ask.value}") else None
        close = reply.close_ask and (caps.request_contact or caps.request_location)
        # A reply whose words are all in its file's caption (its text renders empty) is the file alone.
        file_only = reply.attachment is not None and not text.strip()
        chunks = [] if file_only else split_text(text, caps.max_text)
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            edit = reply.edit and caps.edit and message_ref is not None and i == 0 and not close
            alternatives = (ask and last) or (close and i == 0 and last and rows)
            out.append(
                Rendered(
                    OutMessage(
                        text=chunk,
                        key=reply.text.key,
                        buttons=rows if last else [],
                        edit_ref=message_ref if edit else None,
                        ask=ask.value if (ask and last) else None,
                        ask_label=content.render(t(f"common.ask_{ask.value}")) if (ask and last) else None,
                        ask_alternatives=content.render(t("common.ask_alternatives")) if alternatives else None,
                        close_ask=bool(close and i == 0),
                    ),
                    None,
                )
            )
        if reply.attachment is not None:
            # The file follows its text, with its own short caption.
            a = reply.attachment
            out.append(
                Rendered(
                    OutMessage(
                        text=content.render(a.caption) if a.caption else "",
                        key=a.caption.key if a.caption else reply.text.key,
                        buttons=rows if file_only else [],
                        attachment_kind=a.kind,
                        filename=a.filename,
                        mime_type=a.mime_type,
                    ),
                    a.data,
                )
            )
    return out, (menu if menu else None)


def _choices(first: int, last: int, content: Content) -> str:
    numbers = [str(n) for n in range(first, last + 1)]
    if len(numbers) == 1:
        return numbers[0]
    return content.render(t("common.numbered_or", head=", ".join(numbers[:-1]), last=numbers[-1]))


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at paragraph breaks, else lines, else words."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    for separator in ("\n\n", "\n", " "):
        parts = text.split(separator)
        if all(len(p) <= limit for p in parts):
            current = ""
            for part in parts:
                candidate = f"{current}{separator}{part}" if current else part
                if len(candidate) <= limit:
                    current = candidate
                else:
                    pieces.append(current)
                    current = part
            pieces.append(current)
            return [p for p in pieces if p.strip()] or [text[:limit]]
    return [text[i : i + limit] for i in range(0, len(text), limit)]
