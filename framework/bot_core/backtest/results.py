"""What a backtest returns: equity curve, trades, metrics and what the risk engine decided."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bot_core.backtest.metrics import Metrics
from bot_core.backtest.trades import BookedFill, RoundTrip

__all__ = ["BacktestResult", "iso_utc", "iso_utc_array"]


def iso_utc_array(ts_ns: np.ndarray) -> np.ndarray:
    """``2024-01-02T03:04:05Z`` for each UTC ns time: the one time format of every backtest CSV
    and JSON field (second resolution, ``Z`` for UTC)."""
    times = np.asarray(ts_ns, dtype=np.int64).astype("datetime64[ns]")
    return np.datetime_as_string(times, unit="s", timezone="UTC")


def iso_utc(ts_ns: int) -> str:
    """One time in the format of :func:`iso_utc_array`."""
    return str(iso_utc_array(np.array([ts_ns], dtype=np.int64))[0])


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
    trades: list[RoundTrip]
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
    path: str = "events"
    """How the run was replayed: ``compiled`` (the compiled replay, see
    ``bot_core.backtest.compiled``), ``fast`` (the driver's fast path), ``mixed`` or
    ``events`` (every event through the pipeline)."""
    fills: list[BookedFill] = field(default_factory=list)
    """Every fill, in booking order (the per-fill view behind the round trips)."""
    gaps: list[tuple[int, int]] = field(default_factory=list)
    """Stretches no dataset covers (``bot_core.backtest.feeds.coverage_gaps``): (last time
    before, first time after), UTC ns. The equity curve has no point inside them."""
    fast_path_note: str = ""
    """Why the fast path was abandoned for the event-by-event replay, or which strategies of a
    mixed run ran event by event (empty for a plain fast or event-by-event run)."""
    warnings: list[str] = field(default_factory=list)
    """Strategy parameters that work on the data but are likely not what was meant, one line
    each naming the field (``BacktestPlan.warnings``)."""

    @property
    def fast_path(self) -> bool:
        """True when bar strategies ran through their batch kernels (all of them, or in a mixed
        run those whose targets are exact; see ``bot_core.backtest.driver``)."""
        return self.path != "events"

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
            **{k: v for k, v in m.as_dict().items() if k not in ("n_trades", "final_equity")},
            "elapsed_s": self.elapsed_s,
            "bars_per_s": self.bars / self.elapsed_s if self.elapsed_s > 0 else 0.0,
            "risk": {"verdicts": dict(self.verdicts), "reasons": dict(self.reject_reasons),
                     "state_changes": list(self.state_changes), "final_state": self.final_state},
            "run_id": self.run_id,
            "fast_path": self.fast_path,
            "path": self.path,
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
