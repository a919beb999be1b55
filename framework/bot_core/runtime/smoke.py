"""``bot-core smoke``: every installed strategy, under every shipped preset, through every stage.

For each shipped risk profile (``conservative``, ``balanced``, ``aggressive``) and each
installed strategy plugin, one bot runs that strategy alone under the profile's limits, all of
them side by side in one scheduler on the shipped data, for a few cycles. Each (profile,
strategy) is then judged stage by stage:

=============  ===================================================================================
stage          passes when
=============  ===================================================================================
source         every feed the strategy subscribes to delivered at least one event
strategy       it was called and never faulted (no exception, malformed intent or overrun)
risk           the risk engine approved at least one of its orders
venue          the venue filled at least one of them
portfolio      its book holds exactly what its fills add up to, and equity is a finite number
=============  ===================================================================================

Until a strategy's own orders have a fill, a probe runs beside it: a market order of 0.1 % of
equity on its first feed, booked to ``smoke:<strategy>`` and closed again the next cycle. The
risk, venue and portfolio stages judge the strategy's own orders when one of them filled, else
the probe's, and the table says which: a signal that did not fire in so few cycles, or fired so
late that no bar was left to fill it, does not fail a strategy that works. A strategy the
profile disables (cross_arb under conservative) is skipped, and so is the ``manual`` profile,
which has no limits of its own: smoke a config that extends it with
``bot-core smoke --config FILE``.

In paper mode the configs take their market data from a smoke venue, a local stand-in for the
real venues that a plugin provides (:mod:`bot_core.runtime.smoke_venues`), with its bar length.
"""

from __future__ import annotations

import math
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot_core.orders import OrderIntent, Side

if TYPE_CHECKING:
    from bot_core.plugins import PluginHost
    from bot_core.runtime.clock import Clock
    from bot_core.runtime.scheduler import Scheduler
    from bot_core.runtime.sleeve import Sleeve
    from bot_core.runtime.smoke_venues import SmokeOverlay

__all__ = ["SMOKE_PRESETS", "STAGES", "SmokeRow", "run_smoke"]

SMOKE_PRESETS = ("conservative", "balanced", "aggressive")
STAGES = ("source", "strategy", "risk", "venue", "portfolio")
PROBE_SHARE = 0.001
"""Probe order notional, share of equity."""


@dataclass(slots=True)
class SmokeRow:
    preset: str
    strategy: str
    stage: str
    status: str
    """``ok``, ``FAIL`` or ``skip``."""
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"preset": self.preset, "strategy": self.strategy, "stage": self.stage,
                "status": self.status, "detail": self.detail}


class _Tally:
    """Event sink counting verdicts and fills per (bot, strategy id)."""

    def __init__(self) -> None:
        self.verdicts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self.fills: dict[tuple[str, str], float] = defaultdict(float)
        self.fill_count: Counter[tuple[str, str]] = Counter()

    def emit(self, event: str, bot: str, ts_ns: int, **fields: Any) -> None:
        if event == "decision":
            self.verdicts[(bot, fields["strategy"])][fields["verdict"]] += 1
        elif event == "fill":
            key = (bot, fields["strategy"])
            sign = 1.0 if fields["side"] == "buy" else -1.0
            self.fills[key] += sign * fields["quantity"]
            self.fill_count[key] += 1


