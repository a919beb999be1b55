"""The values that mean "not set" in a client's flags and environment variables.

``NONE``, ``NULL``, ``DEFAULT`` (any case) and the empty string: a shell that exports
``BOT_CORE_GRPC_TLS_CA=NONE`` means no CA, so plaintext to a loopback server works without
unsetting anything (:mod:`bot_core.control.options`, :mod:`bot_core.control.headers`).
"""

from __future__ import annotations

__all__ = ["UNSET_WORDS", "is_unset"]

UNSET_WORDS = frozenset({"none", "null", "default", ""})


def is_unset(value: str | None) -> bool:
    """None, empty, or one of the sentinels NONE, NULL, DEFAULT (any case, spaces ignored)."""
    return value is None or value.strip().lower() in UNSET_WORDS
