"""Custom gRPC metadata: what a client may send, and how the server shows it.

Clients (``metrics watch``, ``control``) take headers from repeated ``--header key=value`` and
from ``BOT_CORE_GRPC_HEADERS`` (``k=v,k2=v2``; the flags come after the variable). Every name is
checked before anything is sent, each problem its own clear error: lower-case ASCII letters,
digits, ``-``, ``_`` and ``.``; not starting with ``grpc-`` (reserved by gRPC); not one of the
headers HTTP/2 or gRPC set themselves. A name ending in ``-bin`` carries bytes (the value's
UTF-8); other values must be printable ASCII.

Metadata never decides anything on the server (identity and role come from the TLS handshake);
it is recorded with each call, sanitised first: values under secret-looking names
(``authorization``, ``x-api-token``...) redacted, binary values reduced to their length,
non-printable characters escaped, long values cut. The same rules as the journal's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot_core.control.sentinels import is_unset
from bot_core.errors import UsageError

__all__ = ["HEADERS_ENV", "Header", "parse_headers", "sanitise_metadata"]

HEADERS_ENV = "BOT_CORE_GRPC_HEADERS"
_NAME = re.compile(r"^[a-z0-9_.-]+$")
_RESERVED = frozenset({"te", "content-type", "user-agent", "host", "authority", "connection",
                       "keep-alive", "transfer-encoding", "upgrade", "proxy-connection"})
_MAX_VALUE_CHARS = 256
Header = tuple[str, str | bytes]


def _problem(name: str) -> str:
    if not name:
        return "a header needs a name before '='"
    if not _NAME.match(name):
        shown = name if name.isprintable() else name.encode("unicode_escape").decode()
        return (f"header name {shown!r} must be lower-case ASCII letters, digits, '-', '_' or "
                "'.'")
    if name.startswith("grpc-"):
        return f"header name {name!r} starts with 'grpc-', which gRPC reserves"
    if name.startswith(":") or name in _RESERVED:
        return f"header name {name!r} is set by HTTP/2 or gRPC itself"
    return ""


def _parse_one(text: str, where: str) -> Header:
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep:
        raise UsageError(f"{where} {text!r}: expected key=value")
    problem = _problem(name)
    if problem:
        raise UsageError(f"{where} {text!r}: {problem}")
    if name.endswith("-bin"):
        return name, value.encode()
    if not all(0x20 <= ord(c) <= 0x7E for c in value):
        raise UsageError(f"{where} {name}: the value must be printable ASCII (use a name ending "
                         f"in -bin to send bytes)")
    return name, value


def parse_headers(flags: Sequence[str], environ: Mapping[str, str]) -> list[Header]:
    """Headers from ``BOT_CORE_GRPC_HEADERS`` then every ``--header``, validated.

    The sentinels ``NONE``, ``NULL``, ``DEFAULT`` and an empty value of the variable mean no
    headers. :raises UsageError: naming the first bad header and its source.
    """
    out: list[Header] = []
    raw = environ.get(HEADERS_ENV)
    if raw is not None and not is_unset(raw):
        for part in raw.split(","):
            if part.strip():
                out.append(_parse_one(part.strip(), HEADERS_ENV))
    for text in flags:
        out.append(_parse_one(text, "--header"))
    return out


def sanitise_metadata(metadata: Iterable[Any]) -> dict[str, str]:
    """A call's metadata as it may be logged or journaled (see the module docstring); gRPC's
    own and HTTP/2's headers are left out."""
    from bot_core.journal.sanitize import REDACTED, escape_text, is_secret_key

    out: dict[str, str] = {}
    for item in metadata:
        key, value = (item.key, item.value) if hasattr(item, "key") else item
        key = escape_text(str(key), 64)
        if key.startswith(("grpc-", ":")) or key in _RESERVED:
            continue
        if is_secret_key(key):
            shown = REDACTED
        elif isinstance(value, bytes):
            shown = f"<{len(value)} bytes>"
        else:
            shown = escape_text(str(value), _MAX_VALUE_CHARS)
        out[key] = shown
    return out
