"""The strategy contract.

A strategy turns market data into :class:`~bot_core.orders.OrderIntent` objects. It never talks
to a venue and cannot tell a backtest from live trading: the host feeds it the same events in
both, and every intent it returns goes through the risk engine.

A bar strategy may also offer the *batch contract* (:class:`DecisionRule`, docs/plugins.md "Fast
backtests: the batch contract"): its signal for a whole frame at once, its signal bar by bar,
and its decision as one compiled function. ``on_bar`` then follows that function (this base
class implements it), and a backtest runs the same function inside its compiled replay.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Protocol

from pydantic import BaseModel, ConfigDict
from typing_extensions import TypeVar

from bot_core.errors import ConfigError, ConfigProblem
from bot_core.market import FeedSpec
from bot_core.targets import TargetTracker

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from bot_core.market import Bar, Quote
    from bot_core.orders import ExecutionReport, Fill, OrderIntent

__all__ = ["DecisionRule", "SettingsT", "Strategy", "StrategyContext", "StrategySettings",
           "bind_strategy_feeds"]

_UNSET: Any = object()


class StrategySettings(BaseModel):
    """Base of every strategy's settings: frozen, keyword-only, unknown fields rejected.

    Subclasses document every field with its unit and allowed range (``Field(description=...)``)
    and may give per-risk-profile defaults in ``profile_defaults`` (profile name -> field values);
    the host applies them between the field defaults and the user's own values.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    profile_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    profile_timeframe: ClassVar[str | None] = None
    """The bar length the profile defaults were chosen for (``"1m"``), when they count time in
    bars. On data of another bar length, a field counted in bars (its name ends in ``_bars``)
    that still holds a profile's value is reported with the time it spans there (a warning
    from :meth:`Strategy.bind_feeds`)."""
    timeframe_defaults: ClassVar[Mapping[str, Mapping[str, Mapping[str, Any]]]] = {}
    """Optional, API 1.2: bar length (``"1h"``, ``"1d"``) -> profile -> field values that
    replace the ``profile_defaults`` of the same fields for an instance configured on bars of
    that length (``strategies.NAME.timeframe``; ``bot-core backtest`` binding a strategy to a
    dataset sets it from the data). Precedence: field defaults, ``profile_defaults``, these,
    the user's ``params``."""

    @classmethod
    def defaults_by_timeframe(cls) -> dict[str, dict[str, dict[str, Any]]]:
        """Bar length -> profile -> the profile values an instance on that bar length gets:
        ``profile_defaults`` for ``profile_timeframe``, with ``timeframe_defaults`` over them
        for the other bar lengths (empty without ``profile_timeframe``)."""
        if cls.profile_timeframe is None:
            return {}
        out = {cls.profile_timeframe: {p: dict(v) for p, v in cls.profile_defaults.items()}}
        for timeframe, profiles in cls.timeframe_defaults.items():
            out[timeframe] = {p: {**cls.profile_defaults.get(p, {}), **profiles.get(p, {})}
                              for p in {*cls.profile_defaults, *profiles}}
        return out


SettingsT = TypeVar("SettingsT", bound=StrategySettings, default=StrategySettings,
                    covariant=True)
"""A strategy's own settings model: ``class MyStrategy(Strategy[MySettings])`` (a bare
``Strategy`` is ``Strategy[StrategySettings]``)."""


@dataclass(frozen=True, slots=True)
class DecisionRule:
    """A bar strategy's decision, compiled: what :meth:`Strategy.decision_rule` returns.

    ``decide`` is a Numba function compiled with ``bot_core.kernels.DECIDE_SIGNATURE``:
    ``decide(signal, close, position, equity, state, params) -> (target, reason)``, called once
    per bar (see :mod:`bot_core.kernels.decide` for each argument). ``on_bar`` and a backtest's
    compiled replay both call it, with the same arguments.
    """

    decide: Any
    """The compiled rule."""
    params: np.ndarray
    """Its settings as a float64 vector (``params``)."""
    state_size: int
    """Length of its per-instrument float64 state (zeros before the first bar)."""
    reasons: tuple[str, ...]
    """Reason code -> the tag of the order it causes (code 0: ``resync``)."""

    def tag(self, reason: int) -> str:
        """The tag of an order caused by reason code ``reason``."""
        return self.reasons[reason] if 0 < reason < len(self.reasons) else "resync"


