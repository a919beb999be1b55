"""``bot-core run``: bots trading side by side in demo, paper or live mode.

Each ``--config`` (or ``--preset``) is one bot, a sleeve with its own portfolio, risk engine and
pipeline; all of them run in one asyncio scheduler on one market data source (see
:mod:`bot_core.runtime`). A live table redraws in place; ``--json`` prints one JSON event per
line instead. SIGINT / SIGTERM stop gracefully (a second one forces exit).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot_core.errors import UsageError

if TYPE_CHECKING:
    from bot_core.runtime.clock import Clock

__all__ = ["add_parser", "parse_speed"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "run", help="run bots (demo, paper or live) with the multi-strategy scheduler",
        description="Run one bot per --config (or --preset) side by side, each with its own "
        "portfolio and risk limits, on one market data source. Demo mode replays the dataset "
        "library (the shipped demo data for --preset) through the paper venue.")
    p.add_argument("--config", action="append", type=Path, default=[], metavar="FILE",
                   help="a bot's config file (repeatable: one bot per file)")
    p.add_argument("--preset", action="append", default=[], metavar="NAME",
                   help="run the shipped demo universe under this risk profile (repeatable)")
    p.add_argument("--mode", default=None, metavar="MODE",
                   help="demo, paper or live (default: the configs' runtime.mode)")
    p.add_argument("--speed", default=None, metavar="X",
                   help="replays only: X times the recorded pace, or max (default: 1)")
    p.add_argument("--cycles", type=int, default=None, metavar="N",
                   help="stop cleanly after N cycles (a cycle: one bar of the finest timeframe)")
    p.add_argument("--duration", default=None, metavar="SPAN",
                   help="stop cleanly after this much market time (90s, 10m, 2h, 1d)")
    p.add_argument("--confirm", action="append", default=[], metavar="BOT",
                   help="live mode: the bot's name, to confirm real orders (once per bot)")
    p.add_argument("--json", action="store_true", help="one JSON event per line")
    p.add_argument("--metrics-addr", default=None, metavar="HOST:PORT",
                   help="serve Prometheus /metrics here (PORT alone: loopback; default: "
                   "telemetry.metrics_addr, else not served)")
    p.add_argument("--grpc-addr", default=None, metavar="HOST:PORT",
                   help="serve the gRPC Telemetry and Control services here, with mutual TLS "
                   "from [telemetry.tls] (default: telemetry.grpc_addr, else not served)")
    p.set_defaults(handler=run)


def parse_speed(text: str | None) -> float | None:
    """``max`` -> None (as fast as possible), else a positive factor; UsageError otherwise."""
    if text is None:
        return 1.0
    if text.strip().lower() == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (value > 0 and value < float("inf")):
        raise UsageError(f"--speed {text}: expected a positive number or max")
    return value


def _clock(mode: str, speed_text: str | None) -> Clock:
    from bot_core.runtime.clock import ScaledClock, SimulatedClock, WallClock

    if mode != "demo":
        if speed_text is not None:
            raise UsageError(f"--speed: {mode} mode runs on live data at the wall clock; only "
                             f"demo replays can be sped up")
        return WallClock()
    speed = parse_speed(speed_text)
    return SimulatedClock() if speed is None else ScaledClock(0, speed)


def run(args: argparse.Namespace) -> int:
    from bot_core.control.runtime_services import RuntimeServices
    from bot_core.plugins import load_plugins
    from bot_core.runtime.session import parse_duration, plan_run

    if args.cycles is not None and args.cycles < 1:
        raise UsageError(f"--cycles {args.cycles}: must be at least 1")
    duration = parse_duration(args.duration) if args.duration is not None else None
    host = load_plugins()
    host.check()
    plan = plan_run(host, configs=args.config, presets=args.preset, mode=args.mode)
    clock = _clock(plan.mode, args.speed)
    _check_promotion(host, plan, args.confirm)
    services = RuntimeServices.open(plan.configs, plan.sources, metrics_addr=args.metrics_addr,
                                    grpc_addr=args.grpc_addr)
    try:
        return _run(args, host, plan, clock, duration, services)
    finally:
        if services is not None:
            services.close()


def _run(args: argparse.Namespace, host: Any, plan: Any, clock: Clock, duration: int | None,
         services: Any) -> int:
    import asyncio

    from bot_core.cli import settle_heap
    from bot_core.runtime.session import build_runtime

    notices = None
    if args.json:
        from bot_core.runtime.events import JsonLinesSink

        sink: Any = JsonLinesSink()
    else:
        from bot_core.cli.run_view import NoticeSink

        sink = notices = NoticeSink()
    scheduler = build_runtime(host, plan, clock=clock, sink=sink, max_cycles=args.cycles,
                              duration_ns=duration)
    if services is not None:
        services.attach(scheduler)
        if args.json:
            sink.emit("telemetry", "", clock.now_ns(), **services.describe())
        else:
            services.announce()
    settle_heap()
    if args.json:
        scheduler.on_cycle = _json_status
        return asyncio.run(_drive(scheduler, services))
    from bot_core.cli.run_view import LiveView

    assert notices is not None
    title = f"bot-core run · {plan.mode} · {plan.source_id} ·"
    with LiveView(title, notices) as view:
        scheduler.on_cycle = view.update
        code = asyncio.run(_drive(scheduler, services))
        view.update(scheduler, force=True)
    return code


async def _drive(scheduler: Any, services: Any = None) -> int:
    import asyncio

    from bot_core.runtime.shutdown import install_signal_handlers

    if services is not None:  # control calls run on this loop, between two events
        services.bind_loop(asyncio.get_running_loop())
    remove = install_signal_handlers(scheduler)
    try:
        await scheduler.run()
    finally:
        remove()
    return int(scheduler.exit_code)


def _json_status(scheduler: Any) -> None:
    ts = scheduler.stats.last_cycle_ns
    for sleeve in scheduler.sleeves:
        row = sleeve.status()
        bot = row.pop("bot")
        scheduler.sink.emit("status", bot, ts, cycle=scheduler.stats.cycles, **row)


def _check_promotion(host: Any, plan: Any, confirm: list[str]) -> None:
    """Every bot passes ``check_can_start`` (promoted to its mode; live: confirmed by name and
    plugins pinned) before anything of the run is written."""
    from bot_core.runtime.promotion import check_can_start

    if confirm and plan.mode != "live":
        raise UsageError("--confirm: only live mode asks for a confirmation")
    for resolved in plan.configs:
        name = resolved.config.name
        given = name if name in confirm else (confirm[0] if confirm else None)
        check_can_start(resolved.config, plan.mode, given, plugins=host)
