"""What a backtest returns: equity curve, trades, metrics and what the risk engine decided."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bot_core.backtest.benchmark import BuyAndHold
from bot_core.backtest.metrics import Metrics
from bot_core.backtest.times import iso_utc, iso_utc_array
from bot_core.backtest.trades import BookedFill, RoundTrip

__all__ = ["BacktestPath", "BacktestResult", "iso_utc", "iso_utc_array"]


class BacktestPath(enum.StrEnum):
    """How a backtest was replayed (the same simulation at two speeds)."""

    COMPILED = "compiled"
    """The compiled replay (:mod:`bot_core.backtest.compiled`): every strategy's compiled
    ``decide``, the venue's fills, the portfolio and the engine's monitors in one kernel, every
    order judged by the real risk engine."""
    EVENTS = "events"
    """Every event through the trading pipeline, as in paper and live trading."""


@dataclass(slots=True)
class BacktestResult:
    preset: str
    strategies: list[str]
    datasets: list[str]
    bars: int
    """Market events replayed (bars and quotes over all instruments)."""
    ts_ns: np.ndarray
    """Timeline of the equity curve (union of event times), UTC ns."""
    equity: np.ndarray
    """Equity after each timeline step, quote currency."""
    trades: Sequence[RoundTrip]
    """Round trips (see :mod:`bot_core.backtest.trades`), the still-open ones last marked."""
    metrics: Metrics
    elapsed_s: float
    verdicts: dict[str, int] = field(default_factory=dict)
    """Count per verdict action (approve, reduce, reject)."""
    reject_reasons: dict[str, int] = field(default_factory=dict)
    """Count per reason code of rejected and reduced intents."""
    state_changes: list[dict[str, Any]] = field(default_factory=list)
    """Trading-state transitions: previous, current, cause, time."""
    final_state: str = "active"
    run_id: str = ""
    """Run id the observer hooks saw (an abandoned fast run had another one)."""
    path: BacktestPath = BacktestPath.EVENTS
    """How the run was replayed (:class:`BacktestPath`); the result is the same either way."""
    fills: Sequence[BookedFill] = field(default_factory=list)
    """Every fill, in booking order (the per-fill view behind the round trips)."""
    gaps: list[tuple[int, int]] = field(default_factory=list)
    """Stretches no dataset covers (``bot_core.backtest.feeds.coverage_gaps``): (last time
    before, first time after), UTC ns. The equity curve has no point inside them."""
    fast_path_note: str = ""
    """Why the run was replayed event by event although the compiled replay was wanted: what
    it cannot model (``event by event: ...``) or where it gave way (``replayed event by event:
    ... at <time>``); empty otherwise."""
    warnings: list[str] = field(default_factory=list)
    """Strategy parameters that work on the data but are likely not what was meant, one line
    each naming the field (``BacktestPlan.warnings``)."""
    currency: str = ""
    """The account currency equity and money are in (``runtime.base_currency``)."""
    timezone: str = "UTC"
    """``runtime.timezone``: the reports show times in it (the CSVs and JSON stay UTC)."""
    benchmark: BuyAndHold | None = None
    """Buy and hold of the traded instruments on the same timeline
    (:mod:`bot_core.backtest.benchmark`)."""

    @property
    def excess_return(self) -> float | None:
        """Total return minus the buy-and-hold return; None without a benchmark."""
        if self.benchmark is None:
            return None
        return self.metrics.total_return - self.benchmark.total_return

    @property
    def fast_path(self) -> bool:
        """True when the compiled replay produced the result."""
        return self.path is BacktestPath.COMPILED

    @property
    def closed_trades(self) -> list[RoundTrip]:
        return [t for t in self.trades if t.exit_ns is not None]

    def as_dict(self, *, include_curve: bool = False) -> dict[str, Any]:
        m = self.metrics
        out: dict[str, Any] = {
            "preset": self.preset,
            "strategy": ",".join(self.strategies),
            "dataset": ",".join(self.datasets),
            "bars": self.bars,
            "start": iso_utc(int(self.ts_ns[0])) if len(self.ts_ns) else None,
            "end": iso_utc(int(self.ts_ns[-1])) if len(self.ts_ns) else None,
            "n_trades": m.n_trades,
            "n_fills": len(self.fills),
            "final_equity": m.final_equity,
            "currency": self.currency,
            **{k: v for k, v in m.as_dict().items() if k not in ("n_trades", "final_equity")},
            "buy_and_hold_return": None if self.benchmark is None else self.benchmark.total_return,
            "excess_return": self.excess_return,
            "buy_and_hold": None if self.benchmark is None else self.benchmark.as_dict(),
            "elapsed_s": self.elapsed_s,
            "bars_per_s": self.bars / self.elapsed_s if self.elapsed_s > 0 else 0.0,
            "risk": {"verdicts": dict(self.verdicts), "reasons": dict(self.reject_reasons),
                     "state_changes": list(self.state_changes), "final_state": self.final_state},
            "run_id": self.run_id,
            "fast_path": self.fast_path,
            "path": self.path.value,
            "fast_path_note": self.fast_path_note,
            "annualization": m.annualization.as_dict() if m.annualization else None,
            "warnings": list(self.warnings),
            "gaps": [{"from": iso_utc(start), "to": iso_utc(end)} for start, end in self.gaps],
            "trades": [t.as_dict() for t in self.trades],
        }
        if include_curve:
            out["equity_curve"] = [[t, e] for t, e in zip(iso_utc_array(self.ts_ns).tolist(),
                                                          self.equity.tolist(), strict=True)]
        return out