class _RuleBook:
    """One instrument's state under a :class:`DecisionRule` (``Strategy.on_bar``)."""

    __slots__ = ("reason", "state", "tracker")

    def __init__(self, state: np.ndarray) -> None:
        self.state = state
        self.tracker = TargetTracker()
        self.reason = 0


class StrategyContext(Protocol):
    """What a strategy may read and ask of the host while handling an event."""

    @property
    def now_ns(self) -> int: ...
    @property
    def equity(self) -> float: ...

    def position(self, instrument: str, venue: str | None = None) -> float:
        """Signed position of *this strategy* in the instrument."""
        ...

    def last_price(self, instrument: str, venue: str | None = None) -> float: ...

    def new_client_order_id(self) -> str:
        """A client order id unique across the bot's lifetime (restarts included)."""
        ...


class Strategy(ABC, Generic[SettingsT]):
    """Base class of trading strategies, generic in their settings model
    (``class MeanReversionStrategy(Strategy[MeanReversionSettings])``: ``self.settings`` is a
    ``MeanReversionSettings``).

    ======================================  ========  ================================================
    member                                  required  meaning
    ======================================  ========  ================================================
    ``id``                                  yes       component id (``mean_reversion``), used in configs
    ``Settings``                            yes       a :class:`StrategySettings` subclass
    ``data_kind``                           yes       ``"ohlcv"`` (gets ``on_bar``) or ``"quotes"``
    ``on_bar(bar, ctx)``                    ohlcv     return the intents for this bar (may be empty);
                                                      implemented here for the batch contract
    ``on_quote(quote, ctx)``                quotes    return the intents for this quote
    ``bind_feeds(feeds)``                   no        the feeds it will receive (:class:`FeedSpec`:
                                                      source, timeframe, bar length, periods per
                                                      year, rows), once, before ``warm_up``,
                                                      ``on_start`` and the batch methods; check the
                                                      parameters against them (raise
                                                      :meth:`config_error`), return warnings
    ``on_start(ctx)`` / ``on_stop(ctx)``    no        lifecycle
    ``on_fill(fill, ctx)``                  no        one of this strategy's orders was filled
    ``on_order_update(report, ctx)``        no        status change of one of its orders (reject...)
    ``warm_up(history)``                    no        precompute state from history before the first
                                                      live event; batch kernels belong here
    **batch contract** (bar strategies; all three or none: backtests then run compiled)
    ``signal(frame)``                       no        the per-bar inputs of the decision that do not
                                                      depend on fills, for a whole OHLCV frame at
                                                      once: float64 ``(bars,)`` or ``(bars, k)``
    ``signal_update(bar)``                  no        the same for one bar, live (incremental): the
                                                      row ``signal(frame)`` gives for it
    ``decision_rule()``                     no        the decision, compiled: a :class:`DecisionRule`
    ======================================  ========  ================================================

    With the batch contract, this class's ``on_bar`` is the strategy's: on every bar it calls
    ``decide(signal_update(bar), close, position, equity, state, params)`` and trades the
    difference between the target and the position as one market IOC order (not reduce-only,
    tagged with the reason; nothing when the difference is rounding, see
    :func:`bot_core.rules.settled`), backing off when an order changed nothing
    (:class:`~bot_core.TargetTracker`). A backtest whose bar strategies all offer it runs
    ``decide`` in its compiled replay instead, bar by bar with the same arguments.

    ``name`` is the instance name from the config (several instances of one strategy may run).
    Import heavy modules (numba kernels, pandas) inside methods, not at module level, so that
    commands that only list plugins stay fast.

    **Time comes from the data.** A strategy never assumes a bar length: the host hands it
    the bar length and calendar of each feed through ``bind_feeds`` (a backtest from the
    datasets, the live runtime from its feeds), and a parameter that cannot work on that data
    (a window longer than the dataset, a stated bar length that disagrees with it) is a
    :class:`~bot_core.errors.ConfigError` naming the parameter, the timeframe and the data.
    """

    id: ClassVar[str]
    Settings: ClassVar[type[StrategySettings]]
    data_kind: ClassVar[Literal["ohlcv", "quotes"]] = "ohlcv"
    feeds: tuple[FeedSpec, ...] = ()
    """The feeds this strategy receives, as :meth:`bind_feeds` was given them."""

    def __init__(
        self,
        settings: SettingsT,
        *,
        name: str | None = None,
        instruments: Sequence[str] = (),
        venues: Sequence[str] = (),
    ) -> None:
        expected = getattr(type(self), "Settings", None)
        if isinstance(expected, type) and not isinstance(settings, expected):
            raise TypeError(f"{type(self).__name__} needs {expected.__name__}, got "
                            f"{type(settings).__name__}")
        self.settings: SettingsT = settings
        self.name = name or self.id
        self.instruments = tuple(instruments)
        self.venues = tuple(venues)
        self._rule: DecisionRule | None = _UNSET
        self._rule_books: dict[tuple[str, str], _RuleBook] = {}

    def bind_feeds(self, feeds: Sequence[FeedSpec]) -> list[str]:
        """Optional: the feeds this strategy will receive (its instruments on its venues, of its
        ``data_kind``), once, before ``warm_up``, ``on_start`` and the batch methods.

        Override it to check the parameters against the data, calling this first: raise
        :meth:`config_error` for a parameter that cannot work on a feed, and return warnings
        (one line each, naming the field: :meth:`field_path`) for values that work but are
        likely not what was meant. This base keeps the feeds in :attr:`feeds` and returns the
        warnings of ``Settings.profile_timeframe``.
        """
        self.feeds = tuple(feeds)
        return self._profile_horizon_warnings()

    def feed(self, instrument: str, venue: str | None = None) -> FeedSpec | None:
        """The bound feed of ``instrument`` (on ``venue``, when given), or None."""
        return next((f for f in self.feeds if f.instrument == instrument
                     and (venue is None or f.venue == venue)), None)

    def field_path(self, field: str) -> str:
        """``strategies.<name>.<field>``: where ``field`` (``params.window_bars``) is configured."""
        return f"strategies.{self.name}.{field}"

    def config_error(self, field: str, message: str, value: object = _UNSET) -> ConfigError:
        """A :class:`~bot_core.errors.ConfigError` about ``field`` of this strategy's config
        table (``params.window_bars``, ``instruments``) with ``value`` (for ``params.X``, by
        default the setting's value); the host fills in the file or preset it came from."""
        if value is _UNSET:
            _, _, name = field.partition("params.")
            value = getattr(self.settings, name, "<n/a>") if field.startswith("params.") \
                else "<n/a>"
        return ConfigError([ConfigProblem("<config>", self.field_path(field), value, message)])

    def _profile_horizon_warnings(self) -> list[str]:
        settings_cls = type(self.settings)
        tables = settings_cls.defaults_by_timeframe()
        if not tables:
            return []
        seconds = {tf: FeedSpec.continuous(venue="", instrument="", kind=self.data_kind,
                                           timeframe=tf).bar_seconds for tf in tables}
        groups: dict[str, list[FeedSpec]] = {}
        for spec in self.feeds:
            if spec.bar_seconds is not None:
                groups.setdefault(spec.timeframe or f"{spec.bar_seconds:g} s", []).append(spec)
        out: list[str] = []
        for field in settings_cls.model_fields:
            value = getattr(self.settings, field)
            if not field.endswith("_bars") or value is None:
                continue
            for timeframe, specs in groups.items():
                here = [tf for tf in tables if seconds[tf] == specs[0].bar_seconds]
                if any(v.get(field) == value for tf in here for v in tables[tf].values()):
                    continue  # a profile's value for this very bar length
                for made_for, profiles in tables.items():
                    if made_for in here:
                        continue
                    names = [p for p, v in profiles.items() if v.get(field) == value]
                    if names:
                        out.append(self._horizon_warning(field, value, names, made_for,
                                                         timeframe, specs, here))
                        break
        return out

    def _horizon_warning(self, field: str, value: float, profiles: list[str], made_for: str,
                         timeframe: str, specs: list[FeedSpec], here: list[str]) -> str:
        reference = FeedSpec.continuous(venue="", instrument="", kind=self.data_kind,
                                        timeframe=made_for)
        whose = " and ".join(profiles) + (" profiles'" if len(profiles) > 1 else " profile's")
        text = (f"{self.field_path('params.' + field)}: {value:g} is the {whose} value for "
                f"{made_for} bars ({reference.span(value)}); on the {timeframe} bars of "
                f"{', '.join(s.source for s in specs)} it spans {specs[0].span(value)}: set "
                f"{field} for this timeframe")
        if here:
            text += (f", or {self.field_path('timeframe')} = \"{here[0]}\" for the profiles' "
                     f"{here[0]} values")
        return text

    def on_start(self, ctx: StrategyContext) -> None:
        """Optional: called once before the first event."""

    def on_bar(self, bar: Bar, ctx: StrategyContext) -> Sequence[OrderIntent]:
        """Required for ``data_kind == "ohlcv"``: react to one closed bar. With the batch
        contract, this follows :meth:`decision_rule` (see the class docstring)."""
        rule = self.batch_rule()
        if rule is None:
            raise NotImplementedError(f"{type(self).__name__} does not handle bars")
        key = (bar.venue, bar.instrument)
        book = self._rule_books.get(key)
        if book is None:
            import numpy as np

            book = self._rule_books[key] = _RuleBook(np.zeros(rule.state_size))
        position = float(ctx.position(bar.instrument, bar.venue))
        target, reason = rule.decide(self.signal_update(bar), float(bar.close), position,
                                     float(ctx.equity), book.state, rule.params)
        book.reason = int(reason)
        return book.tracker.intents(self.name, bar.venue, bar.instrument, float(target),
                                    position, ctx, bar.ts_ns, rule.tag(book.reason))

    # -- the batch contract (optional) --------------------------------------------------------

    def signal(self, frame: pd.DataFrame) -> np.ndarray:
        """Batch contract: the inputs of the decision that do not depend on fills, for every bar
        of an OHLCV frame (UTC index; open, high, low, close, volume) at once: float64
        ``(bars,)`` or ``(bars, k)``, causal (row ``t`` uses bars up to ``t`` only)."""
        raise NotImplementedError(f"{type(self).__name__} has no batch signal")

    def signal_update(self, bar: Bar) -> np.ndarray:
        """Batch contract: this bar's row of :meth:`signal` (float64, C-contiguous), computed
        incrementally from the bars seen so far (live trading sees one bar at a time)."""
        raise NotImplementedError(f"{type(self).__name__} has no incremental signal")

    def decision_rule(self) -> DecisionRule | None:
        """Batch contract: the decision as a :class:`DecisionRule`, or None (the default) for a
        strategy without the batch contract. Called once per instance."""
        return None

    def batch_rule(self) -> DecisionRule | None:
        """:meth:`decision_rule`, built once per instance (what the host calls)."""
        if self._rule is _UNSET:
            self._rule = self.decision_rule()
        return self._rule

    def reason(self, instrument: str, venue: str | None = None) -> str:
        """The reason of the last decision on ``instrument`` (``venue``: the first bound one),
        under the batch contract (``""`` before the first bar)."""
        rule = self.batch_rule()
        for (v, i), book in self._rule_books.items():
            if i == instrument and (venue is None or v == venue) and rule is not None:
                return rule.reasons[book.reason] if book.reason < len(rule.reasons) else ""
        return ""

    def on_quote(self, quote: Quote, ctx: StrategyContext) -> Sequence[OrderIntent]:
        """Required for ``data_kind == "quotes"``: react to one top-of-book update."""
        raise NotImplementedError(f"{type(self).__name__} does not handle quotes")

    def on_fill(self, fill: Fill, ctx: StrategyContext) -> Sequence[OrderIntent]:
        """Optional: one of this strategy's orders filled; may answer with intents (hedges)."""
        return ()

    def on_order_update(self, report: ExecutionReport, ctx: StrategyContext) -> Sequence[OrderIntent]:
        """Optional: status change of one of this strategy's orders; may answer with intents."""
        return ()

    def warm_up(self, history: Any) -> None:
        """Optional: precompute from history (a DataFrame per instrument) before live events."""

    def on_stop(self, ctx: StrategyContext) -> None:
        """Optional: called once after the last event."""

    @classmethod
    def contract_problems(cls) -> list[str]:
        """What this class lacks to satisfy the contract (empty when it is complete)."""
        problems: list[str] = []
        ident = getattr(cls, "id", None)
        if not isinstance(ident, str) or not ident.isidentifier():
            problems.append("class attribute 'id' must be a lower-case identifier string")
        settings = getattr(cls, "Settings", None)
        if not (isinstance(settings, type) and issubclass(settings, StrategySettings)):
            problems.append("class attribute 'Settings' must subclass bot_core.StrategySettings")
        batch = [m for m in ("signal", "signal_update", "decision_rule")
                 if getattr(cls, m) is not getattr(Strategy, m)]
        if batch and len(batch) < 3:
            missing = [m for m in ("signal", "signal_update", "decision_rule") if m not in batch]
            problems.append(f"the batch contract needs signal(), signal_update() and "
                            f"decision_rule(); {', '.join(missing)} missing")
        if cls.data_kind == "ohlcv" and cls.on_bar is Strategy.on_bar and not batch:
            problems.append("data_kind 'ohlcv' requires on_bar() or the batch contract "
                            "(signal, signal_update, decision_rule)")
        if cls.data_kind == "quotes" and cls.on_quote is Strategy.on_quote:
            problems.append("data_kind 'quotes' requires on_quote()")
        if cls.data_kind not in ("ohlcv", "quotes"):
            problems.append(f"data_kind must be 'ohlcv' or 'quotes', not {cls.data_kind!r}")
        return problems


