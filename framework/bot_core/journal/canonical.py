"""Canonical JSON: the exact bytes a journal record's MAC covers.

Sorted keys, no insignificant whitespace, UTF-8 (``ensure_ascii=False``), no NaN or infinity
(they are not JSON). Two equal records always give the same bytes, so anyone holding the key can
recompute a MAC from a parsed record, in any language with a canonical JSON encoder.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from typing import Any

__all__ = ["canonical_bytes", "canonical_text"]

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                            allow_nan=False, check_circular=True)


def _fast_encoder() -> Callable[[Any], str]:
    """The C encoder built once with the options above (``JSONEncoder.encode`` builds it anew
    for every call, a microsecond the journal's hot path would pay per record). Falls back to
    ``encode`` where the C accelerator is missing; both give the same text."""
    make = getattr(json.encoder, "c_make_encoder", None)
    escape = getattr(json.encoder, "c_encode_basestring", None)
    if make is None or escape is None:
        return _ENCODER.encode

    def _not_json(value: Any) -> Any:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    # no circular-reference markers: shared between threads they could clash, and nothing
    # encoded here can be circular (payloads are the sanitiser's fresh trees or the caller's
    # own flat records)
    encoder = make(None, _not_json, escape, None, ":", ",", True, False, False)
    join = "".join

    def encode(value: Any) -> str:
        return join(encoder(value, 0))

    return encode


canonical_text: Callable[[Any], str] = _fast_encoder()
"""``value`` as canonical JSON text.

:raises ValueError: a float is NaN or infinite.
:raises TypeError: a value is not JSON (the sanitiser turns everything into JSON first).
"""


def canonical_bytes(value: Any) -> bytes:
    """``value`` as canonical JSON, UTF-8 encoded."""
    return _ENCODER.encode(value).encode("utf-8")
