"""Resource limits: sample what a bot uses, detect breaches, and decide what work to shed.

The scheduler samples a :class:`ResourceMonitor` every ``sample_interval_s`` seconds and hands
the breaches to :func:`shed_plan`, which says which strategy instances to pause or resume now.
The order is stated once, here (docs/runtime.md, "Resource limits"):

* while any resource is over its limit, each sample pauses the running strategies of the lowest
  priority (``strategies.<name>.priority``; equal priorities together);
* while a breached resource is back under its limit but not yet below ``resume_below_pct`` of it
  for ``recovery_samples`` samples in a row, nothing changes (hysteresis: no flapping);
* once no breach is left, each sample resumes the paused strategies of the highest priority.

Only strategies are ever paused. The risk engine, its checks, liquidations and the processing of
fills and market data are not work this module can shed: a paused strategy's positions stay
under risk control.
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot_core.config.models import ResourceLimits

__all__ = [
    "Breach",
    "Resource",
    "ResourceMonitor",
    "ResourceSample",
    "ShedPlan",
    "StrategyLoad",
    "disk_usage_bytes",
    "shed_plan",
]

_MIB = 1024 * 1024


class Resource(enum.StrEnum):
    """A limited resource; the value is the name used in reports."""

    RSS = "rss"
    CPU = "cpu"
    OPEN_ORDERS = "open_orders"
    STATE_DISK = "state_disk"


_UNITS = {Resource.RSS: "MiB", Resource.CPU: "%", Resource.OPEN_ORDERS: "orders",
          Resource.STATE_DISK: "MiB"}


@dataclass(frozen=True, slots=True)
class ResourceSample:
    """One reading. Memory and disk in MiB, CPU in % of the machine (all cores = 100).

    ``state_disk_mb`` is None when no disk limit is set (the walk is skipped)."""

    wall_ns: int
    rss_mb: float
    cpu_pct: float
    open_orders: int
    state_disk_mb: float | None = None

    def value(self, resource: Resource) -> float:
        values = {Resource.RSS: self.rss_mb, Resource.CPU: self.cpu_pct,
                  Resource.OPEN_ORDERS: float(self.open_orders),
                  Resource.STATE_DISK: self.state_disk_mb}
        value = values[resource]
        return 0.0 if value is None else value

    def as_dict(self) -> dict[str, Any]:
        return {"wall_ns": self.wall_ns, "rss_mb": self.rss_mb, "cpu_pct": self.cpu_pct,
                "open_orders": self.open_orders, "state_disk_mb": self.state_disk_mb}


@dataclass(frozen=True, slots=True)
class Breach:
    """A resource over its limit (``over``), or back under it but not yet recovered."""

    resource: Resource
    value: float
    limit: float
    over: bool

    def __str__(self) -> str:
        unit = _UNITS[self.resource]
        relation = ">" if self.over else "<=, recovering:"
        return f"{self.resource} {self.value:g} {unit} {relation} limit {self.limit:g} {unit}"

    def as_dict(self) -> dict[str, Any]:
        return {"resource": str(self.resource), "value": self.value, "limit": self.limit,
                "unit": _UNITS[self.resource], "over": self.over}


@dataclass(frozen=True, slots=True)
class StrategyLoad:
    """A strategy instance as the shedder sees it.

    :param name: the instance's key in the scheduler (e.g. ``"<bot>/<strategy name>"``).
    :param priority: ``strategies.<name>.priority`` (higher: paused later, resumed sooner).
    :param paused: paused by an earlier shed plan (quarantined instances are not listed).
    """

    name: str
    priority: int
    paused: bool = False


@dataclass(frozen=True, slots=True)
class ShedPlan:
    """What to do after one sample: instances to pause, instances to resume, and why."""

    pause: tuple[str, ...] = ()
    resume: tuple[str, ...] = ()
    reason: str = ""
    breaches: tuple[Breach, ...] = field(default_factory=tuple)

    @property
    def changes(self) -> bool:
        return bool(self.pause or self.resume)


def disk_usage_bytes(paths: Sequence[Path]) -> int:
    """Bytes of the regular files under ``paths`` (files or directories; missing ones count 0)."""
    total = 0
    stack = [Path(p) for p in paths]
    while stack:
        path = stack.pop()
        try:
            if path.is_dir() and not path.is_symlink():
                with os.scandir(path) as entries:
                    stack.extend(Path(e.path) for e in entries)
            elif path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        except OSError:  # a file removed while we walk: it no longer uses space
            continue
    return total


class ResourceMonitor:
    """Samples the current process with psutil and tracks each limit's breach with hysteresis.

    :param limits: the bot's ``[runtime.resource_limits]``.
    :param open_orders: returns the bot's open orders now.
    :param disk_paths: the bot's journal and state (files or directories).
    """

    def __init__(self, limits: ResourceLimits, *, open_orders: Callable[[], int],
                 disk_paths: Sequence[Path] = (),
                 wall_clock: Callable[[], int] = time.time_ns) -> None:
        import psutil  # deferred: only a running bot needs it

        self.limits = limits
        self._open_orders = open_orders
        self._disk_paths = tuple(disk_paths)
        self._wall_clock = wall_clock
        self._process = psutil.Process()
        self._cores = psutil.cpu_count() or 1
        self._process.cpu_percent(None)  # the first reading only sets the baseline
        self._clean: dict[Resource, int] = {}
        """Breached resources -> samples in a row below the resume line so far."""

    def _limit(self, resource: Resource) -> float | None:
        value = {Resource.RSS: self.limits.max_rss_mb, Resource.CPU: self.limits.max_cpu_pct,
                 Resource.OPEN_ORDERS: self.limits.max_open_orders,
                 Resource.STATE_DISK: self.limits.max_state_disk_mb}[resource]
        return None if value is None else float(value)

    def sample(self) -> ResourceSample:
        """Read every resource now. CPU is the share used since the previous sample."""
        rss = self._process.memory_info().rss
        cpu = self._process.cpu_percent(None) / self._cores
        disk = None
        if self.limits.max_state_disk_mb is not None:
            disk = disk_usage_bytes(self._disk_paths) / _MIB
        return ResourceSample(wall_ns=self._wall_clock(), rss_mb=rss / _MIB,
                              cpu_pct=min(cpu, 100.0), open_orders=int(self._open_orders()),
                              state_disk_mb=disk)

    def breaches(self, sample: ResourceSample) -> list[Breach]:
        """Resources over their limit, and those breached earlier that have not recovered yet.

        A breach ends after ``recovery_samples`` samples in a row below ``resume_below_pct`` % of
        the limit; a sample over the limit starts the count again. Call once per sample.
        """
        found: list[Breach] = []
        resume_share = self.limits.resume_below_pct / 100.0
        for resource in Resource:
            limit = self._limit(resource)
            if limit is None:
                continue
            value = sample.value(resource)
            if value > limit:
                self._clean[resource] = 0
                found.append(Breach(resource, value, limit, over=True))
            elif resource in self._clean:
                if value < limit * resume_share:
                    self._clean[resource] += 1
                    if self._clean[resource] >= self.limits.recovery_samples:
                        del self._clean[resource]
                        continue
                else:
                    self._clean[resource] = 0
                found.append(Breach(resource, value, limit, over=False))
        return found


def shed_plan(breaches: Sequence[Breach], strategies: Sequence[StrategyLoad]) -> ShedPlan:
    """Which strategy instances to pause or resume after one sample (see the module docstring).

    Pure: the same breaches and strategies give the same plan.
    """
    over = [b for b in breaches if b.over]
    if over:
        running = [s for s in strategies if not s.paused]
        if not running:
            return ShedPlan(reason="over a limit, nothing left to pause: " + _describe(over),
                            breaches=tuple(breaches))
        lowest = min(s.priority for s in running)
        tier = tuple(sorted(s.name for s in running if s.priority == lowest))
        return ShedPlan(pause=tier, reason=_describe(over), breaches=tuple(breaches))
    if breaches:
        return ShedPlan(reason="recovering: " + _describe(breaches), breaches=tuple(breaches))
    paused = [s for s in strategies if s.paused]
    if not paused:
        return ShedPlan()
    highest = max(s.priority for s in paused)
    tier = tuple(sorted(s.name for s in paused if s.priority == highest))
    return ShedPlan(resume=tier, reason="resources back under their limits")


def _describe(breaches: Sequence[Breach]) -> str:
    return "; ".join(str(b) for b in breaches)
