"""The one event path: routing, hook order, fill de-duplication, idempotent ids, config wiring.

The venue here is a small but real ExchangeAdapter (fills market orders at the next bar's open,
rests limit orders until the price trades through them), so every assertion is about what the
pipeline does, not about a venue's fill model.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

import bot_core
from bot_core import (
    Bar,
    ExchangeAdapter,
    ExecutionReport,
    Fill,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Quote,
    Side,
    Strategy,
    StrategySettings,
    TradingState,
)
from bot_core.config import BotConfig, resolve_config
from bot_core.errors import ConfigError
from bot_core.pipeline import PIPELINE_CHECK_ID, TradingPipeline, build_pipeline
from bot_core.portfolio import Portfolio
from bot_core.risk.check import VerdictAction
from bot_core.risk.engine import RiskEngine
from bot_core.runinfo import RunInfo

T0 = 1_700_000_000 * 1_000_000_000
MINUTE = 60 * 1_000_000_000


# -- a small real venue --------------------------------------------------------------------------


class SimVenue(ExchangeAdapter):
    """Market orders fill at the next bar's open (or the next quote's bid/ask); limit orders
    rest until the bar trades through them. ``duplicate_fills`` re-sends every fill report."""

    id: ClassVar[str] = "simvenue"
    simulated: ClassVar[bool] = True

    def __init__(self, *, name: str, fee_rate: float = 0.0, duplicate_fills: bool = False,
                 fail_submit: bool = False) -> None:
        super().__init__(name=name)
        self.fee_rate = fee_rate
        self.duplicate_fills = duplicate_fills
        self.fail_submit = fail_submit
        self.resting: dict[str, Order] = {}
        self.received: list[Order] = []
        self.events: list[Bar | Quote] = []
        self.connected = self.closed = False
        self._trade_seq = itertools.count(1)

    def connect(self) -> None:
        self.connected = True

    def close(self) -> None:
        self.closed = True

    def balances(self) -> Mapping[str, float]:
        return {}

    def submit(self, order: Order) -> Sequence[ExecutionReport]:
        if self.fail_submit:
            raise ConnectionError("venue down")
        self.received.append(order)
        self.resting[order.client_order_id] = order
        return [ExecutionReport(order.client_order_id, OrderStatus.ACCEPTED, order.intent.ts_ns)]

    def cancel(self, client_order_id: str) -> Sequence[ExecutionReport]:
        if self.resting.pop(client_order_id, None) is None:
            return [ExecutionReport(client_order_id, OrderStatus.REJECTED, 0, reason="unknown")]
        return [ExecutionReport(client_order_id, OrderStatus.CANCELLED, 0)]

    def on_market_data(self, event: Bar | Quote) -> Sequence[ExecutionReport]:
        self.events.append(event)
        reports: list[ExecutionReport] = []
        for cid, order in list(self.resting.items()):
            intent = order.intent
            if intent.instrument != event.instrument:
                continue
            if isinstance(event, Bar):
                price = event.open
                if intent.order_type is OrderType.LIMIT:
                    limit = float(intent.limit_price or 0.0)
                    through = event.low < limit if intent.side is Side.BUY else event.high > limit
                    if not through:
                        continue
                    price = limit
            else:
                price = event.ask if intent.side is Side.BUY else event.bid
            del self.resting[cid]
            fill = Fill(f"{self.name}-{next(self._trade_seq)}", cid, self.name, intent.instrument,
                        intent.side, order.quantity, price, order.quantity * price * self.fee_rate,
                        event.ts_ns)
            report = ExecutionReport(cid, OrderStatus.FILLED, event.ts_ns, fill=fill)
            reports.append(report)
            if self.duplicate_fills:
                reports.append(report)
        return reports


# -- strategies ------------------------------------------------------------------------------------


class NoParams(StrategySettings):
    pass


class Scripted(Strategy):
    """Sends the planned (side, quantity[, limit]) of each call; records what it saw."""

    id: ClassVar[str] = "scripted"
    Settings: ClassVar[type[StrategySettings]] = NoParams

    def __init__(self, settings: StrategySettings, **kw: Any) -> None:
        super().__init__(settings, **kw)
        self.plan: list[list[tuple[Any, ...]]] = []
        self.seen: list[Any] = []
        self.fills: list[Fill] = []
        self.updates: list[ExecutionReport] = []
        self.hedge: tuple[str, float] | None = None
        self.started = self.stopped = 0

    def on_start(self, ctx: Any) -> None:
        self.started += 1

    def on_stop(self, ctx: Any) -> None:
        self.stopped += 1

    def _intents(self, event: Any, ctx: Any) -> list[OrderIntent]:
        self.seen.append(event)
        orders = self.plan.pop(0) if self.plan else []
        out = []
        for item in orders:
            side, qty = item[0], item[1]
            limit = item[2] if len(item) > 2 else None
            out.append(OrderIntent(self.name, event.venue, event.instrument, side, qty,
                                   ctx.new_client_order_id(),
                                   order_type=OrderType.LIMIT if limit else OrderType.MARKET,
                                   limit_price=limit, ts_ns=ctx.now_ns))
        return out

    def on_bar(self, bar: Bar, ctx: Any) -> list[OrderIntent]:
        return self._intents(bar, ctx)

    def on_fill(self, fill: Fill, ctx: Any) -> list[OrderIntent]:
        self.fills.append(fill)
        if self.hedge is None:
            return []
        venue, ratio = self.hedge
        return [OrderIntent(self.name, venue, fill.instrument, Side(-int(fill.side)),
                            fill.quantity * ratio, ctx.new_client_order_id(), ts_ns=fill.ts_ns)]

    def on_order_update(self, report: ExecutionReport, ctx: Any) -> list[OrderIntent]:
        self.updates.append(report)
        return []


class QuoteScripted(Scripted):
    id: ClassVar[str] = "quote_scripted"
    data_kind: ClassVar[Any] = "quotes"

    def on_quote(self, quote: Quote, ctx: Any) -> list[OrderIntent]:
        return self._intents(quote, ctx)


class Recorder:
    """An in-process observer plugin: records every observer hook call in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    @bot_core.hookimpl
    def bot_core_on_start(self, run: RunInfo) -> None:
        self.calls.append(("start",))

    @bot_core.hookimpl
    def bot_core_on_decision(self, run: RunInfo, intent: OrderIntent) -> None:
        self.calls.append(("decision", intent.client_order_id))

    @bot_core.hookimpl
    def bot_core_on_risk_verdict(self, run: RunInfo, intent: OrderIntent, verdict: Any) -> None:
        self.calls.append(("verdict", intent.client_order_id, verdict.action.value,
                           verdict.reason))

    @bot_core.hookimpl
    def bot_core_on_order(self, run: RunInfo, order: Order) -> None:
        self.calls.append(("order", order.client_order_id, order.status.value))

    @bot_core.hookimpl
    def bot_core_on_fill(self, run: RunInfo, fill: Fill) -> None:
        self.calls.append(("fill", fill.trade_id, fill.strategy_id))

    @bot_core.hookimpl
    def bot_core_on_trading_state(self, run: RunInfo, previous: TradingState,
                                  current: TradingState, cause: str, ts_ns: int) -> None:
        self.calls.append(("state", previous.value, current.value, cause))

    @bot_core.hookimpl
    def bot_core_on_stop(self, run: RunInfo, reason: str) -> None:
        self.calls.append(("stop", reason))


