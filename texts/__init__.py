"""The words people read: keyed texts and the values they carry (texts.text, texts.values), the
content loader that gives them words (texts.content), the house formats of times, days and phones
and the campaign's clock (texts.formats), and what people type, read safely (texts.user_input).
The lowest layer: it imports nothing else of the project, so every other package (storage,
documents, handlers, bot) may use it."""

from __future__ import annotations

from pathlib import Path

from texts.text import Text, t
from texts.values import Day, Divisions, Join, Percent, Phone, SpokenDate

# The shipped content (content/vi/ beside this package): the default of Content.load and of CONTENT_DIR.
DEFAULT_CONTENT_DIR = Path(__file__).resolve().parent.parent / "content" / "vi"

__all__ = ["DEFAULT_CONTENT_DIR", "Day", "Divisions", "Join", "Percent", "Phone", "SpokenDate", "Text", "t"]
