"""The host's promotion gates, registered as a plugin like any other (``HOST_PLUGINS``).

Demo -> paper and paper -> live both need, from the runs in the current mode since the bot
entered it: ``runtime.promotion.<step>.min_cycles`` cycles, ``min_hours`` hours, no HALTED
cycle, no daily-loss breach and no drawdown breach. Live also needs every plugin in the money
path (strategies, venues, risk checks, market data) pinned by version (``plugins_pinned``),
``--confirm <bot name>`` (``confirmed``) and a passing security audit (``security_audit``,
:class:`SecurityAudit`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot_core.hookspecs import hookimpl
from bot_core.runtime.promotion import GateContext, GateOutcome, PromotionGate, iso

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot_core.runtime.history import RunSummary

__all__ = [
    "HOST_GATES",
    "Confirmed",
    "MinCycles",
    "MinHours",
    "NeverHalted",
    "NoDailyLossBreach",
    "NoDrawdownBreach",
    "PluginsPinned",
    "SecurityAudit",
    "bot_core_register_promotion_gates",
    "pinning_problems",
]

BOT_CORE_API = ">=1.0,<2"
_LIVE = frozenset({"live"})
_PIN_OPERATORS = frozenset({"==", "===", "~=", "<", "<="})
"""A specifier pins a version when it bounds it from above: an upgrade never slips in."""


class MinCycles(PromotionGate):
    id = "min_cycles"
    title = "enough scheduler cycles in the current mode"

    def evaluate(self, ctx: GateContext) -> GateOutcome:
        need, have = ctx.stage.min_cycles, ctx.cycles
        return GateOutcome(have >= need, f"{have} of {need} cycles {ctx.window()} "
                           f"({len(ctx.runs)} runs)",
                           {"cycles": have, "required": need, "runs": len(ctx.runs)})


class MinHours(PromotionGate):
    id = "min_hours"
    title = "enough hours watched in the current mode"

    def evaluate(self, ctx: GateContext) -> GateOutcome:
        need, have = ctx.stage.min_hours, ctx.hours
        return GateOutcome(have >= need, f"{have:.1f} of {need:g} hours {ctx.window()}",
                           {"hours": have, "required": need})


def _clean_outcome(ctx: GateContext, what: str, cycles: Callable[[RunSummary], int],
                   first: Callable[[RunSummary], int | None]) -> GateOutcome:
    hits = [r for r in ctx.runs if cycles(r) > 0]
    if not hits:
        return GateOutcome(True, f"no {what} in {len(ctx.runs)} runs {ctx.window()}",
                           {"cycles": 0, "runs": []})
    total = sum(cycles(r) for r in hits)
    run = hits[0]
    at = first(run)
    when = f" at {iso(at)}" if at is not None else ""
    return GateOutcome(False, f"{what} in {len(hits)} run(s), {total} cycles; first in run "
                       f"{run.run_id}{when}",
                       {"cycles": total, "runs": [r.run_id for r in hits]})


class NeverHalted(PromotionGate):
    id = "never_halted"
    title = "no HALTED trading state in the window"

    def evaluate(self, ctx: GateContext) -> GateOutcome:
        return _clean_outcome(ctx, "HALTED state", lambda r: r.halted_cycles,
                              lambda r: r.first_halted_ns)


class NoDailyLossBreach(PromotionGate):
    id = "no_daily_loss_breach"
    title = "no daily-loss limit breach in the window"

    def evaluate(self, ctx: GateContext) -> GateOutcome:
        return _clean_outcome(ctx, "daily-loss breach", lambda r: r.daily_loss_cycles,
                              lambda r: r.first_daily_loss_ns)


class NoDrawdownBreach(PromotionGate):
    id = "no_drawdown_breach"
    title = "no drawdown limit breach in the window"

    def evaluate(self, ctx: GateContext) -> GateOutcome:
        return _clean_outcome(ctx, "drawdown breach", lambda r: r.drawdown_cycles,
                              lambda r: r.first_drawdown_ns)


def _components(ctx: GateContext) -> list[tuple[str, str]]:
    """(kind, component id) of everything in the bot's money path: enabled strategies, venue
    adapters, risk checks, and its market data source (``runtime.source``; when none is named,
    every installed live source, since any of them may be the default)."""
    config = ctx.config
    used = [("strategy", s.plugin) for s in config.strategies.values() if s.enabled]
    used += [("exchange", v.adapter) for v in config.venues.values()]
    used += [("risk_check", c) for c in config.risk.checks]
    if config.runtime.source is not None:
        used.append(("source", config.runtime.source))
    else:
        used += [("source", sid) for sid, cls in ctx.plugins.sources.items() if cls.live]
    return sorted(set(used))


def pinning_problems(ctx: GateContext) -> tuple[list[str], list[str]]:
    """(pinned distributions as ``name spec (installed version)``, problems), for every
    distribution providing an enabled strategy, a venue adapter or an enabled risk check."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    problems: list[str] = []
    required: dict[str, Requirement] = {}
    for text in ctx.config.plugins.require:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            problems.append(f"plugins.require: {text!r} is not a requirement")
            continue
        required[canonicalize_name(req.name)] = req
    users: dict[str, list[str]] = {}
    for kind, component in _components(ctx):
        dist = ctx.plugins.owners.get((kind, component))
        if dist is None:
            problems.append(f"{kind.replace('_', ' ')} {component!r} is not installed")
        elif dist != "bot-core":  # the host's own components come with the host's version
            users.setdefault(dist, []).append(component)
    pinned: list[str] = []
    for dist, components in sorted(users.items()):
        record = ctx.plugins.record(dist)
        version = record.version if record is not None else "?"
        pin = required.get(canonicalize_name(dist))
        label = f"{dist} ({', '.join(components)})"
        if pin is None:
            problems.append(f"{label} is not in plugins.require: add \"{dist}=={version}\"")
        elif not any(spec.operator in _PIN_OPERATORS for spec in pin.specifier):
            problems.append(f"{label}: {str(pin)!r} does not pin a version (give ==, ~= or an "
                            f"upper bound, e.g. \"{dist}=={version}\")")
        else:
            mismatch = ctx.plugins.require([str(pin)], source="plugins.require")
            if mismatch:
                problems.extend(mismatch)
            else:
                pinned.append(f"{pin} (installed {version})")
    return pinned, problems


