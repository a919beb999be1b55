"""Hypothesis stateful test of the risk engine and portfolio together.

Random price moves and clock jumps (starting just before a DST change in London or New York, so
day boundaries of 23 and 25 hours are crossed), random orders from two strategies (filled in
part or in full at the mark when approved, with fees), duplicated fill reports, the engine's
own liquidation orders, operator clears and restarts from JSON snapshots. After every step the
invariants below must hold.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from riskkit import make_config

import bot_core
from bot_core import Fill, OrderIntent, Side, TradingState
from bot_core.portfolio import Portfolio
from bot_core.risk.check import VerdictAction
from bot_core.risk.engine import RiskEngine

HOST = bot_core.load_plugins(environ={})
INSTRUMENTS = ("BTC/USDT", "ETH/USDT", "SOL/USDT")
STRATEGIES = ("alpha", "beta")
FEE_RATE = 0.001
DAY_START = dt.time(9, 30)  # exists on every day in both zones
STARTS = {
    "Europe/London": dt.datetime(2024, 3, 29, 12, 0, tzinfo=dt.UTC),      # DST on Mar 31
    "America/New_York": dt.datetime(2024, 11, 1, 12, 0, tzinfo=dt.UTC),   # DST ends Nov 3
}


def expected_day(ts_ns: int, tz: ZoneInfo) -> dt.date:
    """The trading day by a different route than the engine's: local wall-clock time."""
    local = dt.datetime.fromtimestamp(ts_ns / 1e9, tz)
    return local.date() if local.time() >= DAY_START else local.date() - dt.timedelta(days=1)


class RiskMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.seq = 0
        self.trades = 0
        self.last_fill: Fill | None = None
        self.transitions: list[tuple[TradingState, TradingState, str]] = []

    @initialize(tz=st.sampled_from(sorted(STARTS)))
    def setup(self, tz: str) -> None:
        self.tz = ZoneInfo(tz)
        self.config = make_config(timezone=tz, day_start=DAY_START, daily_loss_limit_pct=1.5,
                                  drawdown_liquidation_pct=4.0, max_position_pct=40.0,
                                  max_total_position_pct=150.0, max_bucket_exposure_pct=80.0)
        self.portfolio = Portfolio(100_000.0)
        self.engine = self._new_engine(self.portfolio)
        self.now = int(STARTS[tz].timestamp()) * 10**9
        self.first_day = expected_day(self.now, self.tz)
        self.prices = {"BTC/USDT": 50_000.0, "ETH/USDT": 3_000.0, "SOL/USDT": 100.0}
        for inst, price in self.prices.items():
            self.engine.on_market_data(inst, "venue_a", price, self.now)
        # start invested, so that price moves make (and lose) money from the first step
        self._submit(OrderIntent("alpha", "venue_a", "BTC/USDT", Side.BUY, 0.7, "init-1"), 1.0)
        self._submit(OrderIntent("beta", "venue_a", "ETH/USDT", Side.SELL, 8.0, "init-2"), 1.0)
        assert self.portfolio.gross_exposure == pytest.approx(59_000.0)

    def _new_engine(self, portfolio: Portfolio) -> RiskEngine:
        checks = [HOST.risk_checks[c]() for c in self.config.risk.checks]
        return RiskEngine(self.config, checks, portfolio,
                          on_state_change=lambda p, c, cause, ts: self.transitions.append(
                              (p, c, cause)))

    # -- rules ------------------------------------------------------------------------------------

    @rule(inst=st.sampled_from(INSTRUMENTS), move_pct=st.floats(-9.0, 9.0),
          minutes=st.integers(1, 16 * 60))
    def price_moves(self, inst: str, move_pct: float, minutes: int) -> None:
        self.now += minutes * 60 * 10**9
        self.prices[inst] *= 1.0 + move_pct / 100.0
        for symbol, price in self.prices.items():
            self.engine.on_market_data(symbol, "venue_a", price, self.now)

    @rule(strategy=st.sampled_from(STRATEGIES), inst=st.sampled_from(INSTRUMENTS),
          buy=st.booleans(), equity_share=st.floats(0.001, 0.6), fill_share=st.floats(0.1, 1.0),
          reduce_only=st.booleans())
    def order(self, strategy: str, inst: str, buy: bool, equity_share: float, fill_share: float,
              reduce_only: bool) -> None:
        side = Side.BUY if buy else Side.SELL
        qty = equity_share * self.portfolio.equity / self.prices[inst]
        self._submit(OrderIntent(strategy, "venue_a", inst, side, qty, self._cid(),
                                 reduce_only=reduce_only, ts_ns=self.now), fill_share)

    @precondition(lambda self: self.engine.liquidating)
    @rule()
    def liquidate(self) -> None:
        for intent in self.engine.liquidation_intents(self.now):
            assert intent.reduce_only
            self._submit(intent, 1.0)

    @precondition(lambda self: self.last_fill is not None)
    @rule()
    def duplicate_fill(self) -> None:
        before = self.portfolio.snapshot()
        assert self.portfolio.apply_fill(self.last_fill) is False  # type: ignore[arg-type]
        assert self.portfolio.snapshot() == before

    @precondition(lambda self: self.engine.state is TradingState.REDUCING)
    @rule()
    def operator_clears(self) -> None:
        self.engine.clear("reviewed", self.now)
        assert not self.engine.liquidating
        assert self.engine.equity_peak == self.portfolio.equity

    @rule()
    def restart(self) -> None:
        pf_state = json.loads(json.dumps(self.portfolio.snapshot()))
        risk_state = json.loads(json.dumps(self.engine.snapshot()))
        state_before = self.engine.state
        self.portfolio = Portfolio.from_snapshot(pf_state)
        self.engine = self._new_engine(self.portfolio)
        self.engine.restore(risk_state)
        assert self.engine.snapshot() == risk_state
        assert self.portfolio.snapshot() == pf_state
        assert self.engine.state is state_before

    # -- helpers ----------------------------------------------------------------------------------

    def _cid(self) -> str:
        self.seq += 1
        return f"o{self.seq}"

    def _submit(self, intent: OrderIntent, fill_share: float) -> None:
        state = self.engine.state
        pos_before = self.portfolio.position(intent.instrument, intent.venue)
        pending = self.engine.pending_quantity(intent.instrument, float(intent.side), intent.venue)
        verdict = self.engine.evaluate(intent, self.now)
        assert verdict.reason, "every verdict has a reason code"
        if verdict.action is VerdictAction.REJECT:
            assert verdict.quantity is None
            return
        qty = intent.quantity if verdict.quantity is None else verdict.quantity
        assert 0.0 < qty <= intent.quantity
        if verdict.action is VerdictAction.REDUCE:
            assert qty < intent.quantity
        assert state is not TradingState.HALTED, "HALTED lets nothing through"
        if state is TradingState.REDUCING or intent.reduce_only:
            committed = pos_before + float(intent.side) * pending
            assert committed * float(intent.side) < 0, "only orders against the position"
            assert qty <= abs(committed) * (1 + 1e-9), "never flips the position"
        filled = qty * fill_share
        price = self.prices[intent.instrument]
        self.trades += 1
        fill = Fill(f"t{self.trades}", intent.client_order_id, intent.venue, intent.instrument,
                    intent.side, filled, price, filled * price * FEE_RATE, self.now,
                    strategy_id=intent.strategy_id)
        assert self.portfolio.apply_fill(fill)
        self.engine.on_fill(fill)
        self.engine.on_order_closed(intent.client_order_id)  # the rest is cancelled
        self.last_fill = fill
        if state is TradingState.REDUCING or intent.reduce_only:
            after = self.portfolio.position(intent.instrument, intent.venue)
            assert after == 0.0 or after * pos_before > 0, "the position kept its sign"

    # -- invariants -------------------------------------------------------------------------------

    @invariant()
    def accounting_identities(self) -> None:
        pf = self.portfolio
        marked = sum(r.qty * pf.last_price(r.instrument, r.venue) for r in pf.positions())
        assert pf.equity == pytest.approx(pf.cash + marked, rel=1e-9, abs=1e-6)
        assert pf.equity == pytest.approx(pf.initial_cash + pf.realized_pnl - pf.fees
                                          + pf.unrealized_pnl, rel=1e-9, abs=1e-6)
        gross = sum(abs(pf.position(i, "venue_a")) * self.prices[i] for i in INSTRUMENTS)
        assert pf.gross_exposure == pytest.approx(gross, rel=1e-9, abs=1e-6)
        for inst in INSTRUMENTS:
            per_strategy = sum(pf.position(inst, strategy=s) for s in STRATEGIES)
            assert per_strategy == pytest.approx(pf.position(inst), abs=1e-9)

    @invariant()
    def state_follows_the_limits(self) -> None:
        eng = self.engine
        equity = self.portfolio.equity
        assert eng.equity_peak >= equity - 1e-6
        if eng.liquidating:
            assert eng.state is TradingState.REDUCING
        elif eng.daily_loss_halted:
            assert eng.state is TradingState.HALTED
        else:
            assert eng.state is TradingState.ACTIVE
            assert (eng.day_start_equity - equity) / eng.day_start_equity * 100 < 1.5
        if not eng.liquidating:
            assert (eng.equity_peak - equity) / eng.equity_peak * 100 < 4.0

    @invariant()
    def one_reset_per_trading_day(self) -> None:
        day = expected_day(self.now, self.tz)
        event(f"state {self.engine.state.value}")
        if self.engine.day_resets:
            event("crossed a trading-day boundary")
        if self.tz.utcoffset(dt.datetime.fromtimestamp(self.now / 1e9)) != self.tz.utcoffset(
                dt.datetime.fromtimestamp(STARTS[str(self.tz)].timestamp())):
            event("past the DST change")
        assert self.engine.trading_day == day
        assert self.engine.day_resets == (day - self.first_day).days

    @invariant()
    def no_pending_left_behind(self) -> None:
        # every order is closed right after its fill here, so nothing stays committed
        assert self.engine.pending_notional == 0.0
        for inst in INSTRUMENTS:
            assert self.engine.pending_quantity(inst, 1) == 0.0
            assert math.isfinite(self.portfolio.position(inst))


RiskMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRiskMachine = RiskMachine.TestCase
