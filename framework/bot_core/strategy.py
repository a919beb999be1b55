"""The strategy contract.

A strategy turns market data into :class:`~bot_core.orders.OrderIntent` objects. It never talks
to a venue and cannot tell a backtest from live trading: the host feeds it the same events in
both, and every intent it returns goes through the risk engine.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from bot_core.market import Bar, Quote
    from bot_core.orders import ExecutionReport, Fill, OrderIntent

__all__ = ["Strategy", "StrategyContext", "StrategySettings"]


class StrategySettings(BaseModel):
    """Base of every strategy's settings: frozen, keyword-only, unknown fields rejected.

    Subclasses document every field with its unit and allowed range (``Field(description=...)``)
    and may give per-risk-profile defaults in ``profile_defaults`` (profile name -> field values);
    the host applies them between the field defaults and the user's own values.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    profile_defaults: ClassVar[Mapping[str, Mapping[str, Any]]] = {}


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
    """

    id: ClassVar[str]
    Settings: ClassVar[type[StrategySettings]]
    data_kind: ClassVar[Literal["ohlcv", "quotes"]] = "ohlcv"

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