class PluginsPinned(PromotionGate):
    id = "plugins_pinned"
    title = "every plugin a live bot runs is pinned by version in plugins.require"
    applies_to = _LIVE

    def evaluate(self, ctx: GateContext) -> GateOutcome:
        pinned, problems = pinning_problems(ctx)
        if problems:
            return GateOutcome(False, "; ".join(problems), {"pinned": pinned, "problems": problems})
        return GateOutcome(True, "pinned: " + ", ".join(pinned) if pinned else "no plugins in use",
                           {"pinned": pinned, "problems": []})


class Confirmed(PromotionGate):
    id = "confirmed"
    title = "the operator confirmed live trading with --confirm <bot name>"
    applies_to = _LIVE

    def evaluate(self, ctx: GateContext) -> GateOutcome:
        if ctx.confirm == ctx.bot:
            return GateOutcome(True, f"--confirm {ctx.bot}")
        given = "no --confirm" if ctx.confirm is None else f"--confirm {ctx.confirm!r}"
        return GateOutcome(False, f"{given}: pass --confirm {ctx.bot} to trade real money")


class SecurityAudit(PromotionGate):
    """``bot-core security audit`` on the bot's config (:mod:`bot_core.control.audit`): mutual
    TLS, the pinned CA, certificates, key files, RBAC, the journal key, no WebSockets. TLS paths
    are taken as written; the journal key is checked for the mode the config names (a live
    start refuses without an explicit key anyway)."""

    id = "security_audit"
    title = "the security audit passes (mTLS, pinned CA, key files, RBAC, journal key, " \
        "no WebSockets)"
    applies_to = _LIVE

    def evaluate(self, ctx: GateContext) -> GateOutcome:
        from bot_core.control.audit import AuditTarget, audit_security, tls_files_as_given

        report = audit_security(
            [AuditTarget(ctx.config, tls_files_as_given(ctx.config), ctx.bot)],
            distributions=[r.distribution for r in ctx.plugins.records])
        failures = report.failures
        if failures:
            return GateOutcome(False, "; ".join(f"{f.check}: {f.message}" for f in failures),
                               report.as_dict())
        warnings = sum(1 for f in report.findings if f.severity == "warning")
        return GateOutcome(True, f"{len(report.findings)} checks passed"
                           + (f" ({warnings} warnings)" if warnings else ""), report.as_dict())


HOST_GATES: tuple[type[PromotionGate], ...] = (
    MinCycles, MinHours, NeverHalted, NoDailyLossBreach, NoDrawdownBreach, PluginsPinned, Confirmed,
    SecurityAudit,
)
"""The host's gates, in the order they are shown."""


@hookimpl
def bot_core_register_promotion_gates(register: Callable[[type[PromotionGate]], None]) -> None:
    for gate in HOST_GATES:
        register(gate)
