"""``bot-core plugin new strategy|exchange|risk NAME``: a plugin project that works as generated.

The project is a distribution of its own: ``pyproject.toml`` with the ``bot_core`` entry point
and the ``BOT_CORE_API`` specifier of this host's API, the component with a frozen settings
model, tests that load it the way the host does and drive it with :mod:`bot_core.testing`, a
``tox.ini`` that runs them against the built wheel, and a README. ``pip install ./NAME`` lists
it in ``bot-core plugins list``; a strategy backtests with ``bot-core backtest --strategy NAME
--dataset demo-btc-usdt-1m``. The strategy is the crossover example of docs/plugins.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bot_core.errors import UsageError

__all__ = ["KINDS", "Scaffold", "new_plugin"]

KINDS = ("strategy", "exchange", "risk")
"""What ``plugin new`` makes: a strategy, an exchange adapter (a simulated venue) or a risk
check."""
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True, slots=True)
class Scaffold:
    """The names a generated plugin uses."""

    kind: str
    name: str
    """Component id and entry-point name: ``mystrat``."""

    @property
    def distribution(self) -> str:
        return "bot-core-" + self.name.replace("_", "-")

    @property
    def package(self) -> str:
        return "bot_core_" + self.name

    @property
    def title(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("_"))

    @property
    def api(self) -> str:
        from bot_core.plugins import PLUGIN_API_VERSION

        major = int(PLUGIN_API_VERSION.split(".")[0])
        return f">={PLUGIN_API_VERSION},<{major + 1}"

    def files(self) -> dict[str, str]:
        """Relative path -> content of every file of the project."""
        module = {"strategy": "strategy", "exchange": "venue", "risk": "check"}[self.kind]
        values = {"name": self.name, "title": self.title, "package": self.package,
                  "distribution": self.distribution, "api": self.api, "module": module,
                  "kind": _KIND_TEXT[self.kind], "host": _host_requirement()}
        body = {"strategy": (_STRATEGY, _STRATEGY_TESTS), "exchange": (_VENUE, _VENUE_TESTS),
                "risk": (_CHECK, _CHECK_TESTS)}[self.kind]
        return {
            "pyproject.toml": _PYPROJECT.format(**values),
            "tox.ini": _TOX.format(**values),
            "README.md": _README.format(**values, usage=_USAGE[self.kind].format(**values)),
            f"src/{self.package}/__init__.py": _INIT.format(**values),
            f"src/{self.package}/plugin.py": _PLUGIN[self.kind].format(**values),
            f"src/{self.package}/{module}.py": body[0].format(**values),
            "tests/conftest.py": _CONFTEST,
            f"tests/test_{self.name}.py": body[1].format(**values),
        }


def new_plugin(kind: str, name: str, parent: Path) -> Path:
    """Write the project of a new ``kind`` plugin ``name`` to ``parent/name``; returns it.

    :raises UsageError: an unknown kind, a name that is not a lower-case identifier, or a
        folder that exists already (nothing is written then).
    """
    if kind not in KINDS:
        raise UsageError(f"plugin new {kind}: choose one of {', '.join(KINDS)}")
    if not _NAME.match(name):
        raise UsageError(f"plugin new {kind} {name}: the name is the component id: a lower-case "
                         "letter, then lower-case letters, digits or _ (at most 40), e.g. mystrat")
    target = parent / name
    if target.exists() or target.is_symlink():
        raise UsageError(f"--dir {parent}: {target} already exists; choose another name or "
                         "folder")
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"--dir {parent}: not a folder")
    files = Scaffold(kind, name).files()
    staging = parent / f".{name}.partial"
    try:
        for relative, text in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        staging.rename(target)
    except OSError as exc:
        _remove(staging)
        raise UsageError(f"--dir {parent}: cannot write {target}: {exc.strerror}") from None
    return target


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _host_requirement() -> str:
    from bot_core import __version__

    major, minor = (int(p) for p in __version__.split(".")[:2])
    return f"bot-core>={major}.{minor}"


_KIND_TEXT = {"strategy": "strategy", "exchange": "simulated exchange adapter",
              "risk": "risk check"}

_PYPROJECT = '''\
[build-system]
requires = ["hatchling>=1.21"]
build-backend = "hatchling.build"

[project]
name = "{distribution}"
version = "0.1.0"
description = "{title}: a bot-core {kind} plugin."
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["{host}"]

[project.optional-dependencies]
# bot_core.testing (fixtures and helpers) needs pytest: the host's `testing` extra brings it
test = ["bot-core[testing]"]

# The host finds the plugin through this entry point; its name is the plugin's name in
# `bot-core plugins list` and BOT_CORE_DISABLE_PLUGINS.
[project.entry-points.bot_core]
{name} = "{package}.plugin"

[tool.hatch.build.targets.wheel]
packages = ["src/{package}"]
'''

_TOX = '''\
# `tox` runs the tests against the built wheel of this plugin beside the host, as users
# install it (not the source tree). The host comes from your package index, or from a wheel:
#   BOTCORE_WHEEL=/path/to/bot_core-0.1.0-py3-none-any.whl tox
[tox]
env_list = py3
requires = tox>=4.11

[testenv]
description = {distribution}'s tests, the plugin installed as a wheel
package = wheel
deps = {{env:BOTCORE_WHEEL:bot-core}}[testing]
extras = test
commands = pytest {{posargs:tests}}
'''

_README = '''\
# {distribution}

{title}, a bot-core {kind} plugin (component id `{name}`), generated by `bot-core plugin new`.

```
pip install .                    # builds the wheel, installs it beside bot-core
bot-core plugins list            # {name}: enabled
bot-core plugins show {name}     # its parameters and their defaults
pip install '.[test]' && pytest  # the tests (bot_core.testing needs bot-core[testing])
tox                              # the tests against the built wheel (see tox.ini)
pip wheel --no-deps -w dist .    # the wheel to ship (or: python -m build --wheel)
```

{usage}

`src/{package}/plugin.py` is the entry-point module: `BOT_CORE_API` (the plugin API versions it
supports, `{api}`) and the hook that registers the component. `src/{package}/{module}.py` is the
component and its settings model (frozen, unknown fields refused, every field with its unit and
range). See docs/plugins.md of bot-core for the contracts and the hooks.
'''

_USAGE = {
    "strategy": '''\
Backtest it on the shipped demo data (no config needed: it is bound to the dataset):

```
bot-core backtest --strategy {name} --dataset demo-btc-usdt-1m --param fast_bars=20
```

In a config, an instance of it is a `[strategies.NAME]` table:

```toml
[strategies.{name}]
plugin = "{name}"
instruments = ["BTC/USDT"]
venues = ["venue_a"]
[strategies.{name}.params]
fast_bars = 20
slow_bars = 60
```''',
    "exchange": '''\
Use it as a venue in a config: `[venues.NAME] adapter = "{name}"`, with its settings under
`[venues.NAME.settings]`.''',
    "risk": '''\
Enable it in a config: add `"{name}"` to `risk.checks`, with its settings under
`[risk.check_settings.{name}]`.''',
}

_INIT = '''\
"""{title}: a bot-core {kind} plugin (component id ``{name}``)."""

__version__ = "0.1.0"
'''

_PLUGIN = {
    "strategy": '''\
"""Entry point of {distribution} (group ``bot_core``): the API it supports and its hook."""

from __future__ import annotations

from collections.abc import Callable

import bot_core
from {package}.strategy import {title}Strategy

BOT_CORE_API = "{api}"


@bot_core.hookimpl
def bot_core_register_strategies(register: Callable[[type[bot_core.Strategy]], None]) -> None:
    register({title}Strategy)
''',
    "exchange": '''\
"""Entry point of {distribution} (group ``bot_core``): the API it supports and its hook."""

from __future__ import annotations

from collections.abc import Callable

import bot_core
from {package}.venue import {title}Venue

BOT_CORE_API = "{api}"


@bot_core.hookimpl
def bot_core_register_exchanges(register: Callable[[type[bot_core.ExchangeAdapter]], None]
                                ) -> None:
    register({title}Venue)
''',
    "risk": '''\
"""Entry point of {distribution} (group ``bot_core``): the API it supports and its hook."""

from __future__ import annotations

from collections.abc import Callable

import bot_core
from {package}.check import {title}Check

BOT_CORE_API = "{api}"


@bot_core.hookimpl
def bot_core_register_risk_checks(register: Callable[[type[bot_core.RiskCheck]], None]) -> None:
    register({title}Check)
''',
}

_STRATEGY = '''\
"""The {name} strategy: long while a fast moving average of the close is above a slow one."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field, model_validator

