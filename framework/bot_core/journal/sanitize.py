"""What may reach the journal: secrets redacted, control characters escaped, sizes bounded.

Every payload goes through :func:`sanitise` before it is signed (the writer's fast path for
payloads whose keys and nesting are the caller's own constants gives the same bytes, see
:func:`encode_payload`). The rules, each applied at any depth:

* a value under a key that looks like a secret (:data:`SECRET_WORDS`, case-insensitive, ignoring
  ``_``, ``-`` and spaces: ``api_key``, ``X-Api-Key``, ``clientSecret``, ``session_cookie``...)
  is replaced by :data:`REDACTED`, whatever its type;
* characters that are not printable (control characters, DEL, C1 controls, line and paragraph
  separators, format characters such as bidi overrides, surrogates) are written as visible
  escapes (``\\x1b``, ``\\u2028``), so nothing in the journal can move a terminal's cursor, hide
  text or split a line;
* a string longer than :data:`MAX_TEXT_CHARS` is cut with a marker saying how long it was; a
  container with more than :data:`MAX_ITEMS` entries keeps the first ones and a marker; nesting
  deeper than :data:`MAX_DEPTH` becomes a marker;
* values that are not JSON become JSON: enums their value, dataclasses and pydantic models
  dicts (pydantic's own secret types dump masked), dates ISO 8601, NaN and infinities strings,
  bytes only their length (never their content), anything else its type name (never its repr,
  which may hold a secret).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import math
import uuid
from collections.abc import Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from bot_core.journal.canonical import canonical_text

__all__ = [
    "MAX_DEPTH",
    "MAX_ITEMS",
    "MAX_KEY_CHARS",
    "MAX_TEXT_CHARS",
    "REDACTED",
    "SECRET_WORDS",
    "encode_payload",
    "escape_text",
    "is_secret_key",
    "sanitise",
]

REDACTED = "[redacted]"
SECRET_WORDS = ("secret", "token", "password", "passwd", "passphrase", "apikey", "authorization",
                "cookie", "privatekey", "credential")
"""A key whose lower-case letters and digits contain one of these holds a secret."""
MAX_TEXT_CHARS = 2048
MAX_KEY_CHARS = 128
MAX_ITEMS = 1000
MAX_DEPTH = 16
MAX_INT_BITS = 13_000
"""Beyond ~3,900 decimal digits an int is replaced (Python refuses to print 4,300)."""
_FAST_TEXT_LIMIT = 2000
"""A payload whose canonical text is at most this long cannot hold a string, or a container,
beyond the limits above, so a payload of trusted shape that short needs no walk."""


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """Whether a value stored under ``key`` must be redacted."""
    folded = "".join(ch for ch in key.casefold() if ch.isalnum())
    return any(word in folded for word in SECRET_WORDS)


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """``text`` with every non-printable character escaped, cut to ``limit`` characters."""
    if len(text) > limit:
        text = f"{text[:limit]}...[cut: {len(text)} chars]"
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape_char(ch) for ch in text)


def _key(key: object) -> str:
    if isinstance(key, str):
        return escape_text(key, MAX_KEY_CHARS)
    if key is None or isinstance(key, int | float):  # what json.dumps would make of them
        return escape_text(str(key).lower() if isinstance(key, bool) or key is None else str(key),
                           MAX_KEY_CHARS)
    if isinstance(key, tuple):  # ("api", "key") names a secret as much as "api_key" does
        return escape_text(",".join(_key(part) for part in key), MAX_KEY_CHARS)
    return f"[{type(key).__name__}]"


def _float(value: float) -> float | str:
    if math.isfinite(value):
        return float(value)
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _mapping(items: Any, size: int, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for count, (key, value) in enumerate(items):
        if count == MAX_ITEMS:
            out["[cut]"] = f"{size - MAX_ITEMS} more entries"
            break
        name = _key(key)
        out[name] = REDACTED if is_secret_key(name) else _value(value, depth + 1)
    return out


def _sequence(values: Any, size: int, depth: int) -> list[Any]:
    out = [_value(v, depth + 1) for _, v in zip(range(MAX_ITEMS), values, strict=False)]
    if size > MAX_ITEMS:
        out.append(f"[cut: {size - MAX_ITEMS} more items]")
    return out


def _value(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind is str:
        return value if len(value) <= MAX_TEXT_CHARS and value.isprintable() else escape_text(value)
    if value is None or kind is bool:
        return value
    if kind is int:
        return value if value.bit_length() <= MAX_INT_BITS else f"[int: {value.bit_length()} bits]"
    if kind is float:
        return _float(value)
    if depth >= MAX_DEPTH and isinstance(value, Mapping | list | tuple | set | frozenset):
        return f"[cut: nested deeper than {MAX_DEPTH}]"
    if isinstance(value, Mapping):
        return _mapping(value.items(), len(value), depth)
    if isinstance(value, list | tuple):
        return _sequence(value, len(value), depth)
    if isinstance(value, set | frozenset):
        ordered = sorted((_value(v, depth + 1) for v in value), key=canonical_text)
        return _sequence(ordered, len(ordered), depth - 1)
    if isinstance(value, enum.Enum):
        return _value(value.value, depth)
    if isinstance(value, str):  # subclasses of the JSON types that are not enums
        return _value(str(value), depth)
    if isinstance(value, int):
        return _value(int(value), depth)
    if isinstance(value, float):
        return _value(float(value), depth)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"[bytes: {len(value)}]"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _mapping(((f.name, getattr(value, f.name)) for f in dataclasses.fields(value)),
                        len(dataclasses.fields(value)), depth)
    if callable(getattr(value, "model_dump", None)) and not isinstance(value, type):
        try:
            dumped = value.model_dump(mode="json")
        except Exception:  # a model that cannot dump itself is recorded by its type only
            return f"[{kind.__name__}]"
        return _value(dumped, depth)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID | PurePath):
        return escape_text(str(value))
    if isinstance(value, BaseException):
        return {"error": kind.__name__, "message": escape_text(str(value))}
    return f"[{kind.__name__}]"


def sanitise(value: Any) -> Any:
    """``value`` as JSON-ready data with the rules of this module applied (see its docstring)."""
    return _value(value, 0)


def encode_payload(payload: Mapping[str, Any], *, trusted_shape: bool = False) -> str:
    """Canonical JSON text of ``sanitise(payload)``.

    :param trusted_shape: the caller built ``payload`` itself: its keys are constants that do
        not look like secrets and its nesting is shallow. Then a payload that encodes as short,
        printable JSON is taken as is: it is exactly what :func:`sanitise` would return, and
        skipping the walk keeps the journal's hot path fast. Anything else takes the walk.
    """
    if trusted_shape:
        try:
            text = canonical_text(payload)
        except (TypeError, ValueError):  # not JSON as it is (NaN, an object): sanitise it
            pass
        else:
            # no backslash: json.dumps escaped no control character (and no quote) on the way
            if len(text) <= _FAST_TEXT_LIMIT and text.isprintable() and "\\" not in text:
                return text
    return canonical_text(sanitise(payload))
