"""Exposure caps: per instrument and total (``max_position``), per bucket
(``bucket_exposure``) and gross leverage (``max_leverage``).

All caps are combined across strategies: they read the bot's aggregate positions, so two
strategies each within a limit but together over it get the later order reduced (or rejected
when nothing fits). An order that only reduces exposure always passes in full.

Definitions (quote currency, at the last price):

* instrument exposure: ``|net position over all venues and strategies| * price``;
* gross exposure: sum over (venue, instrument) of ``|net position at the venue| * price``
  (long on one venue and short on another counts twice: each ties up margin);
* bucket exposure: sum of the instrument exposures of the bucket's instruments.

Exposure already committed counts too: the unfilled part of approved, still open orders in the
order's direction (``ctx.pending_quantity``, ``ctx.pending_notional``), so two strategies
deciding on the same bar cannot both use the same room before either order fills.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel

from bot_core import OrderIntent, RiskCheck, RiskContext, Verdict, capped_quantity
from bot_core_risk_checks._common import OK, finite_positive, missing, verdict_for

if TYPE_CHECKING:
    import numpy as np

    from bot_core import BucketConfig, OrderBatch

__all__ = ["BucketExposureCheck", "MaxLeverageCheck", "MaxPositionCheck"]

_NO_BUCKET = Verdict.approve("no_bucket")
_INF = math.inf


def gross_room_quantity(intent: OrderIntent, ctx: RiskContext, cap_notional: float,
                        price: float) -> float:
    """Largest quantity of ``intent`` keeping gross exposure within ``cap_notional``
    (NaN when gross exposure is unknown)."""
    gross = ctx.gross_exposure + ctx.pending_notional
    if not (gross >= 0.0 and gross != math.inf):
        return math.nan
    sign = float(intent.side)
    pos_venue = ctx.position(intent.instrument, intent.venue)
    pending = ctx.pending_quantity(intent.instrument, sign, intent.venue)
    others = gross - (abs(pos_venue) + pending) * price
    return capped_quantity(pos_venue + sign * pending, sign, intent.quantity,
                           max((cap_notional - others) / price, 0.0))


def gross_room_quantities(batch: OrderBatch, cap_notional: np.ndarray,
                          price: np.ndarray) -> np.ndarray:
    """:func:`gross_room_quantity` of every order of ``batch``."""
    import numpy as np

    from bot_core import capped_quantities

    gross = batch.gross_exposure + batch.committed_notional
    pos_venue = batch.position_at_venue
    pending = batch.committed_at_venue
    with np.errstate(all="ignore"):
        others = gross - (np.abs(pos_venue) + pending) * price
        cap_qty = (cap_notional - others) / price
        cap_qty = np.where(cap_qty < 0.0, 0.0, cap_qty)  # max(x, 0.0), NaN kept
        room = capped_quantities(pos_venue + batch.side * pending, batch.side, batch.quantity,
                                 cap_qty)
    return np.where((gross >= 0.0) & (gross != _INF), room, math.nan)


class MaxPositionCheck(RiskCheck):
    """Per-instrument position and total gross exposure, in % of equity
    (``risk.max_position_pct``, ``risk.max_total_position_pct``). Reduces to what fits."""

    id: ClassVar[str] = "max_position"

    def check(self, intent: OrderIntent, ctx: RiskContext) -> Verdict:
        # plain compares instead of helper calls, and the detail text formatted only for a
        # reduction: every order of a backtest comes through here
        equity = ctx.equity
        if not 0.0 < equity < _INF:  # also False for NaN
            return missing("equity", intent)
        instrument = intent.instrument
        price = ctx.last_price(instrument, intent.venue)
        if not 0.0 < price < _INF:
            return missing("price", intent)
        limits = ctx.limits
        qty = intent.quantity
        cap_qty = limits.max_position_pct * equity / (100.0 * price)
        sign = float(intent.side)
        allowed = capped_quantity(
            ctx.position(instrument) + sign * ctx.pending_quantity(instrument, sign), sign, qty,
            cap_qty)
        if allowed < qty:
            return verdict_for(allowed, intent, "max_position_pct",
                               f"{instrument} would exceed {limits.max_position_pct:g}% "
                               f"of equity; at most {allowed:g} fits")
        room = gross_room_quantity(intent, ctx, limits.max_total_position_pct * equity / 100.0,
                                   price)
        if room >= qty:
            return OK
        if math.isnan(room):
            return missing("gross_exposure", intent)
        return verdict_for(room, intent, "max_total_position_pct",
                           f"total exposure would exceed {limits.max_total_position_pct:g}% of "
                           f"equity; at most {room:g} fits")

    def check_batch(self, batch: OrderBatch) -> np.ndarray:
        import numpy as np

        from bot_core import capped_quantities

        equity, price, qty, limits = batch.equity, batch.price, batch.quantity, batch.limits
        with np.errstate(all="ignore"):
            cap_qty = limits.max_position_pct * equity / (100.0 * price)
            allowed = capped_quantities(batch.position + batch.side * batch.committed,
                                        batch.side, qty, cap_qty)
            room = gross_room_quantities(batch, limits.max_total_position_pct * equity / 100.0,
                                         price)
        approved: np.ndarray = (finite_positive(equity) & finite_positive(price) & (allowed >= qty)
                                & (room >= qty))
        return approved


class MaxLeverageCheck(RiskCheck):
    """Gross exposure / equity at most ``risk.max_leverage`` after the order."""

    id: ClassVar[str] = "max_leverage"

    def check(self, intent: OrderIntent, ctx: RiskContext) -> Verdict:
        equity = ctx.equity
        if not 0.0 < equity < _INF:
            return missing("equity", intent)
        price = ctx.last_price(intent.instrument, intent.venue)
        if not 0.0 < price < _INF:
            return missing("price", intent)
        leverage = ctx.limits.max_leverage
        room = gross_room_quantity(intent, ctx, leverage * equity, price)
        if room >= intent.quantity:
            return OK
        if math.isnan(room):
            return missing("gross_exposure", intent)
        return verdict_for(room, intent, "max_leverage",
                           f"gross leverage would exceed {leverage:g}x; at most {room:g} fits")

    def check_batch(self, batch: OrderBatch) -> np.ndarray:
        import numpy as np

        equity, price = batch.equity, batch.price
        with np.errstate(all="ignore"):
            room = gross_room_quantities(batch, batch.limits.max_leverage * equity, price)
        approved: np.ndarray = (finite_positive(equity) & finite_positive(price)
                                & (room >= batch.quantity))
        return approved


class BucketExposureCheck(RiskCheck):
    """Exposure of an instrument bucket (``buckets.<name>``) within its cap, % of equity
    (``buckets.<name>.max_exposure_pct``, default ``risk.max_bucket_exposure_pct``).
    Instruments outside every bucket are not capped by this check."""

    id: ClassVar[str] = "bucket_exposure"

    def __init__(self, settings: BaseModel | None = None) -> None:
        super().__init__(settings)
        self._source: Mapping[str, BucketConfig] | None = None
        self._bucket_of: dict[str, tuple[str, BucketConfig]] = {}

    def _lookup(self, buckets: Mapping[str, BucketConfig],
                instrument: str) -> tuple[str, BucketConfig] | None:
        if buckets is not self._source:
            self._source = buckets
            self._bucket_of = {sym: (name, b) for name, b in buckets.items()
                               for sym in b.instruments}
        return self._bucket_of.get(instrument)

    def check(self, intent: OrderIntent, ctx: RiskContext) -> Verdict:
        instrument = intent.instrument
        found = self._lookup(ctx.buckets, instrument)
        if found is None:
            return _NO_BUCKET
        name, bucket = found
        equity = ctx.equity
        if not 0.0 < equity < _INF:
            return missing("equity", intent)
        price = ctx.last_price(instrument, intent.venue)
        if not 0.0 < price < _INF:
            return missing("price", intent)
        cap_pct = bucket.max_exposure_pct
        if cap_pct is None:
            cap_pct = ctx.limits.max_bucket_exposure_pct
        others = 0.0
        position = ctx.position
        committed = ctx.pending_quantity if ctx.pending_notional > 0.0 else None
        for symbol in bucket.instruments:
            if symbol == instrument:
                continue
            pos = position(symbol)
            if committed is None:
                worst = abs(pos)
            else:
                worst = max(abs(pos + committed(symbol, 1.0)), abs(pos - committed(symbol, -1.0)))
            if worst:
                mark = ctx.last_price(symbol)
                if not 0.0 < mark < _INF:
                    return missing("price", intent)
                others += worst * mark
        cap_qty = max((cap_pct * equity / 100.0 - others) / price, 0.0)
        sign = float(intent.side)
        qty = intent.quantity
        allowed = capped_quantity(
            position(instrument) + sign * ctx.pending_quantity(instrument, sign), sign, qty,
            cap_qty)
        if allowed >= qty:
            return OK
        return verdict_for(allowed, intent, "bucket_exposure_pct",
                           f"bucket {name!r} would exceed {cap_pct:g}% of equity; "
                           f"at most {allowed:g} fits")

    def check_batch(self, batch: OrderBatch) -> np.ndarray:
        import numpy as np

        from bot_core import capped_quantities

        approved = np.ones(len(batch), dtype=bool)
        column = {symbol: j for j, symbol in enumerate(batch.instruments)}
        equity, price, qty, side = batch.equity, batch.price, batch.quantity, batch.side
        # the scalar form counts open orders of other symbols only when something is pending
        pending = batch.committed_notional > 0.0
        own = batch.position + side * batch.committed
        for instrument, j in column.items():
            found = self._lookup(batch.buckets, instrument)
            rows = np.flatnonzero(batch.instrument == j)
            if found is None or not len(rows):
                continue  # outside every bucket: approved
            bucket = found[1]
            cap_pct = bucket.max_exposure_pct
            if cap_pct is None:
                cap_pct = batch.limits.max_bucket_exposure_pct
            # the orders on this instrument only, each row as check() sees it
            eq, px = equity[rows], price[rows]
            ok = finite_positive(eq) & finite_positive(px)
            others = np.zeros(len(rows))
            with np.errstate(all="ignore"):
                for symbol in bucket.instruments:  # the scalar form's order of additions
                    k = column.get(symbol)
                    if symbol == instrument or k is None:
                        continue  # an instrument the batch never holds has no exposure
                    pos = batch.positions[rows, k]
                    worst = np.abs(pos)
                    if batch.pending_buys is not None and batch.pending_sells is not None:
                        long = np.abs(pos + batch.pending_buys[rows, k])
                        short = np.abs(pos - batch.pending_sells[rows, k])
                        worst = np.where(pending[rows], np.where(short > long, short, long),
                                         worst)
                    mark = batch.marks[rows, k]
                    held = worst != 0.0
                    ok &= ~held | finite_positive(mark)
                    others = others + np.where(held, worst * mark, 0.0)
                cap_qty = (cap_pct * eq / 100.0 - others) / px
                cap_qty = np.where(cap_qty < 0.0, 0.0, cap_qty)
                allowed = capped_quantities(own[rows], side[rows], qty[rows], cap_qty)
            approved[rows] = ok & (allowed >= qty[rows])
        return approved