class _Prober:
    """After each cycle, sends probe orders for strategies none of whose own orders filled yet;
    a probe once started runs to its close."""

    def __init__(self, tally: _Tally) -> None:
        self.tally = tally
        self.sent: dict[tuple[str, str], int] = {}

    def __call__(self, scheduler: Scheduler) -> None:
        for sleeve in scheduler.sleeves:
            if sleeve.stop_reason:
                continue
            for name in sleeve.guards:
                self._probe(scheduler, sleeve, name)

    def _probe(self, scheduler: Scheduler, sleeve: Sleeve, name: str) -> None:
        probe = f"smoke:{name}"
        step = self.sent.get((sleeve.name, name), 0)
        if step == 0 and self.tally.fill_count.get((sleeve.name, name), 0):
            return  # its own orders fill: no probe needed
        held = self.tally.fills.get((sleeve.name, probe), 0.0)
        if step >= 2 or (step == 1 and not held):
            return  # done, or the buy is not filled yet
        sub = sleeve.subscriptions[name][0]
        portfolio = sleeve.pipeline.portfolio
        price = portfolio.last_price(sub.instrument, sub.venue)
        if not (price > 0 and math.isfinite(price)):
            return
        # decided on the feed's last event and stamped with its time, as the pipeline stamps a
        # strategy's order (on the wall clock a cycle's end is past the next bar's open, which
        # would keep the probe from filling on that bar)
        now = next((s.last_event_ns for s in scheduler.source.status() if s.subscription == sub
                    and s.last_event_ns), scheduler.clock.now_ns())
        quantity = abs(held) if step == 1 else PROBE_SHARE * portfolio.equity / price
        side = Side.SELL if step == 1 else Side.BUY
        sleeve.pipeline.submit([OrderIntent(probe, sub.venue, sub.instrument, side, quantity,
                                            f"{probe}-{step}", ts_ns=now,
                                            reduce_only=step == 1, tag="smoke_probe")], now)
        self.sent[(sleeve.name, name)] = step + 1


def _configs(host: PluginHost, folder: Path, presets: tuple[str, ...],
             overlay: SmokeOverlay | None = None
             ) -> tuple[list[tuple[str, str, Path]], list[SmokeRow]]:
    """One config per (preset, strategy plugin): the preset with only that strategy on, and
    the smoke venue's ``overlay`` (its market data; the same for all, as one process needs)."""
    from bot_core.config.resolve import resolve_config
    from bot_core.runtime.smoke_venues import overlay_lines

    made: list[tuple[str, str, Path]] = []
    skipped: list[SmokeRow] = []
    bases = {preset: resolve_config(preset=preset, universe="demo", plugins=host).config
             for preset in presets}
    shared = [] if overlay is None else \
        overlay_lines(overlay, sorted({v for base in bases.values() for v in base.venues}))
    for preset, base in bases.items():
        for plugin in sorted(host.strategies):
            defined = [n for n, s in base.strategies.items() if s.plugin == plugin]
            lines = [f'extends = "{preset}"', 'universe = "demo"',
                     f'name = "smoke-{preset}-{plugin}"']
            for other in base.strategies:
                if other not in defined:
                    lines += [f"[strategies.{other}]", "enabled = false"]
            if defined and not base.strategies[defined[0]].enabled:
                skipped += [SmokeRow(preset, plugin, stage, "skip", f"disabled in preset {preset}")
                            for stage in STAGES]
                continue
            for other in defined[1:]:
                lines += [f"[strategies.{other}]", "enabled = false"]
            kind = host.strategy(plugin).data_kind
            own: list[str] = []  # the table of the instance the smoke runs
            if not defined:
                venues = list(base.venues) if kind == "quotes" else list(base.venues)[:1]
                own += [f'plugin = "{plugin}"',
                        f"instruments = {list(base.instruments)!r}".replace("'", '"'),
                        f"venues = {venues!r}".replace("'", '"')]
            if overlay is not None and overlay.timeframe and kind == "ohlcv":
                own.append(f'timeframe = "{overlay.timeframe}"')
            if own:
                lines += [f"[strategies.{defined[0] if defined else f'smoke_{plugin}'}]", *own]
            lines += shared
            path = folder / f"{preset}-{plugin}.toml"
            path.write_text("\n".join(lines) + "\n")
            made.append((preset, plugin, path))
    return made, skipped


