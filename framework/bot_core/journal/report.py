"""What verifying a journal found: the first finding, and a summary of the chain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot_core.journal.lines import Cause

__all__ = ["ChainReport", "Finding"]


@dataclass(frozen=True, slots=True)
class Finding:
    """The first problem of a journal: where it is and why."""

    cause: Cause
    file: str
    line: int
    detail: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.cause.value}: {self.detail}"

    def as_dict(self) -> dict[str, Any]:
        return {"cause": self.cause.value, "file": self.file, "line": self.line,
                "detail": self.detail}


@dataclass(slots=True)
class ChainReport:
    """What verifying one journal (one bot's chain) found."""

    target: str
    files: list[str] = field(default_factory=list)
    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    bot: str | None = None
    key_ids: list[str] = field(default_factory=list)
    runs: int = 0
    checkpoint_seq: int | None = None
    finding: Finding | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.finding is None

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "ok": self.ok, "bot": self.bot, "files": self.files,
                "records": self.records, "first_seq": self.first_seq,
                "last_seq": self.last_seq, "key_ids": self.key_ids, "runs": self.runs,
                "checkpoint_seq": self.checkpoint_seq,
                "finding": None if self.finding is None else self.finding.as_dict(),
                "notes": self.notes}
