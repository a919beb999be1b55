"""The state observer: one pipeline's orders, answers, fills and books, committed as they happen.

* **Before send.** A ``before_submit`` listener of the pipeline commits each order (lifecycle
  ``persisted``) and its strategy's client-order-id counter before ``venue.submit`` is called.
  If that commit fails, the pipeline never sends the order.
* **Answers and reports.** ``bot_core_on_order`` commits the venue's first answer (lifecycle
  ``sent``) and every later status; ``bot_core_on_fill`` commits each booked fill with its
  order's progress, in one transaction (a trade id once).
* **Snapshots.** The portfolio, the risk engine, the pipeline's counters and the quarantined
  strategies, in one transaction: at most every ``snapshot_interval_s`` of wall time at the end
  of a scheduler cycle, at once when a strategy is quarantined, and at shutdown
  (``bot_core_on_stop``), after which the run is marked as ended cleanly.

Nothing here changes the event path: the observer is a hook implementation and a listener.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from bot_core.faults import fault_point
from bot_core.hookspecs import hookimpl
from bot_core.state.records import Lifecycle

if TYPE_CHECKING:
    from bot_core.orders import Fill, Order
    from bot_core.pipeline import TradingPipeline
    from bot_core.runinfo import RunInfo
    from bot_core.state.store import StateStore

__all__ = ["QuarantineProvider", "StateObserver"]

QuarantineProvider = Callable[[], Mapping[str, tuple[str, int]]]
"""``() -> {strategy: (cause, ts_ns)}`` of the strategies quarantined now."""


class StateObserver:
    """Persists one pipeline (see the module docstring).

    :param store: the bot's state file.
    :param pipeline: the pipeline whose run it records (hooks of other runs are ignored).
    :param quarantine: the strategies quarantined now (the runtime's isolation guard).
    :param snapshot_interval_s: least wall time between two snapshots at cycle ends.
    :param monotonic: seconds, for the snapshot interval (tests inject one).
    """

    def __init__(self, store: StateStore, pipeline: TradingPipeline, *,
                 quarantine: QuarantineProvider | None = None, snapshot_interval_s: float = 5.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.pipeline = pipeline
        self.run_id = pipeline.run.run_id
        self._quarantine = quarantine or dict
        self._interval = snapshot_interval_s
        self._monotonic = monotonic
        self._next_snapshot = monotonic() + snapshot_interval_s
        self._quarantined: Mapping[str, tuple[str, int]] = dict(self._quarantine())
        self._unanswered: set[str] = set()
        """Orders committed before send whose venue answer is not committed yet."""
        self._unrecorded: set[str] = set()
        """Orders whose commit failed: never sent, nothing to update."""
        self._attached = False
        self.stopped = False

    # -- wiring -------------------------------------------------------------------------------

    def attach(self) -> None:
        """Listen to the pipeline (before send) and to its host's hooks."""
        if self._attached:
            return
        self._attached = True
        self.pipeline.before_submit.append(self.before_submit)
        self.pipeline.host.register_observer(self, name=f"bot-core-state-{self.run_id}")

    def detach(self) -> None:
        if not self._attached:
            return
        self._attached = False
        self.pipeline.before_submit.remove(self.before_submit)
        self.pipeline.host.unregister_observer(self)

    # -- orders and fills ---------------------------------------------------------------------

    def before_submit(self, order: Order) -> None:
        """Commit ``order`` before ``venue.submit`` (raising stops the order)."""
        strategy = order.intent.strategy_id
        ctx = self.pipeline.contexts.get(strategy)
        try:
            self.store.persist_order(order, run_id=self.run_id, ts_ns=self.pipeline.now_ns,
                                     counter=(strategy, ctx.order_seq) if ctx else None)
        except Exception:
            self._unrecorded.add(order.client_order_id)  # the pipeline rejects it unsent
            raise
        self._unanswered.add(order.client_order_id)
        fault_point("after_persist_before_send")

    @hookimpl
    def bot_core_on_order(self, run: RunInfo, order: Order) -> None:
        if run.run_id != self.run_id:
            return
        client_id = order.client_order_id
        if client_id in self._unrecorded:
            return
        if client_id in self._unanswered:
            fault_point("after_venue_ack_before_persist")
            self._unanswered.discard(client_id)
            self.store.update_order(order, self.pipeline.now_ns, lifecycle=Lifecycle.SENT)
        else:
            self.store.update_order(order, self.pipeline.now_ns)

    @hookimpl
    def bot_core_on_fill(self, run: RunInfo, fill: Fill) -> None:
        if run.run_id != self.run_id:
            return
        self.store.record_fill(fill, self.pipeline.orders.get(fill.client_order_id),
                               self.pipeline.now_ns)

    # -- snapshots ----------------------------------------------------------------------------

    def cycle(self, ts_ns: int) -> None:
        """End of a scheduler cycle: snapshot when the interval has passed or the quarantined
        strategies changed."""
        quarantined = self._quarantine()
        if quarantined != self._quarantined or self._monotonic() >= self._next_snapshot:
            self.snapshot(ts_ns)

    def snapshot(self, ts_ns: int) -> None:
        """Commit the books as they are now (one transaction)."""
        pipeline = self.pipeline
        self._quarantined = dict(self._quarantine())
        self.store.save_snapshot(run_id=self.run_id, ts_ns=ts_ns,
                                 portfolio=pipeline.portfolio.snapshot(trade_ids=False),
                                 risk=pipeline.risk.snapshot(), pipeline=pipeline.snapshot(),
                                 quarantine=self._quarantined,
                                 before_commit=lambda: fault_point("mid_checkpoint"))
        self._next_snapshot = self._monotonic() + self._interval

    @hookimpl
    def bot_core_on_stop(self, run: RunInfo, reason: str) -> None:
        """The run's last snapshot, then the run is marked as ended cleanly."""
        if run.run_id != self.run_id or self.stopped:
            return
        self.stopped = True
        self.snapshot(self.pipeline.now_ns)
        self.store.end_run(self.run_id, reason)
