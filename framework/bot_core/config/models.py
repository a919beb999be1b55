"""Configuration models for a whole bot.

Every model is frozen and rejects unknown fields. Strategy parameters are validated in a second
step by each strategy plugin's own ``Settings`` model (see :mod:`bot_core.config.resolve`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot_core.market import split_symbol

__all__ = [
    "PROFILES",
    "BotConfig",
    "BucketConfig",
    "PluginsConfig",
    "PromotionSettings",
    "PromotionStage",
    "ResourceLimits",
    "RiskLimits",
    "RuntimeConfig",
    "StateSettings",
    "StrategyConfig",
    "TelemetryConfig",
    "TelemetryTls",
    "VenueConfig",
]

PROFILES = ("conservative", "balanced", "aggressive", "manual")
"""Built-in risk profiles; each is a preset in ``presets/``."""

Pct = Annotated[float, Field(gt=0, le=100)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class PluginsConfig(_Frozen):
    require: list[str] = Field(
        default_factory=list,
        description="Plugin distributions this config needs, as requirements "
        "(`bot-core-mean-reversion>=0.1,<0.2`). Live runs must pin every one with a specifier.",
    )


class ResourceLimits(_Frozen):
    """``[runtime.resource_limits]``: what a bot may use before it sheds work. A missing limit
    is no limit. RSS and CPU are the whole process's (every bot it runs); open orders and disk
    are this bot's own. See docs/runtime.md, "Resource limits"."""

    max_rss_mb: float | None = Field(
        None, gt=0, le=1_048_576, description="Resident memory of the process, MiB (0-1048576]."
    )
    max_cpu_pct: float | None = Field(
        None, gt=0, le=100,
        description="CPU used by the process over one sampling interval, % of the machine's "
        "total capacity (all cores = 100) (0-100].",
    )
    max_open_orders: int | None = Field(
        None, ge=1, le=1_000_000, description="Orders open at the venues at once [1-1000000]."
    )
    max_state_disk_mb: float | None = Field(
        None, gt=0, le=1_048_576,
        description="Disk used by this bot's journal and state under BOT_CORE_HOME, MiB (0-1048576].",
    )
    sample_interval_s: float = Field(
        5.0, ge=0.5, le=3600, description="Seconds between two resource samples [0.5-3600]."
    )
    resume_below_pct: float = Field(
        90.0, gt=0, lt=100,
        description="A breach ends only when usage is below this share of its limit, % (0-100).",
    )
    recovery_samples: int = Field(
        3, ge=1, le=1000,
        description="Consecutive samples below resume_below_pct before a breach ends [1-1000].",
    )


class PromotionStage(_Frozen):
    """Evidence a bot needs from its current mode before it moves up one mode."""

    min_cycles: int = Field(ge=0, le=100_000_000,
                            description="Scheduler cycles run in the current mode [0-1e8].")
    min_hours: float = Field(ge=0, le=100_000,
                             description="Hours between first and last cycle of the runs in the "
                             "current mode, on the scheduler's clock, summed over runs [0-100000].")


class PromotionSettings(_Frozen):
    """``[runtime.promotion]``: the gates' thresholds (docs/runtime.md, "Promotion gates").

    Whatever the numbers, a promotion also needs no HALTED cycle and no daily-loss or drawdown
    breach in the window, and live needs pinned plugins and ``--confirm <bot name>``.
    """

    to_paper: PromotionStage = Field(
        default_factory=lambda: PromotionStage(min_cycles=1440, min_hours=24.0),
        description="Evidence from demo runs needed to promote to paper.",
    )
    to_live: PromotionStage = Field(
        default_factory=lambda: PromotionStage(min_cycles=10_080, min_hours=168.0),
        description="Evidence from paper runs needed to promote to live.",
    )


