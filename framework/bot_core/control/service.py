"""The gRPC servicers: ``bot_core.v1.Telemetry`` and ``bot_core.v1.Control``.

Every RPC method is guarded by :func:`~bot_core.control.rbac.requires` (the least role it needs)
and receives the :class:`~bot_core.control.rbac.Caller` the guard established. The handlers are
built from the proto's service descriptors (:func:`generic_handlers`), which refuses a method
that has no guard. Requests go to a :class:`~bot_core.control.target.ControlTarget`; its
:class:`~bot_core.control.target.ControlError` becomes NOT_FOUND, INVALID_ARGUMENT or
FAILED_PRECONDITION with its message.

StreamMetrics sends :class:`~bot_core.telemetry.stream.Update` objects from the hub, each
encoded once (the first watcher to need it caches the bytes on the update) and batched by byte
concatenation, so fifty watchers cost the bot one encoding per update, not fifty.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import grpc

from bot_core.control.protos import bot_core_pb2 as pb
from bot_core.control.rbac import AccessPolicy, AuditSink, Caller, Role, check_guarded, requires
from bot_core.control.target import ControlError, ControlTarget, Problem
from bot_core.telemetry.stream import SAMPLE, StreamFilter, StreamHub, Update

if TYPE_CHECKING:
    from google.protobuf.message import Message

__all__ = ["ControlService", "TelemetryService", "generic_handlers"]

MAX_BATCH = 1024
STREAM_LINGER_S = 0.25
"""A caught-up watcher is sent what came in batches at most four times a second (a watcher
that is behind gets them back to back): each send costs the bot's process a wake-up and the
GIL, and fifty watchers at 20 a second halved the scheduler's events per second
(docs/performance.md, "Telemetry")."""
_STATES = {"active": pb.ACTIVE, "reducing": pb.REDUCING, "halted": pb.HALTED}
_STATE_NAMES = {pb.ACTIVE: "active", pb.REDUCING: "reducing", pb.HALTED: "halted"}
_CODES = {Problem.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
          Problem.INVALID: grpc.StatusCode.INVALID_ARGUMENT,
          Problem.REFUSED: grpc.StatusCode.FAILED_PRECONDITION}


def _state(name: str) -> Any:
    return _STATES.get(name, pb.TRADING_STATE_UNSPECIFIED)


def _describe(request: Message) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict

    described: dict[str, Any] = MessageToDict(request, preserving_proto_field_name=True)
    return described


def _abort(context: grpc.ServicerContext, exc: ControlError) -> None:
    context.abort(_CODES[exc.problem], str(exc))


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def encode_update(update: Update) -> bytes:
    """The ``MetricsUpdate`` wire bytes of ``update`` (cached on it)."""
    cached = update.encoded
    if cached is not None:
        return cached
    message = pb.MetricsUpdate(seq=update.seq, wall_ns=update.wall_ns, bot=update.bot,
                               profile=update.profile, strategy=update.strategy)
    if update.kind == SAMPLE:
        message.sample.name = update.name
        message.sample.labels.update(update.labels)
        message.sample.value = update.value
    else:
        message.event.kind = update.name.removeprefix("event:")
        message.event.ts_ns = update.ts_ns
        message.event.fields_json = update.fields_json
    encoded: bytes = message.SerializeToString()
    update.encoded = encoded
    return encoded


def encode_updates(updates: list[Update]) -> bytes:
    """``MetricsBatch.updates`` entries (field 1, length-prefixed) of ``updates``: batches are
    concatenations of these (protobuf merges repeated fields)."""
    parts: list[bytes] = []
    for update in updates:
        body = encode_update(update)
        parts.append(b"\x0a" + _varint(len(body)) + body)
    return b"".join(parts)


def batch_bytes(entries: bytes, dropped: int) -> bytes:
    """A whole ``MetricsBatch``: the encoded entries and, when any were lost, ``dropped``."""
    return entries + (b"\x10" + _varint(dropped) if dropped else b"")


class _Guarded:
    """What :func:`requires` needs of a servicer."""

    def __init__(self, policy: AccessPolicy, audit: AuditSink) -> None:
        self.policy = policy
        self.audit = audit

    def describe_request(self, method: str, request: Any) -> Mapping[str, Any]:
        return _describe(request)


class TelemetryService(_Guarded):
    """``bot_core.v1.Telemetry``."""

    def __init__(self, hub: StreamHub, policy: AccessPolicy, audit: AuditSink, *,
                 buffer: int = 4096, max_watchers: int = 64,
                 poll_timeout_s: float = 1.0) -> None:
        super().__init__(policy, audit)
        self.hub = hub
        self.buffer = buffer
        self.max_watchers = max_watchers
        self.poll_timeout_s = poll_timeout_s

    @requires(Role.VIEWER)
    def StreamMetrics(self, request: pb.StreamMetricsRequest, context: grpc.ServicerContext,
                      caller: Caller) -> Iterator[bytes]:
        if self.hub.watchers >= self.max_watchers:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"{self.max_watchers} watchers already (telemetry.max_watchers)")
        limit = min(request.max_batch or MAX_BATCH, MAX_BATCH)
        flt = StreamFilter.of(bots=request.bots, profiles=request.profiles,
                              strategies=request.strategies, names=request.metrics)
        watcher = self.hub.watch(flt, buffer=self.buffer)
        context.add_callback(watcher.close)
        try:
            while context.is_active():
                taken = watcher.next_encoded(encode_updates, limit, self.poll_timeout_s,
                                             linger_s=STREAM_LINGER_S)
                if taken is None:
                    return
                if taken[1]:
                    yield batch_bytes(taken[0], watcher.dropped)
        finally:
            watcher.close()


class ControlService(_Guarded):
    """``bot_core.v1.Control`` over a :class:`ControlTarget`."""

    def __init__(self, target: ControlTarget, policy: AccessPolicy, audit: AuditSink) -> None:
        super().__init__(policy, audit)
        self.target = target

    @requires(Role.VIEWER)
    def ListBots(self, request: pb.ListBotsRequest, context: grpc.ServicerContext,
                 caller: Caller) -> pb.ListBotsResponse:
        return pb.ListBotsResponse(bots=[
            pb.BotInfo(name=b.name, profile=b.profile, mode=b.mode, run_id=b.run_id,
                       trading_state=_state(b.trading_state),
                       strategies=list(b.strategies), stopped=b.stopped)
            for b in self.target.bots()])

    @requires(Role.VIEWER)
    def ListStrategies(self, request: pb.ListStrategiesRequest, context: grpc.ServicerContext,
                       caller: Caller) -> pb.ListStrategiesResponse:
        try:
            views = self.target.strategies(request.bot)
        except ControlError as exc:
            _abort(context, exc)
            raise
        return pb.ListStrategiesResponse(strategies=[
            pb.StrategyInfo(bot=s.bot, name=s.name, plugin=s.plugin, state=s.state,
                            paused=s.paused, quarantined=s.quarantined, decisions=s.decisions,
                            skipped_bars=s.skipped_bars, faults=s.faults) for s in views])

    @requires(Role.VIEWER)
    def GetRiskStatus(self, request: pb.RiskStatusRequest, context: grpc.ServicerContext,
                      caller: Caller) -> pb.RiskStatusResponse:
        try:
            views = self.target.risk(request.bot)
        except ControlError as exc:
            _abort(context, exc)
            raise
        return pb.RiskStatusResponse(bots=[
            pb.RiskStatus(bot=r.bot, profile=r.profile,
                          trading_state=_state(r.trading_state), cause=r.cause,
                          equity=r.equity, pnl=r.pnl, equity_peak=r.equity_peak,
                          day_start_equity=r.day_start_equity, drawdown_ratio=r.drawdown_ratio,
                          daily_loss_limit_used_ratio=r.daily_loss_limit_used_ratio,
                          daily_loss_halted=r.daily_loss_halted, liquidating=r.liquidating,
                          open_orders=r.open_orders, exposure_ratio=dict(r.exposure_ratio),
                          currency=r.currency) for r in views])

    def _outcomes(self, outcomes: list[Any]) -> pb.ActionResponse:
        return pb.ActionResponse(outcomes=[
            pb.Outcome(bot=o.bot, subject=o.subject, changed=o.changed, message=o.message,
                       trading_state=_state(o.trading_state)) for o in outcomes])

    @requires(Role.OPERATOR)
    def PauseStrategy(self, request: pb.StrategyActionRequest, context: grpc.ServicerContext,
                      caller: Caller) -> pb.ActionResponse:
        try:
            outcome = self.target.pause(request.bot, request.strategy, request.reason,
                                        caller.identity)
        except ControlError as exc:
            _abort(context, exc)
            raise
        return self._outcomes([outcome])

    @requires(Role.OPERATOR)
    def ResumeStrategy(self, request: pb.StrategyActionRequest, context: grpc.ServicerContext,
                       caller: Caller) -> pb.ActionResponse:
        try:
            outcome = self.target.resume(request.bot, request.strategy, request.reason,
                                         caller.identity)
        except ControlError as exc:
            _abort(context, exc)
            raise
        return self._outcomes([outcome])

    @requires(Role.ADMIN)
    def SetTradingState(self, request: pb.SetTradingStateRequest, context: grpc.ServicerContext,
                        caller: Caller) -> pb.ActionResponse:
        state = _STATE_NAMES.get(request.state)
        if state is None:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          "state must be ACTIVE, REDUCING or HALTED")
        try:
            outcomes = self.target.set_trading_state(request.bot, str(state), request.reason,
                                                     caller.identity)
        except ControlError as exc:
            _abort(context, exc)
            raise
        return self._outcomes(outcomes)

    @requires(Role.ADMIN)
    def ClearReducing(self, request: pb.ClearReducingRequest, context: grpc.ServicerContext,
                      caller: Caller) -> pb.ActionResponse:
        try:
            outcomes = self.target.clear_reducing(
                request.bot, request.reason, caller.identity,
                lift_daily_loss_halt=request.lift_daily_loss_halt)
        except ControlError as exc:
            _abort(context, exc)
            raise
        return self._outcomes(outcomes)

    @requires(Role.ADMIN)
    def Promote(self, request: pb.PromoteRequest, context: grpc.ServicerContext,
                caller: Caller) -> pb.PromoteResponse:
        try:
            view = self.target.promote(request.bot, request.to_mode, request.confirm,
                                       caller.identity)
        except ControlError as exc:
            _abort(context, exc)
            raise
        return pb.PromoteResponse(
            bot=view.bot, from_mode=view.from_mode, to_mode=view.to_mode,
            promoted=view.promoted, message=view.message,
            gates=[pb.GateResult(gate=g, title=t, passed=p, evidence=e)
                   for g, t, p, e in view.gates])


def generic_handlers(telemetry: TelemetryService, control: ControlService
                     ) -> list[grpc.GenericRpcHandler]:
    """One handler per service, every method from the proto's descriptor, each guarded."""
    from google.protobuf import symbol_database

    db = symbol_database.Default()
    handlers: list[grpc.GenericRpcHandler] = []
    for servicer, service_name in ((telemetry, "Telemetry"), (control, "Control")):
        service = pb.DESCRIPTOR.services_by_name[service_name]
        check_guarded(servicer, [m.name for m in service.methods])
        methods: dict[str, grpc.RpcMethodHandler] = {}
        for method in service.methods:
            request_type = db.GetSymbol(method.input_type.full_name)
            response_type = db.GetSymbol(method.output_type.full_name)
            behaviour = getattr(servicer, method.name)
            if method.server_streaming:  # pre-encoded batches: bytes pass straight through
                methods[method.name] = grpc.unary_stream_rpc_method_handler(
                    behaviour, request_deserializer=request_type.FromString,
                    response_serializer=None)
            else:
                methods[method.name] = grpc.unary_unary_rpc_method_handler(
                    behaviour, request_deserializer=request_type.FromString,
                    response_serializer=response_type.SerializeToString)
        handlers.append(grpc.method_handlers_generic_handler(service.full_name, methods))
    return handlers
