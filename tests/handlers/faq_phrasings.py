"""The evaluation set of typed citizen questions (faq_phrasings.toml), read into rows."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

PATH = Path(__file__).with_name("faq_phrasings.toml")
STYLES = ("full", "plain", "teen")
# What an unrelated line must get, and the expected target of a small-talk line ("small_talk:<kind>").
NOT_UNDERSTOOD = "not_understood"


@dataclass(frozen=True)
class Phrasing:
    text: str
    expected: str  # "faq:q:<id>", a menu payload, "small_talk:<kind>" or NOT_UNDERSTOOD
    style: str  # full, plain, teen; "small_talk" or "unrelated"


def load() -> list[Phrasing]:
    data = tomllib.loads(PATH.read_text(encoding="utf-8"))
    rows = []
    for qid, styles in data["answers"].items():
        rows += [Phrasing(text, f"faq:q:{qid}", style) for style, texts in styles.items() for text in texts]
    for payload, styles in data["intents"].items():
        rows += [Phrasing(text, payload, style) for style, texts in styles.items() for text in texts]
    for kind, texts in data["small_talk"].items():
        rows += [Phrasing(text, f"small_talk:{kind}", "small_talk") for text in texts]
    rows += [Phrasing(text, NOT_UNDERSTOOD, "unrelated") for text in data["unrelated"]["lines"]]
    return rows


def questions(rows: list[Phrasing]) -> list[Phrasing]:
    """The lines that must find an answer or a menu entry (not small talk, not unrelated)."""
    return [r for r in rows if r.style in STYLES]