# -- fixtures ------------------------------------------------------------------------------------


def make_config(**risk: Any) -> BotConfig:
    data = resolve_config(preset="balanced", universe="demo", environ={}).config.model_dump(mode="python")
    data["risk"].update(risk)
    return BotConfig.model_validate(data)


@pytest.fixture(scope="module")
def host() -> bot_core.PluginHost:
    return bot_core.load_plugins(environ={})


@pytest.fixture
def recorder(host: bot_core.PluginHost) -> Any:
    rec = Recorder()
    host.register_observer(rec, name="test-recorder")
    yield rec
    host.unregister_observer(rec)


def make_pipeline(host: bot_core.PluginHost, *, config: BotConfig | None = None,
                  strategies: Sequence[Strategy] = (), venues: Sequence[SimVenue] = (),
                  checks: Sequence[str] | None = None) -> TradingPipeline:
    config = config or make_config()
    check_ids = config.risk.checks if checks is None else checks
    risk_checks = [host.risk_checks[c]() for c in check_ids]
    portfolio = Portfolio(config.runtime.initial_equity)
    risk = RiskEngine(config, risk_checks, portfolio)
    run = RunInfo("run1", "backtest", T0, config)
    venue_list = list(venues) or [SimVenue(name="venue_a")]
    return TradingPipeline(run, host, {s.name: s for s in strategies},
                           {v.name: v for v in venue_list}, portfolio, risk)