class StateSettings(_Frozen):
    """``[runtime.state]``: the bot's crash-safe state (docs/state.md)."""

    enabled: bool = Field(
        True, description="Keep the bot's orders, fills and books in "
        "BOT_CORE_HOME/state/<bot>/<mode>/state.sqlite and restore and reconcile them with the "
        "venues on restart. false: every run starts from nothing (refused in live mode).",
    )
    on_mismatch: Literal["reducing", "halted"] = Field(
        "reducing", description="Trading state a restart starts in when its books and a venue "
        "disagree in a way reconciliation cannot explain: reducing (only orders that reduce "
        "positions) or halted (no orders); an operator clears it.",
    )
    snapshot_interval_s: float = Field(
        5.0, ge=0, le=3600,
        description="Least wall time between two snapshots of the books, seconds [0-3600]; "
        "orders and fills are committed as they happen whatever this is.",
    )
    synchronous: Literal["full", "normal"] | None = Field(
        None, description="full: an order's row is flushed to the disk before the order goes "
        "out (survives a power cut; one fsync per order); normal: it survives a crash of the "
        "process only. Every other commit survives crashes of the process; what a power cut "
        "undoes of them, reconciliation finds at the venue. Default: full in paper and live "
        "mode, normal in demo mode (its orders are not real).",
    )


class RuntimeConfig(_Frozen):
    mode: Literal["demo", "paper", "live"] = Field(
        "demo", description="demo: shipped data; paper: live data, simulated fills; live: real orders."
    )
    initial_equity: float = Field(100_000.0, gt=0, description="Starting equity, quote currency.")
    base_currency: str = Field("USDT", pattern=r"^[A-Z0-9]{1,20}$", description="Accounting currency.")
    timezone: str = Field("UTC", description="IANA timezone of the trading day, e.g. Europe/London.")
    trading_day_start: dt.time = Field(
        dt.time(0, 0), description="Local time (in `timezone`) at which a trading day begins."
    )
    resource_limits: ResourceLimits = Field(
        default_factory=ResourceLimits, description="Resource limits; none by default."
    )
    promotion: PromotionSettings = Field(
        default_factory=PromotionSettings, description="Promotion gate thresholds."
    )
    source: str | None = Field(
        None, pattern=r"^[a-z_][a-z0-9_]*$",
        description="Market data source id (`replay`, or a plugin's live source); default: "
        "`replay` in demo mode, the one installed live source in paper and live modes.",
    )
    source_settings: dict[str, Any] = Field(
        default_factory=dict, description="Settings of the source, validated by its model.",
    )
    on_shutdown: Literal["cancel", "keep"] = Field(
        "cancel", description="Open orders at a graceful shutdown: cancel them at their venues, "
        "or keep them resting (they are reported).",
    )
    strategy_time_budget_ms: float = Field(
        250.0, gt=0, le=600_000,
        description="Wall time one strategy call (on_bar, on_quote, on_fill...) may take before "
        "it counts as an overrun, ms (0-600000]; an overrunning strategy's pending bars are "
        "coalesced to the latest.",
    )
    quarantine_faults: int = Field(
        3, ge=1, le=1_000_000,
        description="Faults (exceptions, malformed intents, overruns) within "
        "quarantine_window_s that quarantine a strategy [1-1000000].",
    )
    quarantine_window_s: float = Field(
        3600.0, gt=0, le=86_400 * 30,
        description="Window in which faults are counted, seconds of market time (0-2592000].",
    )
    feed_stale_after_s: float = Field(
        300.0, gt=0, le=86_400 * 7,
        description="A feed with nothing new for this long (market time) is reported stale, "
        "seconds (0-604800].",
    )
    venue_poll_s: float = Field(
        1.0, gt=0, le=3600,
        description="While orders are open at a live venue, it is polled for fills and status "
        "changes this often, seconds of market time (0-3600]; simulated venues fill on market "
        "data and are polled once per cycle.",
    )
    state: StateSettings = Field(
        default_factory=StateSettings, description="Crash-safe state: on by default.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {value!r}") from None
        return value


class VenueConfig(_Frozen):
    adapter: str = Field(description="Exchange adapter component id, e.g. `paper`.")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="Adapter settings, validated by the adapter's model."
    )