def _verdicts(counts: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def _judge(preset: str, label: str, sleeve: Sleeve, name: str, scheduler: Scheduler,
           tally: _Tally) -> list[SmokeRow]:
    health = sleeve.health[name]
    rows: list[SmokeRow] = []

    def row(stage: str, ok: bool, detail: str) -> None:
        rows.append(SmokeRow(preset, label, stage, "ok" if ok else "FAIL", detail))

    feeds = {s.subscription: s for s in scheduler.source.status()}
    mine = [feeds[s] for s in sleeve.subscriptions[name] if s in feeds]
    quiet = [str(s.subscription) for s in mine if not s.delivered]
    row("source", bool(mine) and not quiet,
        f"{sum(s.delivered for s in mine):,} events from {len(mine)} feeds"
        + (f"; nothing from {', '.join(quiet)}" if quiet else ""))
    faults = health.errors + health.malformed + health.overruns
    row("strategy", health.calls > 0 and not faults and not health.quarantined,
        f"{health.calls} calls, {health.decisions} intents"
        + (f"; {faults} faults, last: {health.last_fault}" if faults else ""))
    own = tally.verdicts.get((sleeve.name, name), Counter())
    who = name if tally.fill_count.get((sleeve.name, name), 0) else f"smoke:{name}"
    judged = tally.verdicts.get((sleeve.name, who), Counter())
    orders = "its own orders" if who == name else "the probe order"
    if who != name and own:  # it decided, but too late for a bar to fill it
        orders += f" (its own: {_verdicts(own)}, none filled yet)"
    row("risk", judged.get("approve", 0) > 0,
        f"{orders}: " + (_verdicts(judged) or "none"))
    fills = tally.fill_count.get((sleeve.name, who), 0)
    row("venue", fills > 0, f"{orders}: {fills} fills")
    portfolio = sleeve.pipeline.portfolio
    booked = sum(rec.qty for rec in portfolio.positions() if rec.strategy == who)
    expected = tally.fills.get((sleeve.name, who), 0.0)
    equity = portfolio.equity
    consistent = math.isclose(booked, expected, rel_tol=1e-9, abs_tol=1e-12)
    row("portfolio", fills > 0 and consistent and math.isfinite(equity),
        f"{orders}: position {booked:+.6g} (fills add up to {expected:+.6g}), equity "
        f"{equity:,.2f}")
    return rows


def run_smoke(host: PluginHost, *, clock: Clock, cycles: int = 3, mode: str = "demo",
              configs: tuple[Path, ...] = (), presets: tuple[str, ...] = SMOKE_PRESETS,
              overlay: SmokeOverlay | None = None) -> list[SmokeRow]:
    """Run the smoke test (see the module docstring); one row per strategy and stage.

    :param overlay: what a started smoke venue gives the configs made from ``presets``
        (``bot-core smoke --mode paper``, see :mod:`bot_core.runtime.smoke_venues`); ``configs``
        are smoked as they are.
    """
    import asyncio

    from bot_core.runtime.session import build_runtime, plan_run

    tally = _Tally()
    with tempfile.TemporaryDirectory(prefix="bot-core-smoke-") as tmp:
        if configs:
            paths = list(configs)
            labels = [(path.name, "") for path in paths]
            skipped: list[SmokeRow] = []
        else:
            made, skipped = _configs(host, Path(tmp), presets, overlay)
            paths = [p for _, _, p in made]
            labels = [(preset, plugin) for preset, plugin, _ in made]
        plan = plan_run(host, configs=paths, mode=mode)
        prober = _Prober(tally)
        scheduler = build_runtime(host, plan, clock=clock, sink=tally, max_cycles=cycles,
                                  record_runs=False, on_cycle=prober)
        asyncio.run(scheduler.run())
    rows = list(skipped)
    for (preset, plugin), sleeve in zip(labels, scheduler.sleeves, strict=True):
        for name in sleeve.guards:
            label = plugin if len(sleeve.guards) == 1 else name
            rows += _judge(preset, label, sleeve, name, scheduler, tally)
    order = {p: i for i, p in enumerate(presets)}
    rows.sort(key=lambda r: (order.get(r.preset, len(order)), r.preset, r.strategy,
                             STAGES.index(r.stage)))
    return rows