def bar(i: int, price: float, *, venue: str = "venue_a", instrument: str = "BTC/USDT",
        low: float | None = None, high: float | None = None) -> Bar:
    return Bar(venue, instrument, T0 + i * MINUTE, price, high or price, low or price, price, 1e9)


def scripted(name: str = "s1", *, venues: Sequence[str] = ("venue_a",),
             instruments: Sequence[str] = ("BTC/USDT",)) -> Scripted:
    return Scripted(NoParams(), name=name, venues=venues, instruments=instruments)


# -- tests ---------------------------------------------------------------------------------------


def test_market_order_fills_on_next_bar_with_hooks_in_order(host: Any, recorder: Recorder) -> None:
    strat = scripted()
    strat.plan = [[(Side.BUY, 0.2)]]
    pipe = make_pipeline(host, strategies=[strat])
    pipe.start()
    pipe.on_bar(bar(0, 50_000.0))
    cid = "s1-run1-1"
    assert recorder.calls == [("start",), ("decision", cid), ("verdict", cid, "approve", "ok"),
                              ("order", cid, "accepted")]
    recorder.calls.clear()
    pipe.on_bar(bar(1, 50_100.0))
    assert recorder.calls == [("fill", "venue_a-1", "s1"), ("order", cid, "filled")]
    assert pipe.portfolio.position("BTC/USDT", "venue_a", "s1") == 0.2
    assert pipe.contexts["s1"].position("BTC/USDT") == 0.2
    assert pipe.portfolio.equity == pytest.approx(100_000.0)  # filled at 50_100, marked at close
    order = pipe.orders[cid]
    assert (order.status, order.filled_quantity, order.average_price) == (
        OrderStatus.FILLED, 0.2, 50_100.0)
    assert cid not in pipe.open_orders
    assert [f.strategy_id for f in strat.fills] == ["s1"]
    assert [r.status for r in strat.updates] == [OrderStatus.ACCEPTED]
    pipe.stop("completed")
    pipe.stop("completed")
    assert recorder.calls[-1] == ("stop", "completed")
    assert [c for c in recorder.calls if c[0] == "stop"] == [("stop", "completed")]
    assert strat.started == strat.stopped == 1
    assert pipe.venues["venue_a"].connected and pipe.venues["venue_a"].closed


def test_duplicate_fill_reports_are_booked_once(host: Any, recorder: Recorder) -> None:
    strat = scripted()
    strat.plan = [[(Side.BUY, 0.5)]]
    pipe = make_pipeline(host, strategies=[strat],
                         venues=[SimVenue(name="venue_a", duplicate_fills=True, fee_rate=0.001)])
    pipe.on_bar(bar(0, 40_000.0))
    pipe.on_bar(bar(1, 40_000.0))
    assert pipe.portfolio.position("BTC/USDT") == 0.5
    assert pipe.portfolio.fees == pytest.approx(20.0)
    assert [c for c in recorder.calls if c[0] == "fill"] == [("fill", "venue_a-1", "s1")]
    assert len(strat.fills) == 1
    assert pipe.orders["s1-run1-1"].filled_quantity == 0.5


def test_fill_listeners_get_each_booked_fill_once_after_the_hook(host: Any,
                                                                  recorder: Recorder) -> None:
    strat = scripted()
    strat.plan = [[(Side.BUY, 0.5)]]
    pipe = make_pipeline(host, strategies=[strat],
                         venues=[SimVenue(name="venue_a", duplicate_fills=True, fee_rate=0.001)])
    heard: list[tuple[str, str, int]] = []
    pipe.fill_listeners.append(
        lambda fill: heard.append((fill.trade_id, fill.strategy_id, len(recorder.calls))))
    pipe.on_bar(bar(0, 40_000.0))
    pipe.on_bar(bar(1, 40_000.0))
    fill_hooks = [i for i, c in enumerate(recorder.calls) if c[0] == "fill"]
    # booked once (the venue's duplicate report is dropped), heard right after bot_core_on_fill
    assert heard == [("venue_a-1", "s1", fill_hooks[0] + 1)]
    assert len(fill_hooks) == 1


