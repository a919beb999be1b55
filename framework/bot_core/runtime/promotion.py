"""Promotion from demo to paper to live: the gate contract, evaluation, records, start checks.

A bot moves up one mode at a time (demo -> paper -> live) with ``bot-core pipeline promote``,
and only when every promotion gate that applies to the target mode passes. Gates are
components: plugins contribute them through ``bot_core_register_promotion_gates`` and the host
registers its own (:mod:`bot_core.runtime.gates`) the same way. The evidence a gate reads is
the bot's run records (:mod:`bot_core.runtime.history`) in its current mode since it entered
that mode (:mod:`bot_core.runtime.ledger`). Gates fail closed: a gate that raises fails, and a
host gate that is not loaded (blocked, broken) fails too.

``check_can_start`` is what ``bot-core run`` asks before it starts a bot in paper or live mode.
"""

from __future__ import annotations

import abc
import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from bot_core.errors import PromotionError, UsageError
from bot_core.runtime import history, ledger
from bot_core.runtime.history import MODES, Mode, RunSummary, config_hash

if TYPE_CHECKING:
    from bot_core.config.models import BotConfig, PromotionStage
    from bot_core.plugins import PluginHost

__all__ = [
    "Decision",
    "GateContext",
    "GateOutcome",
    "GateResult",
    "PipelineStatus",
    "PromotionGate",
    "check_can_start",
    "decide",
    "evaluate_gates",
    "gate_context",
    "pipeline_status",
    "plan_rollback",
    "promote",
    "rollback",
]


@dataclass(frozen=True)
class GateContext:
    """What a gate judges: the bot, the step it asks for, and its evidence."""

    bot: str
    config: BotConfig
    from_mode: Mode
    to_mode: Mode
    stage: PromotionStage
    """``runtime.promotion.to_paper`` or ``to_live``: the thresholds of this step."""
    runs: tuple[RunSummary, ...]
    """Runs in ``from_mode`` since the bot entered it, oldest first."""
    window_start_ns: int | None
    """Wall time the bot entered ``from_mode`` (None: never promoted, every demo run counts)."""
    plugins: PluginHost
    confirm: str | None
    """What the operator passed as ``--confirm`` (None when nothing)."""
    now_ns: int
    home: Path | None = None

    @property
    def cycles(self) -> int:
        return sum(r.cycles for r in self.runs)

    @property
    def hours(self) -> float:
        return sum(r.hours for r in self.runs)

    def window(self) -> str:
        """``in paper since 2024-05-01T10:00:00Z`` or ``in demo``, for evidence texts."""
        since = "" if self.window_start_ns is None else f" since {iso(self.window_start_ns)}"
        return f"in {self.from_mode}{since}"


@dataclass(frozen=True)
class GateOutcome:
    """A gate's answer: passed or not, the evidence in one line, and the figures behind it."""

    passed: bool
    evidence: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GateResult:
    gate: str
    title: str
    passed: bool
    evidence: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"gate": self.gate, "title": self.title, "passed": self.passed,
                "evidence": self.evidence, "data": self.data}


class PromotionGate(abc.ABC):
    """A condition for moving a bot up one mode.

    ============== ========== ==========================================================
    member         required   meaning
    ============== ========== ==========================================================
    ``id``         yes        lower-case identifier, unique across plugins
    ``title``      yes        what the gate demands, one line (shown by ``pipeline status``)
    ``evaluate``   yes        ``evaluate(ctx: GateContext) -> GateOutcome``; must not write
    ``applies_to`` no         target modes it guards (default: paper and live)
    ============== ========== ==========================================================

    Gates are instantiated with no arguments for each evaluation. An exception in ``evaluate``
    makes the gate fail with the exception as evidence: gates fail closed.
    """

    id: ClassVar[str]
    title: ClassVar[str] = ""
    applies_to: ClassVar[frozenset[str]] = frozenset({"paper", "live"})

    @abc.abstractmethod
    def evaluate(self, ctx: GateContext) -> GateOutcome:
        """Judge ``ctx``; say why in ``evidence`` whether it passes or not."""

    @classmethod
    def contract_problems(cls) -> list[str]:
        problems = []
        if not isinstance(cls.title, str) or not cls.title:
            problems.append("has no 'title'")
        if not cls.applies_to or not set(cls.applies_to) <= {"paper", "live"}:
            problems.append(f"applies_to {sorted(cls.applies_to)!r} must name paper and/or live")
        return problems


