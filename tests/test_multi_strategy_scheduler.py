"""The multi-strategy scheduler in simulated time: sleeves side by side, isolation, coalescing,
shutdown with open orders and resource shedding, on the shipped demo data through the replay
source, the real pipeline, risk engine and paper venue. Nothing sleeps: the clock is a
SimulatedClock and the stopwatch of the time budget is that clock too, so a "slow" strategy is
one that moves the clock forward while it decides."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any, ClassVar

import pytest

import bot_core
from bot_core import OrderIntent, OrderType, Side, Strategy, StrategySettings
from bot_core.exchange import ExchangeAdapter
from bot_core.orders import ExecutionReport, Fill, OrderStatus
from bot_core.runtime.clock import SimulatedClock
from bot_core.runtime.events import ListSink
from bot_core.runtime.session import build_runtime, plan_run
from bot_core_paper.venue import PaperVenue

MINUTE = 60 * 1_000_000_000


class Probe(Strategy):
    """Scripted behaviour per instance name, so one class covers every test."""

    id: ClassVar[str] = "probe"
    Settings: ClassVar[type[StrategySettings]] = StrategySettings
    data_kind = "ohlcv"
    clock: ClassVar[SimulatedClock | None] = None
    seen: ClassVar[dict[str, list[int]]] = {}
    lifecycle: ClassVar[dict[str, list[Any]]] = {}

    def warm_up(self, history: Any) -> None:
        Probe.lifecycle.setdefault(self.name, []).append(("warm_up", history))

    def on_start(self, ctx: Any) -> None:
        Probe.lifecycle.setdefault(self.name, []).append(("start", ctx.now_ns))

    def on_bar(self, bar: Any, ctx: Any) -> Any:
        if not Probe.seen.get(self.name):
            Probe.lifecycle.setdefault(self.name, []).append(("first_bar", bar))
        seen = Probe.seen.setdefault(self.name, [])
        seen.append(bar.ts_ns)
        calls = len(seen)
        if self.name.startswith("raiser"):
            if calls == 1:  # a position (market) and a resting order, then it breaks
                return [OrderIntent(self.name, bar.venue, bar.instrument, Side.BUY, 0.01,
                                    ctx.new_client_order_id(), ts_ns=bar.ts_ns),
                        _resting(self.name, bar, ctx)]
            raise RuntimeError(f"boom #{calls}")
        if self.name.startswith("forger"):  # an intent in another strategy's name
            return [OrderIntent("mean_reversion", bar.venue, bar.instrument, Side.BUY, 1.0,
                                ctx.new_client_order_id(), ts_ns=bar.ts_ns)]
        if self.name.startswith("garbage"):
            return "buy everything"
        if self.name.startswith("slow") and calls == 2:
            assert Probe.clock is not None
            Probe.clock.advance(5 * MINUTE)  # this call "takes" five bars
        if self.name.startswith("resting") and calls == 1:
            return [_resting(self.name, bar, ctx)]
        return []


def _resting(name: str, bar: Any, ctx: Any) -> OrderIntent:
    return OrderIntent(name, bar.venue, bar.instrument, Side.BUY, 0.01,
                       ctx.new_client_order_id(), order_type=OrderType.LIMIT,
                       limit_price=round(bar.close * 0.95, 2), ts_ns=bar.ts_ns)


class ProbePlugin:
    BOT_CORE_API = ">=1.0,<2"

    @staticmethod
    @bot_core.hookimpl
    def bot_core_register_strategies(register: Any) -> None:
        register(Probe)


@pytest.fixture
def host() -> bot_core.PluginHost:
    Probe.seen = {}
    Probe.lifecycle = {}
    Probe.clock = None
    return bot_core.load_plugins(builtins=[("runtime_probe", ProbePlugin)])


def _config(tmp_path: Path, name: str, preset: str, body: str, *, keep: tuple[str, ...] = (),
            runtime: str = "") -> Path:
    """A bot on the demo universe with only ``keep`` of the preset's strategies enabled."""
    disabled = "".join(f"[strategies.{s}]\nenabled = false\n"
                       for s in ("mean_reversion", "vol_target", "cross_arb") if s not in keep)
    path = tmp_path / f"{name}.toml"
    path.write_text(f'extends = "{preset}"\nuniverse = "demo"\nname = "{name}"\n[runtime]\n{runtime}\n'
                    f"{disabled}{body}")
    return path


def _probe(name: str, instrument: str = "BTC/USDT", extra: str = "") -> str:
    return (f'[strategies.{name}]\nplugin = "probe"\ninstruments = ["{instrument}"]\n'
            f'venues = ["venue_a"]\n{extra}\n')


