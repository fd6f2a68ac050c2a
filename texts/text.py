"""A keyed text: what a handler, a document or a page says, before the content files give it words."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Text:
    """A content key and the values for its placeholders; the words live in content/vi/."""

    key: str
    values: Mapping[str, Any] = field(default_factory=dict)


def t(key: str, **values: Any) -> Text:
    return Text(key, values)
