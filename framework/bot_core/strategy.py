"""The strategy contract.

A strategy turns market data into :class:`~bot_core.orders.OrderIntent` objects. It never talks
to a venue and cannot tell a backtest from live trading: the host feeds it the same events in
both, and every intent it returns goes through the risk engine.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from bot_core.errors import ConfigError, ConfigProblem
from bot_core.market import FeedSpec

if TYPE_CHECKING:
    from bot_core.market import Bar, Quote
    from bot_core.orders import ExecutionReport, Fill, OrderIntent

__all__ = ["Strategy", "StrategyContext", "StrategySettings", "bind_strategy_feeds"]

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


class Strategy(ABC):
    """Base class of trading strategies.

    ======================================  ========  ================================================
    member                                  required  meaning
    ======================================  ========  ================================================
    ``id``                                  yes       component id (``mean_reversion``), used in configs
    ``Settings``                            yes       a :class:`StrategySettings` subclass
    ``data_kind``                           yes       ``"ohlcv"`` (gets ``on_bar``) or ``"quotes"``
    ``on_bar(bar, ctx)``                    ohlcv     return the intents for this bar (may be empty)
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
    ``target_positions(frame, equity)``     no        bar strategies: the target position of every bar
                                                      at once (batch kernels); the backtest's fast path
    ``target_positions_exact``              no        False when those targets are not what ``on_bar``
                                                      decides once equity moves (hysteresis measured
                                                      in current equity): the backtest then runs the
                                                      strategy event by event
    ``targets_scale_with_equity``           no        True when ``target_positions`` at ``k x equity``
                                                      is ``k x`` the targets (sizing in % of equity),
                                                      False when they do not depend on equity; unset,
                                                      the backtest computes the targets twice to tell
    ``target_fractions(frame)``             no        ``(fractions, band)``: the target of every bar
                                                      as a fraction of equity (position = fraction *
                                                      equity / close; NaN holds), taken when it moves
                                                      the position by ``band * equity`` or more; the
                                                      backtest's compiled replay sizes it with the
                                                      equity of each bar, exactly as ``on_bar``
    ======================================  ========  ================================================

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
        settings: StrategySettings,
        *,
        name: str | None = None,
        instruments: Sequence[str] = (),
        venues: Sequence[str] = (),
    ) -> None:
        self.settings = settings
        self.name = name or self.id
        self.instruments = tuple(instruments)
        self.venues = tuple(venues)

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

    def on_start(self, ctx: StrategyContext) -> None:  # noqa: B027 - optional hook
        """Optional: called once before the first event."""

    def on_bar(self, bar: Bar, ctx: StrategyContext) -> Sequence[OrderIntent]:
        """Required for ``data_kind == "ohlcv"``: react to one closed bar."""
        raise NotImplementedError(f"{type(self).__name__} does not handle bars")

    def on_quote(self, quote: Quote, ctx: StrategyContext) -> Sequence[OrderIntent]:
        """Required for ``data_kind == "quotes"``: react to one top-of-book update."""
        raise NotImplementedError(f"{type(self).__name__} does not handle quotes")

    def on_fill(self, fill: Fill, ctx: StrategyContext) -> Sequence[OrderIntent]:
        """Optional: one of this strategy's orders filled; may answer with intents (hedges)."""
        return ()

    def on_order_update(self, report: ExecutionReport, ctx: StrategyContext) -> Sequence[OrderIntent]:
        """Optional: status change of one of this strategy's orders; may answer with intents."""
        return ()

    def warm_up(self, history: Any) -> None:  # noqa: B027 - optional hook
        """Optional: precompute from history (a DataFrame per instrument) before live events."""

    def on_stop(self, ctx: StrategyContext) -> None:  # noqa: B027 - optional hook
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
        if cls.data_kind == "ohlcv" and cls.on_bar is Strategy.on_bar:
            problems.append("data_kind 'ohlcv' requires on_bar()")
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
