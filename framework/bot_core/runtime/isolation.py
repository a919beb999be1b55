"""Isolation: one strategy's faults never take down the others.

Every strategy a sleeve runs is wrapped in a :class:`GuardedStrategy` (through
``build_pipeline(wrap_strategy=...)``), so the pipeline calls the guard, and the guard the
strategy. The guard:

* catches what a call raises (``on_bar``, ``on_quote``, ``on_fill``, ``on_order_update``,
  ``on_start``, ``warm_up``, ``on_stop``): the call counts as a fault and returns no intents;
* checks what a call returns: a list or tuple of :class:`~bot_core.orders.OrderIntent` whose
  ``strategy_id`` is the strategy's own name; anything else is a fault and *none* of that
  call's intents go out (fail closed);
* times each call on the stopwatch (but the first of each kind, which loads compiled
  kernels): a call longer than ``runtime.strategy_time_budget_ms`` is an overrun, a fault too,
  and marks the strategy as behind (the scheduler then coalesces its pending bars to the
  latest);
* quarantines the strategy at the ``runtime.quarantine_faults``-th fault within
  ``runtime.quarantine_window_s`` of market time: from then on the strategy is never called
  again except ``on_stop``; the sleeve cancels its open orders and its positions stay in the
  portfolio under the risk engine (which can still liquidate them, reduce-only).

A strategy paused by resource shedding gets no market events but still learns of its fills and
order updates (its books must stay right for when it resumes).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from bot_core.orders import OrderIntent
from bot_core.strategy import Strategy, StrategySettings

if TYPE_CHECKING:
    from bot_core.config.models import RuntimeConfig
    from bot_core.market import Bar, Quote
    from bot_core.orders import ExecutionReport, Fill
    from bot_core.risk.check import Verdict
    from bot_core.strategy import StrategyContext

__all__ = ["GuardedStrategy", "IsolationPolicy", "StrategyHealth", "guard"]

FaultKind = Literal["error", "malformed", "overrun"]


@dataclass(frozen=True, slots=True)
class IsolationPolicy:
    """The limits of ``[runtime]`` that decide when a strategy is quarantined."""

    budget_ns: int
    faults: int
    window_ns: int

    @classmethod
    def of(cls, runtime: RuntimeConfig) -> IsolationPolicy:
        return cls(int(runtime.strategy_time_budget_ms * 1e6), runtime.quarantine_faults,
                   int(runtime.quarantine_window_s * 1e9))


@dataclass(slots=True)
class StrategyHealth:
    """What the runtime knows about one strategy instance (the status table's row)."""

    bot: str
    name: str
    plugin: str
    quarantined: str = ""
    """Why the strategy was quarantined; empty while it trades."""
    paused: str = ""
    """Why resource shedding paused it; empty while it runs."""
    held: str = ""
    """Why an operator paused it (``bot-core control pause``); only an operator resumes it."""
    stopping: bool = False
    """The bot is shutting down: no call but ``on_stop`` (no new decisions)."""
    behind: bool = False
    """Its last call overran: its pending bars are coalesced to the latest."""
    errors: int = 0
    malformed: int = 0
    overruns: int = 0
    skipped_bars: int = 0
    """Bars not handed to it because a later bar of the same feed was already known."""
    calls: int = 0
    decisions: int = 0
    last_intent: OrderIntent | None = None
    last_verdict: Verdict | None = None
    last_fault: str = ""
    fault_times: deque[int] = field(default_factory=deque)

    @property
    def deciding(self) -> bool:
        """Gets market events (not quarantined, paused, held or stopping)."""
        return not (self.quarantined or self.paused or self.held or self.stopping)

    @property
    def listening(self) -> bool:
        """Gets its fills and order updates (not quarantined or stopping)."""
        return not (self.quarantined or self.stopping)

    @property
    def last_decision(self) -> str:
        """The last judged intent: ``12:34:00 buy 0.5 BTC/USDT@venue_a approve``."""
        intent, verdict = self.last_intent, self.last_verdict
        if intent is None or verdict is None:
            return ""
        from bot_core.runtime.events import iso_ns

        action = verdict.action.value
        allowed = intent.quantity if verdict.quantity is None else verdict.quantity
        return (f"{iso_ns(intent.ts_ns)[11:19]} {intent.side.name.lower()} {allowed:.6g} "
                f"{intent.instrument}@{intent.venue} "
                + (action if action == "approve" else f"{action}: {verdict.reason}"))

    @property
    def key(self) -> str:
        return f"{self.bot}/{self.name}"

    @property
    def state(self) -> str:
        if self.quarantined:
            return "quarantined"
        return "paused" if self.paused or self.held else "active"

    def as_dict(self) -> dict[str, Any]:
        return {"bot": self.bot, "strategy": self.name, "plugin": self.plugin,
                "state": self.state, "quarantined": self.quarantined, "paused": self.paused,
                "held": self.held,
                "errors": self.errors, "malformed": self.malformed, "overruns": self.overruns,
                "skipped_bars": self.skipped_bars, "calls": self.calls,
                "decisions": self.decisions, "last_decision": self.last_decision,
                "last_fault": self.last_fault}


QuarantineCallback = Callable[["GuardedStrategy", str], None]
FaultCallback = Callable[["GuardedStrategy", str, str], None]


class GuardedStrategy(Strategy):
    """A strategy behind the isolation guard (see the module docstring).

    :param inner: the strategy built from the config.
    :param health: its status record (shared with the scheduler and the status table).
    :param policy: budget and quarantine thresholds.
    :param now_ns: market time (the runtime's clock), for the fault window.
    :param stopwatch: monotonic nanoseconds, for the time budget.
    :param on_fault: told ``(guard, kind, detail)`` of every fault.
    :param on_quarantine: told ``(guard, cause)`` once, when the strategy is quarantined.
    """

    id: ClassVar[str] = "guarded"
    Settings: ClassVar[type[StrategySettings]] = StrategySettings

    def __init__(self, inner: Strategy, health: StrategyHealth, policy: IsolationPolicy, *,
                 now_ns: Callable[[], int], stopwatch: Callable[[], int],
                 on_fault: FaultCallback, on_quarantine: QuarantineCallback) -> None:
        super().__init__(inner.settings, name=inner.name, instruments=inner.instruments,
                         venues=inner.venues)
        self.inner = inner
        self.health = health
        self.policy = policy
        self._now_ns = now_ns
        self._stopwatch = stopwatch
        self._on_fault = on_fault
        self._on_quarantine = on_quarantine
        self._timed_calls: set[str] = set()
        self._budget_ns = policy.budget_ns

    # -- calls --------------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[Any, Any], Any], event: Any, ctx: Any
              ) -> list[OrderIntent]:
        """``fn(event, ctx)`` behind the guard; this runs for every strategy on every event, so
        the common case (in budget, no intents) takes the shortest path."""
        health = self.health
        stopwatch = self._stopwatch
        health.calls += 1
        started = stopwatch()
        try:
            out = fn(event, ctx)
        except Exception as exc:  # a strategy's bug must not reach the pipeline
            self.fault("error", f"{what} raised {type(exc).__name__}: {exc}")
            return []
        if stopwatch() - started > self._budget_ns or health.behind:
            if what in self._timed_calls:
                self._timed(what, stopwatch() - started)
            if health.quarantined:  # quarantined by this very call's overrun: nothing goes out
                return []
        if what not in self._timed_calls:  # the first call of each kind loads compiled
            self._timed_calls.add(what)  # kernels: it is not timed
        if out.__class__ is list and not out:  # most calls decide nothing
            return out
        return self._checked(what, out)

    def _timed(self, what: str, elapsed_ns: int) -> None:
        health = self.health
        if elapsed_ns > self.policy.budget_ns:
            health.behind = True
            self.fault("overrun", f"{what} took {elapsed_ns / 1e6:.1f} ms (budget "
                                  f"{self.policy.budget_ns / 1e6:g} ms)")
        else:
            health.behind = False

    def _checked(self, what: str, out: object) -> list[OrderIntent]:
        if isinstance(out, list | tuple):
            for intent in out:
                if not isinstance(intent, OrderIntent):
                    self.fault("malformed", f"{what} returned {type(intent).__name__}, not an "
                                            f"OrderIntent")
                    return []
                if intent.strategy_id != self.name:
                    self.fault("malformed", f"{what} returned an intent for strategy "
                                            f"{intent.strategy_id!r}")
                    return []
                if not (intent.quantity > 0 and math.isfinite(intent.quantity)):
                    self.fault("malformed", f"{what} returned quantity {intent.quantity!r}")
                    return []
            if out:
                self.health.decisions += len(out)
            return list(out)
        self.fault("malformed", f"{what} returned {type(out).__name__}, not a list of intents")
        return []

    def fault(self, kind: FaultKind, detail: str) -> None:
        """Count one fault; quarantine at the policy's threshold."""
        health = self.health
        if kind == "error":
            health.errors += 1
        elif kind == "malformed":
            health.malformed += 1
        else:
            health.overruns += 1
        health.last_fault = detail
        self._on_fault(self, kind, detail)
        if health.quarantined:
            return
        now = self._now_ns()
        times = health.fault_times
        times.append(now)
        while times and now - times[0] > self.policy.window_ns:
            times.popleft()
        if len(times) >= self.policy.faults:
            self.quarantine(f"{len(times)} faults in {self.policy.window_ns / 1e9:g} s, "
                            f"last: {detail}")

    def quarantine(self, cause: str) -> None:
        """Stop calling the strategy (``on_stop`` excepted); the sleeve cancels its orders."""
        if self.health.quarantined:
            return
        self.health.quarantined = cause
        self._on_quarantine(self, cause)

    # -- the Strategy interface, guarded ------------------------------------------------------

    def on_bar(self, bar: Bar, ctx: StrategyContext) -> Sequence[OrderIntent]:
        health = self.health
        if health.quarantined or health.paused or health.held or health.stopping:
            return ()
        return self._call("on_bar", self.inner.on_bar, bar, ctx)

    def on_quote(self, quote: Quote, ctx: StrategyContext) -> Sequence[OrderIntent]:
        health = self.health
        if health.quarantined or health.paused or health.held or health.stopping:
            return ()
        return self._call("on_quote", self.inner.on_quote, quote, ctx)

    def on_fill(self, fill: Fill, ctx: StrategyContext) -> Sequence[OrderIntent]:
        if not self.health.listening:
            return ()
        return self._call("on_fill", self.inner.on_fill, fill, ctx)

    def on_order_update(self, report: ExecutionReport, ctx: StrategyContext
                        ) -> Sequence[OrderIntent]:
        if not self.health.listening:
            return ()
        return self._call("on_order_update", self.inner.on_order_update, report, ctx)

    def on_start(self, ctx: StrategyContext) -> None:
        if self.health.quarantined:
            return
        try:
            self.inner.on_start(ctx)
        except Exception as exc:
            self.quarantine(f"on_start raised {type(exc).__name__}: {exc}")

    def warm_up(self, history: Any) -> None:
        try:
            self.inner.warm_up(history)
        except Exception as exc:
            self.quarantine(f"warm_up raised {type(exc).__name__}: {exc}")

    def on_stop(self, ctx: StrategyContext) -> None:
        try:
            self.inner.on_stop(ctx)
        except Exception as exc:  # every other strategy's on_stop still runs
            self.health.errors += 1
            self.health.last_fault = f"on_stop raised {type(exc).__name__}: {exc}"
            self._on_fault(self, "error", self.health.last_fault)


_GUARD_CLASSES: dict[type[Strategy], type[GuardedStrategy]] = {}


def guard(inner: Strategy, health: StrategyHealth, policy: IsolationPolicy, **kwargs: Any
          ) -> GuardedStrategy:
    """The guard of ``inner``: a :class:`GuardedStrategy` subclass with the strategy's own
    ``id``, ``Settings`` and ``data_kind`` (the pipeline routes by the kind; anything that looks
    at the class sees the strategy's)."""
    cls = type(inner)
    guard_cls = _GUARD_CLASSES.get(cls)
    if guard_cls is None:
        guard_cls = _GUARD_CLASSES[cls] = type(
            f"Guarded{cls.__name__}", (GuardedStrategy,),
            {"id": cls.id, "Settings": cls.Settings, "data_kind": cls.data_kind,
             "__module__": __name__})
    return guard_cls(inner, health, policy, **kwargs)
