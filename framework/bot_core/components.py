"""What an installed component is, for ``bot-core plugins show``: where it comes from, what it
does, every setting with its type, range, unit and default under each risk profile, the data
it consumes and the bar lengths it suits.

Everything is read from the component's class and its settings model (the field descriptions,
the constraints, ``profile_defaults`` and ``timeframe_defaults``), so the listing cannot drift
from what validation enforces.
"""

from __future__ import annotations

import inspect
import types
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Union, get_args, get_origin

from bot_core.errors import UsageError

if TYPE_CHECKING:
    from pydantic import BaseModel
    from pydantic.fields import FieldInfo

    from bot_core.plugins import ComponentKind, PluginHost

__all__ = ["KIND_LABELS", "PROFILE_COLUMNS", "ComponentInfo", "Parameter", "describe"]

KIND_LABELS: dict[str, str] = {
    "strategy": "strategy", "exchange": "exchange adapter (venue)", "risk_check": "risk check",
    "source": "market data source", "promotion_gate": "promotion gate",
}
"""The component kinds ``plugins show`` describes, as it names them."""
PROFILE_COLUMNS = ("conservative", "balanced", "aggressive")
"""Risk profiles with defaults of their own (``manual`` takes the field defaults)."""
_UNITS = (("_pct", "%"), ("_bps", "bps"), ("_bars", "bars"), ("_ms", "ms"), ("_s", "s"),
          ("_seconds", "s"), ("_mb", "MiB"), ("_notional", "quote currency"),
          ("_z", "standard deviations"), ("_vol_pct", "% a year"), ("days_per_year", "days"),
          ("quantity", "base units"))
_TABLES: dict[str, str] = {"strategy": "strategies", "exchange": "exchanges",
                           "risk_check": "risk_checks", "source": "sources",
                           "promotion_gate": "promotion_gates"}


