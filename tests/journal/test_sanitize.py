"""Hostile payloads: no secret value, control character or unbounded value reaches the file.

Checked on the bytes of the journal file itself, not on what a reader makes of them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr

from bot_core.journal import JournalObserver, JournalWriter, sanitise, verify_paths
from bot_core.journal.canonical import canonical_text
from bot_core.journal.sanitize import (
    MAX_DEPTH,
    MAX_ITEMS,
    MAX_TEXT_CHARS,
    REDACTED,
    encode_payload,
    is_secret_key,
)
from bot_core.orders import OrderIntent, Side
from bot_core.runinfo import RunInfo

from .conftest import StepClock, keyring

SECRETS = [f"S3CR3T-{i:02d}-value" for i in range(16)]


class Leaky:
    def __repr__(self) -> str:
        return SECRETS[15]

    __str__ = __repr__


@dataclasses.dataclass
class Credentials:
    user: str
    private_key: str


class VenueSettings(BaseModel):
    host: str
    api_secret: SecretStr
    passphrase: str


def _hostile() -> dict[str, Any]:
    return {
        "api_key": SECRETS[0],
        "APIKEY": SECRETS[1],
        "X-Api-Key": SECRETS[2],
        "nested": {"deeper": {"Authorization": f"Bearer {SECRETS[3]}",
                              "list": [{"session_cookie": SECRETS[4]}, {"ok": 1}]}},
        "clientSecret": {"whole": SECRETS[5], "tree": [SECRETS[6]]},
        "db_password": SECRETS[7].encode(),
        "refresh-token": [SECRETS[8]],
        "Pass Phrase": SECRETS[9],
        "login": Credentials("alice", SECRETS[10]),
        "aws_credentials": {"id": SECRETS[10]},
        "venue": VenueSettings(host="h", api_secret=SecretStr(SECRETS[11]), passphrase=SECRETS[12]),
        "raw_bytes": SECRETS[13].encode(),
        ("api", "key"): SECRETS[14],
        "object": Leaky(),
    }


def _file_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file())


def test_no_secret_value_reaches_the_file(tmp_path: Path) -> None:
    directory = tmp_path / "j"
    with JournalWriter(directory, "bot", keyring(), clock=StepClock()) as writer:
        observer = JournalObserver(writer)
        writer.append("operator_action", _hostile())
        observer.operator_action("set_keys", "alice", detail=_hostile())
        observer.promotion("paper", "live", gates={"token": SECRETS[0], "ok": True})
    raw = _file_bytes(directory)
    leaked = [s for s in SECRETS if s.encode() in raw or s[:10].encode() in raw]
    assert not leaked
    assert raw.count(REDACTED.encode()) == 2 * 14 + 1  # each secret-looking key, nothing more
    records = [json.loads(line) for line in next(directory.glob("*.jsonl")).read_bytes()
               .splitlines()]
    payload = records[1]["payload"]
    assert payload["nested"]["deeper"]["list"][1] == {"ok": 1}  # what is not secret stays
    assert payload["login"] == {"user": "alice", "private_key": REDACTED}
    assert payload["venue"]["host"] == "h" and payload["object"] == "[Leaky]"
    assert payload["raw_bytes"] == f"[bytes: {len(SECRETS[13])}]"
    assert verify_paths([directory], keyring())[0].ok


HOSTILE_TEXT = ("\x1b[2J\x1b[31mred\x00nul\r\ncr-lf\x7fdel\x9bcsi\u2028line\u2029para"
                "\u202eevil\u200b\ud800lone")


def test_control_characters_never_reach_the_file(tmp_path: Path) -> None:
    directory = tmp_path / "j"
    intent = OrderIntent("s", "v", "BTC/USDT", Side.BUY, 1.0, "c-1", tag=HOSTILE_TEXT)
    with JournalWriter(directory, "bot", keyring(), clock=StepClock()) as writer:
        observer = JournalObserver(writer)
        observer.bot_core_on_decision(RunInfo("r", "demo", 0), intent)
        writer.append("operator_action", {HOSTILE_TEXT: HOSTILE_TEXT}, trusted_shape=True)
    raw = next(directory.glob("*.jsonl")).read_bytes()
    assert raw.count(b"\n") == 3 and raw.endswith(b"\n")  # one line per record, nothing split
    for forbidden in ("\x1b", "\x00", "\r", "\x7f", "\x9b", "\u2028", "\u2029", "\u202e",
                      "\u200b"):
        assert forbidden.encode("utf-8") not in raw, repr(forbidden)
    assert b"\\ud800" not in raw.replace(b"\\\\ud800", b"")  # no JSON surrogate escape either
    text = raw.decode("utf-8")  # and it is valid UTF-8
    decision = json.loads(text.splitlines()[1])["payload"]
    assert decision["tag"].startswith("\\x1b[2J\\x1b[31mred\\x00nul\\x0d\\x0acr-lf\\x7fdel")
    assert "\\u2028line" in decision["tag"] and "\\u202eevil" in decision["tag"]
    assert verify_paths([directory], keyring())[0].ok


def test_oversized_values_are_cut_with_a_marker() -> None:
    deep: Any = "bottom"
    for _ in range(MAX_DEPTH + 10):
        deep = {"d": deep}
    value = sanitise({"text": "x" * 100_000, "items": list(range(MAX_ITEMS + 500)),
                      "mapping": {f"k{i}": i for i in range(MAX_ITEMS + 7)}, "deep": deep,
                      "big": 10 ** 5000, "nan": float("nan"), "inf": -float("inf"),
                      "tags": {"b", "a"}})
    assert value["text"] == "x" * MAX_TEXT_CHARS + "...[cut: 100000 chars]"
    assert len(value["items"]) == MAX_ITEMS + 1 and value["items"][-1] == "[cut: 500 more items]"
    assert value["mapping"]["[cut]"] == "7 more entries"
    node = value["deep"]
    for _ in range(MAX_DEPTH - 1):
        node = node["d"]
    assert node == f"[cut: nested deeper than {MAX_DEPTH}]"
    assert value["big"].startswith("[int: ") and (value["nan"], value["inf"]) == ("nan", "-inf")
    assert value["tags"] == ["a", "b"]


@pytest.mark.parametrize("key", ["api_key", "APIKey", "x-api-key", "client_secret", "Token",
                                 "access_token", "PASSWORD", "passwd", "passphrase",
                                 "Authorization", "set-cookie", "private_key", "privateKey",
                                 "aws_credentials"])
def test_secret_looking_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["quantity", "client_order_id", "strategy_id", "price", "reason",
                                 "detail", "inputs", "last_price", "tag", "key_id"])
def test_the_journals_own_keys_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=()), max_size=40) | \
    st.text(max_size=40)
_SCALAR = st.none() | st.booleans() | st.integers() | st.floats() | _TEXT
_FLAT = st.dictionaries(st.sampled_from(["a", "tag", "reason", "quantity", "detail"]),
                        _SCALAR | st.dictionaries(st.sampled_from(["x", "y"]), _SCALAR),
                        max_size=6)


@settings(max_examples=300, deadline=None)
@given(payload=_FLAT)
def test_the_fast_path_writes_exactly_what_the_sanitiser_would(payload: dict[str, Any]) -> None:
    assert encode_payload(payload, trusted_shape=True) == canonical_text(sanitise(payload))
