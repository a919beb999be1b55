from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TradingState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRADING_STATE_UNSPECIFIED: _ClassVar[TradingState]
    ACTIVE: _ClassVar[TradingState]
    REDUCING: _ClassVar[TradingState]
    HALTED: _ClassVar[TradingState]
TRADING_STATE_UNSPECIFIED: TradingState
ACTIVE: TradingState
REDUCING: TradingState
HALTED: TradingState

class StreamMetricsRequest(_message.Message):
    __slots__ = ("bots", "profiles", "strategies", "metrics", "max_batch")
    BOTS_FIELD_NUMBER: _ClassVar[int]
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    STRATEGIES_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    bots: _containers.RepeatedScalarFieldContainer[str]
    profiles: _containers.RepeatedScalarFieldContainer[str]
    strategies: _containers.RepeatedScalarFieldContainer[str]
    metrics: _containers.RepeatedScalarFieldContainer[str]
    max_batch: int
    def __init__(self, bots: _Optional[_Iterable[str]] = ..., profiles: _Optional[_Iterable[str]] = ..., strategies: _Optional[_Iterable[str]] = ..., metrics: _Optional[_Iterable[str]] = ..., max_batch: _Optional[int] = ...) -> None: ...

class MetricSample(_message.Message):
    __slots__ = ("name", "labels", "value")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    labels: _containers.ScalarMap[str, str]
    value: float
    def __init__(self, name: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., value: _Optional[float] = ...) -> None: ...

class RuntimeEvent(_message.Message):
    __slots__ = ("kind", "ts_ns", "fields_json")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    FIELDS_JSON_FIELD_NUMBER: _ClassVar[int]
    kind: str
    ts_ns: int
    fields_json: str
    def __init__(self, kind: _Optional[str] = ..., ts_ns: _Optional[int] = ..., fields_json: _Optional[str] = ...) -> None: ...

class MetricsUpdate(_message.Message):
    __slots__ = ("seq", "wall_ns", "bot", "profile", "strategy", "sample", "event")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    WALL_NS_FIELD_NUMBER: _ClassVar[int]
    BOT_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    seq: int
    wall_ns: int
    bot: str
    profile: str
    strategy: str
    sample: MetricSample
    event: RuntimeEvent
    def __init__(self, seq: _Optional[int] = ..., wall_ns: _Optional[int] = ..., bot: _Optional[str] = ..., profile: _Optional[str] = ..., strategy: _Optional[str] = ..., sample: _Optional[_Union[MetricSample, _Mapping]] = ..., event: _Optional[_Union[RuntimeEvent, _Mapping]] = ...) -> None: ...

class MetricsBatch(_message.Message):
    __slots__ = ("updates", "dropped")
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    updates: _containers.RepeatedCompositeFieldContainer[MetricsUpdate]
    dropped: int
    def __init__(self, updates: _Optional[_Iterable[_Union[MetricsUpdate, _Mapping]]] = ..., dropped: _Optional[int] = ...) -> None: ...

class BotInfo(_message.Message):
    __slots__ = ("name", "profile", "mode", "run_id", "trading_state", "strategies", "stopped")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TRADING_STATE_FIELD_NUMBER: _ClassVar[int]
    STRATEGIES_FIELD_NUMBER: _ClassVar[int]
    STOPPED_FIELD_NUMBER: _ClassVar[int]
    name: str
    profile: str
    mode: str
    run_id: str
    trading_state: TradingState
    strategies: _containers.RepeatedScalarFieldContainer[str]
    stopped: str
    def __init__(self, name: _Optional[str] = ..., profile: _Optional[str] = ..., mode: _Optional[str] = ..., run_id: _Optional[str] = ..., trading_state: _Optional[_Union[TradingState, str]] = ..., strategies: _Optional[_Iterable[str]] = ..., stopped: _Optional[str] = ...) -> None: ...

class ListBotsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListBotsResponse(_message.Message):
    __slots__ = ("bots",)
    BOTS_FIELD_NUMBER: _ClassVar[int]
    bots: _containers.RepeatedCompositeFieldContainer[BotInfo]
    def __init__(self, bots: _Optional[_Iterable[_Union[BotInfo, _Mapping]]] = ...) -> None: ...

class StrategyInfo(_message.Message):
    __slots__ = ("bot", "name", "plugin", "state", "paused", "quarantined", "decisions", "skipped_bars", "faults")
    BOT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_BARS_FIELD_NUMBER: _ClassVar[int]
    FAULTS_FIELD_NUMBER: _ClassVar[int]
    bot: str
    name: str
    plugin: str
    state: str
    paused: str
    quarantined: str
    decisions: int
    skipped_bars: int
    faults: int
    def __init__(self, bot: _Optional[str] = ..., name: _Optional[str] = ..., plugin: _Optional[str] = ..., state: _Optional[str] = ..., paused: _Optional[str] = ..., quarantined: _Optional[str] = ..., decisions: _Optional[int] = ..., skipped_bars: _Optional[int] = ..., faults: _Optional[int] = ...) -> None: ...

class ListStrategiesRequest(_message.Message):
    __slots__ = ("bot",)
    BOT_FIELD_NUMBER: _ClassVar[int]
    bot: str
    def __init__(self, bot: _Optional[str] = ...) -> None: ...

class ListStrategiesResponse(_message.Message):
    __slots__ = ("strategies",)
    STRATEGIES_FIELD_NUMBER: _ClassVar[int]
    strategies: _containers.RepeatedCompositeFieldContainer[StrategyInfo]
    def __init__(self, strategies: _Optional[_Iterable[_Union[StrategyInfo, _Mapping]]] = ...) -> None: ...