def test_reduced_quantity_is_what_reaches_the_venue(host: Any, recorder: Recorder) -> None:
    strat = scripted()
    strat.plan = [[(Side.BUY, 1.0)]]  # 50k notional; max_position_pct 20% of 100k -> 0.4
    venue = SimVenue(name="venue_a")
    pipe = make_pipeline(host, strategies=[strat], venues=[venue])
    pipe.on_bar(bar(0, 50_000.0))
    assert len(venue.received) == 1
    assert venue.received[0].quantity == pytest.approx(0.4)
    assert venue.received[0].intent.quantity == 1.0
    assert ("verdict", "s1-run1-1", "reduce", "max_position_pct") in recorder.calls
    assert pipe.verdicts == {"reduce:max_position_pct": 1}


def test_rejections_never_reach_a_venue(host: Any, recorder: Recorder) -> None:
    venue = SimVenue(name="venue_a")
    pipe = make_pipeline(host, venues=[venue])
    pipe.on_bar(bar(0, 100.0))
    unknown = OrderIntent("s1", "nowhere", "BTC/USDT", Side.BUY, 1.0, "x1")
    ok = OrderIntent("s1", "venue_a", "BTC/USDT", Side.BUY, 1.0, "x2")
    again = OrderIntent("s1", "venue_a", "BTC/USDT", Side.BUY, 1.0, "x2")
    nan_qty = OrderIntent("s1", "venue_a", "BTC/USDT", Side.BUY, math.nan, "x3")
    verdicts = pipe.submit([unknown, ok, again, nan_qty], T0)
    assert [(v.action, v.reason, v.check_id) for v in verdicts] == [
        (VerdictAction.REJECT, "unknown_venue", PIPELINE_CHECK_ID),
        (VerdictAction.APPROVE, "ok", ""),
        (VerdictAction.REJECT, "duplicate_client_order_id", PIPELINE_CHECK_ID),
        (VerdictAction.REJECT, "invalid_quantity", "engine"),
    ]
    assert [o.client_order_id for o in venue.received] == ["x2"]


def test_on_fill_intents_go_through_risk(host: Any, recorder: Recorder) -> None:
    strat = scripted(venues=("venue_a",))
    strat.plan = [[(Side.BUY, 0.1)]]
    strat.hedge = ("venue_b", 1.0)
    a, b = SimVenue(name="venue_a"), SimVenue(name="venue_b")
    pipe = make_pipeline(host, strategies=[strat], venues=[a, b])
    pipe.on_bar(bar(0, 30_000.0, venue="venue_b"))
    pipe.on_bar(bar(0, 30_000.0))
    pipe.on_bar(bar(1, 30_000.0))  # fills the buy; the hedge sell goes to venue_b through risk
    assert [o.intent.side for o in b.received] == [Side.SELL]
    hedge_id = b.received[0].client_order_id
    assert ("decision", hedge_id) in recorder.calls
    assert ("verdict", hedge_id, "approve", "ok") in recorder.calls


def test_venue_exception_is_a_rejected_order(host: Any, recorder: Recorder) -> None:
    strat = scripted()
    strat.plan = [[(Side.BUY, 0.1)]]
    pipe = make_pipeline(host, strategies=[strat], venues=[SimVenue(name="venue_a",
                                                                   fail_submit=True)])
    pipe.on_bar(bar(0, 30_000.0))
    order = pipe.orders["s1-run1-1"]
    assert order.status is OrderStatus.REJECTED
    assert order.reason.startswith("venue_error: ConnectionError")
    assert not pipe.open_orders
    assert pipe.portfolio.position("BTC/USDT") == 0.0
    assert pipe.risk.pending_notional == 0.0  # the rejected order no longer commits exposure


