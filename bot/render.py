"""Turns a handler's replies into words for one channel: content lookup, then the channel's limits
(numbered menus where there are no buttons, long text split at paragraph boundaries)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bot.channels.base import Capabilities, OutButton, OutMessage
from handlers.types import Ask, Reply
from texts import Text, t
from texts.content import Content


@dataclass(frozen=True)
class Rendered:
    message: OutMessage
    attachment: bytes | None


@dataclass
class _Buttons:
    """A reply's buttons for one channel: rows it can show, and what goes into the text instead."""

    rows: list[list[OutButton]]
    numbered: list[str]  # "1. Label" lines, where the channel shows no (or not so many) buttons
    links: list[str]  # "Label: url" lines, where it shows no link buttons


def render_step(
    replies: tuple[Reply, ...], content: Content, caps: Capabilities, message_ref: str | None
) -> tuple[list[Rendered], list[str] | None]:
    """The messages to send, and the numbered menu to remember (None: leave no menu).

    On a channel without buttons every payload button of the step gets a number, counted across
    the step's replies; the typed number is mapped back to the payload on the next message. A reply
    with more buttons than the channel allows in one message (`max_buttons`) is numbered the same way.
    """
    out: list[Rendered] = []
    menu: list[str] = []  # grows across the replies: the numbers run on
    for reply in replies:
        buttons = _buttons(reply, content, caps, menu)
        text = _with_extras(content.render(reply.text), buttons, len(menu), content)
        # A reply whose words are all in its file's caption (its text renders empty) is the file alone.
        file_only = reply.attachment is not None and not text.strip()
        if not file_only:
            out.extend(_text_messages(reply, text, buttons.rows, content, caps, message_ref))
        if reply.attachment is not None:
            out.append(_file_message(reply, buttons.rows if file_only else [], content))
    return out, (menu if menu else None)


def _buttons(reply: Reply, content: Content, caps: Capabilities, menu: list[str]) -> _Buttons:
    """The reply's buttons as the channel can show them; payloads it cannot are added to `menu`."""
    found = _Buttons([], [], [])
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
                    found.links.append(content.render(t("common.link_line", label=label, url=url)))
            elif as_buttons:
                out_row.append(OutButton(label=label, payload=button.payload))
            elif button.payload:
                menu.append(button.payload)
                found.numbered.append(content.render(t("common.numbered_option", number=len(menu), label=label)))
        if out_row:
            found.rows.append(out_row)
    return found


def _with_extras(text: str, buttons: _Buttons, menu_size: int, content: Content) -> str:
    """The text, followed by the links and numbered options that could not be buttons."""
    extra = []
    if buttons.links:
        extra.append("\n".join(buttons.links))
    if buttons.numbered:
        first = menu_size - len(buttons.numbered) + 1
        extra.append("\n".join(buttons.numbered))
        extra.append(content.render(t("common.numbered_hint", choices=_choices(first, menu_size, content))))
    return text + "\n\n" + "\n".join(extra) if extra else text


def _text_messages(
    reply: Reply,
    text: str,
    rows: list[list[OutButton]],
    content: Content,
    caps: Capabilities,
    message_ref: str | None,
) -> list[Rendered]:
    """The reply's text in as many messages as the channel's length limit needs; the buttons and
    the share-contact / share-location button (where the messenger has one) go with the last."""
    ask = reply.ask if reply.ask and getattr(caps, f"request_{reply.ask.value}") else None
    close = reply.close_ask and (caps.request_contact or caps.request_location)
    edit_ref = message_ref if reply.edit and caps.edit and not close else None  # the first piece replaces the screen
    chunks = split_text(text, caps.max_text)
    out = []
    for i, chunk in enumerate(chunks):
        if i < len(chunks) - 1:  # more follows: words only
            message = OutMessage(
                text=chunk, key=reply.text.key, edit_ref=None if i else edit_ref, close_ask=close and not i
            )
        else:
            message = _last_piece(reply, chunk, rows, ask, close and not i, content)
            message = dataclasses.replace(message, edit_ref=None if i else edit_ref)
        if not reply.link_preview:
            message = dataclasses.replace(message, no_preview=True)
        out.append(Rendered(message, None))
    return out


def _last_piece(
    reply: Reply, chunk: str, rows: list[list[OutButton]], ask: Ask | None, close: bool, content: Content
) -> OutMessage:
    """The text's last (or only) piece: with the buttons, and the share button it asks for."""
    alternatives = ask is not None or (close and bool(rows))
    return OutMessage(
        text=chunk,
        key=reply.text.key,
        buttons=rows,
        ask=ask.value if ask else None,
        ask_label=content.render(t(f"common.ask_{ask.value}")) if ask else None,
        ask_alternatives=content.render(t("common.ask_alternatives")) if alternatives else None,
        close_ask=close,
    )


def _file_message(reply: Reply, rows: list[list[OutButton]], content: Content) -> Rendered:
    """The reply's file, after its text, with its own short caption."""
    a = reply.attachment
    assert a is not None
    message = OutMessage(
        text=content.render(a.caption) if a.caption else "",
        key=a.caption.key if a.caption else reply.text.key,
        buttons=rows,
        attachment_kind=a.kind,
        filename=a.filename,
        mime_type=a.mime_type,
    )
    return Rendered(message, a.data)


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
