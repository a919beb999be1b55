"""Order-flow gates: ``order_rate`` (sliding-window throttle) and ``duplicate_order``."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from bot_core import OrderIntent, RiskCheck, RiskContext, Verdict
from bot_core_risk_checks._common import OK

if TYPE_CHECKING:
    import numpy as np

    from bot_core import NumberedIds, OrderBatch

__all__ = ["DuplicateOrderCheck", "OrderRateCheck"]

_WINDOW_NS = 60 * 1_000_000_000


class OrderRateCheck(RiskCheck):
    """At most ``risk.max_orders_per_minute`` orders in any sliding 60-second window.

    Only orders the combined verdict let through are counted (``on_accepted``), so a burst lets
    exactly the configured number through and an order another check rejected costs nothing.
    The window is event time (``ctx.now_ns``), so backtests throttle like live trading.
    """

    id: ClassVar[str] = "order_rate"

    def __init__(self, settings: BaseModel | None = None) -> None:
        super().__init__(settings)
        self._accepted_ns: deque[int] = deque()

    def _expire(self, now_ns: int) -> None:
        window = self._accepted_ns
        horizon = now_ns - _WINDOW_NS
        while window and window[0] <= horizon:
            window.popleft()

    def check(self, intent: OrderIntent, ctx: RiskContext) -> Verdict:
        window = self._accepted_ns
        if window:
            self._expire(ctx.now_ns)
        limit = ctx.limits.max_orders_per_minute
        if len(window) >= limit:
            return Verdict.reject("order_rate",
                                  f"{limit} orders already went out in the last 60 s")
        return OK

    def on_accepted(self, intent: OrderIntent, quantity: float, ctx: RiskContext) -> None:
        self._accepted_ns.append(ctx.now_ns)

    def _batch_times(self, batch: OrderBatch) -> np.ndarray | None:
        """Earlier accepted times followed by the batch's, or None when they are not in order
        (the deque's expiry from the left then is not a sliding window: judge one by one)."""
        import numpy as np

        times = np.concatenate([np.fromiter(self._accepted_ns, dtype=np.int64,
                                            count=len(self._accepted_ns)),
                                batch.now_ns.astype(np.int64)])
        if len(times) > 1 and bool((times[1:] < times[:-1]).any()):
            return None
        return times

    def check_batch(self, batch: OrderBatch) -> np.ndarray | None:
        import numpy as np

        times = self._batch_times(batch)
        if times is None:
            return None
        earlier = len(self._accepted_ns)
        now = times[earlier:]
        # orders accepted before order i that are still inside its 60 s window
        oldest = np.searchsorted(times, now - _WINDOW_NS, side="right")
        in_window = earlier + np.arange(len(now)) - oldest
        return in_window < batch.limits.max_orders_per_minute

    def accept_batch(self, batch: OrderBatch) -> None:
        if not len(batch):
            return
        times = self._batch_times(batch)
        if times is None:
            raise ValueError("accept_batch: a batch check_batch did not judge")
        horizon = int(batch.now_ns[-1]) - _WINDOW_NS
        self._accepted_ns = deque(int(ts) for ts in times[times > horizon])

    def snapshot(self) -> dict[str, Any]:
        return {"accepted_ns": list(self._accepted_ns)}

    def restore(self, state: Mapping[str, Any]) -> None:
        self._accepted_ns = deque(int(ts) for ts in state.get("accepted_ns", ()))


class DuplicateOrderSettings(BaseModel):
    """Settings of ``duplicate_order``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    remember: int = Field(
        100_000, ge=1_000, le=10_000_000,
        description="How many of the most recent client order ids are remembered (and survive a "
        "restart); older ids are forgotten first. Range 1,000-10,000,000.",
    )


class _Remembered:
    """The most recent client order ids, oldest first, up to a limit: ids remembered one by
    one (dicts), and whole batches of numbered ids kept as numbers (``NumberedIds``, made into
    strings only for a snapshot)."""

    __slots__ = ("_parts", "_size", "limit")

    def __init__(self, limit: int, ids: Iterable[str] = ()) -> None:
        self.limit = limit
        first = dict.fromkeys(ids)
        self._parts: deque[dict[str, None] | NumberedIds] = deque([first] if first else [])
        self._size = len(first)
        self._forget()

    def copy(self) -> _Remembered:
        out = _Remembered(self.limit)
        out._parts = deque(dict(part) if isinstance(part, dict) else part
                           for part in self._parts)
        out._size = self._size
        return out

    def __len__(self) -> int:
        return self._size

    def __contains__(self, client_id: str) -> bool:
        for part in self._parts:  # noqa: SIM110 (a loop: cheaper than any() per order)
            if client_id in part:
                return True
        return False

    def add(self, client_id: str) -> None:
        """Remember one id (an id remembered already keeps its place)."""
        if client_id not in self:
            self.add_new(client_id)

    def add_new(self, client_id: str) -> None:
        """Remember one id that is not remembered yet."""
        last = self._parts[-1] if self._parts else None
        if not isinstance(last, dict):
            last = {}
            self._parts.append(last)
        last[client_id] = None
        self._size += 1
        self._forget()

    def add_distinct(self, ids: NumberedIds | dict[str, None]) -> None:
        """Remember a batch of distinct ids, none remembered yet (:meth:`disjoint`), as
        remembering them one by one would (``ids`` is kept: the caller gives it up)."""
        self._parts.append(ids)
        self._size += len(ids)
        self._forget()

    def disjoint(self, ids: NumberedIds | dict[str, None]) -> bool:
        """True when none of ``ids`` is remembered."""
        from bot_core import NumberedIds

        for part in self._parts:
            if isinstance(part, dict) and isinstance(ids, dict):
                if not ids.keys().isdisjoint(part.keys()):
                    return False
            elif isinstance(part, NumberedIds) and isinstance(ids, NumberedIds):
                if part.overlaps(ids):
                    return False
            else:  # look the smaller up in the larger
                small, large = (part, ids) if len(part) <= len(ids) else (ids, part)
                if any(client_id in large for client_id in small):
                    return False
        return True

    def ids(self) -> list[str]:
        """Every remembered id, oldest first."""
        return [client_id for part in self._parts for client_id in part]

    def _forget(self) -> None:
        """Forget the oldest ids past the limit."""
        excess = self._size - self.limit
        while excess > 0:
            first = self._parts[0]
            if len(first) <= excess:
                self._parts.popleft()
                self._size -= len(first)
                excess -= len(first)
            elif isinstance(first, dict):
                for client_id in list(islice(first, excess)):
                    del first[client_id]
                self._size -= excess
                excess = 0
            else:
                self._parts[0] = first[excess:]
                self._size -= excess
                excess = 0


class DuplicateOrderCheck(RiskCheck[DuplicateOrderSettings]):
    """Rejects an intent whose client order id was seen before: ids are idempotent, so a
    resubmitted id gets the answer of the first submission, never a second order. An id is
    consumed when this check sees it, even if a later check rejects that intent."""

    id: ClassVar[str] = "duplicate_order"
    Settings: ClassVar[type[BaseModel]] = DuplicateOrderSettings

    def __init__(self, settings: DuplicateOrderSettings | None = None) -> None:
        super().__init__(settings)
        self._seen = _Remembered(self.settings.remember)

    def check(self, intent: OrderIntent, ctx: RiskContext) -> Verdict:
        client_id = intent.client_order_id
        if not client_id:
            return Verdict.reject("missing_client_order_id", "the intent has no client order id")
        if client_id in self._seen:
            return Verdict.reject("duplicate_client_order_id",
                                  f"client order id {client_id!r} was already used")
        self._seen.add_new(client_id)
        return OK

    def check_batch(self, batch: OrderBatch) -> np.ndarray:
        import numpy as np

        approved = np.zeros(len(batch), dtype=bool)
        ids = batch.client_order_id
        if self._new_ids(ids) is not None:  # the usual batch: every id approved
            approved[:] = True
            return approved
        # follow the batch id by id on a copy (ids may be forgotten along it)
        seen = self._seen.copy()
        for i, client_id in enumerate(ids):
            if not client_id or client_id in seen:
                break
            seen.add_new(client_id)
            approved[i] = True
        return approved

    def accept_batch(self, batch: OrderBatch) -> None:
        ids = batch.client_order_id
        new = self._new_ids(ids)
        if new is None:  # an id seen again along the batch: follow it id by id
            for client_id in ids:
                self._seen.add(client_id)
        else:  # distinct new ids
            self._seen.add_distinct(new)

    def _new_ids(self, ids: Sequence[str]) -> NumberedIds | dict[str, None] | None:
        """``ids`` when every one is non-empty, distinct and not remembered, else None: as
        numbers when they are numbered and increase per prefix, else as a dict (one hash per
        id)."""
        from bot_core import NumberedIds

        if isinstance(ids, NumberedIds) and ids.increasing():
            return ids if self._seen.disjoint(ids) else None
        new = dict.fromkeys(ids)
        if len(new) != len(ids) or "" in new or None in new or not self._seen.disjoint(new):
            return None
        return new

    def snapshot(self) -> dict[str, Any]:
        return {"seen": self._seen.ids()}

    def restore(self, state: Mapping[str, Any]) -> None:
        self._seen = _Remembered(self.settings.remember,
                                 (str(i) for i in state.get("seen", ())))
