"""Restart, second half: the books against every venue, before the first new decision.

For each venue, with its optional reconciliation queries (``ExchangeAdapter.open_orders``,
``order_status``, ``fills_since``, ``positions``):

* an order of ours that is still open in the books is looked up by client order id. Unknown to
  the venue and never answered by it (lifecycle ``persisted``): it never reached the venue and
  is closed as **not sent** (``REJECTED``, reason ``not_sent``), never sent again. Unknown but
  answered once: **lost**, a discrepancy;
* every fill since the last one seen is booked **once** (the venue's trade id is the key: a fill
  already booked is dropped), strategies are not called;
* an order the venue knows but the books do not (open at the venue, or the order of a fill) is
  **adopted**: recorded (lifecycle ``adopted``), taken over by the pipeline and reported;
* each order's status and filled quantity are brought to the venue's; a fill the venue counts
  but did not report is a discrepancy;
* positions (and, on simulated venues, cash) must then equal the venue's.

Whatever cannot be explained so (a lost order, a position or a fill count that differs, a venue
that cannot be asked while something is at stake there, a query that fails) is a
:class:`Discrepancy`: the bot starts ``REDUCING`` (or ``HALTED``, per
``runtime.state.on_mismatch``) with the report, never assuming flat. An operator clears it
(docs/state.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bot_core.errors import StateError
from bot_core.orders import ExecutionReport, Order, OrderIntent, OrderStatus
from bot_core.state.records import Lifecycle

if TYPE_CHECKING:
    from bot_core.exchange import ExchangeAdapter, VenueOrder
    from bot_core.orders import Fill
    from bot_core.pipeline import TradingPipeline
    from bot_core.state.store import StateStore

__all__ = ["Discrepancy", "MismatchAction", "ReconciliationReport", "reconcile"]

MismatchAction = Literal["reducing", "halted"]
_QTY_TOLERANCE = 1e-9
_CASH_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One thing the books and a venue disagree on that reconciliation could not explain."""

    venue: str
    kind: str
    """``lost_order``, ``position``, ``cash``, ``fill_count``, ``reopened``, ``unattributed``,
    ``unchecked`` or ``query_failed``."""
    detail: str
    client_order_id: str = ""
    instrument: str = ""


@dataclass(slots=True)
class ReconciliationReport:
    """What reconciliation found and did (one per restart, kept in the state file)."""

    checked: list[str] = field(default_factory=list)
    """Venues asked."""
    unchecked: list[str] = field(default_factory=list)
    """Venues without the queries and with nothing at stake."""
    not_sent: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    fills_booked: list[str] = field(default_factory=list)
    """``venue:trade_id`` of fills missed before the restart and booked now."""
    updated: list[str] = field(default_factory=list)
    """Client order ids whose status was brought to the venue's."""
    discrepancies: list[Discrepancy] = field(default_factory=list)
    action: str = ""
    """``reducing`` or ``halted`` when discrepancies were found; empty otherwise."""

    @property
    def clean(self) -> bool:
        return not self.discrepancies

    @property
    def outcome(self) -> str:
        return "clean" if self.clean else self.action or "mismatch"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["outcome"] = self.outcome
        return out


def reconcile(pipeline: TradingPipeline, store: StateStore, *, ts_ns: int,
              on_mismatch: MismatchAction = "reducing", simulated_start_cash: bool = True
              ) -> ReconciliationReport:
    """Reconcile ``pipeline`` (restored, started) with each of its venues (see the module
    docstring); record the report in ``store`` and act on discrepancies.

    :param ts_ns: market time of the reconciliation.
    :param on_mismatch: the trading state a discrepancy puts the bot in.
    :param simulated_start_cash: compare the cash of simulated venues (their balances move
        only with our fills).
    """
    report = ReconciliationReport()
    for name, venue in pipeline.venues.items():
        _Venue(pipeline, store, name, venue, report, ts_ns, simulated_start_cash).run()
    if report.discrepancies:
        first = report.discrepancies[0]
        reason = (f"state reconciliation: {len(report.discrepancies)} unexplained "
                  f"discrepanc{'y' if len(report.discrepancies) == 1 else 'ies'} "
                  f"({first.venue}: {first.detail})")
        report.action = on_mismatch
        if on_mismatch == "halted":
            pipeline.risk.halt(reason, ts_ns)
        else:
            pipeline.risk.hold_reducing(reason, ts_ns)
    store.record_reconciliation(pipeline.run.run_id, ts_ns, report.outcome, report.as_dict())
    return report


