"""The cross-exchange arbitrage strategy: paired legs, inventory limits, leg repair."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from bot_core import (
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    Strategy,
    StrategyContext,
    StrategySettings,
    TimeInForce,
)
from bot_core_cross_arb.legs import Group, Leg
from bot_core_cross_arb.settings import CrossArbSettings

if TYPE_CHECKING:
    import pandas as pd

    from bot_core import ExecutionReport, Fill, Quote

__all__ = ["CrossArbStrategy"]

_NS_PER_MS = 1_000_000


class CrossArbStrategy(Strategy[CrossArbSettings]):
    """Buy on the cheaper venue and sell on the dearer one when the gap pays every cost.

    On each quote, with the latest top of book of both venues (no more than
    ``max_quote_age_ms`` apart): when ``bid_B - ask_A`` (or ``bid_A - ask_B``), in basis points
    of the buy price, exceeds ``taker_fee_bps_a + taker_fee_bps_b + slippage_bps +
    min_edge_bps``, send two LIMIT IOC legs sharing a ``group_id``: buy at the ask (plus half the
    slippage allowance) on one venue, sell at the bid (minus half) on the other. Size: the
    smaller of the two quoted sizes, ``max_order_notional`` and the inventory room of each
    venue (``|inventory| <= max_inventory_notional`` per venue, at the mid).

    **Legs that fail.** Every order's fills and reports are tracked. When all orders of a group
    are final and the group's net filled quantity is not ~0 (one leg rejected, cancelled or
    partly filled), the strategy repairs it: ``hedge`` completes the missing side at market on
    its venue (up to ``max_hedge_attempts``), ``unwind`` reverses the excess on the venue that
    filled (up to ``max_unwind_attempts``); when unwinding also fails the instrument is halted
    for this strategy (fail closed, see :attr:`halted`). An order the host never acknowledges
    by the next quote (rejected before reaching a venue) counts as final and unfilled; an order
    not final after ``leg_timeout_ms`` counts as final with what it filled. One group per
    instrument is open at a time.

    **Inventory rebalancing.** When no group is open and a venue's inventory exceeds
    ``rebalance_threshold_pct`` % of the limit, a pair that moves inventory back (sell where
    long, buy where short) is sent if crossing costs at most ``max_rebalance_cost_bps``.

    **Batch path** (``opportunities(quotes_a, quotes_b)``): the opportunities of two quote
    frames, replayed event by event with the same compiled edge function as ``on_quote``
    (without inventory limits, which depend on fills).
    """

    id: ClassVar[str] = "cross_arb"
    Settings: ClassVar[type[StrategySettings]] = CrossArbSettings
    data_kind = "quotes"

    def __init__(self, settings: CrossArbSettings, *, name: str | None = None,
                 instruments: Sequence[str] = (), venues: Sequence[str] = ()) -> None:
        if len(venues) != 2 or venues[0] == venues[1]:
            raise ValueError(f"cross_arb trades exactly two different venues, got {list(venues)}")
        super().__init__(settings, name=name, instruments=instruments, venues=venues)
        self.venue_a, self.venue_b = self.venues
        self.inventory: dict[tuple[str, str], float] = {}
        """(instrument, venue) -> signed base quantity bought minus sold by this strategy."""
        self.quotes: dict[tuple[str, str], Quote] = {}
        self.groups: dict[str, Group] = {}
        """Open (unsettled) groups by group id."""
        self.halted: dict[str, str] = {}
        """instrument -> why the strategy stopped trading it (a repair that kept failing)."""
        self.settled: list[Group] = []
        self._legs: dict[str, tuple[Group, Leg]] = {}
        self._trade_ids: set[str] = set()

    # -- events -------------------------------------------------------------------------------

    def on_start(self, ctx: StrategyContext) -> None:
        # Load (or, with an empty Numba cache, compile) the edge kernel before the first quote:
        # that costs hundreds of milliseconds once, which a live scheduler would otherwise count
        # against the first quote pair's time budget and quarantine the strategy for.
        from bot_core_cross_arb.edges import best_edge

        best_edge(1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0)

    def on_quote(self, quote: Quote, ctx: StrategyContext) -> Sequence[OrderIntent]:
        self.quotes[(quote.instrument, quote.venue)] = quote
        now = quote.ts_ns
        intents = self._expire(quote.instrument, now, ctx)
        if quote.instrument in self.halted or self._open_group(quote.instrument) is not None:
            return intents
        pair = self._opportunity(quote.instrument, now, ctx)
        if not pair:
            pair = self._rebalance(quote.instrument, now, ctx)
        return intents + pair

    def on_fill(self, fill: Fill, ctx: StrategyContext) -> Sequence[OrderIntent]:
        if fill.trade_id in self._trade_ids:
            return []
        self._trade_ids.add(fill.trade_id)
        key = (fill.instrument, fill.venue)
        self.inventory[key] = self.inventory.get(key, 0.0) + int(fill.side) * fill.quantity
        found = self._legs.get(fill.client_order_id)
        if found is None:
            return []
        group, leg = found
        leg.add_fill(fill.quantity)
        return self._settle(group, fill.ts_ns, ctx)

    def on_order_update(self, report: ExecutionReport, ctx: StrategyContext
                        ) -> Sequence[OrderIntent]:
        intents: list[OrderIntent] = []
        if report.fill is not None:
            intents += self.on_fill(report.fill, ctx)
        found = self._legs.get(report.client_order_id)
        if found is None:
            return intents
        group, leg = found
        if report.status.is_final:
            leg.state = "final"
            leg.reason = report.reason or report.status.value
        elif leg.state == "sent" and report.status in (OrderStatus.ACCEPTED,
                                                       OrderStatus.PARTIALLY_FILLED):
            leg.state = "working"
        return intents + self._settle(group, report.ts_ns, ctx)

    # -- opportunities ------------------------------------------------------------------------

    def _fresh_pair(self, instrument: str) -> tuple[Quote, Quote] | None:
        qa = self.quotes.get((instrument, self.venue_a))
        qb = self.quotes.get((instrument, self.venue_b))
        if qa is None or qb is None:
            return None
        if abs(qa.ts_ns - qb.ts_ns) > self.settings.max_quote_age_ms * _NS_PER_MS:
            return None
        return qa, qb

    def _room(self, instrument: str, venue: str, side: int, mid: float) -> float:
        """Base quantity that can still be bought (side +1) or sold (-1) on ``venue``."""
        limit = self.settings.max_inventory_notional / mid
        held = self.inventory.get((instrument, venue), 0.0)
        return max(limit - held, 0.0) if side > 0 else max(limit + held, 0.0)

    def _opportunity(self, instrument: str, now: int, ctx: StrategyContext
                     ) -> list[OrderIntent]:
        from bot_core_cross_arb.edges import best_edge

        pair = self._fresh_pair(instrument)
        if pair is None:
            return []
        qa, qb = pair
        direction, _edge, qty = best_edge(qa.bid, qa.ask, qa.bid_size, qa.ask_size, qb.bid,
                                          qb.ask, qb.bid_size, qb.ask_size,
                                          self.settings.threshold_bps, self.settings.max_order_notional)
        if direction == 0:
            return []
        buy_q, sell_q = (qa, qb) if direction > 0 else (qb, qa)
        mid = 0.5 * (buy_q.ask + sell_q.bid)
        qty = min(qty, self._room(instrument, buy_q.venue, 1, mid),
                  self._room(instrument, sell_q.venue, -1, mid))
        return self._pair(instrument, buy_q, sell_q, qty, "arb", now, ctx)

    def _rebalance(self, instrument: str, now: int, ctx: StrategyContext) -> list[OrderIntent]:
        pair = self._fresh_pair(instrument)
        if pair is None:
            return []
        qa, qb = pair
        inv_a = self.inventory.get((instrument, self.venue_a), 0.0)
        mid = 0.25 * (qa.bid + qa.ask + qb.bid + qb.ask)
        if not mid > 0.0:
            return []
        threshold = self.settings.rebalance_threshold_pct / 100.0 * self.settings.max_inventory_notional
        if abs(inv_a) * mid <= threshold:
            inv_b = self.inventory.get((instrument, self.venue_b), 0.0)
            if abs(inv_b) * mid <= threshold:
                return []
            excess, long_q, short_q = abs(inv_b), (qb if inv_b > 0 else qa), \
                (qa if inv_b > 0 else qb)
        else:
            excess, long_q, short_q = abs(inv_a), (qa if inv_a > 0 else qb), \
                (qb if inv_a > 0 else qa)
        # sell on the long venue at its bid, buy on the short venue at its ask
        buy_q, sell_q = short_q, long_q
        fees = self.settings.taker_fee_bps_a + self.settings.taker_fee_bps_b
        cost_bps = (buy_q.ask - sell_q.bid) / sell_q.bid * 1e4 + fees + self.settings.slippage_bps
        if cost_bps > self.settings.max_rebalance_cost_bps:
            return []
        target_excess = excess - threshold / mid
        qty = min(target_excess, buy_q.ask_size, sell_q.bid_size,
                  self.settings.max_order_notional / buy_q.ask)
        return self._pair(instrument, buy_q, sell_q, qty, "rebalance", now, ctx)

    def _pair(self, instrument: str, buy_q: Quote, sell_q: Quote, qty: float, kind: str,
              now: int, ctx: StrategyContext) -> list[OrderIntent]:
        if not (qty > 0.0 and math.isfinite(qty)) or qty * buy_q.ask < self.settings.min_order_notional:
            return []
        group = Group(f"{self.name}-{kind}-{ctx.new_client_order_id()}", instrument, kind)
        half_slip = self.settings.slippage_bps / 2e4
        intents = [
            self._leg(group, buy_q.venue, 1, qty, kind, buy_q.ask * (1.0 + half_slip), now, ctx),
            self._leg(group, sell_q.venue, -1, qty, kind, sell_q.bid * (1.0 - half_slip), now,
                      ctx),
        ]
        self.groups[group.group_id] = group
        return intents

    def _leg(self, group: Group, venue: str, side: int, qty: float, role: str,
             limit_price: float | None, now: int, ctx: StrategyContext) -> OrderIntent:
        cid = ctx.new_client_order_id()
        leg = Leg(cid, venue, side, qty, role, now)
        group.legs.append(leg)
        self._legs[cid] = (group, leg)
        paired = role in ("arb", "rebalance")
        return OrderIntent(
            strategy_id=self.name, venue=venue, instrument=group.instrument,
            side=Side.BUY if side > 0 else Side.SELL, quantity=qty, client_order_id=cid,
            order_type=OrderType.LIMIT if limit_price is not None else OrderType.MARKET,
            limit_price=limit_price, time_in_force=TimeInForce.IOC,
            group_id=group.group_id if paired else None, ts_ns=now,
            tag=role if paired else f"{role}:{group.group_id}",
        )

    # -- repair -------------------------------------------------------------------------------

    def _open_group(self, instrument: str) -> Group | None:
        for group in self.groups.values():
            if group.instrument == instrument:
                return group
        return None

    def _expire(self, instrument: str, now: int, ctx: StrategyContext) -> list[OrderIntent]:
        """Close legs that can no longer report (never acknowledged, or timed out)."""
        intents: list[OrderIntent] = []
        timeout_ns = self.settings.leg_timeout_ms * _NS_PER_MS
        for group in [g for g in self.groups.values() if g.instrument == instrument]:
            for leg in group.legs:
                if leg.state == "sent" and now > leg.sent_ns:
                    leg.state, leg.reason = "final", "not_acknowledged"
                elif leg.state == "working" and now - leg.sent_ns >= timeout_ns:
                    leg.state, leg.reason = "final", "timed_out"
            intents += self._settle(group, now, ctx)
        return intents

    def _mark(self, instrument: str) -> float:
        prices = [0.5 * (q.bid + q.ask) for (inst, _), q in self.quotes.items()
                  if inst == instrument and q.bid > 0 and q.ask > 0]
        return sum(prices) / len(prices) if prices else math.nan

    def _settle(self, group: Group, now: int, ctx: StrategyContext) -> list[OrderIntent]:
        if group.settled or not group.all_final:
            return []
        net = group.net
        mark = self._mark(group.instrument)
        dust = self.settings.min_order_notional / mark if mark > 0 else 0.0
        if abs(net) <= max(dust, 1e-12):
            group.settled = True
            self.groups.pop(group.group_id, None)
            self.settled.append(group)
            return []
        side = -1 if net > 0 else 1  # the order that brings the group's net back to zero
        qty = abs(net)
        hedge = (self.settings.leg_failure_action == "hedge"
                 and group.hedges < self.settings.max_hedge_attempts)
        if hedge:
            # complete the side that fell short, on the venue it was meant for
            leg = group.first_leg(side)
            group.hedges += 1
            role = "hedge"
        elif group.unwinds < self.settings.max_unwind_attempts:
            # reverse the side that filled more, on the venue where it filled
            leg = group.first_leg(-side)
            group.unwinds += 1
            role = "unwind"
        else:
            group.settled = True
            self.groups.pop(group.group_id, None)
            self.settled.append(group)
            self.halted[group.instrument] = (
                f"group {group.group_id} still has a net of {net:+.10g} after "
                f"{group.hedges} hedge and {group.unwinds} unwind orders")
            return []
        venue = leg.venue if leg is not None else self.venue_a
        return [self._leg(group, venue, side, qty, role, None, now, ctx)]

    # -- batch path ---------------------------------------------------------------------------

    def opportunities(self, quotes_a: pd.DataFrame, quotes_b: pd.DataFrame) -> pd.DataFrame:
        """Every quote event of the two frames at which ``on_quote`` would see an opportunity.

        The frames (UTC DatetimeIndex; bid, ask, bid_size, ask_size) are merged in time order,
        venue A first on equal timestamps, as a live feed would deliver them. Columns of the
        result: ``direction`` (+1 buy A / sell B, -1 buy B / sell A), ``edge_bps`` (gross),
        ``net_edge_bps`` (after fees and slippage), ``quantity`` (quoted sizes and
        ``max_order_notional``; inventory is not modelled here), ``buy_price``, ``sell_price``.
        """
        import numpy as np
        import pandas as pd

        from bot_core_cross_arb.edges import edge_path

        cols = ["bid", "ask", "bid_size", "ask_size"]
        both = pd.concat([quotes_a[cols].assign(_a=True), quotes_b[cols].assign(_a=False)])
        ts = both.index.as_unit("ns").asi8 if isinstance(both.index, pd.DatetimeIndex) else \
            np.asarray(both.index, dtype=np.int64)
        order = np.lexsort((~both["_a"].to_numpy(), ts))  # by time, venue A first
        both = both.iloc[order]
        ts = ts[order]

        def column(name: str) -> np.ndarray:
            return np.ascontiguousarray(both[name].to_numpy(dtype=np.float64))

        direction, edge, qty, buy, sell = edge_path(
            np.ascontiguousarray(both["_a"].to_numpy(dtype=np.bool_)),
            np.ascontiguousarray(ts, dtype=np.int64), column("bid"), column("ask"),
            column("bid_size"), column("ask_size"), self.settings.threshold_bps,
            self.settings.max_order_notional, self.settings.max_quote_age_ms * _NS_PER_MS)
        costs = self.settings.threshold_bps - self.settings.min_edge_bps
        out = pd.DataFrame({"direction": direction, "edge_bps": edge,
                            "net_edge_bps": edge - costs, "quantity": qty,
                            "buy_price": buy, "sell_price": sell}, index=both.index)
        return out[direction != 0]
