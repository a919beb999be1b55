"""Identity of one run, passed to lifecycle and observer hooks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from bot_core.config.models import BotConfig

__all__ = ["RunInfo", "RunMode"]

RunMode = Literal["demo", "paper", "live", "backtest"]


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    mode: RunMode
    started_ns: int
    config: BotConfig | None = None
