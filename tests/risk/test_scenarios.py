"""The risk scenarios users look for, end to end: strategies -> pipeline -> risk engine with the
core_checks plugin -> the paper venue plugin -> portfolio."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import pytest
from riskkit import MINUTE, make_config

import bot_core
from bot_core import Bar, OrderIntent, Side, Strategy, StrategySettings, TradingState
from bot_core.config import BotConfig
from bot_core.pipeline import TradingPipeline
from bot_core.portfolio import Portfolio
from bot_core.risk.check import VerdictAction
from bot_core.risk.engine import RiskEngine
from bot_core.runinfo import RunInfo

DAY0 = int(dt.datetime(2024, 3, 29, 12, 0, tzinfo=dt.UTC).timestamp()) * 1_000_000_000


class NoParams(StrategySettings):
    pass


class Planned(Strategy):
    """Buys or sells what its plan says on each bar (bar index -> signed quantity)."""

    id: ClassVar[str] = "planned"
    Settings: ClassVar[type[StrategySettings]] = NoParams

    def __init__(self, name: str, plan: dict[int, float]) -> None:
        super().__init__(NoParams(), name=name, instruments=["BTC/USDT"], venues=["venue_a"])
        self.plan = plan
        self.bars = 0
        self.verdicts: list[Any] = []

    def on_bar(self, bar: Bar, ctx: Any) -> list[OrderIntent]:
        qty = self.plan.get(self.bars, 0.0)
        self.bars += 1
        if not qty:
            return []
        return [OrderIntent(self.name, bar.venue, bar.instrument,
                            Side.BUY if qty > 0 else Side.SELL, abs(qty),
                            ctx.new_client_order_id(), ts_ns=bar.ts_ns)]


class Journal:
    def __init__(self) -> None:
        self.verdicts: list[tuple[str, str, str, float | None]] = []
        self.states: list[tuple[str, str, str]] = []

    @bot_core.hookimpl
    def bot_core_on_risk_verdict(self, run: Any, intent: OrderIntent, verdict: Any) -> None:
        self.verdicts.append((intent.strategy_id, verdict.action.value, verdict.reason,
                              verdict.quantity))

    @bot_core.hookimpl
    def bot_core_on_trading_state(self, run: Any, previous: TradingState, current: TradingState,
                                  cause: str, ts_ns: int) -> None:
        self.states.append((previous.value, current.value, cause))


@pytest.fixture
def host() -> Any:
    host = bot_core.load_plugins(environ={})
    journal = Journal()
    host.register_observer(journal, name="journal")
    host.journal = journal  # type: ignore[attr-defined]
    return host


def pipeline(host: Any, config: BotConfig, *strategies: Strategy,
             portfolio: Portfolio | None = None) -> TradingPipeline:
    paper = host.exchanges["paper"]
    venue = paper(paper.Settings(taker_fee_bps=0.0, maker_fee_bps=0.0, slippage_bps=0.0,
                                 participation_rate=1.0, max_leverage=10.0,
                                 initial_balances={"USDT": config.runtime.initial_equity}),
                  name="venue_a")
    portfolio = portfolio or Portfolio(config.runtime.initial_equity)
    checks = [host.risk_checks[c](host.risk_checks[c].Settings()) for c in config.risk.checks]
    risk = RiskEngine(config, checks, portfolio)
    run = RunInfo("scenario", "backtest", DAY0, config)
    return TradingPipeline(run, host, {s.name: s for s in strategies}, {"venue_a": venue},
                           portfolio, risk)


def bar(i: int, price: float, *, start: int = DAY0, step: int = MINUTE) -> Bar:
    return Bar("venue_a", "BTC/USDT", start + i * step, price, price, price, price, 1e6)


def test_combined_strategy_orders_respect_max_position_pct(host: Any) -> None:
    """Balanced profile: 20% of equity per instrument. Each strategy asks for 15% on the same
    bar: the first gets it, the second is cut to the 5% that is left, and once both filled a
    third order from either is rejected outright."""
    config = make_config()
    assert config.risk.max_position_pct == 20.0
    first = Planned("trend", {0: 0.3, 2: 0.1})   # 0.3 BTC * 50k = 15k = 15% of 100k
    second = Planned("meanrev", {0: 0.3})
    pipe = pipeline(host, config, first, second)
    pipe.start()
    pipe.on_bar(bar(0, 50_000.0))
    assert host.journal.verdicts == [
        ("trend", "approve", "ok", None),
        ("meanrev", "reduce", "max_position_pct", pytest.approx(0.1)),
    ]
    pipe.on_bar(bar(1, 50_000.0))  # both fill at this bar's open
    pf = pipe.portfolio
    assert pf.position("BTC/USDT", strategy="trend") == pytest.approx(0.3)
    assert pf.position("BTC/USDT", strategy="meanrev") == pytest.approx(0.1)
    exposure_pct = abs(pf.position("BTC/USDT")) * 50_000.0 / pf.equity * 100
    assert exposure_pct == pytest.approx(20.0)
    pipe.on_bar(bar(2, 50_000.0))
    assert host.journal.verdicts[-1] == ("trend", "reject", "max_position_pct", None)
    # either strategy may still reduce
    verdicts = pipe.submit([OrderIntent("meanrev", "venue_a", "BTC/USDT", Side.SELL, 0.1, "m-x")],
                           bar(2, 0).ts_ns)
    assert verdicts[0].action is VerdictAction.APPROVE
    pipe.stop("completed")


def test_force_liquidation_due_to_drawdown_allows_only_reducing_orders(host: Any) -> None:
    """A drawdown at the limit switches to REDUCING: the engine closes the positions itself,
    new risk is rejected, reducing orders that would flip are cut to the position, and only
    the operator's clear() returns to ACTIVE."""
    config = make_config(drawdown_liquidation_pct=10.0, daily_loss_limit_pct=50.0,
                         max_position_pct=100.0, max_total_position_pct=200.0,
                         max_bucket_exposure_pct=200.0,
                         check_settings={"fat_finger": {"max_notional_pct_of_equity": 200.0}})
    long_a = Planned("a", {0: 1.0})    # 50k
    long_b = Planned("b", {0: 0.6})    # 30k: 80k long in total
    pipe = pipeline(host, config, long_a, long_b)
    pipe.on_bar(bar(0, 50_000.0))
    pipe.on_bar(bar(1, 50_000.0))
    assert pipe.portfolio.position("BTC/USDT") == pytest.approx(1.6)
    pipe.on_bar(bar(2, 47_000.0))  # -4,800: 4.8% drawdown
    assert pipe.risk.state is TradingState.ACTIVE
    pipe.on_bar(bar(3, 43_700.0))  # -10,080: 10.08%
    assert pipe.risk.state is TradingState.REDUCING
    assert host.journal.states == [("active", "reducing", "drawdown_liquidation")]
    liquidations = [o for o in pipe.orders.values() if o.intent.tag == "drawdown_liquidation"]
    assert sorted((o.intent.strategy_id, o.quantity, o.intent.side) for o in liquidations) == [
        ("a", pytest.approx(1.0), Side.SELL), ("b", pytest.approx(0.6), Side.SELL)]
    ts = bar(3, 0).ts_ns
    # while the liquidation is in flight, new risk and further sells are refused
    new_risk = pipe.submit([OrderIntent("a", "venue_a", "BTC/USDT", Side.BUY, 0.01, "x1")], ts)
    assert (new_risk[0].action, new_risk[0].reason) == (VerdictAction.REJECT,
                                                        "trading_reducing_not_reducing")
    flip = pipe.submit([OrderIntent("a", "venue_a", "BTC/USDT", Side.SELL, 0.5, "x2")], ts)
    assert flip[0].action is VerdictAction.REJECT  # 1.6 already being sold: would flip
    pipe.on_bar(bar(4, 43_700.0))  # liquidation fills at this open
    assert pipe.portfolio.position("BTC/USDT") == pytest.approx(0.0, abs=1e-12)
    assert all(o.status.value == "filled" for o in liquidations)
    assert pipe.risk.state is TradingState.REDUCING  # stays until an operator clears it
    ts = bar(4, 0).ts_ns
    short = pipe.submit([OrderIntent("b", "venue_a", "BTC/USDT", Side.SELL, 0.1, "x3")], ts)
    assert short[0].reason == "trading_reducing_not_reducing"  # selling flat = opening a short
    pipe.risk.clear("positions reviewed", ts)
    assert pipe.risk.state is TradingState.ACTIVE
    assert host.journal.states[-1] == ("reducing", "active", "operator: positions reviewed")
    again = pipe.submit([OrderIntent("a", "venue_a", "BTC/USDT", Side.BUY, 0.1, "x4")], ts)
    assert again[0].action is VerdictAction.APPROVE


