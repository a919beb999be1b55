"""The journal as an observer plugin: every hook of a run becomes a signed record.

The runtime (or a test, or a backtest) registers one :class:`JournalObserver` per bot with
``PluginHost.register_observer``; nothing in the event path changes. Events that have no hook
(a quarantine, an operator's action, a promotion, a raw execution report) are journaled by
calling the observer's methods of the same name.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from bot_core.hookspecs import hookimpl
from bot_core.journal.events import (
    fill_payload,
    intent_payload,
    order_payload,
    report_payload,
    start_payload,
    trading_state_payload,
    verdict_payload,
)

if TYPE_CHECKING:
    from bot_core.journal.writer import JournalWriter
    from bot_core.orders import ExecutionReport, Fill, Order, OrderIntent
    from bot_core.pipeline import TradingPipeline
    from bot_core.risk.check import TradingState, Verdict
    from bot_core.runinfo import RunInfo

__all__ = ["JournalObserver", "PipelineInputs"]

InputsProvider = Callable[["OrderIntent"], Mapping[str, Any] | None]


class PipelineInputs:
    """What a strategy saw when it decided, read from its pipeline at the time of the decision:
    the instrument's last price and when it arrived, the strategy's own position and the bot's,
    equity and the trading state."""

    trusted_shape = True
    """The summary's keys are this class's constants (the writer's fast path applies)."""

    def __init__(self, pipeline: TradingPipeline) -> None:
        self._pipeline = pipeline

    def __call__(self, intent: OrderIntent) -> dict[str, Any]:
        portfolio = self._pipeline.portfolio
        instrument, venue = intent.instrument, intent.venue
        return {
            "last_price": portfolio.last_price(instrument, venue),
            "last_update_ns": portfolio.last_update_ns(instrument, venue),
            "position": portfolio.position(instrument, venue, intent.strategy_id),
            "bot_position": portfolio.position(instrument, venue),
            "equity": portfolio.equity,
            "trading_state": self._pipeline.risk.state.value,
        }


class JournalObserver:
    """Writes a record for every start, decision, verdict, order, fill, trading-state change and
    stop the host reports (see ``hookspecs``), through one :class:`JournalWriter`.

    :param writer: the bot's journal writer.
    :param inputs: called with each intent for the summary of the strategy's inputs stored in
        the decision record (:class:`PipelineInputs` for a pipeline); None: intent fields only.
    :param run_ids: journal only these runs (several pipelines sharing one host); None: all.
    """

    def __init__(self, writer: JournalWriter, *, inputs: InputsProvider | None = None,
                 run_ids: Collection[str] | None = None) -> None:
        self.writer = writer
        self.inputs = inputs
        self._trusted_inputs = inputs is None or bool(getattr(inputs, "trusted_shape", False))
        self._runs = None if run_ids is None else frozenset(run_ids)

    def _mine(self, run: RunInfo) -> bool:
        return self._runs is None or run.run_id in self._runs

    def _append(self, record_type: str, payload: Mapping[str, Any], run: RunInfo | None, *,
                trusted_shape: bool = True) -> int:
        if run is None:
            return self.writer.append(record_type, payload, trusted_shape=trusted_shape)
        return self.writer.append(record_type, payload, run_id=run.run_id, mode=run.mode,
                                  trusted_shape=trusted_shape)

    # -- hooks --------------------------------------------------------------------------------

    @hookimpl
    def bot_core_on_start(self, run: RunInfo) -> None:
        if self._mine(run):
            self._append("start", start_payload(run), run, trusted_shape=False)

    @hookimpl
    def bot_core_on_decision(self, run: RunInfo, intent: OrderIntent) -> None:
        if self._mine(run):
            inputs = self.inputs(intent) if self.inputs is not None else None
            self._append("decision", intent_payload(intent, inputs), run,
                         trusted_shape=self._trusted_inputs)

    @hookimpl
    def bot_core_on_risk_verdict(self, run: RunInfo, intent: OrderIntent,
                                 verdict: Verdict) -> None:
        if self._mine(run):
            self._append("risk_verdict", verdict_payload(intent, verdict), run)

    @hookimpl
    def bot_core_on_trading_state(self, run: RunInfo, previous: TradingState,
                                  current: TradingState, cause: str, ts_ns: int) -> None:
        if self._mine(run):
            self._append("trading_state", trading_state_payload(previous, current, cause, ts_ns),
                         run)

    @hookimpl
    def bot_core_on_order(self, run: RunInfo, order: Order) -> None:
        if self._mine(run):
            self._append("order", order_payload(order), run)

    @hookimpl
    def bot_core_on_fill(self, run: RunInfo, fill: Fill) -> None:
        if self._mine(run):
            self._append("fill", fill_payload(fill), run)

    @hookimpl
    def bot_core_on_stop(self, run: RunInfo, reason: str) -> None:
        """The stop record, then everything synced and a checkpoint written. After a journal
        failure (the reason the run stops) there is nothing more to write."""
        if not self._mine(run) or self.writer.failed:
            return
        self._append("stop", {"reason": reason}, run, trusted_shape=False)
        self.writer.sync()

    # -- events without a hook ----------------------------------------------------------------

    def execution_report(self, report: ExecutionReport, run: RunInfo | None = None) -> int:
        """A venue's report as received (the ``order`` records show the resulting status)."""
        return self._append("execution_report", report_payload(report), run, trusted_shape=False)

    def quarantine(self, subject: str, reason: str, *, released: bool = False, detail: str = "",
                   run: RunInfo | None = None) -> int:
        """A strategy or venue (``subject``) was quarantined, or ``released`` from quarantine."""
        return self._append("quarantine", {"subject": subject, "reason": reason,
                                           "released": released, "detail": detail}, run,
                            trusted_shape=False)

    def operator_action(self, action: str, operator: str, *, detail: Mapping[str, Any] | None = None,
                        run: RunInfo | None = None) -> int:
        """An operator did something (``halt``, ``clear``, ``cancel_all``...); ``detail`` holds
        its arguments (sanitised: a token passed along is redacted)."""
        return self._append("operator_action", {"action": action, "operator": operator,
                                                "detail": dict(detail or {})}, run,
                            trusted_shape=False)

    def promotion(self, from_mode: str, to_mode: str, *, gates: Mapping[str, Any] | None = None,
                  approved_by: str = "", run: RunInfo | None = None) -> int:
        """The bot was promoted from one mode to the next, with the gates' results."""
        return self._append("promotion", {"from_mode": from_mode, "to_mode": to_mode,
                                          "gates": dict(gates or {}),
                                          "approved_by": approved_by}, run, trusted_shape=False)

    def close(self) -> None:
        """Close the writer (final sync and clean checkpoint)."""
        self.writer.close()
