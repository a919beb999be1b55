"""Plugin discovery and the typed facade over pluggy.

``load_plugins()`` is the one start-up function: it finds the entry points of the ``bot_core``
group, skips blocked ones, imports the rest (a plugin that fails is recorded as broken and the
others keep working), checks the plugin API version, registers the hook implementations and
collects the components each plugin contributes. Nothing is loaded as an import side effect and
nothing is global: every caller owns its :class:`PluginHost`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import pluggy

from bot_core import hookspecs
from bot_core.errors import PluginError

if TYPE_CHECKING:
    from bot_core.config.models import BotConfig
    from bot_core.exchange import ExchangeAdapter
    from bot_core.orders import Fill, Order, OrderIntent
    from bot_core.risk.check import RiskCheck, TradingState, Verdict
    from bot_core.runinfo import RunInfo
    from bot_core.runtime.promotion import PromotionGate
    from bot_core.runtime.resources import Breach
    from bot_core.runtime.smoke_venues import SmokeVenue
    from bot_core.runtime.sources import MarketDataSource
    from bot_core.strategy import Strategy

__all__ = [
    "API_ATTRIBUTE",
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "PLUGIN_API_VERSION",
    "ComponentKind",
    "PluginCandidate",
    "PluginHost",
    "PluginRecord",
    "load_plugins",
]

ENTRY_POINT_GROUP = "bot_core"
PLUGIN_API_VERSION = "1.3"
"""Version of the hooks and contracts. Minor versions add, major versions break (1.1:
``Strategy.bind_feeds`` and ``FeedSpec``, the bar length and calendar of the data; market data
sources; promotion gates (``PromotionGate``, ``bot_core_register_promotion_gates``) and
``bot_core_on_resource_breach``; smoke venues (``SmokeVenue``,
``bot_core_register_smoke_venues``); 1.2: ``StrategySettings.timeframe_defaults``, a
profile's values per bar length; 1.3: ``NumberedIds``, which an ``OrderBatch``'s
``client_order_id`` may be)."""
API_ATTRIBUTE = "BOT_CORE_API"
"""Module attribute of a plugin: a PEP 440 specifier of the API versions it supports."""
DISABLE_ENV = "BOT_CORE_DISABLE_PLUGINS"
"""Comma-separated plugin (entry-point) or distribution names that are not loaded."""
TRACE_ENV = "BOT_CORE_TRACE_HOOKS"
"""Set to 1 to print every hook call to stderr."""

ComponentKind = Literal["strategy", "exchange", "risk_check", "source", "promotion_gate",
                        "smoke_venue"]
PluginStatus = Literal["enabled", "blocked", "broken"]

_REGISTRATION_HOOKS: tuple[tuple[ComponentKind, str], ...] = (
    ("strategy", "bot_core_register_strategies"),
    ("exchange", "bot_core_register_exchanges"),
    ("risk_check", "bot_core_register_risk_checks"),
    ("source", "bot_core_register_sources"),
    ("promotion_gate", "bot_core_register_promotion_gates"),
    ("smoke_venue", "bot_core_register_smoke_venues"),
)

HOST_PLUGINS: tuple[tuple[str, str], ...] = (
    ("replay", "bot_core.runtime.replay_plugin"),
    ("promotion_gates", "bot_core.runtime.gates"),
)
"""The host's own components, as (plugin name, module): discovered with the entry points and
registered exactly like them (``plugins list`` shows them under the ``bot-core``
distribution; ``BOT_CORE_DISABLE_PLUGINS`` can block them)."""


@dataclass(slots=True)
class PluginRecord:
    """What ``bot-core plugins list`` shows about one plugin."""

    name: str
    distribution: str
    version: str
    module: str
    status: PluginStatus = "enabled"
    reason: str = ""
    hooks: list[str] = field(default_factory=list)
    components: dict[str, list[str]] = field(default_factory=dict)

    @property
    def kinds(self) -> list[str]:
        return sorted(kind for kind, ids in self.components.items() if ids)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "kind": self.kinds,
            "components": {k: sorted(v) for k, v in self.components.items() if v},
            "hooks": sorted(self.hooks),
            "status": self.status,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class PluginCandidate:
    """A plugin before loading: an entry point, or a module handed in directly (tests, builtins)."""

    name: str
    distribution: str
    version: str
    load: Callable[[], object]
    module: str


class PluginHost:
    """Typed facade over the plugin manager: components by id and one method per hook.

    Call sites never touch ``pm.hook``; observer methods skip the call entirely when no plugin
    implements the hook, which keeps the backtest's hot path free of empty hook calls.
    """

    def __init__(self, pm: pluggy.PluginManager, records: list[PluginRecord]) -> None:
        self._pm = pm
        self.records = records
        self.strategies: dict[str, type[Strategy]] = {}
        self.exchanges: dict[str, type[ExchangeAdapter]] = {}
        self.risk_checks: dict[str, type[RiskCheck]] = {}
        self.promotion_gates: dict[str, type[PromotionGate]] = {}
        self.sources: dict[str, type[MarketDataSource]] = {}
        self.smoke_venues: dict[str, type[SmokeVenue]] = {}
        self.owners: dict[tuple[str, str], str] = {}
        """(kind, component id) -> distribution that registered it."""
        self.conflicts: list[str] = []
        """Duplicate component ids, each a message naming both distributions."""
        self._observed: dict[str, bool] = {}

    # -- components ---------------------------------------------------------------------------

    def _table(self, kind: ComponentKind) -> dict[str, Any]:
        tables: dict[str, dict[str, Any]] = {
            "strategy": self.strategies, "exchange": self.exchanges, "risk_check": self.risk_checks,
            "source": self.sources,
            "promotion_gate": self.promotion_gates, "smoke_venue": self.smoke_venues,
        }
        return tables[kind]

    def component(self, kind: ComponentKind, component_id: str) -> Any:
        """The class registered under ``component_id``; a clear error listing the known ids."""
        table = self._table(kind)
        try:
            return table[component_id]
        except KeyError:
            known = ", ".join(sorted(table)) or "none installed"
            broken = [r.name for r in self.records if r.status != "enabled"]
            hint = f" (not loaded: {', '.join(broken)})" if broken else ""
            label = kind.replace("_", " ")
            raise PluginError(
                f"unknown {label} {component_id!r}; installed: {known}{hint}", plugin=component_id
            ) from None

    def strategy(self, component_id: str) -> type[Strategy]:
        return self.component("strategy", component_id)  # type: ignore[no-any-return]

    def exchange(self, component_id: str) -> type[ExchangeAdapter]:
        return self.component("exchange", component_id)  # type: ignore[no-any-return]

    def risk_check(self, component_id: str) -> type[RiskCheck]:
        return self.component("risk_check", component_id)  # type: ignore[no-any-return]

    def source(self, component_id: str) -> type[MarketDataSource]:
        return self.component("source", component_id)  # type: ignore[no-any-return]

    def record(self, name: str) -> PluginRecord | None:
        for rec in self.records:
            if name in (rec.name, rec.distribution):
                return rec
        return None

    def check(self) -> None:
        """Raise :class:`PluginError` when the plugin set cannot be used (duplicate ids)."""
        if self.conflicts:
            raise PluginError("; ".join(self.conflicts))

    def require(self, requirements: Iterable[str], *, source: str = "config") -> list[str]:
        """Problems with required plugin distributions (``name>=1.2``); empty when all are met."""
        from packaging.requirements import InvalidRequirement, Requirement

        problems: list[str] = []
        for text in requirements:
            try:
                req = Requirement(text)
            except InvalidRequirement as exc:
                problems.append(f"{source}: plugins.require: {text!r} is not a requirement ({exc})")
                continue
            rec = self.record(req.name) or self.record(req.name.replace("-", "_"))
            if rec is None:
                problems.append(f"{source}: requires plugin {text!r}, which is not installed")
            elif rec.status != "enabled":
                problems.append(f"{source}: requires plugin {text!r}, which is {rec.status}"
                                + (f": {rec.reason}" if rec.reason else ""))
            elif req.specifier and not req.specifier.contains(rec.version, prereleases=True):
                problems.append(
                    f"{source}: requires plugin {text!r}, but version {rec.version} is installed"
                )
        return problems

    # -- hooks --------------------------------------------------------------------------------

    def implements(self, hook_name: str) -> bool:
        return bool(getattr(self._pm.hook, hook_name).get_hookimpls())

    def configure(self, config: BotConfig) -> None:
        self._pm.hook.bot_core_configure(config=config)

    def on_start(self, run: RunInfo) -> None:
        self._pm.hook.bot_core_on_start(run=run)

    def on_decision(self, run: RunInfo, intent: OrderIntent) -> None:
        if self._observed["bot_core_on_decision"]:
            self._pm.hook.bot_core_on_decision(run=run, intent=intent)

    def on_risk_verdict(self, run: RunInfo, intent: OrderIntent, verdict: Verdict) -> None:
        if self._observed["bot_core_on_risk_verdict"]:
            self._pm.hook.bot_core_on_risk_verdict(run=run, intent=intent, verdict=verdict)

    def on_trading_state(
        self, run: RunInfo, previous: TradingState, current: TradingState, cause: str, ts_ns: int
    ) -> None:
        self._pm.hook.bot_core_on_trading_state(
            run=run, previous=previous, current=current, cause=cause, ts_ns=ts_ns
        )

    def on_order(self, run: RunInfo, order: Order) -> None:
        if self._observed["bot_core_on_order"]:
            self._pm.hook.bot_core_on_order(run=run, order=order)

    def on_fill(self, run: RunInfo, fill: Fill) -> None:
        if self._observed["bot_core_on_fill"]:
            self._pm.hook.bot_core_on_fill(run=run, fill=fill)

    def on_resource_breach(self, run: RunInfo, breaches: Sequence[Breach], paused: Sequence[str],
                           resumed: Sequence[str], ts_ns: int) -> None:
        self._pm.hook.bot_core_on_resource_breach(run=run, breaches=breaches, paused=paused,
                                                  resumed=resumed, ts_ns=ts_ns)

    def on_stop(self, run: RunInfo, reason: str) -> None:
        self._pm.hook.bot_core_on_stop(run=run, reason=reason)

    def register_observer(self, plugin: object, name: str | None = None) -> None:
        """Register an in-process observer (a journal, a metrics exporter, a test probe)."""
        self._pm.register(plugin, name=name)
        self._refresh_observed()

    def unregister_observer(self, plugin: object) -> None:
        self._pm.unregister(plugin)
        self._refresh_observed()

    def _refresh_observed(self) -> None:
        self._observed = {
            name: self.implements(name)
            for name in ("bot_core_on_decision", "bot_core_on_risk_verdict",
                         "bot_core_on_order", "bot_core_on_fill")
        }


def _loader(module: object) -> Callable[[], object]:
    return lambda: module


def _blocked_names(environ: Mapping[str, str]) -> set[str]:
    raw = environ.get(DISABLE_ENV, "")
    return {part.strip().lower().replace("-", "_") for part in raw.split(",") if part.strip()}


def _entry_point_candidates() -> list[PluginCandidate]:
    found: list[PluginCandidate] = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        found.append(
            PluginCandidate(
                name=ep.name,
                distribution=dist.metadata["Name"] if dist is not None else "<unknown>",
                version=dist.version if dist is not None else "0",
                load=ep.load,
                module=ep.value,
            )
        )
    return sorted(found, key=lambda c: c.name)


def _host_candidates() -> list[PluginCandidate]:
    import importlib

    def loader(module: str) -> Callable[[], object]:
        return lambda: importlib.import_module(module)

    return [PluginCandidate(name, "bot-core", _host_version(), loader(module), module)
            for name, module in HOST_PLUGINS]


def _api_problem(module: object) -> str:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    spec = getattr(module, API_ATTRIBUTE, None)
    if not isinstance(spec, str):
        return (f"does not declare {API_ATTRIBUTE} (the plugin API versions it supports); "
                f"this host provides API {PLUGIN_API_VERSION}")
    try:
        specifier = SpecifierSet(spec)
    except InvalidSpecifier:
        return f"declares {API_ATTRIBUTE} = {spec!r}, which is not a version specifier"
    if not specifier.contains(PLUGIN_API_VERSION, prereleases=True):
        return (f"requires plugin API {spec}, but this host provides API {PLUGIN_API_VERSION}")
    return ""


def _unknown_hooks(module: object) -> list[str]:
    names = [n for n in dir(module) if n.startswith("bot_core_")]
    return [n for n in names if callable(getattr(module, n)) and not hasattr(hookspecs, n)]


def load_plugins(
    *,
    environ: Mapping[str, str] | None = None,
    candidates: Sequence[PluginCandidate] | None = None,
    builtins: Sequence[tuple[str, ModuleType | object]] = (),
) -> PluginHost:
    """Discover, load and register every plugin; return the host facade.

    :param environ: environment to read ``BOT_CORE_DISABLE_PLUGINS`` and tracing from
        (default: ``os.environ``).
    :param candidates: plugins to load instead of the installed entry points (tests).
    :param builtins: ``(name, module)`` pairs registered exactly like entry-point plugins.
    """
    env = os.environ if environ is None else environ
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if env.get(TRACE_ENV, "") not in ("", "0"):
        pm.trace.root.setwriter(lambda msg: print(msg, end="", file=sys.stderr))
        pm.enable_tracing()

    blocked = _blocked_names(env)
    records: list[PluginRecord] = []
    found = list(candidates) if candidates is not None else \
        _entry_point_candidates() + _host_candidates()
    found += [
        PluginCandidate(name, "bot-core", _host_version(), _loader(mod), getattr(mod, "__name__", name))
        for name, mod in builtins
    ]
    for cand in found:
        rec = PluginRecord(cand.name, cand.distribution, cand.version, cand.module)
        records.append(rec)
        if {cand.name.lower().replace("-", "_"), cand.distribution.lower().replace("-", "_")} & blocked:
            rec.status, rec.reason = "blocked", f"listed in {DISABLE_ENV}"
            continue
        try:
            module = cand.load()
        except Exception as exc:  # a broken plugin must not take the others down
            rec.status, rec.reason = "broken", f"import failed: {type(exc).__name__}: {exc}"
            continue
        problem = _api_problem(module)
        unknown = _unknown_hooks(module)
        if unknown:
            problem = problem or f"implements unknown hooks: {', '.join(unknown)}"
        if not problem:
            try:
                pm.register(module, name=cand.name)
            except Exception as exc:  # pluggy validation: bad hook signature, duplicate name
                problem = f"hook validation failed: {exc}"
        if problem:
            rec.status, rec.reason = "broken", problem
            continue
        rec.hooks = sorted(
            impl_name for impl_name in dir(module)
            if impl_name.startswith("bot_core_") and hasattr(hookspecs, impl_name)
        )
    pm.check_pending()

    host = PluginHost(pm, records)
    tracing = env.get(TRACE_ENV, "") not in ("", "0")
    _collect_components(pm, host, {r.name: r for r in records}, trace=tracing)
    host._refresh_observed()
    return host


def _collect_components(
    pm: pluggy.PluginManager, host: PluginHost, by_name: dict[str, PluginRecord], *,
    trace: bool = False,
) -> None:
    from bot_core.exchange import ExchangeAdapter
    from bot_core.risk.check import RiskCheck
    from bot_core.runtime.promotion import PromotionGate
    from bot_core.runtime.smoke_venues import SmokeVenue
    from bot_core.runtime.sources import MarketDataSource
    from bot_core.strategy import Strategy

    base: dict[ComponentKind, type] = {
        "strategy": Strategy, "exchange": ExchangeAdapter, "risk_check": RiskCheck,
        "source": MarketDataSource,
        "promotion_gate": PromotionGate, "smoke_venue": SmokeVenue,
    }
    for kind, hook_name in _REGISTRATION_HOOKS:
        table = host._table(kind)
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            rec = by_name[impl.plugin_name]
            if rec.status != "enabled":
                continue
            registered: list[type] = []
            if trace:  # called per plugin (not through pm.hook) to attribute each component
                print(f"{hook_name} [{impl.plugin_name}]", file=sys.stderr)
            try:
                impl.function(register=registered.append)
            except Exception as exc:
                _mark_broken(pm, host, rec, f"{hook_name} failed: {type(exc).__name__}: {exc}")
                continue
            for cls in registered:
                problem = _component_problem(cls, base[kind])
                if problem:
                    _mark_broken(pm, host, rec, f"{kind.replace('_', ' ')} {problem}")
                    break
                cid: str = getattr(cls, "id")  # noqa: B009 - checked by _component_problem
                owner = host.owners.get((kind, cid))
                if owner is not None:
                    host.conflicts.append(
                        f"{kind.replace('_', ' ')} id {cid!r} is registered by both "
                        f"{owner} and {rec.distribution}"
                    )
                    # Neither claimant can be trusted to be the one the operator meant: both
                    # are refused, so a bot never runs someone else's component by accident.
                    label = kind.replace("_", " ")
                    first = next(r for r in by_name.values() if r.distribution == owner
                                 and cid in r.components.get(kind, []))
                    _mark_broken(pm, host, first,
                                 f"duplicate {label} id {cid!r} (also in {rec.distribution})")
                    _mark_broken(pm, host, rec, f"duplicate {label} id {cid!r} (also in {owner})")
                    break
                table[cid] = cls
                host.owners[(kind, cid)] = rec.distribution
                rec.components.setdefault(kind, []).append(cid)


def _component_problem(cls: object, base: type) -> str:
    if not (isinstance(cls, type) and issubclass(cls, base)):
        return f"{cls!r} is not a subclass of {base.__module__}.{base.__name__}"
    ident = getattr(cls, "id", None)
    if not isinstance(ident, str) or not ident.isidentifier():
        return f"{cls.__name__} has no valid 'id' (a lower-case identifier)"
    contract = getattr(cls, "contract_problems", None)
    if contract is not None:
        problems = contract()
        if problems:
            return f"{cls.__name__}: " + "; ".join(problems)
    abstract: frozenset[str] = getattr(cls, "__abstractmethods__", frozenset())
    if abstract:
        return f"{cls.__name__} does not implement {', '.join(sorted(abstract))}"
    return ""


def _mark_broken(pm: pluggy.PluginManager, host: PluginHost, rec: PluginRecord, why: str) -> None:
    rec.status, rec.reason = "broken", why
    for kind, ids in rec.components.items():
        for cid in ids:
            host._table(kind).pop(cid, None)  # type: ignore[arg-type]
            host.owners.pop((kind, cid), None)
    rec.components.clear()
    plugin = pm.get_plugin(rec.name)
    if plugin is not None:
        pm.unregister(plugin)


def _host_version() -> str:
    try:
        return metadata.version("bot-core")
    except metadata.PackageNotFoundError:
        return "0+unknown"