import bot_core
from bot_core import Bar, FeedSpec, OrderIntent, StrategyContext, StrategySettings, TargetTracker


class {title}Settings(StrategySettings):
    """Frozen, unknown fields refused; every field says its unit and range."""

    fast_bars: int = Field(10, ge=1, le=10_000,
                           description="Bars in the fast moving average, [1, 10000].")
    slow_bars: int = Field(30, ge=2, le=100_000,
                           description="Bars in the slow moving average, [2, 100000]; more "
                           "than fast_bars.")
    equity_pct: float = Field(10.0, gt=0, le=100,
                              description="Position notional while long, % of equity, (0, 100].")

    # Per risk profile (between the field defaults and the user's own params).
    profile_defaults: ClassVar[dict[str, dict[str, Any]]] = {{
        "conservative": {{"equity_pct": 5.0}},
        "balanced": {{"equity_pct": 10.0}},
        "aggressive": {{"equity_pct": 20.0}},
    }}

    @model_validator(mode="after")
    def _fast_below_slow(self) -> {title}Settings:
        if self.fast_bars >= self.slow_bars:
            raise ValueError(f"fast_bars ({{self.fast_bars}}) must be less than slow_bars "
                             f"({{self.slow_bars}})")
        return self


class {title}Strategy(bot_core.Strategy[{title}Settings]):
    """Long ``equity_pct`` % of equity while the fast moving average of the close is above the
    slow one, flat otherwise; one market order per change, toward the target position."""

    id: ClassVar[str] = "{name}"
    Settings: ClassVar[type[StrategySettings]] = {title}Settings
    data_kind = "ohlcv"

    def __init__(self, settings: {title}Settings, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self._closes: dict[str, deque[float]] = {{}}
        self._trackers: dict[str, TargetTracker] = {{}}

    def bind_feeds(self, feeds: Sequence[FeedSpec]) -> list[str]:
        """Refuse data too short to fill the slow average: the strategy would never trade."""
        warnings = super().bind_feeds(feeds)
        for spec in self.feeds:
            if spec.rows is not None and spec.rows <= self.settings.slow_bars:
                raise self.config_error(
                    "params.slow_bars", f"{{spec.source}} has {{spec.rows}} rows: the slow "
                    "average would never fill")
        return warnings

    def on_bar(self, bar: Bar, ctx: StrategyContext) -> Sequence[OrderIntent]:
        settings = self.settings
        closes = self._closes.setdefault(bar.instrument, deque(maxlen=settings.slow_bars))
        closes.append(bar.close)
        if len(closes) < settings.slow_bars:
            return ()
        fast = sum(list(closes)[-settings.fast_bars:]) / settings.fast_bars
        slow = sum(closes) / settings.slow_bars
        venue = self.venues[0] if self.venues else bar.venue
        position = ctx.position(bar.instrument, venue)
        if fast > slow:
            if position > 0:
                return ()  # long already: hold what the cross bought
            target, tag = settings.equity_pct / 100.0 * ctx.equity / bar.close, "cross_up"
        else:
            target, tag = 0.0, "cross_down"
        tracker = self._trackers.setdefault(bar.instrument, TargetTracker())
        # the order from the position to the target; after a refusal (risk, venue) it backs
        # off instead of re-sending on every bar
        return tracker.intents(self.name, venue, bar.instrument, target, position, ctx,
                               bar.ts_ns, tag)
'''

_STRATEGY_TESTS = '''\
"""{name}: loaded as the host loads it, its settings, its rule on a known price path."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

import bot_core
from bot_core.testing import frame_from_closes, run_bars
from {package}.strategy import {title}Settings, {title}Strategy


def test_the_host_loads_it_from_the_installed_distribution() -> None:
    host = bot_core.load_plugins()
    assert host.strategy("{name}") is {title}Strategy
    record = host.record("{name}")
    assert record is not None and record.status == "enabled", record
    assert record.distribution == "{distribution}"


def test_settings_refuse_a_fast_average_not_shorter_than_the_slow_one() -> None:
    with pytest.raises(ValidationError, match="fast_bars"):
        {title}Settings(fast_bars=30, slow_bars=30)
    with pytest.raises(ValidationError, match="extra"):
        {title}Settings(slow_bar=30)  # a typo is refused, not ignored


def test_long_after_the_fast_average_crosses_above_flat_after_it_falls_back() -> None:
    rise = [100.0 + i for i in range(1, 31)]
    closes = [100.0] * 30 + rise + [130.0 - i for i in range(1, 41)]
    strategy = {title}Strategy({title}Settings(fast_bars=5, slow_bars=20))
    positions, intents = run_bars(strategy, frame_from_closes(closes))
    assert positions[29] == 0.0  # flat: the averages are equal
    # bought 10 % of equity at the first close above, 101, and held while above
    assert positions[30] == positions[59] == pytest.approx(0.10 * 100_000 / 101.0)
    assert positions[-1] == 0.0
    assert [i.tag for i in intents] == ["cross_up", "cross_down"]


def test_a_dataset_shorter_than_the_slow_average_is_refused() -> None:
    index = pd.date_range("2024-01-01", periods=20, freq="1min", tz="UTC")
    spec = bot_core.FeedSpec.from_timestamps(index.as_unit("ns").asi8, venue="venue_a",
                                             instrument="BTC/USDT", source="short")
    strategy = {title}Strategy({title}Settings(slow_bars=30), name="{name}")
    with pytest.raises(bot_core.ConfigError, match="slow_bars"):
        strategy.bind_feeds([spec])
'''

_VENUE = '''\
"""The {name} venue: a simulated exchange that fills market orders at the last price it saw."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

import bot_core
from bot_core import (
    Bar,
    ExecutionReport,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Quote,
    Side,
    split_symbol,
)


class {title}Settings(BaseModel):
    """Frozen, unknown fields refused; every field says its unit and range."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fee_bps: float = Field(5.0, ge=0, le=1000,
                           description="Fee on every fill, basis points of notional, [0, 1000].")
    initial_balances: dict[str, float] = Field(
        default_factory=dict, description="Starting balance per asset; default: the bot's "
        "runtime.initial_equity in its base currency.")


class {title}Venue(bot_core.ExchangeAdapter):
    """Fills every market order in full at the last bar close (or quote mid) of its
    instrument, plus ``fee_bps``; refuses other orders and orders before any price."""

    id: ClassVar[str] = "{name}"
    Settings: ClassVar[type[BaseModel]] = {title}Settings
    simulated: ClassVar[bool] = True

    def __init__(self, settings: BaseModel | None = None, *, name: str | None = None) -> None:
        super().__init__(settings, name=name)
        self.config: {title}Settings = self.settings  # type: ignore[assignment]
        self._balances: dict[str, float] = dict(self.config.initial_balances)
        self._prices: dict[str, float] = {{}}
        self._now_ns = 0
        self._trades = 0

    def on_market_data(self, event: Bar | Quote) -> Sequence[ExecutionReport]:
        price = event.close if isinstance(event, Bar) else (event.bid + event.ask) / 2.0
        self._prices[event.instrument] = price
        self._now_ns = event.ts_ns
        return ()

    def submit(self, order: Order) -> Sequence[ExecutionReport]:
        intent = order.intent
        price = self._prices.get(intent.instrument)
        if intent.order_type is not OrderType.MARKET or price is None:
            return [ExecutionReport(intent.client_order_id, OrderStatus.REJECTED, self._now_ns,
                                    reason="{name} fills market orders once it has a price")]
        fee = abs(order.quantity * price) * self.config.fee_bps / 1e4
        signed = order.quantity if intent.side is Side.BUY else -order.quantity
        base, quote = split_symbol(intent.instrument)
        self._balances[base] = self._balances.get(base, 0.0) + signed
        self._balances[quote] = self._balances.get(quote, 0.0) - signed * price - fee
        self._trades += 1
        fill = Fill(f"{{self.name}}-{{self._trades}}", intent.client_order_id, intent.venue,
                    intent.instrument, intent.side, order.quantity, price, fee, self._now_ns,
                    strategy_id=intent.strategy_id)
        return [ExecutionReport(intent.client_order_id, OrderStatus.FILLED, self._now_ns,
                                fill=fill)]

    def cancel(self, client_order_id: str) -> Sequence[ExecutionReport]:
        return [ExecutionReport(client_order_id, OrderStatus.REJECTED, self._now_ns,
                                reason="nothing rests on {name}: orders fill or are refused")]

    def balances(self) -> Mapping[str, float]:
        return dict(self._balances)

    def describe(self) -> dict[str, Any]:
        """Fills so far (for a look in tests and notebooks)."""
        return {{"trades": self._trades, "prices": dict(self._prices)}}
'''

_VENUE_TESTS = '''\
"""{name}: loaded as the host loads it, its settings, fills and refusals."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import bot_core
from bot_core import Bar, Order, OrderIntent, OrderStatus, OrderType, Side
from {package}.venue import {title}Settings, {title}Venue


def _order(side: Side, quantity: float, order_type: OrderType = OrderType.MARKET) -> Order:
    intent = OrderIntent("s1", "venue_a", "BTC/USDT", side, quantity, f"c-{{side.name}}",
                         order_type=order_type,
                         limit_price=100.0 if order_type is OrderType.LIMIT else None)
    return Order(intent, quantity)


def test_the_host_loads_it_from_the_installed_distribution() -> None:
    host = bot_core.load_plugins()
    assert host.exchange("{name}") is {title}Venue
    record = host.record("{name}")
    assert record is not None and record.status == "enabled", record


def test_settings_refuse_a_negative_fee() -> None:
    with pytest.raises(ValidationError, match="fee_bps"):
        {title}Settings(fee_bps=-1)


def test_a_market_order_fills_at_the_last_close_with_its_fee() -> None:
    venue = {title}Venue({title}Settings(fee_bps=10, initial_balances={{"USDT": 1000.0}}))
    assert venue.submit(_order(Side.BUY, 1.0))[0].status is OrderStatus.REJECTED  # no price
    venue.on_market_data(Bar("venue_a", "BTC/USDT", 60_000_000_000, 99, 101, 98, 100.0, 5))
    (report,) = venue.submit(_order(Side.BUY, 2.0))
    assert report.status is OrderStatus.FILLED and report.fill is not None
    assert (report.fill.price, report.fill.fee) == (100.0, pytest.approx(0.2))
    assert venue.balances() == {{"USDT": pytest.approx(1000.0 - 200.0 - 0.2), "BTC": 2.0}}
    assert venue.submit(_order(Side.SELL, 1.0, OrderType.LIMIT))[0].status is \\
        OrderStatus.REJECTED
'''

_CHECK = '''\
"""The {name} risk check: no order above a notional, no order without a price."""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

import bot_core
from bot_core import OrderIntent, RiskContext, Verdict


class {title}Settings(BaseModel):
    """Frozen, unknown fields refused; every field says its unit and range."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_notional: float = Field(50_000.0, gt=0, le=1e12,
                                description="Largest order notional (quantity x last price), "
                                "quote currency, (0, 1e12].")


class {title}Check(bot_core.RiskCheck):
    """Reduces an order to ``max_notional``; rejects it when the price (or its quantity) is
    missing or not finite. Fails closed: whatever it cannot judge, it rejects."""

    id: ClassVar[str] = "{name}"
    Settings: ClassVar[type[BaseModel]] = {title}Settings

    def check(self, intent: OrderIntent, ctx: RiskContext) -> Verdict:
        limit = self.settings.max_notional  # type: ignore[attr-defined]
        price = ctx.last_price(intent.instrument, intent.venue)
        if not (math.isfinite(price) and price > 0):
            return Verdict.reject("{name}.no_price", f"no price for {{intent.instrument}}")
        if not (math.isfinite(intent.quantity) and intent.quantity > 0):
            return Verdict.reject("{name}.bad_quantity", f"quantity {{intent.quantity}}")
        if intent.quantity * price > limit:
            return Verdict.reduce(limit / price, "{name}",
                                  f"notional capped at {{limit:g}}")
        return Verdict.approve()
'''

_CHECK_TESTS = '''\
"""{name}: loaded as the host loads it, its settings, each verdict."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

import bot_core
from bot_core import OrderIntent, Side, VerdictAction
from {package}.check import {title}Check, {title}Settings


class _Prices:
    """The part of a RiskContext the check reads."""

    def __init__(self, price: float) -> None:
        self.price = price

    def last_price(self, instrument: str, venue: str | None = None) -> float:
        return self.price


def _intent(quantity: float) -> OrderIntent:
    return OrderIntent("s1", "venue_a", "BTC/USDT", Side.BUY, quantity, "c1")


def test_the_host_loads_it_from_the_installed_distribution() -> None:
    host = bot_core.load_plugins()
    assert host.risk_check("{name}") is {title}Check
    record = host.record("{name}")
    assert record is not None and record.status == "enabled", record


def test_settings_refuse_a_zero_limit() -> None:
    with pytest.raises(ValidationError, match="max_notional"):
        {title}Settings(max_notional=0)


def test_approves_reduces_and_fails_closed() -> None:
    check = {title}Check({title}Settings(max_notional=1_000.0))
    assert check.check(_intent(5.0), _Prices(100.0)).action is VerdictAction.APPROVE  # type: ignore[arg-type]
    reduced = check.check(_intent(20.0), _Prices(100.0))  # type: ignore[arg-type]
    assert reduced.action is VerdictAction.REDUCE and reduced.quantity == pytest.approx(10.0)
    for price in (math.nan, 0.0):
        verdict = check.check(_intent(1.0), _Prices(price))  # type: ignore[arg-type]
        assert verdict.action is VerdictAction.REJECT
'''

_CONFTEST = '''\
"""Every test gets its own BOT_CORE_HOME (bot_core.testing's autouse fixture)."""

from bot_core.testing import bot_core_home  # noqa: F401
'''