class BucketConfig(_Frozen):
    instruments: list[str] = Field(description="Instruments in this bucket (BASE/QUOTE).")
    max_exposure_pct: float | None = Field(
        None, gt=0, le=1000,
        description="Cap on gross exposure of the bucket, % of equity; default: "
        "risk.max_bucket_exposure_pct.",
    )

    @field_validator("instruments")
    @classmethod
    def _well_formed_unique(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("a bucket must hold at least one instrument")
        for symbol in value:
            split_symbol(symbol)
        dupes = sorted({s for s in value if value.count(s) > 1})
        if dupes:
            raise ValueError(f"instruments listed twice: {', '.join(dupes)}")
        return value


class RiskLimits(_Frozen):
    """Limits of a risk profile. No defaults: a preset or the user gives every one."""

    max_position_pct: Pct = Field(description="Max position per instrument, % of equity (0-100].")
    max_total_position_pct: float = Field(
        gt=0, le=1000, description="Max gross exposure over all instruments, % of equity (0-1000]."
    )
    max_bucket_exposure_pct: float = Field(
        gt=0, le=1000, description="Default cap per instrument bucket, % of equity (0-1000]."
    )
    daily_loss_limit_pct: Pct = Field(
        description="Loss since the start of the trading day that halts new risk, % (0-100]."
    )
    drawdown_liquidation_pct: Pct = Field(
        description="Drawdown from the equity peak that forces liquidation, % (0-100]."
    )
    max_leverage: float = Field(gt=0, le=100, description="Gross exposure / equity (0-100].")
    max_orders_per_minute: int = Field(ge=1, le=100_000, description="Order rate throttle.")
    checks: list[str] = Field(description="Risk check ids run on every order, in order.")
    check_settings: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Settings per risk check id, validated by the check."
    )

    @field_validator("checks")
    @classmethod
    def _unique_checks(cls, value: list[str]) -> list[str]:
        dupes = sorted({c for c in value if value.count(c) > 1})
        if dupes:
            raise ValueError(f"checks listed twice: {', '.join(dupes)}")
        return value


