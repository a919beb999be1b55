"""Signed checkpoints: the head of the chain (sequence number and MAC), kept beside the journal.

The writer replaces ``checkpoint.json`` atomically at intervals (after the records it names were
synced to disk, so it never names a record a power loss could take away) and when it closes.
A journal cut short at a line boundary still verifies line by line; the checkpoint is what says
records are missing at its end. Its MAC covers its canonical JSON without ``mac``.

An attacker who can delete both the journal's tail and the checkpoint is not detected by the
checkpoint alone: ship or copy the checkpoint elsewhere when that matters (docs/journal.md).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from bot_core.journal.canonical import canonical_bytes
from bot_core.journal.files import replace_atomically
from bot_core.journal.keys import JournalKey, Keyring
from bot_core.journal.record import CHECKPOINT_NAME

__all__ = ["Checkpoint", "CheckpointProblem", "read_checkpoint", "write_checkpoint"]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    bot: str
    head_seq: int
    head_mac: str
    head_file: str
    ts_ns: int
    key_id: str
    clean: bool
    """True when written by a writer closing normally."""

    def signed_bytes(self) -> bytes:
        return canonical_bytes(asdict(self))


class CheckpointProblem(Exception):
    """The checkpoint file exists but cannot be trusted (the message says why)."""


def write_checkpoint(directory: Path, checkpoint: Checkpoint, key: JournalKey) -> None:
    doc = {**asdict(checkpoint), "mac": key.sign(checkpoint.signed_bytes())}
    replace_atomically(directory / CHECKPOINT_NAME, canonical_bytes(doc) + b"\n")


def read_checkpoint(directory: Path, keyring: Keyring | None) -> Checkpoint | None:
    """The directory's checkpoint, None when there is none.

    :param keyring: verify the checkpoint's MAC with it (None: read without verifying, for
        the writer's own bookkeeping before it knows whether to trust it).
    :raises CheckpointProblem: unreadable, malformed, unknown key or modified.
    """
    path = directory / CHECKPOINT_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CheckpointProblem(f"cannot read it ({exc.strerror or exc})") from None
    try:
        doc = json.loads(raw)
        mac = doc.pop("mac")
        checkpoint = Checkpoint(**doc)
        ok_types = all(isinstance(getattr(checkpoint, f), t) for f, t in (
            ("bot", str), ("head_seq", int), ("head_mac", str), ("head_file", str),
            ("ts_ns", int), ("key_id", str), ("clean", bool)))
    except (ValueError, TypeError, KeyError, AttributeError):
        raise CheckpointProblem("not a checkpoint (malformed JSON or fields)") from None
    if not ok_types or not isinstance(mac, str):
        raise CheckpointProblem("not a checkpoint (a field has the wrong type)")
    if keyring is not None:
        key = keyring.get(checkpoint.key_id)
        if key is None:
            raise CheckpointProblem(f"signed with key {checkpoint.key_id!r}, which the keyring "
                                    f"({keyring.source}) does not hold")
        if key.sign(checkpoint.signed_bytes()) != mac:
            raise CheckpointProblem("modified: its MAC does not match its content")
    return checkpoint