def _run(host: bot_core.PluginHost, configs: list[Path], cycles: int, *,
         on_cycle: Any = None) -> tuple[Any, ListSink, SimulatedClock]:
    clock = SimulatedClock()
    Probe.clock = clock
    sink = ListSink()
    plan = plan_run(host, configs=configs)
    scheduler = build_runtime(host, plan, clock=clock, sink=sink, max_cycles=cycles,
                              stopwatch=clock.now_ns, record_runs=False, on_cycle=on_cycle)
    asyncio.run(scheduler.run())
    return scheduler, sink, clock


def test_two_sleeves_under_different_presets_never_see_each_others_positions(
        tmp_path: Path, host: bot_core.PluginHost) -> None:
    a = _config(tmp_path, "bold", "aggressive", "", keep=("vol_target",))
    b = _config(tmp_path, "careful", "conservative", "", keep=("vol_target",))
    scheduler, sink, clock = _run(host, [a, b], 120)
    bold, careful = scheduler.sleeves
    assert scheduler.reason == "completed" and scheduler.stats.cycles == 120
    assert clock.now_ns() == scheduler.stats.started_ns + 120 * MINUTE  # simulated time
    assert bold.pipeline.portfolio is not careful.pipeline.portfolio
    assert bold.pipeline.risk is not careful.pipeline.risk
    for sleeve in (bold, careful):
        fills = [f for f in sink.of("fill") if f["bot"] == sleeve.name]
        assert fills, f"{sleeve.name} traded nothing"
        for instrument in ("BTC/USDT", "ETH/USDT"):
            booked = sum(f["quantity"] * (1 if f["side"] == "buy" else -1) for f in fills
                         if f["instrument"] == instrument)
            held = sleeve.pipeline.portfolio.position(instrument, "venue_a", "vol_target")
            assert held == pytest.approx(booked, abs=1e-12)
    # the same strategy under two risk profiles holds different positions (aggressive: 0.15
    # of equity per instrument at most, conservative 0.04), each sized on its own equity
    ratio = bold.pipeline.portfolio.position("BTC/USDT", "venue_a", "vol_target") / \
        careful.pipeline.portfolio.position("BTC/USDT", "venue_a", "vol_target")
    assert ratio > 1.5


def test_a_raising_strategy_is_quarantined_and_the_others_keep_trading(
        tmp_path: Path, host: bot_core.PluginHost) -> None:
    config = _config(tmp_path, "mixed", "balanced", _probe("raiser") + _probe("resting"),
                     keep=("vol_target",),
                     runtime='quarantine_faults = 3\non_shutdown = "keep"')
    scheduler, sink, _ = _run(host, [config], 60)
    (sleeve,) = scheduler.sleeves
    raiser = sleeve.health["raiser"]
    assert raiser.quarantined.startswith("3 faults")
    assert "RuntimeError: boom #4" in raiser.quarantined
    assert len(Probe.seen["raiser"]) == 4  # never called again once quarantined
    (quarantine,) = sink.of("quarantine")
    assert quarantine["strategy"] == "raiser" and quarantine["cancelled"] == 1
    pipeline = sleeve.pipeline
    assert not [o for o in pipeline.open_orders.values() if o.intent.strategy_id == "raiser"]
    # its position stays, under the risk engine, and nothing new comes from it
    assert pipeline.portfolio.position("BTC/USDT", "venue_a", "raiser") == pytest.approx(0.01)
    after = quarantine["ts_ns"]
    assert not [d for d in sink.of("decision") if d["strategy"] == "raiser"
                and d["ts_ns"] > after]
    # the others go on: the resting order of the other probe is untouched, vol_target decides
    assert [o.intent.strategy_id for o in pipeline.open_orders.values()] == ["resting"]
    assert len(Probe.seen["resting"]) == 60
    assert sleeve.health["vol_target"].calls == 120 and not sleeve.health["vol_target"].quarantined
    assert scheduler.exit_code == 0


def test_malformed_intents_are_faults_and_never_reach_risk(
        tmp_path: Path, host: bot_core.PluginHost) -> None:
    config = _config(tmp_path, "bad", "balanced",
                     _probe("forger") + _probe("garbage", "ETH/USDT"), keep=("mean_reversion",),
                     runtime="quarantine_faults = 2")
    scheduler, sink, _ = _run(host, [config], 10)
    (sleeve,) = scheduler.sleeves
    for name in ("forger", "garbage"):
        health = sleeve.health[name]
        assert health.malformed == 2 and health.quarantined
    assert "intent for strategy 'mean_reversion'" in sleeve.health["forger"].last_fault
    assert "returned str" in sleeve.health["garbage"].last_fault
    assert not [d for d in sink.of("decision") if d["quantity"] == 1.0]  # the forged order
    assert not sleeve.health["mean_reversion"].quarantined