def iso(ns: int) -> str:
    """UTC nanoseconds as ``2024-05-01T10:00:00Z``."""
    moment = dt.datetime.fromtimestamp(ns / 1e9, tz=dt.UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def _next_mode(mode: Mode) -> Mode | None:
    index = MODES.index(mode)
    return MODES[index + 1] if index + 1 < len(MODES) else None


def _mode(value: str, what: str) -> Mode:
    if value not in MODES:
        raise UsageError(f"{what}: unknown mode {value!r} (modes: {', '.join(MODES)})")
    return value


def _first_demo_run_ns(bot: str, home: Path | None) -> int | None:
    demo = history.runs(bot, "demo", home)
    return demo[0].created_wall_ns if demo else None


def gate_context(config: BotConfig, to_mode: str, *, plugins: PluginHost,
                 confirm: str | None = None, home: Path | None = None,
                 now_ns: int | None = None) -> GateContext:
    """The evidence for promoting ``config``'s bot to ``to_mode``.

    :raises PromotionError: ``to_mode`` is not the mode right above the bot's current one.
    """
    target = _mode(to_mode, "--to")
    bot = config.name
    state = ledger.current_mode(bot, home, first_run_ns=_first_demo_run_ns(bot, home))
    if target != _next_mode(state.mode):
        step = _next_mode(state.mode)
        hint = f"it can be promoted to {step} only" if step else "it is already live"
        raise PromotionError(f"bot {bot!r} is in {state.mode} mode: {hint} "
                             "(one mode at a time: demo -> paper -> live)")
    window = state.record.when_ns if state.record is not None else None
    runs = tuple(r for r in history.runs(bot, state.mode, home)
                 if window is None or r.created_wall_ns >= window)
    promotion = config.runtime.promotion
    stage = promotion.to_paper if target == "paper" else promotion.to_live
    return GateContext(bot=bot, config=config, from_mode=state.mode, to_mode=target, stage=stage,
                       runs=runs, window_start_ns=window, plugins=plugins, confirm=confirm,
                       now_ns=time.time_ns() if now_ns is None else now_ns, home=home)


def evaluate_gates(ctx: GateContext) -> list[GateResult]:
    """Every gate that applies to ``ctx.to_mode``: the host's first, in their order, then the
    plugins' by id. A host gate that is not loaded fails."""
    from bot_core.runtime.gates import HOST_GATES

    registered = ctx.plugins.promotion_gates
    host_ids = [g.id for g in HOST_GATES]
    order = host_ids + sorted(set(registered) - set(host_ids))
    results: list[GateResult] = []
    for gate_id in order:
        cls = registered.get(gate_id)
        if cls is None:  # a host gate blocked with BOT_CORE_DISABLE_PLUGINS, or broken
            host_cls = next(g for g in HOST_GATES if g.id == gate_id)
            if ctx.to_mode in host_cls.applies_to:
                results.append(GateResult(gate_id, host_cls.title, False,
                                          "host gate not loaded (blocked or broken); promotions "
                                          "need every host gate"))
            continue
        if ctx.to_mode in cls.applies_to:
            results.append(run_gate(cls, ctx))
    return results


def run_gate(cls: type[PromotionGate], ctx: GateContext) -> GateResult:
    """One gate's result; an exception is a failure with the exception as evidence."""
    try:
        outcome = cls().evaluate(ctx)
        if not isinstance(outcome, GateOutcome):
            raise TypeError(f"evaluate returned {type(outcome).__name__}, not GateOutcome")
    except Exception as exc:  # fail closed: a broken gate never lets a promotion through
        return GateResult(cls.id, cls.title, False, f"gate error: {type(exc).__name__}: {exc}")
    return GateResult(cls.id, cls.title, bool(outcome.passed), outcome.evidence, outcome.data)


@dataclass(frozen=True)
class Decision:
    """Every gate of one promotion, judged: what ``promote`` records, or refuses."""

    context: GateContext
    gates: list[GateResult]

    @property
    def failed(self) -> list[GateResult]:
        return [g for g in self.gates if not g.passed]

    @property
    def approved(self) -> bool:
        return not self.failed


def decide(config: BotConfig, to_mode: str, *, plugins: PluginHost, confirm: str | None = None,
           home: Path | None = None, now_ns: int | None = None) -> Decision:
    """Judge promoting ``config``'s bot to ``to_mode``: every gate, with its evidence.

    :raises PromotionError: ``to_mode`` is not the mode right above the bot's current one.
    """
    ctx = gate_context(config, to_mode, plugins=plugins, confirm=confirm, home=home, now_ns=now_ns)
    return Decision(ctx, evaluate_gates(ctx))


def promote(decision: Decision, *, who: str | None = None) -> ledger.LedgerRecord:
    """Record the promotion ``decision`` approved.

    :raises PromotionError: naming every failed gate with its evidence; nothing is recorded.
    """
    ctx = decision.context
    if decision.failed:
        details = "; ".join(f"{r.gate} ({r.evidence})" for r in decision.failed)
        raise PromotionError(f"bot {ctx.bot!r} not promoted to {ctx.to_mode}: "
                             f"{len(decision.failed)} gate(s) failed: {details}",
                             failed=tuple(r.gate for r in decision.failed))
    record = ledger.LedgerRecord(
        bot=ctx.bot, action="promote", from_mode=ctx.from_mode, to_mode=ctx.to_mode,
        who=who or ledger.operator(), when_ns=ctx.now_ns, config_hash=config_hash(ctx.config),
        gates={r.gate: r.passed for r in decision.gates},
    )
    ledger.append(record, ctx.home)
    return record


def rollback(config: BotConfig, to_mode: str, *, reason: str = "", home: Path | None = None,
             now_ns: int | None = None, who: str | None = None) -> ledger.LedgerRecord:
    """Move ``config``'s bot down to ``to_mode`` (or restart its window in its current mode).

    No gate stands in the way of going down. The evidence window of ``to_mode`` starts again.
    :raises PromotionError: ``to_mode`` is above the bot's current mode.
    """
    record = plan_rollback(config, to_mode, reason=reason, home=home, now_ns=now_ns, who=who)
    ledger.append(record, home)
    return record


def plan_rollback(config: BotConfig, to_mode: str, *, reason: str = "", home: Path | None = None,
                  now_ns: int | None = None, who: str | None = None) -> ledger.LedgerRecord:
    """The record :func:`rollback` would write, checked but not written (so a caller can open
    what else must record it first).

    :raises PromotionError: ``to_mode`` is above the bot's current mode.
    """
    target = _mode(to_mode, "--to")
    bot = config.name
    state = ledger.current_mode(bot, home, first_run_ns=_first_demo_run_ns(bot, home))
    if MODES.index(target) > MODES.index(state.mode):
        raise PromotionError(f"bot {bot!r} is in {state.mode} mode: a rollback goes down, "
                             f"use `bot-core pipeline promote --to {target}` to go up")
    record = ledger.LedgerRecord(
        bot=bot, action="rollback", from_mode=state.mode, to_mode=target,
        who=who or ledger.operator(), when_ns=time.time_ns() if now_ns is None else now_ns,
        config_hash=config_hash(config), reason=reason,
    )
    return record


def check_can_start(config: BotConfig, mode: str, confirm: str | None = None, *,
                    plugins: PluginHost | None = None, home: Path | None = None) -> None:
    """Refuse to start ``config``'s bot in ``mode`` unless the pipeline allows it.

    * demo: always (after checking its state directory belongs to it);
    * paper: the bot was promoted to paper (or live);
    * live: the bot was promoted to live, ``confirm`` is its name, and every plugin it runs is
      pinned by version in ``plugins.require`` (the ``confirmed`` and ``plugins_pinned`` gates).

    Each mode keeps its own state directory (``state/<bot>/<mode>``): a live bot never reads
    paper state. Call before the first byte of the run is written.

    :raises PromotionError: the bot may not start in ``mode`` (exit 1).
    :raises UsageError: ``mode`` is not a mode.
    :raises StateError: the mode's state directory belongs to another bot or mode.
    """
    target = _mode(mode, "--mode")
    bot = config.name
    history.mode_state_dir(bot, target, home)  # a copied or renamed directory is refused
    if target == "demo":
        return
    state = ledger.current_mode(bot, home)
    if MODES.index(state.mode) < MODES.index(target):
        raise PromotionError(
            f"bot {bot!r} is in {state.mode} mode and may not run in {target} mode: promote it "
            f"first (`bot-core pipeline promote --config <file> --to {_next_mode(state.mode)}`)")
    if target != "live":
        return
    from bot_core.plugins import load_plugins
    from bot_core.runtime.gates import Confirmed, PluginsPinned

    promotion = config.runtime.promotion
    ctx = GateContext(bot=bot, config=config, from_mode="paper", to_mode="live",
                      stage=promotion.to_live, runs=(), window_start_ns=None,
                      plugins=plugins if plugins is not None else load_plugins(),
                      confirm=confirm, now_ns=time.time_ns(), home=home)
    failed = [r for r in (run_gate(Confirmed, ctx), run_gate(PluginsPinned, ctx)) if not r.passed]
    if failed:
        details = "; ".join(f"{r.gate}: {r.evidence}" for r in failed)
        raise PromotionError(f"bot {bot!r} may not start live: {details}",
                             failed=tuple(r.gate for r in failed))


@dataclass(frozen=True)
class PipelineStatus:
    """Where one bot stands in the pipeline and what its next promotion needs."""

    bot: str
    mode: Mode
    since_ns: int | None
    now_ns: int
    config_hash: str
    next_mode: Mode | None
    gates: list[GateResult]
    runs: list[RunSummary]
    """Runs in the current mode since the bot entered it."""
    changes: list[ledger.LedgerRecord]
    """The bot's promotions and rollbacks, oldest first."""

    @property
    def time_in_mode_s(self) -> float | None:
        return None if self.since_ns is None else max(0.0, (self.now_ns - self.since_ns) / 1e9)

    @property
    def ready(self) -> bool:
        return self.next_mode is not None and all(g.passed for g in self.gates)

    def as_dict(self) -> dict[str, Any]:
        last = self.changes[-1].as_dict() if self.changes else None
        return {
            "bot": self.bot, "mode": self.mode,
            "since": iso(self.since_ns) if self.since_ns is not None else None,
            "time_in_mode_s": self.time_in_mode_s, "config_hash": self.config_hash,
            "next_mode": self.next_mode, "ready": self.ready,
            "gates": [g.as_dict() for g in self.gates],
            "evidence": {
                "runs": len(self.runs), "cycles": sum(r.cycles for r in self.runs),
                "hours": sum(r.hours for r in self.runs),
                "config_hashes": sorted({r.config_hash for r in self.runs}),
                "last_run": self.runs[-1].as_dict() if self.runs else None,
            },
            "last_change": last,
        }


def pipeline_status(config: BotConfig, *, plugins: PluginHost, home: Path | None = None,
                    now_ns: int | None = None) -> PipelineStatus:
    """The bot's mode, time in mode, and every gate of its next promotion with its evidence
    (the live confirmation is given at promotion, so it shows as failed here)."""
    bot = config.name
    now = time.time_ns() if now_ns is None else now_ns
    state = ledger.current_mode(bot, home, first_run_ns=_first_demo_run_ns(bot, home))
    nxt = _next_mode(state.mode)
    if nxt is not None:
        ctx = gate_context(config, nxt, plugins=plugins, home=home, now_ns=now)
        gates, runs = evaluate_gates(ctx), list(ctx.runs)
    else:
        window = state.record.when_ns if state.record is not None else None
        gates = []
        runs = [r for r in history.runs(bot, state.mode, home)
                if window is None or r.created_wall_ns >= window]
    return PipelineStatus(bot=bot, mode=state.mode, since_ns=state.since_ns, now_ns=now,
                          config_hash=config_hash(config), next_mode=nxt, gates=gates, runs=runs,
                          changes=ledger.records(bot, home))
