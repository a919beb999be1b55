"""What a running bot reports: runtime events, each naming its bot.

The scheduler and :class:`RuntimeObserver` (an observer plugin on the
:class:`~bot_core.plugins.PluginHost`, the seam a journal uses too) report through an
:class:`EventSink`. ``bot-core run --json`` prints every event as one JSON line; the live table
reads the scheduler's state instead and keeps only the sink's last decisions.

=====================  =========================================================================
event                  fields (besides ``event``, ``bot``, ``ts``, ``ts_ns``)
=====================  =========================================================================
``start``              mode, run_id, source, strategies, subscriptions
``reconcile``          after each start, before the first decision: resumed, restored, checked,
                       unchecked, not_sent, adopted, fills_booked, updated, discrepancies,
                       action, outcome (docs/state.md)
``decision``           strategy, instrument, venue, side, quantity, order_type, tag, verdict,
                       reason, allowed_quantity
``fill``               strategy, instrument, venue, side, quantity, price, fee
``trading_state``      previous, current, cause
``fault``              strategy, kind (error, malformed, overrun), detail
``quarantine``         strategy, cause, cancelled (orders)
``feed``               venue, instrument, kind, timeframe, stale, gaps, ended (on a change)
``shed``               pause, resume, reason (resource limits)
``status``             per cycle: cycle, equity, pnl, drawdown_pct, trading_state, positions,
                       open_orders, strategies
``shutdown``           reason, on_shutdown, cancelled, kept (open orders)
``stop``               reason, cycles, equity, pnl
=====================  =========================================================================
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from bot_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from bot_core.orders import Fill, OrderIntent
    from bot_core.risk.check import TradingState, Verdict
    from bot_core.runinfo import RunInfo

__all__ = ["EventSink", "JsonLinesSink", "ListSink", "RuntimeObserver", "iso_ns"]


def iso_ns(ts_ns: int) -> str:
    """UTC ISO-8601 time of ``ts_ns`` (seconds precision)."""
    return dt.datetime.fromtimestamp(ts_ns / 1e9, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventSink(Protocol):
    """Receives runtime events. A sink may have ``kinds`` (a set of event names): then only
    those are built and sent to it."""

    def emit(self, event: str, bot: str, ts_ns: int, **fields: Any) -> None:
        """Report one event of ``bot`` at market time ``ts_ns``."""
        ...


class JsonLinesSink:
    """One JSON object per line (``bot-core run --json``), flushed per line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout

    def emit(self, event: str, bot: str, ts_ns: int, **fields: Any) -> None:
        record = {"event": event, "bot": bot, "ts": iso_ns(ts_ns), "ts_ns": ts_ns, **fields}
        self._stream.write(json.dumps(record, default=str) + "\n")
        self._stream.flush()


class ListSink:
    """Keeps events in memory (tests, the status table); ``kinds`` limits which."""

    def __init__(self, kinds: set[str] | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.kinds = kinds

    def emit(self, event: str, bot: str, ts_ns: int, **fields: Any) -> None:
        if self.kinds is None or event in self.kinds:
            self.events.append({"event": event, "bot": bot, "ts_ns": ts_ns, **fields})

    def of(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]


class RuntimeObserver:
    """Observer plugin turning the pipeline's hooks into runtime events (one per process; the
    ``run`` argument tells which bot). ``on_decision`` is told ``(run_id, intent, verdict)`` of
    every judged intent (the status table's "last decision"). Events the sink does not want
    (its ``kinds``, when it has them) are not even built."""

    def __init__(self, sink: EventSink,
                 on_decision: Callable[[str, OrderIntent, Verdict], None]) -> None:
        self._sink = sink
        self._on_decision = on_decision
        kinds = getattr(sink, "kinds", None)
        self._decisions = kinds is None or "decision" in kinds
        self._fills = kinds is None or "fill" in kinds

    @staticmethod
    def _bot(run: RunInfo) -> str:
        return run.config.name if run.config is not None else run.run_id

    @hookimpl
    def bot_core_on_risk_verdict(self, run: RunInfo, intent: OrderIntent, verdict: Verdict
                                 ) -> None:
        self._on_decision(run.run_id, intent, verdict)
        if not self._decisions:
            return
        allowed = intent.quantity if verdict.quantity is None else verdict.quantity
        self._sink.emit("decision", self._bot(run), intent.ts_ns, strategy=intent.strategy_id,
                        instrument=intent.instrument, venue=intent.venue,
                        side=intent.side.name.lower(), quantity=intent.quantity,
                        order_type=intent.order_type.value, tag=intent.tag,
                        verdict=verdict.action.value, reason=verdict.reason,
                        allowed_quantity=allowed)

    @hookimpl
    def bot_core_on_fill(self, run: RunInfo, fill: Fill) -> None:
        if not self._fills:
            return
        self._sink.emit("fill", self._bot(run), fill.ts_ns, strategy=fill.strategy_id,
                        instrument=fill.instrument, venue=fill.venue,
                        side=fill.side.name.lower(), quantity=fill.quantity, price=fill.price,
                        fee=fill.fee)

    @hookimpl
    def bot_core_on_trading_state(self, run: RunInfo, previous: TradingState,
                                  current: TradingState, cause: str, ts_ns: int) -> None:
        self._sink.emit("trading_state", self._bot(run), ts_ns, previous=previous.value,
                        current=current.value, cause=cause)