def test_every_strategy_quarantined_stops_the_bot_with_exit_code_1(
        tmp_path: Path, host: bot_core.PluginHost) -> None:
    config = _config(tmp_path, "doomed", "balanced", _probe("raiser"),
                     runtime="quarantine_faults = 2")
    scheduler, sink, _ = _run(host, [config], 50)
    assert scheduler.reason == "quarantined"
    assert scheduler.stats.cycles < 50
    assert scheduler.exit_code == 1
    assert sink.of("stop")[0]["reason"] == "quarantined"


def test_an_overrunning_strategy_sees_the_latest_bar_and_the_skips_are_counted(
        tmp_path: Path, host: bot_core.PluginHost) -> None:
    slow = _config(tmp_path, "slowbot", "balanced", _probe("slow"),
                   runtime="quarantine_faults = 5")
    fast = _config(tmp_path, "fastbot", "balanced", _probe("steady"))
    scheduler, sink, _ = _run(host, [slow, fast], 20)
    slow_sleeve, fast_sleeve = scheduler.sleeves
    health = slow_sleeve.health["slow"]
    assert health.overruns == 1 and not health.quarantined
    (fault,) = sink.of("fault")
    assert fault["kind"] == "overrun" and "took 300000.0 ms" in fault["detail"]
    seen = Probe.seen["slow"]
    # bars 3..7 closed while call 2 ran: it gets only the latest of them (bar 7), then every bar
    assert seen[1] - seen[0] == MINUTE
    assert seen[2] - seen[1] == 5 * MINUTE
    assert all(b - a == MINUTE for a, b in itertools.pairwise(seen[2:]))
    assert health.skipped_bars == 4 and scheduler.stats.skipped_bars == 4
    # the other bot, on time, got every bar; both risk engines saw every bar
    steady = Probe.seen["steady"]
    assert len(steady) == len(seen) + 4
    assert fast_sleeve.health["steady"].skipped_bars == 0
    last = seen[-1]
    for sleeve in (slow_sleeve, fast_sleeve):
        assert sleeve.pipeline.portfolio.last_update_ns("BTC/USDT", "venue_a") == last


@pytest.mark.parametrize(("policy", "cancelled", "kept"), [("cancel", 2, 0), ("keep", 0, 2)])
def test_shutdown_with_open_orders_follows_on_shutdown(
        tmp_path: Path, host: bot_core.PluginHost, policy: str, cancelled: int,
        kept: int) -> None:
    config = _config(tmp_path, "rest", "balanced",
                     _probe("resting_a") + _probe("resting_b", "ETH/USDT"),
                     runtime=f'on_shutdown = "{policy}"')
    stopped: list[str] = []

    class StopProbe:
        @staticmethod
        @bot_core.hookimpl
        def bot_core_on_stop(run: Any, reason: str) -> None:
            stopped.append(reason)

    host.register_observer(StopProbe, name="stop_probe")

    def operator(scheduler: Any) -> None:
        if scheduler.stats.cycles == 5:
            scheduler.request_stop("interrupted: SIGTERM")

    scheduler, sink, _ = _run(host, [config], 100, on_cycle=operator)
    (sleeve,) = scheduler.sleeves
    assert scheduler.stats.cycles == 5 and scheduler.exit_code == 0
    (shutdown,) = sink.of("shutdown")
    assert (shutdown["cancelled"], shutdown["kept"], shutdown["open_before"]) == \
        (cancelled, kept, 2)
    assert len(sleeve.pipeline.open_orders) == kept
    assert stopped == ["interrupted: SIGTERM"]