def bind_strategy_feeds(strategies: Iterable[Strategy], feeds: Sequence[FeedSpec], *,
                        sources: Mapping[str, str] | None = None) -> list[str]:
    """Hand every strategy the feeds it receives (:meth:`Strategy.bind_feeds`): the one way
    the host does it, for backtests and live trading alike.

    A strategy receives the feeds of its ``data_kind`` for its instruments on its venues (all
    of them when it names none). Returns every strategy's warnings; raises one
    :class:`~bot_core.errors.ConfigError` with every strategy's problems, each with the source
    of its field (``sources``: field path -> file, preset or env var, as in
    ``ResolvedConfig.sources``; a parent path stands for its fields).
    """
    problems: list[ConfigProblem] = []
    warnings: list[str] = []
    for strategy in strategies:
        mine = [f for f in feeds if f.kind == strategy.data_kind
                and (not strategy.instruments or f.instrument in strategy.instruments)
                and (not strategy.venues or f.venue in strategy.venues)]
        try:
            warnings += strategy.bind_feeds(mine)
        except ConfigError as exc:
            problems += [p if p.source != "<config>" else
                         ConfigProblem(_source_of(p.field, sources or {}), p.field, p.value,
                                       p.message) for p in exc.problems]
    if problems:
        raise ConfigError(problems)
    return warnings


def _source_of(field: str, sources: Mapping[str, str]) -> str:
    """Where ``field`` was set: its own source, ``default`` for a strategy parameter nobody set,
    else the nearest parent's source."""
    if field in sources:
        return sources[field]
    if ".params." in field:
        return "default"
    probe = field.rpartition(".")[0]
    while probe:
        if probe in sources:
            return sources[probe]
        probe = probe.rpartition(".")[0]
    return "<config>"