class StrategyConfig(_Frozen):
    plugin: str = Field(description="Strategy component id, e.g. `mean_reversion`.")
    enabled: bool = Field(True, description="Disabled strategies are validated but not run.")
    priority: int = Field(
        50, ge=0, le=100,
        description="Shedding order under a resource-limit breach: the lowest priority is paused "
        "first (equal priorities together) and resumed last [0-100].",
    )
    instruments: list[str] = Field(description="Instruments it trades (BASE/QUOTE).")
    venues: list[str] = Field(description="Venue names (keys of `venues`) it trades on.")
    timeframe: str = Field(
        "1m", description="Bar timeframe it runs on in `bot-core run` (`1m`, `5m`, `1h`...; "
        "bar strategies only); the runtime's cycle is the finest timeframe in use.",
    )
    warm_up_bars: int = Field(
        0, ge=0, le=1_000_000,
        description="History (bars, or quotes for quote strategies) handed to the strategy's "
        "warm_up() before its first live event in `bot-core run` [0-1000000].",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Parameters, validated by the plugin's Settings model."
    )

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, value: str) -> str:
        from bot_core.data.schema import TIMEFRAME_MS

        if value not in TIMEFRAME_MS:
            raise ValueError(f"unknown timeframe {value!r}; expected one of "
                             f"{', '.join(TIMEFRAME_MS)}")
        return value

    @field_validator("instruments")
    @classmethod
    def _symbols(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("a strategy needs at least one instrument")
        for symbol in value:
            split_symbol(symbol)
        return value


Role = Literal["viewer", "operator", "admin"]


class TelemetryTls(_Frozen):
    """``[telemetry.tls]``: the gRPC server's mutual TLS (PEM files). A relative path is taken
    from the directory of the config file that gives it."""

    ca_file: str | None = Field(
        None, description="CA certificate pinned for clients: a client certificate must be "
        "signed by it.")
    cert_file: str | None = Field(None, description="The server's certificate.")
    key_file: str | None = Field(None, description="The server's private key (owner-only).")


class TelemetryConfig(_Frozen):
    """``[telemetry]``: the Prometheus endpoint and the gRPC Telemetry/Control server of
    ``bot-core run`` (docs/telemetry.md, docs/security.md)."""

    metrics_addr: str | None = Field(
        None, description="HOST:PORT of the /metrics endpoint (`--metrics-addr` overrides); "
        "none: not served.")
    grpc_addr: str | None = Field(
        None, description="HOST:PORT of the gRPC server (`--grpc-addr` overrides); none: not "
        "served.")
    allow_plaintext_loopback: bool = Field(
        False, description="Allow the gRPC server without TLS, on a loopback address only.")
    plaintext_role: Literal["none", "viewer", "operator", "admin"] = Field(
        "viewer", description="Role of a caller over plaintext loopback (no certificate).")
    tls: TelemetryTls = Field(default_factory=TelemetryTls, description="Mutual TLS files.")
    rbac: dict[str, Role] = Field(
        default_factory=dict, description="Client identity (SAN URI, SAN DNS name or CN; `*` "
        "and `?` wildcards) -> role: viewer, operator or admin.")
    stream_buffer: int = Field(
        4096, ge=16, le=1_048_576,
        description="Updates a StreamMetrics watcher may fall behind before the oldest are "
        "dropped [16-1048576].")
    grpc_process: Literal["relay", "inline"] = Field(
        "relay", description="Where the gRPC server runs: `relay`, a child process the bot "
        "feeds (the streams' gRPC and TLS work never takes the scheduler's CPU), or `inline`, "
        "threads of the bot's own process (always, where the OS is not POSIX).")
    relay_cpus: list[int] | None = Field(
        None, description="CPUs the relay process may run on (Linux), e.g. `[1]`: on a "
        "machine short of cores, a CPU the bot's scheduler does not need keeps the streams' "
        "work off its core; none: wherever the OS puts it.")
    max_watchers: int = Field(64, ge=1, le=1024,
                              description="StreamMetrics watchers at once [1-1024].")
    snapshot_interval_s: float = Field(
        1.0, ge=0.05, le=3600, description="Seconds between metric snapshots on the stream "
        "[0.05-3600].")
    cert_warning_days: int = Field(
        14, ge=0, le=3650, description="`security audit` warns about certificates expiring "
        "within this many days [0-3650].")

    @field_validator("relay_cpus")
    @classmethod
    def _cpus(cls, value: list[int] | None) -> list[int] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("give at least one CPU, or leave it unset")
        if any(cpu < 0 for cpu in value) or len(set(value)) != len(value):
            raise ValueError(f"CPU numbers are distinct and >= 0, not {value}")
        return value


class BotConfig(_Frozen):
    """A whole bot: what it trades, where, with which strategies, under which limits."""

    extends: str | None = Field(None, description="Preset (risk profile) this config builds on.")
    universe: str | None = Field(
        None, pattern=r"^[a-z_][a-z0-9_]*$",
        description="Shipped universe (instruments, venues, buckets, strategies) layered under "
        "the preset, e.g. `demo`; none: the config gives its own.",
    )
    profile: Literal["conservative", "balanced", "aggressive", "manual"] = Field(
        description="Risk profile; chooses strategy defaults."
    )
    name: str = Field("bot", pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Bot name.")
    plugins: PluginsConfig = Field(default_factory=PluginsConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    venues: dict[str, VenueConfig] = Field(default_factory=dict)
    instruments: list[str] = Field(default_factory=list, description="The universe (BASE/QUOTE).")
    buckets: dict[str, BucketConfig] = Field(default_factory=dict)
    strategies: dict[str, StrategyConfig] = Field(default_factory=dict)
    risk: RiskLimits
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)

    @field_validator("instruments")
    @classmethod
    def _universe(cls, value: list[str]) -> list[str]:
        for symbol in value:
            split_symbol(symbol)
        dupes = sorted({s for s in value if value.count(s) > 1})
        if dupes:
            raise ValueError(f"instruments listed twice: {', '.join(dupes)}")
        return value

    def cross_problems(self) -> list[tuple[str, object, str]]:
        """Problems that span sections, as (field path, value, message); empty when consistent.

        Kept outside pydantic's validators so that each problem is reported on its own line.
        """
        problems: list[tuple[str, object, str]] = []
        universe = set(self.instruments)
        seen: dict[str, str] = {}
        total_cap = self.risk.max_total_position_pct
        for bucket_name, bucket in self.buckets.items():
            where = f"buckets.{bucket_name}.instruments"
            for symbol in bucket.instruments:
                if symbol in seen:
                    problems.append((where, symbol, f"already in bucket {seen[symbol]!r}; "
                                     "an instrument belongs to at most one bucket"))
                seen[symbol] = bucket_name
                if universe and symbol not in universe:
                    problems.append((where, symbol, "not in the top-level `instruments` list"))
            cap = bucket.max_exposure_pct
            if cap is not None and cap > total_cap:
                problems.append((f"buckets.{bucket_name}.max_exposure_pct", cap,
                                 f"must not exceed risk.max_total_position_pct ({total_cap:g})"))
        risk = self.risk
        if risk.max_position_pct > total_cap:
            problems.append(("risk.max_position_pct", risk.max_position_pct,
                             f"must not exceed risk.max_total_position_pct ({total_cap:g})"))
        if total_cap > risk.max_leverage * 100:
            problems.append(("risk.max_total_position_pct", total_cap,
                             f"must not exceed what risk.max_leverage ({risk.max_leverage:g}) "
                             f"allows ({risk.max_leverage * 100:g})"))
        if self.risk.max_bucket_exposure_pct > total_cap:
            problems.append(("risk.max_bucket_exposure_pct", self.risk.max_bucket_exposure_pct,
                             f"must not exceed risk.max_total_position_pct ({total_cap:g})"))
        for name, strat in self.strategies.items():
            for symbol in strat.instruments:
                if universe and symbol not in universe:
                    problems.append((f"strategies.{name}.instruments", symbol,
                                     "not in the top-level `instruments` list"))
            for venue in strat.venues:
                if venue not in self.venues:
                    known = ", ".join(sorted(self.venues)) or "none"
                    problems.append((f"strategies.{name}.venues", venue,
                                     f"unknown venue (configured: {known})"))
        # The portfolio accounts in one currency: every instrument must be quoted in it.
        base = self.runtime.base_currency
        quoted = [("instruments", symbol) for symbol in self.instruments]
        quoted += [(f"{section}.{name}.instruments", symbol)
                   for section, table in (("buckets", self.buckets),
                                          ("strategies", self.strategies))
                   for name, entry in table.items()
                   for symbol in entry.instruments if symbol not in universe]
        for where, symbol in quoted:
            quote = split_symbol(symbol)[1]
            if quote != base:
                problems.append((where, symbol, f"quoted in {quote}, but runtime.base_currency "
                                 f"is {base}: the portfolio accounts in one currency (set "
                                 f"runtime.base_currency = \"{quote}\", or trade instruments "
                                 f"quoted in {base})"))
        if self.runtime.mode == "live":
            for req in self.plugins.require:
                if not any(op in req for op in "=<>~"):
                    problems.append(("plugins.require", req,
                                     "live mode needs a version specifier, e.g. name>=1.0,<2"))
        return problems

    def bucket_of(self, instrument: str) -> str | None:
        for name, bucket in self.buckets.items():
            if instrument in bucket.instruments:
                return name
        return None

    def bucket_cap_pct(self, bucket: str) -> float:
        cap = self.buckets[bucket].max_exposure_pct
        return self.risk.max_bucket_exposure_pct if cap is None else cap
