"""The live status table of ``bot-core run`` (and the rows ``smoke`` reuses)."""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

from bot_core.runtime.events import iso_ns

if TYPE_CHECKING:
    from bot_core.runtime.isolation import StrategyHealth
    from bot_core.runtime.scheduler import Scheduler

__all__ = ["LiveView", "NoticeSink", "render_status"]

_NOTICES = {"fault", "quarantine", "trading_state", "feed", "shed", "shutdown", "reconcile"}
_REDRAW_S = 0.15


class NoticeSink:
    """Keeps the last few notable events (faults, quarantines, state changes...) as lines."""

    kinds = _NOTICES

    def __init__(self, keep: int = 6) -> None:
        self.lines: deque[str] = deque(maxlen=keep)

    def emit(self, event: str, bot: str, ts_ns: int, **fields: Any) -> None:
        if event not in _NOTICES:
            return
        if event == "feed":
            what = "stale" if fields.get("stale") else "ended" if fields.get("ended") else "live"
            detail = f"{fields.get('kind')} {fields.get('instrument')}@{fields.get('venue')} {what}"
        elif event == "trading_state":
            detail = f"{fields['previous']} -> {fields['current']} ({fields['cause']})"
        elif event == "quarantine":
            detail = f"{fields['strategy']} quarantined: {fields['cause']} " \
                     f"({fields['cancelled']} orders cancelled)"
        elif event == "fault":
            detail = f"{fields.get('strategy') or 'bot'} {fields['kind']}: {fields['detail']}"
        elif event == "reconcile":
            if not fields.get("resumed") and fields.get("outcome") == "clean":
                return  # a first start: nothing to say
            found = [f"{len(fields[k])} {k.replace('_', ' ')}" for k in
                     ("not_sent", "adopted", "fills_booked", "discrepancies") if fields.get(k)]
            detail = f"{fields['outcome']} ({', '.join(found) or 'nothing to correct'})"
            if fields.get("discrepancies"):
                first = fields["discrepancies"][0]
                detail += f"; {first['venue']}: {first['detail']}"
        elif event == "shed":
            detail = f"paused {fields['pause'] or '-'}, resumed {fields['resume'] or '-'}: " \
                     f"{fields['reason']}"
        else:
            detail = f"{fields['reason']}: {fields['cancelled']} orders cancelled, " \
                     f"{fields['kept']} kept"
        self.lines.append(f"{iso_ns(ts_ns)[:19].replace('T', ' ')} {bot} {event}: {detail}")


def _qty(quantity: float, sign: bool = False) -> str:
    """``21,850`` / ``+2.522`` / ``0.003726``: readable at any size, never in e-notation."""
    plus = "+" if sign else ""
    if abs(quantity) >= 1_000:
        return f"{quantity:{plus},.0f}"
    return f"{quantity:{plus}.4g}" if abs(quantity) >= 1e-4 else f"{quantity:{plus}.2e}"


def _market(instrument: str, venue: str, base: str, venues: int) -> str:
    """``BTC`` for BTC/<base currency> on a strategy's only venue, else what tells them apart:
    ``BTC/EUR``, ``BTC@venue_b``."""
    symbol = instrument.removesuffix(f"/{base}")
    return symbol if venues <= 1 else f"{symbol}@{venue}"


def _positions(positions: dict[str, float], base: str) -> str:
    """``BTC +0.5, ETH -2`` (one line per venue when the strategy trades several)."""
    venues = {key.split("@")[1] for key in positions}
    parts = []
    for key, qty in sorted(positions.items()):
        instrument, _, venue = key.partition("@")
        parts.append(f"{_market(instrument, venue, base, len(venues))} {_qty(qty, True)}")
    return "\n".join(parts) if len(venues) > 1 else ", ".join(parts) or "-"


def _decision(health: StrategyHealth, base: str, venues: int) -> str:
    """``13:09 sell 2.52 ETH ok``, ``13:10 buy 1 BTC rejected: max_position``."""
    intent, verdict = health.last_intent, health.last_verdict
    if intent is None or verdict is None:
        return "-"
    action = verdict.action.value
    allowed = intent.quantity if verdict.quantity is None else verdict.quantity
    outcome = {"approve": "ok", "reduce": f"reduced ({verdict.reason})"}.get(
        action, f"rejected: {verdict.reason}")
    return (f"{iso_ns(intent.ts_ns)[11:16]} {intent.side.name.lower()} {_qty(allowed)} "
            f"{_market(intent.instrument, intent.venue, base, venues)} {outcome}")


def render_status(scheduler: Scheduler, notices: NoticeSink | None = None, *,
                  title: str = "") -> Any:
    """The table: one row per sleeve, then one per strategy, then recent notices."""
    from rich.console import Group
    from rich.table import Table

    stats = scheduler.stats
    now = iso_ns(scheduler.clock.now_ns())[:16].replace("T", " ")
    cycles = f"{stats.cycles}" + (f"/{scheduler.max_cycles}" if scheduler.max_cycles else "")
    head = f"{title} cycle {cycles} · {now} UTC · {stats.events:,} events"
    bots = Table(title=head, title_justify="left")
    for col in ("bot", "mode", "equity", "PnL", "drawdown", "trading state", "open orders"):
        bots.add_column(col, justify="right" if col in ("equity", "PnL", "drawdown",
                                                         "open orders") else "left")
    strategies = Table()
    for col in ("bot / strategy", "state", "last decision", "positions", "decisions",
                "faults", "skipped"):
        strategies.add_column(col, justify="right" if col in ("decisions", "faults",
                                                              "skipped") else "left")
    for sleeve in scheduler.sleeves:
        row = sleeve.status()
        state = row["trading_state"].upper()
        if row["failed"]:
            state = f"[red]STOPPED: {row['failed']}[/red]"
        elif state != "ACTIVE":
            state = f"[yellow]{state}[/yellow]"
        bots.add_row(row["bot"], row["mode"], f"{row['equity']:,.2f}", f"{row['pnl']:+,.2f}",
                     f"{row['drawdown_pct']:.2f} %", state, str(row["open_orders"]))
        for health in sleeve.strategies():
            status = health.state
            if health.quarantined:
                status = f"[red]quarantined: {health.quarantined}[/red]"
            elif health.paused:
                status = f"[yellow]paused: {health.paused}[/yellow]"
            faults = health.errors + health.malformed + health.overruns
            base = sleeve.config.runtime.base_currency
            venues = len(sleeve.config.strategies[health.name].venues)
            strategies.add_row(f"{sleeve.name} / {health.name}", status,
                               _decision(health, base, venues),
                               _positions(row["positions"].get(health.name, {}), base),
                               str(health.decisions), str(faults), str(health.skipped_bars))
    parts: list[Any] = [bots, strategies]
    if notices is not None and notices.lines:
        parts.append("\n".join(notices.lines))
    return Group(*parts)


class LiveView:
    """Redraws the status table in place (at most every 0.15 s, and once at the end)."""

    def __init__(self, title: str, notices: NoticeSink) -> None:
        from rich.live import Live

        from bot_core.cli.output import console

        self.title = title
        self.notices = notices
        self._live = Live(console=console(), auto_refresh=False, transient=False)
        self._drawn = 0.0

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(None, None, None)

    def update(self, scheduler: Scheduler, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._drawn < _REDRAW_S:
            return
        self._drawn = now
        self._live.update(render_status(scheduler, self.notices, title=self.title), refresh=True)
