"""Entry point of the ``ccxt`` plugin (filled in as components land)."""

from __future__ import annotations

BOT_CORE_API = ">=1.0,<2"