def test_daily_loss_limit_resets_after_new_trading_day(host: Any) -> None:
    """New York trading day starting 17:00 local, across the 2024-03-10 spring-forward: the
    loss limit halts new risk for the rest of the day, the halt lifts exactly at the next 17:00
    local (21:00Z after the change, not 22:00Z), the day reset happens once, and a restart from
    a snapshot does not reset again."""
    config = make_config(timezone="America/New_York", day_start=dt.time(17, 0),
                         daily_loss_limit_pct=2.0, drawdown_liquidation_pct=50.0)
    trader = Planned("t", {0: 0.4})
    start = int(dt.datetime(2024, 3, 8, 23, 0, tzinfo=dt.UTC).timestamp()) * 10**9  # Fri 18:00 EST
    pipe = pipeline(host, config, trader)
    hour = 3_600 * 10**9
    pipe.on_bar(bar(0, 50_000.0, start=start, step=hour))
    pipe.on_bar(bar(1, 50_000.0, start=start, step=hour))
    assert pipe.risk.trading_day == dt.date(2024, 3, 8)
    pipe.on_bar(bar(2, 44_000.0, start=start, step=hour))  # 0.4 * -6,000 = -2,400: 2.4%
    assert pipe.risk.state is TradingState.HALTED
    assert host.journal.states == [("active", "halted", "daily_loss_limit")]
    ts = bar(2, 0, start=start, step=hour).ts_ns
    verdict = pipe.submit([OrderIntent("t", "venue_a", "BTC/USDT", Side.BUY, 0.01, "h1")], ts)
    assert verdict[0].reason == "trading_halted"

    # restart mid-day from snapshots: still halted, no reset
    snap = (pipe.portfolio.snapshot(), pipe.risk.snapshot(), pipe.snapshot())
    restarted = pipeline(host, config, Planned("t", {}),
                         portfolio=Portfolio.from_snapshot(snap[0]))
    restarted.risk.restore(snap[1])
    restarted.restore(snap[2])
    assert restarted.risk.state is TradingState.HALTED and restarted.risk.day_resets == 0

    # hourly bars through the weekend and the DST change (Sun 2024-03-10 02:00 EST -> 03:00 EDT)
    boundaries: list[int] = []
    for i in range(3, 80):
        before = restarted.risk.day_resets
        restarted.on_bar(bar(i, 44_000.0, start=start, step=hour))
        if restarted.risk.day_resets != before:
            boundaries.append(start + i * hour)
    utc = [dt.datetime.fromtimestamp(b / 1e9, dt.UTC).strftime("%a %d %H:%M") for b in boundaries]
    assert utc == ["Sat 09 22:00", "Sun 10 21:00", "Mon 11 21:00"]
    assert restarted.risk.day_resets == 3
    assert restarted.risk.state is TradingState.ACTIVE
    assert host.journal.states[-1] == ("halted", "active", "new_trading_day")
    assert restarted.risk.day_start_equity == pytest.approx(restarted.portfolio.equity)
    ts = bar(80, 0, start=start, step=hour).ts_ns
    restarted.on_bar(bar(80, 44_000.0, start=start, step=hour))
    verdict = restarted.submit([OrderIntent("t", "venue_a", "BTC/USDT", Side.BUY, 0.01, "n1")],
                               ts)
    assert verdict[0].action is VerdictAction.APPROVE