def test_resource_breach_pauses_the_lowest_priority_first_and_recovery_resumes(
        tmp_path: Path, host: bot_core.PluginHost) -> None:
    from bot_core.runtime.resources import ResourceMonitor

    config = _config(tmp_path, "loaded", "balanced",
                     _probe("low", extra="priority = 10") + _probe("high", extra="priority = 90"),
                     runtime="[runtime.resource_limits]\nmax_open_orders = 2\n"
                             "sample_interval_s = 1\nrecovery_samples = 2\n")
    load = [5] * 3 + [0] * 20  # open orders the monitor reads, one entry per sample
    clock = SimulatedClock()
    sink = ListSink()
    plan = plan_run(host, configs=[config])
    scheduler = build_runtime(host, plan, clock=clock, sink=sink, max_cycles=20,
                              stopwatch=clock.now_ns, record_runs=False)
    limits = plan.configs[0].config.runtime.resource_limits
    scheduler.monitors = {"loaded": ResourceMonitor(limits, open_orders=lambda: load.pop(0))}
    asyncio.run(scheduler.run())
    shed = sink.of("shed")
    assert [(e["pause"], e["resume"]) for e in shed] == [
        (["loaded/low"], []), (["loaded/high"], []), ([], ["loaded/high"]), ([], ["loaded/low"])]
    assert "open_orders" in shed[0]["reason"]
    (sleeve,) = scheduler.sleeves
    # paused strategies got no bars; the risk engine and the venue saw every one
    assert len(Probe.seen["low"]) < len(Probe.seen["high"]) < 20
    assert sleeve.pipeline.portfolio.last_update_ns("BTC/USDT", "venue_a") == \
        scheduler.stats.last_cycle_ns - MINUTE


class FailingVenue(PaperVenue):
    """A paper venue whose market data handling breaks on its 10th bar (a venue bug)."""

    id: ClassVar[str] = "failing_paper"
    seen = 0

    def on_market_data(self, event: Any) -> Any:
        FailingVenue.seen += 1
        if FailingVenue.seen == 10:
            raise ConnectionError("venue feed handler crashed")
        return super().on_market_data(event)


class FailingVenuePlugin:
    BOT_CORE_API = ">=1.0,<2"

    @staticmethod
    @bot_core.hookimpl
    def bot_core_register_exchanges(register: Any) -> None:
        register(FailingVenue)


def test_an_error_outside_the_strategies_stops_that_bot_only(tmp_path: Path) -> None:
    host = bot_core.load_plugins(builtins=[("runtime_probe", ProbePlugin),
                                           ("failing_venue", FailingVenuePlugin)])
    Probe.seen = {}
    FailingVenue.seen = 0
    broken = _config(tmp_path, "broken", "balanced",
                     _probe("steady") + '[venues.venue_a]\nadapter = "failing_paper"\n')
    healthy = _config(tmp_path, "healthy", "balanced", _probe("steady_too"))
    stopped: dict[str, str] = {}

    class StopProbe:
        @staticmethod
        @bot_core.hookimpl
        def bot_core_on_stop(run: Any, reason: str) -> None:
            stopped[run.config.name] = reason

    host.register_observer(StopProbe, name="stop_probe")
    scheduler, sink, _ = _run(host, [broken, healthy], 30)
    bad, good = scheduler.sleeves
    assert bad.failed == "error: ConnectionError: venue feed handler crashed"
    assert stopped == {"broken": bad.failed, "healthy": "completed"}
    # its strategy decided on the 9 bars before the failure; the other bot on every bar
    assert len(Probe.seen["steady"]) == 9 and len(Probe.seen["steady_too"]) == 30
    assert not good.failed and scheduler.reason == "completed" and scheduler.exit_code == 0
    (fault,) = [f for f in sink.of("fault") if f["bot"] == "broken"]
    assert "ConnectionError" in fault["detail"]


def test_warm_up_history_comes_before_the_first_live_bar(
        tmp_path: Path, host: bot_core.PluginHost) -> None:
    config = _config(tmp_path, "warm", "balanced", _probe("warm", extra="warm_up_bars = 90"),
                     runtime="source_settings = { start = 2024-01-02T00:00:00Z }")
    scheduler, _, _ = _run(host, [config], 3)
    (warm_up, history), (start, _), (first, bar) = Probe.lifecycle["warm"]
    assert (warm_up, start, first) == ("warm_up", "start", "first_bar")
    frame = history["BTC/USDT"]
    assert len(frame) == 90
    # the last warm-up bar closed by the run's start; the first live bar is the next one
    assert frame.index[-1].value + MINUTE <= scheduler.stats.started_ns
    assert bar.ts_ns == frame.index[-1].value + MINUTE


def test_each_strategy_gets_bars_of_its_own_timeframe(
        tmp_path: Path, host: bot_core.PluginHost) -> None:
    config = _config(tmp_path, "frames", "balanced",
                     _probe("minutely") + _probe("five", extra='timeframe = "5m"'))
    scheduler, _, _ = _run(host, [config], 20)
    (sleeve,) = scheduler.sleeves
    assert scheduler.cycle_ns == MINUTE  # the finest timeframe in use
    minutely, five = Probe.seen["minutely"], Probe.seen["five"]
    assert len(minutely) == 20 and len(five) == 4
    assert all(b - a == 5 * MINUTE for a, b in itertools.pairwise(five))
    assert set(five) <= set(minutely)
    # the venue and the risk engine follow the 1-minute bars
    assert sleeve.pipeline.portfolio.last_update_ns("BTC/USDT", "venue_a") == minutely[-1]


