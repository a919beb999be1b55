"""The payload of each kind of record, built from the host's event types.

Keys are constants of this module (none looks like a secret) and nesting is at most two deep, so
the writer may take these payloads on its fast path (``trusted_shape=True``): their values are
still checked for control characters, size and NaN there, and sanitised when needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot_core.orders import ExecutionReport, Fill, Order, OrderIntent
    from bot_core.risk.check import TradingState, Verdict
    from bot_core.runinfo import RunInfo

__all__ = [
    "fill_payload",
    "intent_payload",
    "order_payload",
    "report_payload",
    "start_payload",
    "trading_state_payload",
    "verdict_payload",
]


def _side(side: Any) -> str:
    return "buy" if int(side) > 0 else "sell"


def intent_payload(intent: OrderIntent, inputs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A decision: every field of the intent, and what the strategy saw when it decided."""
    payload: dict[str, Any] = {
        "strategy_id": intent.strategy_id,
        "venue": intent.venue,
        "instrument": intent.instrument,
        "side": _side(intent.side),
        "quantity": intent.quantity,
        "client_order_id": intent.client_order_id,
        "order_type": intent.order_type.value,
        "limit_price": intent.limit_price,
        "time_in_force": intent.time_in_force.value,
        "reduce_only": intent.reduce_only,
        "group_id": intent.group_id,
        "event_ts_ns": intent.ts_ns,
        "tag": intent.tag,
    }
    if inputs is not None:
        payload["inputs"] = dict(inputs)
    return payload


def verdict_payload(intent: OrderIntent, verdict: Verdict) -> dict[str, Any]:
    """A risk verdict: the action, its reason code and the check that decided."""
    return {
        "strategy_id": intent.strategy_id,
        "client_order_id": intent.client_order_id,
        "instrument": intent.instrument,
        "side": _side(intent.side),
        "quantity": intent.quantity,
        "action": verdict.action.value,
        "reason": verdict.reason,
        "detail": verdict.detail,
        "allowed_quantity": verdict.quantity,
        "check_id": verdict.check_id,
    }


def order_payload(order: Order) -> dict[str, Any]:
    """An order at a venue, with its current status."""
    intent = order.intent
    return {
        "strategy_id": intent.strategy_id,
        "client_order_id": intent.client_order_id,
        "venue": intent.venue,
        "instrument": intent.instrument,
        "side": _side(intent.side),
        "quantity": order.quantity,
        "status": order.status.value,
        "filled_quantity": order.filled_quantity,
        "average_price": order.average_price,
        "fees": order.fees,
        "reason": order.reason,
    }


def fill_payload(fill: Fill) -> dict[str, Any]:
    return {
        "strategy_id": fill.strategy_id,
        "client_order_id": fill.client_order_id,
        "trade_id": fill.trade_id,
        "venue": fill.venue,
        "instrument": fill.instrument,
        "side": _side(fill.side),
        "quantity": fill.quantity,
        "price": fill.price,
        "fee": fill.fee,
        "liquidity": fill.liquidity,
        "event_ts_ns": fill.ts_ns,
    }


def report_payload(report: ExecutionReport) -> dict[str, Any]:
    """A venue's report; ``extra`` is the venue's own data (sanitised like any payload)."""
    return {
        "client_order_id": report.client_order_id,
        "status": report.status.value,
        "event_ts_ns": report.ts_ns,
        "reason": report.reason,
        "fill": None if report.fill is None else fill_payload(report.fill),
        "extra": dict(report.extra),
    }


def trading_state_payload(previous: TradingState, current: TradingState, cause: str,
                          ts_ns: int) -> dict[str, Any]:
    return {"previous": previous.value, "current": current.value, "cause": cause,
            "event_ts_ns": ts_ns}


def start_payload(run: RunInfo) -> dict[str, Any]:
    """A run's identity and what it runs: strategies, venues, risk limits, the config hash."""
    payload: dict[str, Any] = {"run_id": run.run_id, "mode": run.mode,
                               "started_ns": run.started_ns}
    config = run.config
    if config is not None:
        from bot_core.runtime.history import config_hash

        dumped = config.model_dump(mode="json")
        payload.update({
            "bot": config.name,
            "profile": config.profile,
            "config_sha256": config_hash(config),
            "strategies": {name: {"plugin": s.plugin, "enabled": s.enabled,
                                  "instruments": list(s.instruments), "venues": list(s.venues)}
                           for name, s in config.strategies.items()},
            "venues": {name: v.adapter for name, v in config.venues.items()},
            "risk": dumped.get("risk", {}),
        })
    return payload
