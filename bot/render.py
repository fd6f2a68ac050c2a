"""Turns a handler's replies into words for one channel: content lookup, then the channel's limits
(numbered menus where there are no buttons, long text split at paragraph boundaries)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from bot.channels.base import Capabilities, OutButton, OutMessage
from handlers.types import MAX_NUMBERED, Ask, Button, Reply
from texts import Text, t
from texts.content import Content
from texts.user_input import number


@dataclass(frozen=True)
class Rendered:
    message: OutMessage
    attachment: bytes | None


# At most this many numbered choices in one message; the rest wait behind "0" (MORE), a page each.
MAX_CHOICES = MAX_NUMBERED
MORE = 0
RANGE_FROM = 5  # as many numbers in a row or more are said as a range (common.numbered_range)
MORE_KEY = "common.more_choices"  # the key a page shown on "0" is sent under (for tests and logs)
# A label that numbers itself ("1. <commune>": a drill-down into the list its message shows).
# Where the renderer numbers the choices, that number is the one typed (so "1" is the summary's
# first commune, as it reads) and is not written twice; when two labels of a step claim the same
# number, or a main-menu entry has it, the labels lose theirs and are numbered like the others.
_ENUMERATED = re.compile(r"(\d{1,3})\s*[.)]\s+(?=\S)")
# A label that is the very number it answers (a count's choices): typed as itself, never renumbered.
_VALUE = re.compile(r"\d{1,3}")


@dataclass
class Menu:
    """What a typed number means after a step shown without buttons: the choice it picks, and
    the pages of choices not shown yet ("0" shows the next). Stored in the conversation as JSON."""

    choices: dict[int, str] = field(default_factory=dict)  # number → payload
    more: list[str] = field(default_factory=list)  # the further pages' words, one message each

    def __bool__(self) -> bool:
        return bool(self.choices)

    def dump(self) -> dict[str, Any]:
        return {"choices": {str(n): p for n, p in self.choices.items()}, "more": self.more}

    @classmethod
    def load(cls, stored: Any) -> Menu:
        """The stored menu; a list is the older form (the payloads of choices 1, 2, 3...)."""
        if isinstance(stored, list):
            return cls({n: p for n, p in enumerate(stored, start=1) if isinstance(p, str)})
        if not isinstance(stored, dict):
            return cls()
        choices = stored.get("choices") or {}
        more = stored.get("more") or []
        return cls(
            {int(n): p for n, p in choices.items() if str(n).isdigit() and isinstance(p, str)},
            [m for m in more if isinstance(m, str)],
        )

    def pick(self, text: str | None) -> str | None:
        """The payload a typed number picks; None when it picks none."""
        choice = number((text or "").strip().rstrip(".)"), max(self.choices, default=0))
        return self.choices.get(choice) if choice is not None else None

    def wants_more(self, text: str | None) -> bool:
        """The typed "0" that shows the next page (when it is not itself a choice, as a count's is)."""
        return bool(self.more) and MORE not in self.choices and number((text or "").strip().rstrip(".)"), 9) == MORE


@dataclass
class _Buttons:
    """A reply's buttons for one channel: rows it can show, and what goes into the text instead."""

    rows: list[list[OutButton]]
    numbered: list[tuple[int, str]]  # (number, label), where the channel shows no (or not so many) buttons
    values: list[str]  # labels that are their own answer ("0", "1", "2"), typed as they are
    links: list[str]  # "Label: url" lines, where it shows no link buttons


class _Numbers:
    """The numbers a step's choices get: a button's own (the main menu's, fixed in content), or
    the number its label starts with (see _ENUMERATED), is kept; the others count up from 1,
    passing over those and over MORE."""

    def __init__(self, replies: tuple[Reply, ...], content: Content) -> None:
        buttons = [b for r in replies for row in r.buttons for b in row if b.payload]
        fixed = [b.number for b in buttons if b.number is not None]
        claimed = [_own_number(content.render(b.label)) for b in buttons if b.number is None]
        own = [n for n in claimed if n is not None]
        self.labels_keep = len(set(own)) == len(own) and not set(own) & {*fixed, MORE}
        self.taken = set(fixed) | (set(own) if self.labels_keep else set())
        self.last = MORE

    def next(self, button: Button, label: str) -> tuple[int, str]:
        """The button's number, and its label as shown beside it (without a number of its own)."""
        own = _own_number(label)
        if own is not None:
            label = _ENUMERATED.sub("", label, count=1)
        if button.number is not None:
            return button.number, label
        if own is not None and self.labels_keep:
            return own, label
        self.last += 1
        while self.last in self.taken:
            self.last += 1
        return self.last, label


def _own_number(label: str) -> int | None:
    match = _ENUMERATED.match(label)
    return int(match.group(1)) if match else None


def render_step(
    replies: tuple[Reply, ...], content: Content, caps: Capabilities, message_ref: str | None
) -> tuple[list[Rendered], Menu | None]:
    """The messages to send, and the numbered menu to remember (None: leave no menu).

    On a channel without buttons every payload button of the step gets a number, counted across
    the step's replies (a main-menu entry keeps its own, see Button.number); the typed number is
    mapped back to the payload on the next message. A reply with more buttons than the channel
    allows in one message (`max_buttons`) is numbered the same way. At most MAX_CHOICES numbers
    are shown in a message, then "0" for the next page.
    """
    out: list[Rendered] = []
    menu = Menu()
    numbers = _Numbers(replies, content)
    for reply in replies:
        buttons = _buttons(reply, content, caps, menu, numbers)
        extras = _extras(buttons, menu, content)
        # Where the choices are typed numbers, the words say "chọn", not "bấm" (content channel.toml).
        said = content.numbered() if _typed(reply, replies, caps) else content
        words = _tidy(said.render(reply.text))
        if reply.attachment is None:
            text = words + "\n\n" + extras if words and extras else words or extras
            out.extend(_text_messages(reply, text, buttons.rows, content, caps, message_ref))
        elif not words:
            # A reply whose words are all in its file's caption: one message, the file with its
            # caption and its buttons (or what stands for them).
            out.append(_file_message(reply, buttons.rows, extras, said))
        else:
            # The words, then the file; buttons stay under the words, what stands for them comes
            # last, under the file, where the person reads on.
            out.extend(_text_messages(reply, words, buttons.rows, content, caps, message_ref))
            out.append(_file_message(reply, [], extras, said))
    return out, (menu if menu else None)


def _tidy(text: str) -> str:
    """No blank lines at the ends, at most one between paragraphs: a line left empty by a
    template's optional part shows as nothing, not as a gap."""
    return _BLANK_LINES.sub("\n\n", text.strip())


_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def _buttons(reply: Reply, content: Content, caps: Capabilities, menu: Menu, numbers: _Numbers) -> _Buttons:
    """The reply's buttons as the channel can show them; payloads it cannot are added to `menu`."""
    found = _Buttons([], [], [], [])
    as_buttons = _as_buttons(reply, caps)
    labels = [[content.render(b.label) for b in row] for row in reply.buttons]
    # A count's choices ("0" to "5") are typed as they are; the other buttons beside them would
    # take those numbers, so they are left to commands (/menu, /huy) there.
    values = not as_buttons and any(_VALUE.fullmatch(label) for row in labels for label in row)
    for row, row_labels in zip(reply.buttons, labels, strict=True):
        out_row = []
        for button, label in zip(row, row_labels, strict=True):
            url = content.render(button.url) if isinstance(button.url, Text) else button.url
            if url is not None:
                if caps.url_buttons and as_buttons:
                    out_row.append(OutButton(label=label, url=url))
                else:
                    found.links.append(content.render(t("common.link_line", label=label, url=url)))
            elif as_buttons:
                out_row.append(OutButton(label=label, payload=button.payload))
            elif not button.payload:
                continue
            elif values:
                if _VALUE.fullmatch(label) and int(label) not in menu.choices:
                    menu.choices[int(label)] = button.payload
                    found.values.append(label)
            else:
                n, shown = numbers.next(button, label)
                menu.choices[n] = button.payload
                found.numbered.append((n, shown))
        if out_row:
            found.rows.append(out_row)
    return found


def _as_buttons(reply: Reply, caps: Capabilities) -> bool:
    """Whether the reply's choices are shown as buttons: too many for one message, and it gets
    the button-less treatment (a reply without buttons goes with the channel's kind)."""
    return caps.buttons and (caps.max_buttons is None or sum(len(row) for row in reply.buttons) <= caps.max_buttons)


def _typed(reply: Reply, replies: tuple[Reply, ...], caps: Capabilities) -> bool:
    """Whether the choices the reply's words may name are typed numbers: its own buttons', else
    the step's (words above a numbered list), else as the channel shows choices."""
    shown = [reply] if reply.buttons else [r for r in replies if r.buttons]
    return not caps.buttons if not shown else not all(_as_buttons(r, caps) for r in shown)


def _extras(buttons: _Buttons, menu: Menu, content: Content) -> str:
    """What stands for the buttons the channel cannot show: links, the count's values, and the
    first page of numbered choices (the other pages go to `menu`, for "0")."""
    extra = []
    if buttons.links:
        extra.append("\n".join(buttons.links))
    if buttons.values:
        extra.append(content.render(t("common.value_options", values=" · ".join(buttons.values))))
    numbered = sorted(buttons.numbered)  # in the order of their numbers, where labels brought their own
    pages = [numbered[i : i + MAX_CHOICES] for i in range(0, len(numbered), MAX_CHOICES)]
    for i, page in enumerate(pages):
        words = _page(page, i < len(pages) - 1, content)
        if i == 0:
            extra.append(words)
        else:
            menu.more.append(words)
    return "\n\n".join(extra)


def _page(options: list[tuple[int, str]], more: bool, content: Content) -> str:
    """One message's numbered choices, "0. See more" when others follow, and how to choose."""
    lines = [content.render(t("common.numbered_option", number=n, label=label)) for n, label in options]
    if more:
        lines.append(content.render(t("common.numbered_option", number=MORE, label=t(MORE_KEY))))
    numbers = [n for n, _ in options]
    if len(numbers) >= RANGE_FROM and numbers == list(range(numbers[0], numbers[-1] + 1)):
        hint = t("common.numbered_range", first=numbers[0], last=numbers[-1])
    else:
        hint = t("common.numbered_hint", choices=_choices(numbers, content))
    lines.append(content.render(hint))
    return "\n".join(lines)


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


def _file_message(reply: Reply, rows: list[list[OutButton]], extras: str, content: Content) -> Rendered:
    """The reply's file with its caption in one message (a photo's caption, where the messenger
    has one), followed by `extras`: the numbered choices standing for its buttons."""
    a = reply.attachment
    assert a is not None
    caption = _tidy(content.render(a.caption)) if a.caption else ""
    message = OutMessage(
        text=caption + "\n\n" + extras if caption and extras else caption or extras,
        key=a.caption.key if a.caption else reply.text.key,
        buttons=rows,
        attachment_kind=a.kind,
        filename=a.filename,
        mime_type=a.mime_type,
    )
    return Rendered(message, a.data)


def _choices(numbers: list[int], content: Content) -> str:
    """The numbers of a page as a person reads them: "1, 2 or 3" (common.numbered_or)."""
    words = [str(n) for n in numbers]
    if len(words) == 1:
        return words[0]
    return content.render(t("common.numbered_or", head=", ".join(words[:-1]), last=words[-1]))


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
