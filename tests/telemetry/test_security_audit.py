"""``bot-core security audit`` on the documented secure setup (dev certificates, their config
fragment, an explicit journal key) and on insecure ones, each finding named; the WebSocket
check against a real installed plugin distribution; the audit as the paper -> live gate."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import bot_core
from bot_core.config.resolve import resolve_config
from bot_core.control.audit import AuditTarget, audit_security
from bot_core.control.certs import issue_certificate, make_ca, write_issued
from bot_core.control.settings import tls_files

from .conftest import bot_config

KEY = "k" * 48


def _secure(tmp_path: Path, run_cli: Any) -> Path:
    made = run_cli("certs", "dev", str(tmp_path / "certs"), timeout=60)
    assert made.returncode == 0, made.stderr
    fragment = (tmp_path / "certs" / "telemetry.toml").read_text()
    return bot_config(tmp_path, "alpha", "balanced", fragment)


def _target(config: Path) -> AuditTarget:
    resolved = resolve_config(config, environ={})
    return AuditTarget(resolved.config, tls_files(resolved), resolved.config.name)


def _findings(done: Any) -> dict[str, list[str]]:
    payload = json.loads(done.stdout)
    out: dict[str, list[str]] = {}
    for finding in payload["findings"]:
        out.setdefault(finding["check"], []).append(finding["severity"])
    return out


def test_the_documented_secure_setup_passes(tmp_path: Path, run_cli: Any) -> None:
    config = _secure(tmp_path, run_cli)
    done = run_cli("security", "audit", "--config", str(config), "--json",
                   env={"BOT_CORE_JOURNAL_KEY": KEY}, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    findings = _findings(done)
    assert json.loads(done.stdout)["passed"] is True
    for check in ("mtls", "plaintext", "ca_pinned", "certificates", "key_files", "rbac",
                  "journal_key", "no_websockets"):
        assert "error" not in findings[check], (check, done.stdout)
    assert findings["journal_key"] == ["ok"]
    # the table form says the same
    table = run_cli("security", "audit", "--config", str(config),
                    env={"BOT_CORE_JOURNAL_KEY": KEY, "COLUMNS": "200"}, timeout=120)
    assert table.returncode == 0 and table.stdout.rstrip().endswith("passed")


def test_an_insecure_plaintext_setup_fails_naming_each_finding(tmp_path: Path,
                                                               run_cli: Any) -> None:
    config = bot_config(tmp_path, "alpha", "balanced", textwrap.dedent("""\
        [telemetry]
        grpc_addr = "0.0.0.0:50051"
        metrics_addr = "0.0.0.0:9464"
        allow_plaintext_loopback = true
        plaintext_role = "admin"
        [telemetry.rbac]
        "spiffe://ops/*" = "admin"
        """))
    done = run_cli("security", "audit", "--config", str(config), "--json",
                   env={"BOT_CORE_JOURNAL_KEY": "too short"}, timeout=120)
    assert done.returncode == 1
    payload = json.loads(done.stdout)
    assert payload["passed"] is False
    errors = {f["check"]: f["message"] for f in payload["findings"] if f["severity"] == "error"}
    assert "0.0.0.0:50051 is not loopback and has no mutual TLS" in errors["mtls"]
    assert "plaintext gRPC on a non-loopback address" in errors["plaintext"]
    assert "no CA pinned" in errors["ca_pinned"]
    assert "wildcard identities with admin: spiffe://ops/*" in errors["rbac"]
    assert "at least 32 characters" in errors["journal_key"]
    warnings = [f["message"] for f in payload["findings"] if f["severity"] == "warning"]
    assert any("/metrics on 0.0.0.0:9464 is plain HTTP" in w for w in warnings)
    assert any("gets the admin role" in w for w in warnings)
    table = run_cli("security", "audit", "--config", str(config),
                    env={"BOT_CORE_JOURNAL_KEY": "too short", "COLUMNS": "250"}, timeout=120)
    assert table.returncode == 1
    assert "failed: 5 finding(s)" in table.stdout


def test_bad_certificates_and_open_key_files_fail(tmp_path: Path) -> None:
    ca = make_ca(days=30)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=60)
    expired = issue_certificate(ca, "server", server=True, hosts=["127.0.0.1"], days=10,
                                not_before=long_ago)
    cert, key = write_issued(tmp_path, "server", expired)
    key.chmod(0o644)
    leaf_as_ca = write_issued(tmp_path, "leaf", issue_certificate(ca, "x", server=False))[0]
    keyring = tmp_path / "keyring.json"
    keyring.write_text(json.dumps({"format": "bot-core-journal-keyring", "version": 1, "keys": [
        {"id": "k1", "activated_ns": 0, "activated_at": "1970-01-01T00:00:00.000000Z",
         "secret": "ab" * 32}]}))
    keyring.chmod(0o640)
    config = bot_config(tmp_path, "alpha", "balanced", textwrap.dedent(f"""\
        [telemetry]
        grpc_addr = "127.0.0.1:50051"
        [telemetry.tls]
        ca_file = "{leaf_as_ca.name}"
        cert_file = "{cert.name}"
        key_file = "{key.name}"
        [telemetry.rbac]
        "spiffe://bot-core/admin" = "admin"
        """))
    report = audit_security([_target(config)],
                            environ={"BOT_CORE_JOURNAL_KEY_FILE": str(keyring)}, modules=[])
    errors = [(f.check, f.message) for f in report.failures]
    assert ("ca_pinned", f"alpha: telemetry.tls.ca_file {leaf_as_ca} is not a CA certificate") \
        in errors  # relative paths are taken from the config file's directory
    assert any(c == "certificates" and m.startswith(f"{cert} expired on") for c, m in errors)
    assert ("key_files", f"{key} may be read by group or others (-rw-r--r--): chmod 600 {key}") \
        in errors
    assert any(c == "key_files" and "journal keyring" in m and "-rw-r-----" in m
               for c, m in errors)
    assert not report.passed


def test_a_certificate_expiring_soon_is_a_warning(tmp_path: Path) -> None:
    ca = make_ca(days=5)
    (tmp_path / "ca.crt").write_bytes(ca.cert_pem())
    write_issued(tmp_path, "server", issue_certificate(ca, "s", server=True, days=5))
    config = bot_config(tmp_path, "alpha", "balanced", textwrap.dedent("""\
        [telemetry]
        grpc_addr = "127.0.0.1:50051"
        cert_warning_days = 7
        [telemetry.tls]
        ca_file = "ca.crt"
        cert_file = "server.crt"
        key_file = "server.key"
        [telemetry.rbac]
        "spiffe://bot-core/viewer" = "viewer"
        """))
    report = audit_security([_target(config)], environ={"BOT_CORE_JOURNAL_KEY": KEY},
                            modules=[])
    assert report.passed
    soon = [f.message for f in report.findings if f.check == "certificates"]
    assert len(soon) == 2 and all("within 7 days: rotate it" in m for m in soon)


def test_a_plugin_that_requires_a_websocket_library_fails_the_audit(tmp_path: Path,
                                                                    run_cli: Any) -> None:
    """A real (tiny) plugin distribution on the path: its metadata requires websockets."""
    site = tmp_path / "site"
    dist = site / "bot_core_chatty-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bot-core-chatty\n"
                                   "Version: 0.1.0\nRequires-Dist: websockets>=12\n")
    (dist / "entry_points.txt").write_text("[bot_core]\nchatty = bot_core_chatty\n")
    (site / "bot_core_chatty.py").write_text('BOT_CORE_API = ">=1.0,<2"\n')
    env = {"PYTHONPATH": os.pathsep.join([str(site), *sys.path]),
           "BOT_CORE_JOURNAL_KEY": KEY}
    done = run_cli("security", "audit", "--json", env=env, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [f["message"] for f in json.loads(done.stdout)["findings"]
              if f["severity"] == "error"]
    assert errors == [
        "WebSocket libraries in use: bot-core-chatty requires websockets (remote interfaces "
        "are gRPC, local IPC and /metrics only)"]


def test_an_imported_websocket_module_fails_the_audit() -> None:
    report = audit_security(environ={"BOT_CORE_JOURNAL_KEY": KEY},
                            modules=["json", "websockets.legacy.client", "tornado.websocket"])
    message = next(f.message for f in report.failures if f.check == "no_websockets")
    assert "module tornado.websocket is imported" in message
    assert "module websockets.legacy.client is imported" in message


def test_the_audit_judges_what_the_host_and_plugins_import_not_its_caller(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # a test run or a notebook may have imported anything (dask brings tornado.websocket):
    # the audit looks at a fresh interpreter that loaded the host and every plugin
    import types

    monkeypatch.setitem(sys.modules, "websockets", types.ModuleType("websockets"))
    report = audit_security(environ={**os.environ, "BOT_CORE_JOURNAL_KEY": KEY})
    assert not [f for f in report.failures if f.check == "no_websockets"]
    ok = next(f for f in report.findings if f.check == "no_websockets")
    assert "no WebSocket library" in ok.message


def test_the_audit_is_the_paper_to_live_promotion_gate(tmp_path: Path) -> None:
    from bot_core.runtime.promotion import GateContext, run_gate

    host = bot_core.load_plugins()
    assert "security_audit" in host.promotion_gates
    gate = host.promotion_gates["security_audit"]
    assert gate.applies_to == frozenset({"live"})
    insecure = bot_config(tmp_path, "alpha", "balanced",
                          '[telemetry]\ngrpc_addr = "0.0.0.0:50051"\n')
    config = resolve_config(insecure, plugins=host).config

    def judged(cfg: Any) -> Any:
        ctx = GateContext(bot="alpha", config=cfg, from_mode="paper", to_mode="live",
                          stage=cfg.runtime.promotion.to_live, runs=(), window_start_ns=None,
                          plugins=host, confirm="alpha", now_ns=0)
        return run_gate(gate, ctx)

    refused = judged(config)
    assert not refused.passed
    assert "mtls: alpha: gRPC 0.0.0.0:50051 is not loopback and has no mutual TLS" in \
        refused.evidence
    fine = judged(resolve_config(bot_config(tmp_path, "beta", "balanced"), plugins=host).config)
    assert fine.passed, fine.evidence


@pytest.mark.parametrize("args, message", [
    (["--roles", "viewer,root"], "--roles viewer,root: unknown role root; roles are viewer, "
                                 "operator, admin (comma-separated)"),
    (["--days", "0"], "--days 0: expected a number of days from 1 to 3650"),
])
def test_certs_dev_refuses_bad_arguments(tmp_path: Path, run_cli: Any, args: list[str],
                                         message: str) -> None:
    done = run_cli("certs", "dev", str(tmp_path / "c"), *args, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {message}"
    assert not (tmp_path / "c").exists()


def test_certs_dev_writes_owner_only_keys_and_never_overwrites(tmp_path: Path,
                                                               run_cli: Any) -> None:
    target = tmp_path / "c"
    done = run_cli("certs", "dev", str(target), "--roles", "viewer,admin", "--days", "3",
                   timeout=60)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in target.iterdir()) == [
        "admin.crt", "admin.key", "ca.crt", "server.crt", "server.key", "telemetry.toml",
        "viewer.crt", "viewer.key"]
    for key in ("admin.key", "server.key", "viewer.key"):
        assert (target / key).stat().st_mode & 0o777 == 0o600
    fragment = (target / "telemetry.toml").read_text()
    assert '"spiffe://bot-core/viewer" = "viewer"' in fragment
    assert '"spiffe://bot-core/admin" = "admin"' in fragment and "operator" not in fragment
    assert "bot-core metrics watch 127.0.0.1:50051 --tls-ca" in done.stdout
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    again = run_cli("certs", "dev", str(target), timeout=60)
    assert again.returncode == 2
    assert "already exists; choose an empty directory (nothing was written)" in again.stderr
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
