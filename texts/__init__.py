"""The words people read: keyed texts and the values they carry (texts.text, texts.values), the
content loader that gives them words (texts.content), and what people type, read safely
(texts.user_input). The lowest layer: it imports nothing else of the project, so every other
package (storage, documents, handlers, bot) may use it."""

from __future__ import annotations

from pathlib import Path

from texts.text import Text, t
from texts.values import Join, Percent

# The shipped content (content/vi/ beside this package): the default of Content.load and CONTENT_DIR.
DEFAULT_CONTENT_DIR = Path(__file__).resolve().parent.parent / "content" / "vi"

__all__ = ["DEFAULT_CONTENT_DIR", "Join", "Percent", "Text", "t"]