class StrategyActionRequest(_message.Message):
    __slots__ = ("bot", "strategy", "reason")
    BOT_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    bot: str
    strategy: str
    reason: str
    def __init__(self, bot: _Optional[str] = ..., strategy: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Outcome(_message.Message):
    __slots__ = ("bot", "subject", "changed", "message", "trading_state")
    BOT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRADING_STATE_FIELD_NUMBER: _ClassVar[int]
    bot: str
    subject: str
    changed: bool
    message: str
    trading_state: TradingState
    def __init__(self, bot: _Optional[str] = ..., subject: _Optional[str] = ..., changed: _Optional[bool] = ..., message: _Optional[str] = ..., trading_state: _Optional[_Union[TradingState, str]] = ...) -> None: ...

class ActionResponse(_message.Message):
    __slots__ = ("outcomes",)
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[Outcome]
    def __init__(self, outcomes: _Optional[_Iterable[_Union[Outcome, _Mapping]]] = ...) -> None: ...

class SetTradingStateRequest(_message.Message):
    __slots__ = ("bot", "state", "reason")
    BOT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    bot: str
    state: TradingState
    reason: str
    def __init__(self, bot: _Optional[str] = ..., state: _Optional[_Union[TradingState, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class ClearReducingRequest(_message.Message):
    __slots__ = ("bot", "reason", "lift_daily_loss_halt")
    BOT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    LIFT_DAILY_LOSS_HALT_FIELD_NUMBER: _ClassVar[int]
    bot: str
    reason: str
    lift_daily_loss_halt: bool
    def __init__(self, bot: _Optional[str] = ..., reason: _Optional[str] = ..., lift_daily_loss_halt: _Optional[bool] = ...) -> None: ...

class RiskStatusRequest(_message.Message):
    __slots__ = ("bot",)
    BOT_FIELD_NUMBER: _ClassVar[int]
    bot: str
    def __init__(self, bot: _Optional[str] = ...) -> None: ...

class RiskStatus(_message.Message):
    __slots__ = ("bot", "profile", "trading_state", "cause", "equity", "pnl", "equity_peak", "day_start_equity", "drawdown_ratio", "daily_loss_limit_used_ratio", "daily_loss_halted", "liquidating", "open_orders", "exposure_ratio", "currency")
    class ExposureRatioEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    BOT_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    TRADING_STATE_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    EQUITY_FIELD_NUMBER: _ClassVar[int]
    PNL_FIELD_NUMBER: _ClassVar[int]
    EQUITY_PEAK_FIELD_NUMBER: _ClassVar[int]
    DAY_START_EQUITY_FIELD_NUMBER: _ClassVar[int]
    DRAWDOWN_RATIO_FIELD_NUMBER: _ClassVar[int]
    DAILY_LOSS_LIMIT_USED_RATIO_FIELD_NUMBER: _ClassVar[int]
    DAILY_LOSS_HALTED_FIELD_NUMBER: _ClassVar[int]
    LIQUIDATING_FIELD_NUMBER: _ClassVar[int]
    OPEN_ORDERS_FIELD_NUMBER: _ClassVar[int]
    EXPOSURE_RATIO_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    bot: str
    profile: str
    trading_state: TradingState
    cause: str
    equity: float
    pnl: float
    equity_peak: float
    day_start_equity: float
    drawdown_ratio: float
    daily_loss_limit_used_ratio: float
    daily_loss_halted: bool
    liquidating: bool
    open_orders: int
    exposure_ratio: _containers.ScalarMap[str, float]
    currency: str
    def __init__(self, bot: _Optional[str] = ..., profile: _Optional[str] = ..., trading_state: _Optional[_Union[TradingState, str]] = ..., cause: _Optional[str] = ..., equity: _Optional[float] = ..., pnl: _Optional[float] = ..., equity_peak: _Optional[float] = ..., day_start_equity: _Optional[float] = ..., drawdown_ratio: _Optional[float] = ..., daily_loss_limit_used_ratio: _Optional[float] = ..., daily_loss_halted: _Optional[bool] = ..., liquidating: _Optional[bool] = ..., open_orders: _Optional[int] = ..., exposure_ratio: _Optional[_Mapping[str, float]] = ..., currency: _Optional[str] = ...) -> None: ...

class RiskStatusResponse(_message.Message):
    __slots__ = ("bots",)
    BOTS_FIELD_NUMBER: _ClassVar[int]
    bots: _containers.RepeatedCompositeFieldContainer[RiskStatus]
    def __init__(self, bots: _Optional[_Iterable[_Union[RiskStatus, _Mapping]]] = ...) -> None: ...

class PromoteRequest(_message.Message):
    __slots__ = ("bot", "to_mode", "confirm")
    BOT_FIELD_NUMBER: _ClassVar[int]
    TO_MODE_FIELD_NUMBER: _ClassVar[int]
    CONFIRM_FIELD_NUMBER: _ClassVar[int]
    bot: str
    to_mode: str
    confirm: str
    def __init__(self, bot: _Optional[str] = ..., to_mode: _Optional[str] = ..., confirm: _Optional[str] = ...) -> None: ...

class GateResult(_message.Message):
    __slots__ = ("gate", "title", "passed", "evidence")
    GATE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    gate: str
    title: str
    passed: bool
    evidence: str
    def __init__(self, gate: _Optional[str] = ..., title: _Optional[str] = ..., passed: _Optional[bool] = ..., evidence: _Optional[str] = ...) -> None: ...

class PromoteResponse(_message.Message):
    __slots__ = ("bot", "from_mode", "to_mode", "promoted", "gates", "message")
    BOT_FIELD_NUMBER: _ClassVar[int]
    FROM_MODE_FIELD_NUMBER: _ClassVar[int]
    TO_MODE_FIELD_NUMBER: _ClassVar[int]
    PROMOTED_FIELD_NUMBER: _ClassVar[int]
    GATES_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    bot: str
    from_mode: str
    to_mode: str
    promoted: bool
    gates: _containers.RepeatedCompositeFieldContainer[GateResult]
    message: str
    def __init__(self, bot: _Optional[str] = ..., from_mode: _Optional[str] = ..., to_mode: _Optional[str] = ..., promoted: _Optional[bool] = ..., gates: _Optional[_Iterable[_Union[GateResult, _Mapping]]] = ..., message: _Optional[str] = ...) -> None: ...