def test_halt_cancels_resting_orders_and_reports_the_transition(host: Any,
                                                                recorder: Recorder) -> None:
    strat = scripted()
    # bar 0: buy 0.3 at market; bar 1 fills it; a resting buy limit far below the market
    strat.plan = [[(Side.BUY, 0.3)], [(Side.BUY, 0.1, 29_000.0)]]
    venue = SimVenue(name="venue_a")
    pipe = make_pipeline(host, strategies=[strat], venues=[venue],
                         config=make_config(daily_loss_limit_pct=1.0))
    pipe.on_bar(bar(0, 30_000.0))
    pipe.on_bar(bar(1, 30_000.0))
    assert list(pipe.open_orders) == ["s1-run1-2"]
    pipe.on_bar(bar(2, 29_500.0, low=29_400.0))  # loss 150 of 100k: not yet
    assert pipe.risk.state is TradingState.ACTIVE
    pipe.on_bar(bar(3, 25_000.0, low=29_100.0))  # loss 1,500 = 1.5% >= 1%: halted
    assert pipe.risk.state is TradingState.HALTED
    assert ("state", "active", "halted", "daily_loss_limit") in recorder.calls
    assert not pipe.open_orders and not venue.resting
    assert pipe.orders["s1-run1-2"].status is OrderStatus.CANCELLED
    verdicts = pipe.submit([OrderIntent("s1", "venue_a", "BTC/USDT", Side.SELL, 0.1, "h1")],
                           T0 + 3 * MINUTE)
    assert (verdicts[0].action, verdicts[0].reason) == (VerdictAction.REJECT, "trading_halted")


def test_drawdown_liquidation_orders_are_submitted_by_the_pipeline(host: Any,
                                                                   recorder: Recorder) -> None:
    strat = scripted()
    strat.plan = [[(Side.BUY, 0.6)]]
    venue = SimVenue(name="venue_a")
    pipe = make_pipeline(host, strategies=[strat], venues=[venue],
                         config=make_config(drawdown_liquidation_pct=5.0, daily_loss_limit_pct=50.0,
                                            max_position_pct=50.0))
    pipe.on_bar(bar(0, 20_000.0))
    pipe.on_bar(bar(1, 20_000.0))
    assert pipe.portfolio.position("BTC/USDT") == 0.6
    pipe.on_bar(bar(2, 11_000.0))  # 0.6 * 9_000 = 5.4% drawdown
    assert pipe.risk.state is TradingState.REDUCING
    liq = [o for o in venue.received if o.intent.tag == "drawdown_liquidation"]
    assert len(liq) == 1 and liq[0].intent.reduce_only and liq[0].quantity == 0.6
    pipe.on_bar(bar(3, 11_000.0))  # no second liquidation order while one is in flight...
    assert pipe.portfolio.position("BTC/USDT") == 0.0  # ...and it filled at this bar's open
    assert len([o for o in venue.received if o.intent.tag == "drawdown_liquidation"]) == 1
    pipe.on_bar(bar(4, 11_000.0))
    assert len([o for o in venue.received if o.intent.tag == "drawdown_liquidation"]) == 1


def test_quotes_mark_at_mid_and_reach_quote_strategies(host: Any, recorder: Recorder) -> None:
    strat = QuoteScripted(NoParams(), name="arb", venues=["venue_a"], instruments=["ETH/USDT"])
    strat.plan = [[(Side.BUY, 1.0)]]
    pipe = make_pipeline(host, strategies=[strat])
    pipe.on_quote(Quote("venue_a", "ETH/USDT", T0, 1999.0, 2001.0, 5.0, 5.0))
    assert pipe.portfolio.last_price("ETH/USDT", "venue_a") == 2000.0
    pipe.on_quote(Quote("venue_a", "ETH/USDT", T0 + 1, 2009.0, 2011.0, 5.0, 5.0))
    assert pipe.portfolio.position("ETH/USDT", strategy="arb") == 1.0
    assert pipe.portfolio.avg_price("ETH/USDT") == 2011.0
    assert pipe.portfolio.equity == pytest.approx(100_000.0 - 1.0)
    pipe.on_quote(Quote("venue_a", "ETH/USDT", T0 + 2, 0.0, math.nan, 5.0, 5.0))  # garbage
    assert pipe.portfolio.last_price("ETH/USDT", "venue_a") == 2010.0
    assert len(strat.seen) == 3
    pipe.on_quote(Quote("venue_b", "ETH/USDT", T0 + 3, 1.0, 2.0, 5.0, 5.0))  # not subscribed
    assert len(strat.seen) == 3


def test_unscoped_strategies_get_every_event_of_their_kind(host: Any) -> None:
    quotes = QuoteScripted(NoParams(), name="all_quotes")
    bars = Scripted(NoParams(), name="all_bars")
    pipe = make_pipeline(host, strategies=[quotes, bars])
    pipe.on_quote(Quote("venue_a", "ETH/USDT", T0, 1999.0, 2001.0, 5.0, 5.0))
    pipe.on_quote(Quote("venue_b", "BTC/USDT", T0, 1.0, 2.0, 5.0, 5.0))
    pipe.on_bar(bar(1, 100.0))
    assert len(quotes.seen) == 2 and len(bars.seen) == 1


