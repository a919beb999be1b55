"""The mTLS / RBAC matrix: a real gRPC server on loopback around a real runtime, certificates
made in the test, the real ``bot-core metrics watch`` and ``bot-core control`` in subprocesses,
and raw gRPC calls where the server's own answer must be seen (not only the CLI's)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import grpc
import pytest

from bot_core.control.protos import bot_core_pb2 as pb
from bot_core.control.rbac import AccessPolicy, Caller, Role, check_guarded, requires
from bot_core.control.server import ControlAudit
from bot_core.control.tls import pem_fingerprint
from bot_core.risk.check import TradingState

from .conftest import Pki, Served, bot_config

CONTROL = "/bot_core.v1.Control/"
TELEMETRY = "/bot_core.v1.Telemetry/"


def _channel(served: Served, pki: Pki, name: str | None) -> grpc.Channel:
    key = pki.key(name).read_bytes() if name else None
    cert = pki.cert(name).read_bytes() if name else None
    credentials = grpc.ssl_channel_credentials(pki.ca.read_bytes(), key, cert)
    return grpc.secure_channel(served.addr, credentials)


def _halt(channel: grpc.Channel, metadata: Any = ()) -> Any:
    call = channel.unary_unary(CONTROL + "SetTradingState",
                               request_serializer=pb.SetTradingStateRequest.SerializeToString,
                               response_deserializer=pb.ActionResponse.FromString)
    return call(pb.SetTradingStateRequest(state=pb.HALTED, reason="test halt"), timeout=10,
                metadata=metadata)


def _stream(channel: grpc.Channel, **fields: Any) -> Iterator[pb.MetricsBatch]:
    call = channel.unary_stream(TELEMETRY + "StreamMetrics",
                                request_serializer=pb.StreamMetricsRequest.SerializeToString,
                                response_deserializer=pb.MetricsBatch.FromString)
    return call(pb.StreamMetricsRequest(**fields), timeout=10)  # type: ignore[no-any-return]


# -- the handshake: refused, and the watch CLI names the cause --------------------------------


@pytest.mark.parametrize("who, cause", [
    (None, "the server requires a client certificate and none was given"),
    ("stranger", "is not signed by the server's CA"),
    ("expired", "expired on"),
])
def test_a_refused_client_certificate_is_named_by_the_watch_cli(
        mtls_server: Served, pki: Pki, run_cli: Any, who: str | None, cause: str) -> None:
    # the server itself refuses the connection (not only our pre-flight check)
    with _channel(mtls_server, pki, who) as channel, pytest.raises(grpc.RpcError) as raw:
        _halt(channel)
    assert raw.value.code() is grpc.StatusCode.UNAVAILABLE
    assert mtls_server.risk.state is TradingState.ACTIVE
    args = ["--tls-ca", str(pki.ca)] + (["--tls-cert", str(pki.cert(who)), "--tls-key",
                                         str(pki.key(who))] if who else [])
    done = run_cli("metrics", "watch", mtls_server.addr, *args, "--json", "--count", "1",
                   timeout=60)
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith("error: TLS handshake refused: "), done.stderr
    assert cause in done.stderr
    assert done.stdout == ""


def test_a_server_certificate_that_does_not_match_the_pinned_fingerprint_is_refused(
        mtls_server: Served, pki: Pki, run_cli: Any) -> None:
    wrong = "ab" * 32
    done = run_cli("metrics", "watch", mtls_server.addr, *pki.client_args("viewer"),
                   "--server-fingerprint", wrong, "--json", "--count", "1", timeout=60)
    assert done.returncode == 3
    assert "TLS handshake refused: the server's certificate has SHA-256" in done.stderr
    assert "not the pinned AB:AB:AB" in done.stderr
    right = pem_fingerprint(pki.cert("server").read_bytes())
    done = run_cli("metrics", "watch", mtls_server.addr, *pki.client_args("viewer"),
                   "--server-fingerprint", right.upper(), "--json", "--count", "3", timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 3


def test_a_server_signed_by_another_ca_than_the_pinned_one_is_refused(
        mtls_server: Served, pki: Pki, run_cli: Any, tmp_path: Path) -> None:
    from bot_core.control.certs import make_ca

    other = tmp_path / "other-ca.crt"
    other.write_bytes(make_ca("not the server's CA").cert_pem())
    done = run_cli("control", mtls_server.addr, "--tls-ca", str(other), "--tls-cert",
                   str(pki.cert("viewer")), "--tls-key", str(pki.key("viewer")), "status",
                   timeout=60)
    assert done.returncode == 3
    assert "TLS handshake refused: the server's certificate does not verify against the " \
           f"pinned CA {other}" in done.stderr


# -- roles ----------------------------------------------------------------------------------


def test_a_viewer_may_not_halt_unary_status_and_cli_message(mtls_server: Served, pki: Pki,
                                                             run_cli: Any) -> None:
    with _channel(mtls_server, pki, "viewer") as channel, pytest.raises(grpc.RpcError) as raw:
        _halt(channel)
    assert raw.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "role viewer may not call SetTradingState" in raw.value.details()
    done = run_cli("control", mtls_server.addr, *pki.client_args("viewer"), "halt", "why not",
                   timeout=60)
    assert done.returncode == 4
    assert done.stderr.startswith("error: permission denied (role viewer may not halt)")
    assert mtls_server.risk.state is TradingState.ACTIVE
    denied = [a for a in (r["payload"] for r in mtls_server.journal_records("operator_action"))
              if a["detail"]["result"] == "PERMISSION_DENIED"]
    assert {a["operator"] for a in denied} == {"spiffe://bot-core/viewer"}
    assert denied and all(a["action"] == "SetTradingState" for a in denied)


def test_an_identity_without_a_role_is_denied_the_stream(mtls_server: Served,
                                                         pki: Pki) -> None:
    with _channel(mtls_server, pki, "nobody") as channel, pytest.raises(grpc.RpcError) as raw:
        next(iter(_stream(channel)))
    assert raw.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "'spiffe://bot-core/nobody' has no role" in raw.value.details()


class _OperatorStream:
    """A streaming method that needs the operator role, behind the same one guard."""

    def __init__(self, audit: ControlAudit) -> None:
        self.policy = AccessPolicy.of({f"spiffe://bot-core/{r}": r
                                       for r in ("viewer", "operator", "admin")}, None)
        self.audit = audit

    def describe_request(self, method: str, request: Any) -> dict[str, Any]:
        return {}

    @requires(Role.OPERATOR)
    def Ticks(self, request: bytes, context: Any, caller: Caller) -> Iterator[bytes]:
        yield caller.identity.encode()


def test_the_guard_denies_streaming_methods_as_it_denies_unary_ones(pki: Pki) -> None:
    from concurrent import futures

    from bot_core.control.tls import TlsFiles, read_server_material, server_credentials

    material = read_server_material(TlsFiles(pki.ca, pki.cert("server"), pki.key("server")), "t")
    servicer = _OperatorStream(ControlAudit(None))
    check_guarded(servicer, ["Ticks"])
    server = grpc.server(futures.ThreadPoolExecutor(2), options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "test.Stream", {"Ticks": grpc.unary_stream_rpc_method_handler(servicer.Ticks)})])
    port = server.add_secure_port("127.0.0.1:0", server_credentials(material))
    server.start()
    try:
        results = {}
        for who in ("viewer", "operator"):
            credentials = grpc.ssl_channel_credentials(
                pki.ca.read_bytes(), pki.key(who).read_bytes(), pki.cert(who).read_bytes())
            with grpc.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
                call = channel.unary_stream("/test.Stream/Ticks")
                try:
                    results[who] = list(call(b"", timeout=10))
                except grpc.RpcError as exc:
                    results[who] = exc.code()
    finally:
        server.stop(0).wait(5)
    assert results["viewer"] is grpc.StatusCode.PERMISSION_DENIED
    assert results["operator"] == [b"spiffe://bot-core/operator"]
    assert [(c.method, c.code) for c in servicer.audit.calls] == [
        ("Ticks", "PERMISSION_DENIED"), ("Ticks", "OK")]


def test_a_servicer_method_without_a_guard_is_refused() -> None:
    class Careless:
        ListBots: ClassVar[Any] = staticmethod(lambda request, context: None)

    with pytest.raises(TypeError, match="ListBots is not guarded"):
        check_guarded(Careless(), ["ListBots"])


def test_a_role_claimed_in_metadata_is_ignored(mtls_server: Served, pki: Pki,
                                               run_cli: Any) -> None:
    claims = [("role", "admin"), ("x-bot-core-role", "admin"),
              ("x-client-identity", "spiffe://bot-core/admin")]
    with _channel(mtls_server, pki, "viewer") as channel, pytest.raises(grpc.RpcError) as raw:
        _halt(channel, metadata=claims)
    assert raw.value.code() is grpc.StatusCode.PERMISSION_DENIED
    done = run_cli("control", mtls_server.addr, *pki.client_args("viewer"), "--header",
                   "role=admin", "--header", "x-client-identity=spiffe://bot-core/admin",
                   "halt", "claimed", timeout=60)
    assert done.returncode == 4, done.stderr
    assert mtls_server.risk.state is TradingState.ACTIVE


# -- what operators and admins may do -------------------------------------------------------


def test_an_operator_pauses_a_strategy_and_the_journal_names_the_operator(
        mtls_server: Served, pki: Pki, run_cli: Any) -> None:
    done = run_cli("control", mtls_server.addr, *pki.client_args("operator"), "pause",
                   "mean_reversion", "--reason", "spread too wide", timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "alpha: mean_reversion: paused"
    health = mtls_server.scheduler.sleeves[0].health["mean_reversion"]
    assert health.held == "operator: spread too wide [spiffe://bot-core/operator]"
    assert not health.deciding and health.state == "paused"
    actions = [r["payload"] for r in mtls_server.journal_records("operator_action")]
    pause = [a for a in actions if a["action"] == "PauseStrategy"]
    assert len(pause) == 1
    assert pause[0]["operator"] == "spiffe://bot-core/operator"
    assert pause[0]["detail"]["result"] == "OK"
    assert pause[0]["detail"]["role"] == "operator"
    assert pause[0]["detail"]["request"] == {"strategy": "mean_reversion",
                                             "reason": "spread too wide"}
    done = run_cli("control", mtls_server.addr, *pki.client_args("operator"), "halt", "no",
                   timeout=60)
    assert done.returncode == 4
    assert "permission denied (role operator may not halt)" in done.stderr
    denied = [a for a in (r["payload"] for r in mtls_server.journal_records("operator_action"))
              if a["detail"]["result"] == "PERMISSION_DENIED"]
    assert [(a["action"], a["operator"]) for a in denied] == [
        ("SetTradingState", "spiffe://bot-core/operator")]


def test_an_admin_halts_trading_and_the_risk_engine_is_halted(mtls_server: Served, pki: Pki,
                                                              run_cli: Any) -> None:
    done = run_cli("control", mtls_server.addr, *pki.client_args("admin"), "halt",
                   "exchange incident", timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "alpha: trading_state: active -> halted"
    assert mtls_server.risk.state is TradingState.HALTED
    assert mtls_server.risk.cause == "operator: exchange incident [spiffe://bot-core/admin]"
    states = [r["payload"] for r in mtls_server.journal_records("trading_state")]
    assert states[-1]["current"] == "halted"
    assert "spiffe://bot-core/admin" in states[-1]["cause"]
    done = run_cli("control", mtls_server.addr, *pki.client_args("admin"), "reduce", "x",
                   timeout=60)
    assert "halted" in done.stdout and "an operator halt wins" in done.stdout
    with _channel(mtls_server, pki, "admin") as channel:
        call = channel.unary_unary(
            CONTROL + "SetTradingState",
            request_serializer=pb.SetTradingStateRequest.SerializeToString,
            response_deserializer=pb.ActionResponse.FromString)
        back = call(pb.SetTradingStateRequest(state=pb.ACTIVE, reason="incident over"),
                    timeout=10)
    assert back.outcomes[0].trading_state == pb.ACTIVE
    assert mtls_server.risk.state is TradingState.ACTIVE


def test_reduce_then_clear_reducing(mtls_server: Served, pki: Pki, run_cli: Any) -> None:
    done = run_cli("control", mtls_server.addr, *pki.client_args("admin"), "reduce",
                   "volatility", timeout=60)
    assert done.returncode == 0, done.stderr
    assert mtls_server.risk.state is TradingState.REDUCING
    done = run_cli("control", mtls_server.addr, *pki.client_args("admin"), "--json", "clear",
                   "calm again", timeout=60)
    assert done.returncode == 0, done.stderr
    assert '"trading_state": "ACTIVE"' in done.stdout
    assert mtls_server.risk.state is TradingState.ACTIVE


# -- headers --------------------------------------------------------------------------------


def test_custom_headers_reach_the_server_sanitised(mtls_server: Served, pki: Pki,
                                                   run_cli: Any) -> None:
    done = run_cli("control", mtls_server.addr, *pki.client_args("viewer"), "--header",
                   "x-request-id=abc-123", "--header", "x-blob-bin=\u00e9t\u00e9", "status",
                   env={"BOT_CORE_GRPC_HEADERS": "x-desk=rates,authorization=Bearer s3cr3t"},
                   timeout=60)
    assert done.returncode == 0, done.stderr
    seen = [r["payload"]["detail"]["metadata"]
            for r in mtls_server.journal_records("operator_action")
            if r["payload"]["action"] == "ListBots"]
    assert seen[-1]["x-request-id"] == "abc-123"
    assert seen[-1]["x-desk"] == "rates"
    assert seen[-1]["authorization"] == "[redacted]"
    assert seen[-1]["x-blob-bin"] == "<5 bytes>"
    journal = " ".join(str(r) for r in mtls_server.journal_records("operator_action"))
    assert "abc-123" in journal and "s3cr3t" not in journal


@pytest.mark.parametrize("flag, message", [
    ("X-Trace=1", "header name 'X-Trace' must be lower-case ASCII letters"),
    ("grpc-timeout=1", "starts with 'grpc-', which gRPC reserves"),
    ("content-type=text", "is set by HTTP/2 or gRPC itself"),
    ("x-note=caf\u00e9", "the value must be printable ASCII"),
    ("=x", "a header needs a name"),
])
def test_a_bad_header_is_one_clear_error(run_cli: Any, flag: str, message: str) -> None:
    done = run_cli("metrics", "watch", "127.0.0.1:1", "--header", flag, "--count", "1",
                   timeout=60)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_bad_header_in_the_variable_names_the_variable(run_cli: Any) -> None:
    done = run_cli("control", "127.0.0.1:1", "status",
                   env={"BOT_CORE_GRPC_HEADERS": "ok=1,Bad Name=2"}, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("error: BOT_CORE_GRPC_HEADERS 'Bad Name=2': header name")


# -- plaintext ------------------------------------------------------------------------------


@pytest.mark.parametrize("sentinel", ["NONE", "null", "Default", ""])
def test_sentinel_tls_variables_mean_plaintext_to_a_loopback_server(
        plaintext_server: Served, run_cli: Any, sentinel: str) -> None:
    env = {"BOT_CORE_GRPC_TLS_CA": sentinel, "BOT_CORE_GRPC_TLS_CERT": sentinel,
           "BOT_CORE_GRPC_TLS_KEY": sentinel, "BOT_CORE_GRPC_HEADERS": sentinel}
    done = run_cli("metrics", "watch", plaintext_server.addr, "--json", "--count", "2",
                   "--filter", "metric=bot_core_equity", env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [line.count('"metric": "bot_core_equity"') for line in done.stdout.splitlines()] == \
        [1, 1]
    calls = plaintext_server.server.audit.calls
    deadline = time.monotonic() + 10  # a stream is recorded when the server sees it end
    while not calls and time.monotonic() < deadline:
        time.sleep(0.05)
    caller = calls[-1].caller
    assert caller.identity == "plaintext:loopback" and caller.role is Role.VIEWER


def test_a_flag_sentinel_overrides_a_set_variable(plaintext_server: Served, run_cli: Any,
                                                  pki: Pki) -> None:
    env = {"BOT_CORE_GRPC_TLS_CA": str(pki.ca)}
    done = run_cli("control", plaintext_server.addr, "--tls-ca", "NONE", "status", env=env,
                   timeout=60)
    assert done.returncode == 0, done.stderr
    done = run_cli("control", plaintext_server.addr, "status", env=env, timeout=60)
    assert done.returncode == 3
    assert "TLS handshake refused: the server does not speak TLS" in done.stderr


def test_plaintext_viewer_may_not_halt(plaintext_server: Served, run_cli: Any) -> None:
    done = run_cli("control", plaintext_server.addr, "halt", "x", timeout=60)
    assert done.returncode == 4
    assert "permission denied (role viewer may not halt)" in done.stderr


def test_plaintext_to_a_non_loopback_address_is_refused_by_the_client(run_cli: Any) -> None:
    done = run_cli("control", "192.0.2.10:50051", "status", timeout=60)
    assert done.returncode == 2
    assert "plaintext is allowed to loopback addresses only" in done.stderr


@pytest.mark.parametrize("addr, allow, message", [
    ("0.0.0.0:0", "true", "plaintext gRPC is refused on a non-loopback address"),
    ("127.0.0.1:0", "false", "plaintext on loopback needs telemetry.allow_plaintext_loopback"),
])
def test_a_plaintext_server_is_refused_at_start_up(tmp_path: Path, run_cli: Any, addr: str,
                                                   allow: str, message: str) -> None:
    config = bot_config(tmp_path, "alpha", "balanced",
                        f"[telemetry]\nallow_plaintext_loopback = {allow}\n")
    done = run_cli("run", "--config", str(config), "--grpc-addr", addr, "--cycles", "1",
                   "--json", timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: --grpc-addr {addr}: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""  # refused before anything ran
    from bot_core.journal.home import journal_directory

    assert not journal_directory("alpha").exists()


def test_reconnects_with_backoff_and_says_so(run_cli: Any) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = run_cli("metrics", "watch", f"127.0.0.1:{port}", "--json", "--max-retries", "2",
                   timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("connection lost (cannot reach 127.0.0.1:")
    assert "reconnecting in 0.5 s (attempt 1)" in lines[0]
    assert "reconnecting in 1.0 s (attempt 2)" in lines[1]
    assert lines[-1].startswith("error: gave up after 2 reconnection attempts")


def test_an_operator_resumes_what_an_operator_paused(mtls_server: Served, pki: Pki,
                                                     run_cli: Any) -> None:
    args = pki.client_args("operator")
    assert run_cli("control", mtls_server.addr, *args, "pause", "vol_target",
                   timeout=60).returncode == 0
    done = run_cli("control", mtls_server.addr, *args, "resume", "vol_target", timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "alpha: vol_target: resumed"
    assert mtls_server.scheduler.sleeves[0].health["vol_target"].deciding
    missing = run_cli("control", mtls_server.addr, *args, "pause", "nope", timeout=60)
    assert missing.returncode == 1
    assert missing.stderr.strip() == \
        "error: pause: NOT_FOUND: no strategy named 'nope' in any bot"


def test_promote_goes_through_the_promotion_gates(mtls_server: Served, pki: Pki,
                                                  run_cli: Any) -> None:
    done = run_cli("control", mtls_server.addr, *pki.client_args("admin"), "promote", "paper",
                   timeout=60)
    assert done.returncode == 1, done.stderr
    assert "FAIL  min_cycles: 0 of 1440 cycles in demo" in done.stdout
    assert "bot 'alpha' not promoted to paper" in done.stdout
    skipping = run_cli("control", mtls_server.addr, *pki.client_args("admin"), "promote",
                       "live", timeout=60)
    assert skipping.returncode == 1
    assert "FAILED_PRECONDITION: bot 'alpha' is in demo mode: it can be promoted to paper " \
           "only" in skipping.stderr
    denied = run_cli("control", mtls_server.addr, *pki.client_args("operator"), "promote",
                     "paper", timeout=60)
    assert denied.returncode == 4
    assert "permission denied (role operator may not promote)" in denied.stderr


def test_status_as_json_and_the_health_service(mtls_server: Served, pki: Pki,
                                               run_cli: Any) -> None:
    import json

    from grpc_health.v1 import health_pb2

    done = run_cli("control", mtls_server.addr, *pki.client_args("viewer"), "--json", "status",
                   timeout=60)
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert [b["name"] for b in status["bots"]["bots"]] == ["alpha"]
    assert status["risk"]["bots"][0]["trading_state"] == "ACTIVE"
    assert {s["name"] for s in status["strategies"]["strategies"]} == {"mean_reversion",
                                                                       "vol_target"}
    with _channel(mtls_server, pki, "nobody") as channel:  # health needs no role
        check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                    request_serializer=health_pb2.HealthCheckRequest
                                    .SerializeToString,
                                    response_deserializer=health_pb2.HealthCheckResponse
                                    .FromString)
        answer = check(health_pb2.HealthCheckRequest(service="bot_core.v1.Control"), timeout=10)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
