"""What the gRPC Control service needs from a running bot: the :class:`ControlTarget` protocol.

The service (:mod:`bot_core.control.service`) knows nothing of the scheduler: it talks to a
target, which the runtime implements (:class:`bot_core.control.runtime_target.RuntimeControl`)
and a test may implement over a small real pipeline. A target answers with the plain records
below and raises :class:`ControlError` for a request it cannot carry out (the service turns it
into the matching gRPC status).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "BotView",
    "ControlError",
    "ControlTarget",
    "Outcome",
    "Problem",
    "PromotionView",
    "RiskView",
    "StrategyView",
]


class Problem(enum.Enum):
    NOT_FOUND = "not_found"
    """No bot or strategy of that name."""
    INVALID = "invalid"
    """The request itself is wrong (an empty reason, an unknown mode)."""
    REFUSED = "refused"
    """Valid, but not now (the bot stopped; the promotion is not the next step)."""


class ControlError(Exception):
    def __init__(self, problem: Problem, message: str) -> None:
        self.problem = problem
        super().__init__(message)

    def __reduce__(self) -> tuple[type[ControlError], tuple[Problem, str]]:
        return ControlError, (self.problem, str(self))  # it crosses to a relay process


@dataclass(frozen=True)
class BotView:
    name: str
    profile: str
    mode: str
    run_id: str
    trading_state: str
    """active, reducing or halted."""
    strategies: tuple[str, ...]
    stopped: str = ""


@dataclass(frozen=True)
class StrategyView:
    bot: str
    name: str
    plugin: str
    state: str
    """active, paused or quarantined."""
    paused: str = ""
    quarantined: str = ""
    decisions: int = 0
    skipped_bars: int = 0
    faults: int = 0


@dataclass(frozen=True)
class Outcome:
    """What one action did to one bot."""

    bot: str
    subject: str
    changed: bool
    message: str
    trading_state: str = ""


@dataclass(frozen=True)
class RiskView:
    bot: str
    profile: str
    trading_state: str
    cause: str
    equity: float
    pnl: float
    equity_peak: float
    day_start_equity: float
    drawdown_ratio: float
    daily_loss_limit_used_ratio: float
    daily_loss_halted: bool
    liquidating: bool
    open_orders: int
    exposure_ratio: Mapping[str, float] = field(default_factory=dict)
    currency: str = ""


@dataclass(frozen=True)
class PromotionView:
    bot: str
    from_mode: str
    to_mode: str
    promoted: bool
    gates: tuple[tuple[str, str, bool, str], ...]
    """(gate, title, passed, evidence) of every gate judged."""
    message: str


class ControlTarget(Protocol):
    """A running bot (or several) as the Control service sees it.

    ``bot`` arguments may be empty: every bot for reads and for trading-state actions, the one
    bot that has the strategy for pause/resume, the only bot for a promotion. ``who`` is the
    caller's identity from its certificate; actions record it. Every method may be called from
    a gRPC worker thread: the target runs the work where the bot runs.
    """

    def bots(self) -> list[BotView]: ...

    def strategies(self, bot: str) -> list[StrategyView]: ...

    def risk(self, bot: str) -> list[RiskView]: ...

    def pause(self, bot: str, strategy: str, reason: str, who: str) -> Outcome: ...

    def resume(self, bot: str, strategy: str, reason: str, who: str) -> Outcome: ...

    def set_trading_state(self, bot: str, state: str, reason: str, who: str) -> list[Outcome]: ...

    def clear_reducing(self, bot: str, reason: str, who: str, *,
                       lift_daily_loss_halt: bool = False) -> list[Outcome]: ...

    def promote(self, bot: str, to_mode: str, confirm: str, who: str) -> PromotionView: ...

    def journal(self, bots: list[str], action: str, who: str,
                detail: Mapping[str, object]) -> None:
        """Record a control call (allowed or denied, with its result) in the journals of
        ``bots`` (empty: every bot)."""