@dataclass(frozen=True, slots=True)
class Parameter:
    """One setting of a component."""

    name: str
    type: str
    """``int``, ``float or none``, ``one of: ewma, rolling, max`` ..."""
    range: str
    """``[2, 100000]``, ``(0, 100]``, or empty when the type says it all."""
    unit: str
    description: str
    default: Any
    """The field's own default (what ``manual`` and a profile without a value get); None when
    it has none or is required."""
    required: bool = False
    profiles: dict[str, Any] = field(default_factory=dict)
    """Risk profile -> value, for the profiles that give one."""
    timeframes: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Bar length -> profile -> value, from ``timeframe_defaults``."""

    def under(self, profile: str) -> Any:
        """The value an instance gets under ``profile`` (on the profiles' own bar length)."""
        return self.profiles.get(profile, self.default)


@dataclass(frozen=True, slots=True)
class ComponentInfo:
    kind: str
    id: str
    distribution: str
    version: str
    description: str
    parameters: list[Parameter]
    consumes: str
    """The events it reads: bars, quotes, or what a venue or check works on."""
    timeframes: str
    """The bar lengths it suits, in words."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def describe(host: PluginHost, ident: str) -> list[ComponentInfo]:
    """Every component registered under ``ident`` (one per kind), or every component of the
    plugin or distribution named ``ident``.

    :raises UsageError: nothing installed has that id or name; the message lists the ids.
    """
    found = [(kind, ident) for kind in KIND_LABELS if ident in getattr(host, _TABLES[kind])]
    if not found:
        record = host.record(ident)
        if record is not None:
            found = [(kind, cid) for kind, ids in record.components.items()
                     if kind in KIND_LABELS for cid in sorted(ids)]
    if not found:
        known = "; ".join(f"{KIND_LABELS[k]}: {', '.join(sorted(getattr(host, _TABLES[k])))}"
                          for k in KIND_LABELS if getattr(host, _TABLES[k]))
        raise UsageError(f"plugins show {ident}: no installed component or plugin has this id "
                         f"({known or 'nothing installed'})")
    return [_info(host, kind, cid) for kind, cid in found]  # type: ignore[arg-type]


def _info(host: PluginHost, kind: ComponentKind, ident: str) -> ComponentInfo:
    cls = host.component(kind, ident)
    distribution = host.owners.get((kind, ident), "bot-core")
    record = host.record(distribution)
    version = record.version if record is not None else _host_version()
    settings = getattr(cls, "Settings", None)
    parameters = _parameters(settings) if settings is not None else []
    consumes, timeframes = _data(kind, cls)
    return ComponentInfo(KIND_LABELS[kind], ident, distribution, version, _doc(cls),
                         parameters, consumes, timeframes)


def _host_version() -> str:
    from bot_core import __version__

    return __version__


def _doc(cls: type) -> str:
    """The first paragraph of the class docstring, on one line."""
    text = inspect.getdoc(cls) or ""
    return " ".join(text.split("\n\n")[0].split())


def _data(kind: str, cls: Any) -> tuple[str, str]:
    if kind == "strategy":
        if cls.data_kind == "quotes":
            return "quotes (top of book: bid, ask and their sizes)", \
                "any quote rate (no bar length)"
        made_for = cls.Settings.profile_timeframe
        more = list(getattr(cls.Settings, "timeframe_defaults", {}))
        text = "any bar length: parameters counted in bars are checked against the data"
        if made_for:
            text += f"; its profiles' values are made for {made_for} bars"
            if more:
                text += f", with values of their own for {', '.join(more)} bars"
        return "bars (OHLCV)", text
    if kind == "exchange":
        return ("bars and quotes of its venue (fills simulated on them)" if cls.simulated
                else "orders to a live venue (polled for fills)"), "any"
    if kind == "risk_check":
        from bot_core.risk.check import RiskCheck

        batch = (" (and a batch form for whole backtests)"
                 if cls.check_batch is not RiskCheck.check_batch else "")
        return f"order intents, before they reach a venue{batch}", "any"
    if kind == "source":
        return "live" if getattr(cls, "live", False) else "replayed datasets", "any"
    return "a bot's run records", "any"


def _parameters(model: type[BaseModel]) -> list[Parameter]:
    profiles: dict[str, Any] = dict(getattr(model, "profile_defaults", {}))
    by_timeframe: dict[str, Any] = dict(getattr(model, "timeframe_defaults", {}))
    out = []
    for name, info in model.model_fields.items():
        required = info.is_required()
        default = None if required else info.get_default(call_default_factory=True)
        out.append(Parameter(
            name, _type_text(info.annotation), _range_text(info), _unit(name),
            " ".join((info.description or "").split()), default, required,
            {p: v[name] for p, v in profiles.items() if name in v},
            {tf: {p: v[name] for p, v in table.items() if name in v}
             for tf, table in by_timeframe.items()
             if any(name in v for v in table.values())}))
    return out


def _type_text(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Literal:
        return "one of: " + ", ".join(str(a) for a in get_args(annotation))
    if origin is Union or origin is types.UnionType:
        args = [a for a in get_args(annotation) if a is not type(None)]
        text = " or ".join(_type_text(a) for a in args)
        return text + " or none" if len(args) < len(get_args(annotation)) else text
    if origin in (list, tuple, set):
        inner = get_args(annotation)
        return "list" + (f" of {_type_text(inner[0])}" if inner else "")
    if origin is dict or annotation is dict:
        return "table"
    return getattr(annotation, "__name__", str(annotation))


def _range_text(info: FieldInfo) -> str:
    low = high = None
    low_open = high_open = False
    for item in info.metadata:
        for attr, is_low, is_open in (("ge", True, False), ("gt", True, True),
                                      ("le", False, False), ("lt", False, True)):
            value = getattr(item, attr, None)
            if value is None:
                continue
            if is_low:
                low, low_open = value, is_open
            else:
                high, high_open = value, is_open
    if low is None and high is None:
        return ""
    left = "(" if low is None or low_open else "["
    right = ")" if high is None or high_open else "]"
    return (f"{left}{'-inf' if low is None else _number(low)}, "
            f"{'inf' if high is None else _number(high)}{right}")


def _number(value: float) -> str:
    """A bound as the user types it: ``1000000``, ``0.5``, ``1e12``."""
    if float(value).is_integer() and abs(value) < 1e9:
        return str(int(value))
    return f"{value:g}".replace("e+", "e")


def _unit(name: str) -> str:
    return next((unit for suffix, unit in sorted(_UNITS, key=lambda u: -len(u[0]))
                 if name.endswith(suffix)), "")