def test_subscriptions_route_bars_by_venue_and_instrument(host: Any) -> None:
    btc = scripted("btc")
    eth = scripted("eth", instruments=("ETH/USDT",))
    every = Scripted(NoParams(), name="every")
    pipe = make_pipeline(host, strategies=[btc, eth, every])
    pipe.on_bar(bar(0, 100.0))
    pipe.on_bar(bar(0, 10.0, instrument="ETH/USDT"))
    pipe.on_bar(bar(0, 10.0, venue="venue_b", instrument="ETH/USDT"))
    assert len(btc.seen) == 1 and len(eth.seen) == 1 and len(every.seen) == 3


def test_poll_processes_live_reports_and_cancel_is_not_judged(host: Any,
                                                              recorder: Recorder) -> None:
    class Polled(SimVenue):
        def __init__(self) -> None:
            super().__init__(name="venue_a")
            self.inbox: list[ExecutionReport] = []

        def poll(self) -> Sequence[ExecutionReport]:
            out, self.inbox = self.inbox, []
            return out

    venue = Polled()
    pipe = make_pipeline(host, venues=[venue])
    pipe.on_bar(bar(0, 100.0))
    pipe.submit([OrderIntent("s1", "venue_a", "BTC/USDT", Side.BUY, 1.0, "p1",
                             order_type=OrderType.LIMIT, limit_price=99.0)], T0)
    venue.inbox.append(ExecutionReport("p1", OrderStatus.FILLED, T0 + 5, fill=Fill(
        "live-1", "p1", "venue_a", "BTC/USDT", Side.BUY, 1.0, 99.0, 0.1, T0 + 5)))
    pipe.poll(T0 + 10)
    assert pipe.portfolio.position("BTC/USDT", strategy="s1") == 1.0
    assert pipe.now_ns == T0 + 10
    pipe.submit([OrderIntent("s1", "venue_a", "BTC/USDT", Side.SELL, 1.0, "p2",
                             order_type=OrderType.LIMIT, limit_price=101.0)], T0 + 10)
    pipe.risk.halt("maintenance")
    pipe.cancel("p2", T0 + 11)  # cancels pass even when halted
    assert pipe.orders["p2"].status is OrderStatus.CANCELLED
    pipe.cancel("p2", T0 + 12)  # unknown/closed: nothing happens
    pipe.cancel("never", T0 + 12)


def test_snapshot_keeps_client_order_ids_unique_across_restarts(host: Any) -> None:
    pipe = make_pipeline(host, strategies=[scripted()])
    ctx = pipe.contexts["s1"]
    first = [ctx.new_client_order_id() for _ in range(3)]
    state = pipe.snapshot()
    restarted = make_pipeline(host, strategies=[scripted()])
    restarted.restore(state)
    assert restarted.contexts["s1"].new_client_order_id() not in first
    assert restarted.contexts["s1"].new_client_order_id() == "s1-run1-5"


# -- build_pipeline ------------------------------------------------------------------------------


def _plugin_host_with_scripted() -> bot_core.PluginHost:
    class TestPlugin:
        BOT_CORE_API = ">=1.0,<2"

        @staticmethod
        @bot_core.hookimpl
        def bot_core_register_strategies(register: Any) -> None:
            register(Scripted)

    return bot_core.load_plugins(environ={}, builtins=[("pipeline_test", TestPlugin)])


def _write_config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "bot.toml"
    path.write_text(
        'extends = "balanced"\nuniverse = "demo"\n'
        "[strategies.mean_reversion]\nenabled = false\n"
        "[strategies.vol_target]\nenabled = false\n"
        "[strategies.cross_arb]\nenabled = false\n" + extra,
        encoding="utf-8",
    )
    return path