class LazyVenue(ExchangeAdapter):
    """A live venue whose orders fill only when polled a second time (as a REST exchange)."""

    id: ClassVar[str] = "lazy_live"
    simulated: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending: dict[str, tuple[Any, int]] = {}
        self.polls = 0

    def submit(self, order: Any) -> Any:
        self.pending[order.client_order_id] = (order, 0)
        return [ExecutionReport(order.client_order_id, OrderStatus.ACCEPTED, order.intent.ts_ns)]

    def cancel(self, client_order_id: str) -> Any:
        self.pending.pop(client_order_id, None)
        return [ExecutionReport(client_order_id, OrderStatus.CANCELLED, 0)]

    def balances(self) -> Any:
        return {"USDT": 100_000.0}

    def poll(self) -> Any:
        self.polls += 1
        reports = []
        for cid, (order, seen) in list(self.pending.items()):
            if seen == 0:
                self.pending[cid] = (order, 1)
                continue
            del self.pending[cid]
            intent = order.intent
            fill = Fill(f"t-{cid}", cid, intent.venue, intent.instrument, intent.side,
                        order.quantity, 42_000.0, 0.0, intent.ts_ns + 1)
            reports.append(ExecutionReport(cid, OrderStatus.FILLED, intent.ts_ns + 1, fill=fill))
        return reports


class LazyVenuePlugin:
    BOT_CORE_API = ">=1.0,<2"

    @staticmethod
    @bot_core.hookimpl
    def bot_core_register_exchanges(register: Any) -> None:
        register(LazyVenue)


class LiveBuyer(Strategy):
    """Buys once on the first bar and notes its position on every bar."""

    id: ClassVar[str] = "live_buyer"
    Settings: ClassVar[type[StrategySettings]] = StrategySettings
    data_kind = "ohlcv"
    positions: ClassVar[list[float]] = []

    def on_bar(self, bar: Any, ctx: Any) -> Any:
        LiveBuyer.positions.append(ctx.position(bar.instrument, "lazy"))
        if len(LiveBuyer.positions) > 1:
            return []
        return [OrderIntent(self.name, "lazy", bar.instrument, Side.BUY, 0.01,
                            ctx.new_client_order_id(), ts_ns=bar.ts_ns)]


class LiveBuyerPlugin:
    BOT_CORE_API = ">=1.0,<2"

    @staticmethod
    @bot_core.hookimpl
    def bot_core_register_strategies(register: Any) -> None:
        register(LiveBuyer)


@pytest.mark.parametrize(("poll_s", "filled_by_bar"), [(1.0, 2), (3600.0, 3)])
def test_a_live_venue_with_open_orders_is_polled_between_cycles(
        tmp_path: Path, poll_s: float, filled_by_bar: int) -> None:
    from bot_core.config.resolve import resolve_config
    from bot_core.runtime.session import RunPlan

    host = bot_core.load_plugins(builtins=[("lazy", LazyVenuePlugin),
                                           ("live_buyer", LiveBuyerPlugin)])
    LiveBuyer.positions = []
    config = _config(tmp_path, "livebot", "balanced",
                     '[venues.lazy]\nadapter = "lazy_live"\n[strategies.buyer]\n'
                     'plugin = "live_buyer"\ninstruments = ["BTC/USDT"]\nvenues = ["lazy"]\n',
                     runtime=f"venue_poll_s = {poll_s}")
    # a live bot on a replay (the CLI would ask for a live source, a promotion and --confirm)
    plan = RunPlan("live", [resolve_config(config, plugins=host)], [str(config)], "replay")
    clock = SimulatedClock()
    scheduler = build_runtime(host, plan, clock=clock, sink=ListSink(), max_cycles=3,
                              stopwatch=clock.now_ns, record_runs=False)
    asyncio.run(scheduler.run())
    # the order is sent at bar 1's close; the venue fills it on its second poll: a second of
    # market time later when polled every second, else at the end of cycle 2 (seen at bar 3)
    assert LiveBuyer.positions.index(0.01) + 1 == filled_by_bar
    venue = scheduler.sleeves[0].pipeline.venues["lazy"]
    assert venue.polls >= 2 and not venue.pending
