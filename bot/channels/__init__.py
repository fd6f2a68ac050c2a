"""One module per messenger, each implementing the contract in base.py; this is their registry."""

from __future__ import annotations

import importlib
from types import ModuleType

# Each module has NAME, its channel class as CHANNEL, `configured(settings)` (its credentials are
# set) and `build(wiring)`. The terminal is not here: the CLI's `chat` adds it itself.
MESSENGERS = ("telegram", "zalo_oa", "zalo_bot")


def messengers() -> list[ModuleType]:
    """The messenger modules, imported when first needed (python-telegram-bot is a large import)."""
    return [importlib.import_module(f"bot.channels.{name}") for name in MESSENGERS]