class _Venue:
    """Reconciliation with one venue."""

    def __init__(self, pipeline: TradingPipeline, store: StateStore, name: str,
                 venue: ExchangeAdapter, report: ReconciliationReport, ts_ns: int,
                 compare_cash: bool) -> None:
        self.pipeline = pipeline
        self.store = store
        self.name = name
        self.venue = venue
        self.report = report
        self.ts_ns = ts_ns
        self.compare_cash = compare_cash and venue.simulated

    def problem(self, kind: str, detail: str, client_order_id: str = "",
                instrument: str = "") -> None:
        self.report.discrepancies.append(
            Discrepancy(self.name, kind, detail, client_order_id, instrument))

    def ours(self) -> list[Order]:
        return [o for o in self.pipeline.open_orders.values() if o.intent.venue == self.name]

    def at_stake(self) -> bool:
        """Open orders or positions in the books at this venue."""
        return bool(self.ours()) or any(
            rec.venue == self.name for rec in self.pipeline.portfolio.positions(open_only=True))

    def run(self) -> None:
        if self.store.venue_start(self.name) is None:
            self.store.set_venue_start(self.name, self.venue.balances())
        try:
            venue_open = {o.client_order_id: o for o in self.venue.open_orders()}
            page = self.venue.fills_since(self.store.fill_cursor(self.name), self.instruments())
        except NotImplementedError:
            if self.at_stake():
                self.problem("unchecked", "the venue cannot be asked about orders and fills "
                             "(no reconciliation queries) while the books hold open orders or "
                             "positions there")
            else:
                self.report.unchecked.append(self.name)
            return
        except Exception as exc:  # a venue down or an adapter's bug: never a crash, never "ok"
            self.problem("query_failed", f"a reconciliation query failed "
                         f"({type(exc).__name__}: {exc})")
            return
        self.report.checked.append(self.name)
        try:
            seen = self.look_up(venue_open)
            self.book(page.fills)
            self.adopt_open(venue_open)
            self.align(seen)
            self.store.set_fill_cursor(self.name, page.cursor)
            self.compare_positions()
        except StateError:
            raise  # the bot's own file: nothing can go on without it
        except Exception as exc:
            self.problem("query_failed", f"a reconciliation query failed "
                         f"({type(exc).__name__}: {exc})")

    def instruments(self) -> list[str]:
        """Every instrument the bot could have traded on this venue."""
        names: set[str] = set()
        for strategy in self.pipeline.strategies.values():
            if not strategy.venues or self.name in strategy.venues:
                names.update(strategy.instruments)
        names.update(o.intent.instrument for o in self.pipeline.orders.values()
                     if o.intent.venue == self.name)
        names.update(rec.instrument for rec in self.pipeline.portfolio.positions()
                     if rec.venue == self.name)
        return sorted(names)

    # -- orders -------------------------------------------------------------------------------

    def look_up(self, venue_open: Mapping[str, VenueOrder]) -> dict[str, VenueOrder]:
        """The venue's view of each order open in the books; close the ones it never got."""
        seen: dict[str, VenueOrder] = {}
        for order in self.ours():
            cid = order.client_order_id
            found = venue_open.get(cid) or self.venue.order_status(cid, order.intent.instrument)
            if found is not None:
                seen[cid] = found
                continue
            row = self.store.order(cid)
            never_answered = row is not None and row.lifecycle is Lifecycle.PERSISTED
            if never_answered:
                why = "not_sent: unknown to the venue after a restart; it never reached it"
                self.close(order, why, Lifecycle.NOT_SENT)
                self.report.not_sent.append(cid)
            else:
                self.close(order, "lost: the venue answered it before but no longer knows it",
                           Lifecycle.LOST)
                self.problem("lost_order", f"order {cid} was acknowledged by the venue, which "
                             "no longer knows it", cid, order.intent.instrument)
        return seen

    def close(self, order: Order, reason: str, lifecycle: Lifecycle) -> None:
        self.pipeline.apply_report(ExecutionReport(order.client_order_id, OrderStatus.REJECTED,
                                                   self.ts_ns, reason=reason))
        self.store.update_order(order, self.ts_ns, lifecycle=lifecycle)

    def book(self, fills: Sequence[Fill]) -> None:
        """Book every fill not booked yet, adopting the order of a fill we never recorded."""
        portfolio = self.pipeline.portfolio
        for fill in fills:
            if portfolio.has_trade(fill.venue, fill.trade_id):
                continue
            order = self.pipeline.orders.get(fill.client_order_id)
            if order is None:
                order = self.adopt(fill.client_order_id, fill.instrument, fill=fill)
            self.pipeline.apply_report(ExecutionReport(fill.client_order_id, order.status,
                                                       fill.ts_ns, fill=fill))
            self.report.fills_booked.append(f"{fill.venue}:{fill.trade_id}")

    def adopt_open(self, venue_open: Mapping[str, VenueOrder]) -> None:
        for cid, found in venue_open.items():
            known = self.pipeline.orders.get(cid)
            if known is None:
                row = self.store.order(cid)
                if row is None:
                    self.adopt(cid, found.instrument, found=found)
                    continue
                known = row.order
                self.pipeline.remember_order(known)
                self.problem("reopened", f"order {cid} is open at the venue ({found.status}) "
                             f"but {known.status} in the books ({known.reason or 'no reason'})",
                             cid, found.instrument)

    def adopt(self, cid: str, instrument: str, *, found: VenueOrder | None = None,
              fill: Fill | None = None) -> Order:
        """Record and take over an order the venue knows but the books do not."""
        if found is None:
            found = self.venue.order_status(cid, instrument)
        strategy = (found.strategy_id if found is not None else "") or \
            (fill.strategy_id if fill is not None else "") or self.strategy_of(cid)
        if found is not None:
            intent = OrderIntent(strategy, self.name, found.instrument, found.side,
                                 found.quantity, cid, found.order_type, found.limit_price,
                                 found.time_in_force, found.reduce_only, ts_ns=found.ts_ns,
                                 tag="adopted")
            order = Order(intent, found.quantity, found.status)  # its fills are booked next
        else:
            assert fill is not None
            intent = OrderIntent(strategy, self.name, instrument, fill.side, fill.quantity, cid,
                                 ts_ns=fill.ts_ns, tag="adopted")
            order = Order(intent, fill.quantity, OrderStatus.FILLED)
        self.store.persist_order(order, run_id=self.pipeline.run.run_id, ts_ns=self.ts_ns,
                                 lifecycle=Lifecycle.ADOPTED)
        self.pipeline.remember_order(order)
        if not order.status.is_final:
            price = order.intent.limit_price or self.pipeline.portfolio.last_price(
                instrument, self.name)
            self.pipeline.risk.track_open_order(cid, self.name, order.intent.instrument,
                                                float(order.intent.side), order.remaining,
                                                price if math.isfinite(price) else 0.0)
        self.report.adopted.append(cid)
        if strategy not in self.pipeline.strategies:
            self.problem("unattributed", f"order {cid} on {order.intent.instrument} belongs to "
                         "no strategy of this bot", cid, order.intent.instrument)
        return order

    def strategy_of(self, cid: str) -> str:
        """The strategy whose client-order-id prefix ``cid`` carries (``<strategy>-...``)."""
        names = sorted(self.pipeline.strategies, key=len, reverse=True)
        return next((n for n in names if cid.startswith(f"{n}-")), "")

    def align(self, seen: Mapping[str, VenueOrder]) -> None:
        """Bring each order's status to the venue's; its fills are booked already."""
        for cid, found in seen.items():
            order = self.pipeline.orders.get(cid)
            if order is None:
                continue
            row = self.store.order(cid)
            if found.filled_quantity > order.filled_quantity + _QTY_TOLERANCE * max(
                    1.0, found.filled_quantity):
                self.problem("fill_count", f"order {cid}: the venue counts "
                             f"{found.filled_quantity:g} filled, the books "
                             f"{order.filled_quantity:g} (fills it did not report)",
                             cid, found.instrument)
            if found.status is not order.status:
                self.pipeline.apply_report(ExecutionReport(
                    cid, found.status, self.ts_ns,
                    reason=order.reason or f"reconciled: {found.status.value} at the venue"))
                self.report.updated.append(cid)
            if row is not None and row.lifecycle is Lifecycle.PERSISTED:
                self.store.update_order(order, self.ts_ns, lifecycle=Lifecycle.SENT)

    # -- positions and cash -------------------------------------------------------------------

    def compare_positions(self) -> None:
        portfolio = self.pipeline.portfolio
        try:
            held = dict(self.venue.positions())
        except NotImplementedError:
            held = None
        if held is not None:
            ours = {rec.instrument for rec in portfolio.positions() if rec.venue == self.name}
            for instrument in sorted(ours | set(held)):
                books = portfolio.position(instrument, self.name)
                there = float(held.get(instrument, 0.0))
                if abs(books - there) > _QTY_TOLERANCE * max(1.0, abs(books), abs(there)):
                    self.problem("position", f"{instrument}: the venue holds {there:g}, the "
                                 f"books {books:g}", instrument=instrument)
        if not self.compare_cash:
            return
        start = self.store.venue_start(self.name) or {}
        asset = portfolio.base_currency
        if asset not in start:
            return
        expected = start[asset] + portfolio.cash_at(self.name)
        actual = float(self.venue.balances().get(asset, 0.0))
        if abs(expected - actual) > _CASH_TOLERANCE * max(1.0, abs(start[asset])):
            self.problem("cash", f"{asset}: the venue holds {actual:.8g}, the books expect "
                         f"{expected:.8g}")