def test_build_pipeline_wires_config_components(tmp_path: Path) -> None:
    host = _plugin_host_with_scripted()
    path = _write_config(tmp_path, """
[strategies.mine]
plugin = "scripted"
instruments = ["BTC/USDT"]
venues = ["venue_a"]

[risk.check_settings.stale_data]
max_age_s = 90
""")
    resolved = resolve_config(path, environ={})
    run = RunInfo("r", "backtest", T0, resolved.config)
    pipe = build_pipeline(resolved, host, run, venue_overrides={"venue_b": SimVenue(name="venue_b")})
    assert list(pipe.strategies) == ["mine"]
    assert pipe.strategies["mine"].instruments == ("BTC/USDT",)
    assert type(pipe.venues["venue_a"]).id == "paper"
    assert isinstance(pipe.venues["venue_b"], SimVenue)
    assert [c.id for c in pipe.risk.checks] == resolved.config.risk.checks
    stale = next(c for c in pipe.risk.checks if c.id == "stale_data")
    assert stale.settings.max_age_s == 90  # type: ignore[attr-defined]
    assert pipe.portfolio.equity == resolved.config.runtime.initial_equity


def test_build_pipeline_takes_given_strategies_in_the_configs_order(tmp_path: Path) -> None:
    host = _plugin_host_with_scripted()
    path = _write_config(tmp_path, """
[strategies.first]
plugin = "scripted"
instruments = ["BTC/USDT"]
venues = ["venue_a"]

[strategies.second]
plugin = "scripted"
instruments = ["BTC/USDT"]
venues = ["venue_a"]

[strategies.third]
plugin = "scripted"
instruments = ["BTC/USDT"]
venues = ["venue_a"]
""")
    resolved = resolve_config(path, environ={})
    given = Scripted(NoParams(), name="second", instruments=["BTC/USDT"], venues=["venue_a"])
    pipe = build_pipeline(resolved, host, RunInfo("r", "backtest", T0, resolved.config),
                          strategy_overrides={"second": given})
    assert list(pipe.strategies) == ["first", "second", "third"]
    assert pipe.strategies["second"] is given
    # the given strategy is subscribed and started like the ones built from the config
    pipe.start()
    pipe.on_bar(Bar("venue_a", "BTC/USDT", T0, 100.0, 101.0, 99.0, 100.0, 1e6))
    assert given.started == 1 and len(given.seen) == 1
    assert [len(s.seen) for s in pipe.strategies.values()] == [1, 1, 1]


def test_build_pipeline_names_every_unknown_component(tmp_path: Path) -> None:
    host = _plugin_host_with_scripted()
    path = _write_config(tmp_path, """
[strategies.mine]
plugin = "nope"
instruments = ["BTC/USDT"]
venues = ["venue_a"]

[strategies.other]
plugin = "scripted"
instruments = ["BTC/USDT"]
venues = ["venue_a"]
params = { bogus = 1 }

[venues.venue_c]
adapter = "ghost"

[risk]
checks = ["max_position", "no_such_check", "fat_finger"]

[risk.check_settings.fat_finger]
max_price_deviation_pct = -1
""")
    resolved = resolve_config(path, environ={})
    with pytest.raises(ConfigError) as err:
        build_pipeline(resolved, host, RunInfo("r", "backtest", T0, resolved.config))
    text = str(err.value)
    assert f"{path}: strategies.mine.plugin: no installed strategy has this id" in text
    assert "strategies.other.params.bogus" in text
    assert "venues.venue_c.adapter: no installed exchange adapter has this id" in text
    assert "risk.checks: no installed risk check has this id" in text and "no_such_check" in text
    assert "risk.check_settings.fat_finger.max_price_deviation_pct" in text


def test_strategy_context_reads_the_bot(host: Any) -> None:
    strat = scripted()
    pipe = make_pipeline(host, strategies=[strat])
    ctx = pipe.contexts["s1"]
    pipe.on_bar(bar(0, 123.0))
    assert ctx.now_ns == T0
    assert ctx.equity == 100_000.0
    assert ctx.last_price("BTC/USDT", "venue_a") == 123.0
    assert math.isnan(ctx.last_price("SOL/USDT"))
    assert dt.datetime.fromtimestamp(ctx.now_ns / 1e9, dt.UTC).year == 2023


def test_risk_rejection_reaches_the_strategy_as_a_rejected_report(host: Any, recorder: Recorder) -> None:
    strat = scripted()
    strat.plan = [[(Side.BUY, math.nan)]]  # invalid quantity: the engine rejects it
    venue = SimVenue(name="venue_a")
    pipe = make_pipeline(host, strategies=[strat], venues=[venue])
    pipe.on_bar(bar(0, 50_000.0))
    assert venue.received == []
    (report,) = strat.updates
    assert report.status is OrderStatus.REJECTED
    assert report.client_order_id == "s1-run1-1"
    assert report.reason == "risk:invalid_quantity"
    assert report.fill is None
