"""``bot-core security audit``: the security baseline of a bot's remote interfaces and keys.

Every check gives findings of severity ``error`` (the audit fails), ``warning`` (worth a look)
or ``ok``. The checks:

=======================  ==================================================================
check                    fails when
=======================  ==================================================================
``mtls``                 the gRPC server binds a non-loopback address without mutual TLS
``plaintext``            plaintext is configured anywhere but loopback, or on loopback without
                         ``allow_plaintext_loopback``; a plaintext caller gets operator/admin
``ca_pinned``            TLS without a readable CA certificate (``telemetry.tls.ca_file``)
``certificates``         a certificate is expired or not yet valid (a warning within
                         ``telemetry.cert_warning_days`` of expiry)
``key_files``            the server's key or the journal's keyring is readable by group/others
``rbac``                 a gRPC server without a policy, or a wildcard identity given admin
``journal_key``          no explicit journal key (paper/live), one too short or unreadable
``no_websockets``        the host or an installed plugin requires or has imported a WebSocket
                         client or server library (remote interfaces are gRPC over HTTP/2, local
                         IPC and the plain HTTP /metrics only)
=======================  ==================================================================

The ``/metrics`` endpoint is plain HTTP by design (read-only, no secrets): a non-loopback one is
a warning, never a failure. The audit is also the ``security_audit`` promotion gate for paper ->
live (:class:`bot_core.runtime.gates.SecurityAudit`).
"""

from __future__ import annotations

import datetime as dt
import os
import stat
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from bot_core.config.models import BotConfig
    from bot_core.control.tls import TlsFiles

__all__ = ["WEBSOCKET_DISTRIBUTIONS", "WEBSOCKET_MODULES", "AuditReport", "AuditTarget",
           "Finding", "audit_security", "tls_files_as_given"]

Severity = Literal["error", "warning", "ok"]
WEBSOCKET_DISTRIBUTIONS = frozenset({
    "websockets", "websocket-client", "wsproto", "autobahn", "simple-websocket",
    "python-socketio", "python-engineio", "flask-sock", "flask-socketio", "channels",
    "socketio-client", "websocket", "ws4py", "tornado-websockets", "aiohttp-sse"})
"""Distributions whose purpose is WebSocket (or Socket.IO over it), by canonical name."""
WEBSOCKET_MODULES = ("websockets", "websocket", "wsproto", "autobahn", "simple_websocket",
                     "socketio", "engineio", "flask_sock", "flask_socketio", "ws4py",
                     "tornado.websocket", "channels")
"""Modules of such libraries (a name, or a package and its submodules)."""


@dataclass(frozen=True)
class AuditTarget:
    """One bot's config to audit, its TLS files (paths resolved), and what to call it."""

    config: BotConfig
    tls: TlsFiles | None
    label: str


def tls_files_as_given(config: BotConfig) -> TlsFiles | None:
    """``[telemetry.tls]`` with the paths as written (relative to the working directory)."""
    from bot_core.control.tls import TlsFiles

    tls = config.telemetry.tls
    values = (tls.ca_file, tls.cert_file, tls.key_file)
    if all(v is None for v in values):
        return None
    ca, cert, key = (Path(v).expanduser() if v else None for v in values)
    return TlsFiles(ca, cert, key)


@dataclass(frozen=True)
class Finding:
    check: str
    severity: Severity
    message: str

    @property
    def failed(self) -> bool:
        return self.severity == "error"

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "severity": self.severity, "message": self.message}


@dataclass
class AuditReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(f.failed for f in self.findings)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.failed]

    def add(self, check: str, severity: Severity, message: str) -> None:
        self.findings.append(Finding(check, severity, message))

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "findings": [f.as_dict() for f in self.findings]}


def _mode_text(mode: int) -> str:
    return stat.filemode(mode)


def _private(path: Path) -> tuple[bool, str]:
    """(owner-only?, mode text)."""
    st = path.stat()
    return (os.name != "posix" or not st.st_mode & 0o077), _mode_text(st.st_mode)


# -- the gRPC server and its TLS ----------------------------------------------------------------


def _check_binds(report: AuditReport, config: BotConfig, tls_set: bool, where: str) -> None:
    from bot_core.errors import UsageError
    from bot_core.telemetry.addresses import parse_address

    telemetry = config.telemetry
    if telemetry.grpc_addr is None:
        report.add("mtls", "ok", f"{where}: no gRPC server configured (telemetry.grpc_addr)")
    else:
        try:
            address = parse_address(telemetry.grpc_addr, "telemetry.grpc_addr")
        except UsageError as exc:
            report.add("mtls", "error", f"{where}: {exc}")
            return
        if tls_set:
            report.add("mtls", "ok", f"{where}: gRPC {address} with mutual TLS")
        elif address.loopback:
            report.add("mtls", "ok", f"{where}: gRPC {address} is loopback (plaintext allowed "
                       f"there only)")
            if not telemetry.allow_plaintext_loopback:
                report.add("plaintext", "error", f"{where}: gRPC {address} has no TLS and "
                           f"allow_plaintext_loopback is false: the server refuses to start")
        else:
            report.add("mtls", "error", f"{where}: gRPC {address} is not loopback and has no "
                       f"mutual TLS ([telemetry.tls])")
            report.add("plaintext", "error", f"{where}: plaintext gRPC on a non-loopback "
                       f"address {address}")
    if telemetry.allow_plaintext_loopback:
        if telemetry.plaintext_role in ("operator", "admin"):
            report.add("plaintext", "warning", f"{where}: a plaintext (certificate-less) "
                       f"loopback caller gets the {telemetry.plaintext_role} role; anyone on "
                       f"this machine can act on the bot")
        else:
            report.add("plaintext", "ok", f"{where}: plaintext allowed on loopback only, role "
                       f"{telemetry.plaintext_role}")
    elif not any(f.check == "plaintext" for f in report.findings):
        report.add("plaintext", "ok", f"{where}: no plaintext gRPC")
    if telemetry.metrics_addr is not None:
        try:
            metrics = parse_address(telemetry.metrics_addr, "telemetry.metrics_addr")
        except UsageError as exc:
            report.add("mtls", "error", f"{where}: {exc}")
            return
        if not metrics.loopback:
            report.add("mtls", "warning", f"{where}: /metrics on {metrics} is plain HTTP on a "
                       f"non-loopback address (read-only, no secrets; restrict who can reach "
                       f"it)")


def _check_tls(report: AuditReport, config: BotConfig, files: Any, where: str,
               now: dt.datetime) -> None:
    from bot_core.control.tls import load_certificate
    from bot_core.telemetry.addresses import is_loopback

    telemetry = config.telemetry
    if files is None:
        if telemetry.grpc_addr is not None:
            local = is_loopback(telemetry.grpc_addr.rpartition(":")[0].strip("[]") or "127.0.0.1")
            allowed = local and telemetry.allow_plaintext_loopback
            report.add("ca_pinned", "warning" if allowed else "error",
                       f"{where}: no [telemetry.tls]: no CA pinned for clients")
        return
    if files.ca is None:
        report.add("ca_pinned", "error", f"{where}: telemetry.tls.ca_file is not set: client "
                   f"certificates cannot be checked")
    certs: list[tuple[str, Path]] = [(name, path) for name, path in
                                     (("ca_file", files.ca), ("cert_file", files.cert))
                                     if path is not None]
    warn_days = telemetry.cert_warning_days
    for name, path in certs:
        try:
            cert = load_certificate(path.read_bytes(), str(path))
        except (OSError, ValueError) as exc:
            check = "ca_pinned" if name == "ca_file" else "certificates"
            report.add(check, "error", f"{where}: telemetry.tls.{name}: {path}: {exc}")
            continue
        if name == "ca_file":
            report.add("ca_pinned", *_ca_finding(cert, path, where))
        end, start = cert.not_valid_after_utc, cert.not_valid_before_utc
        if end <= now:
            report.add("certificates", "error", f"{path} expired on {end:%Y-%m-%d %H:%M} UTC")
        elif start > now:
            report.add("certificates", "error", f"{path} is not valid before "
                       f"{start:%Y-%m-%d %H:%M} UTC")
        elif end - now < dt.timedelta(days=warn_days):
            report.add("certificates", "warning", f"{path} expires on {end:%Y-%m-%d %H:%M} UTC, "
                       f"within {warn_days} days: rotate it (docs/security.md)")
        else:
            report.add("certificates", "ok", f"{path} valid until {end:%Y-%m-%d} UTC")
    if files.key is None:
        report.add("key_files", "error", f"{where}: telemetry.tls.key_file is not set")
    elif not files.key.exists():
        report.add("key_files", "error", f"{where}: telemetry.tls.key_file {files.key}: no "
                   f"such file")
    else:
        private, mode = _private(files.key)
        if private:
            report.add("key_files", "ok", f"{files.key} is owner-only ({mode})")
        else:
            report.add("key_files", "error", f"{files.key} may be read by group or others "
                       f"({mode}): chmod 600 {files.key}")


def _ca_finding(cert: Any, path: Path, where: str) -> tuple[Severity, str]:
    from cryptography import x509

    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        return "error", f"{where}: telemetry.tls.ca_file {path} is not a CA certificate"
    return "ok", f"{where}: CA pinned: {cert.subject.rfc4514_string()} ({path})"


def _check_rbac(report: AuditReport, config: BotConfig, where: str) -> None:
    telemetry = config.telemetry
    if telemetry.grpc_addr is None and not telemetry.rbac:
        return
    if not telemetry.rbac:
        report.add("rbac", "error", f"{where}: [telemetry.rbac] is empty: no certificate has a "
                   f"role")
        return
    wild = sorted(i for i, role in telemetry.rbac.items()
                  if role == "admin" and any(c in i for c in "*?["))
    if wild:
        report.add("rbac", "error", f"{where}: wildcard identities with admin: "
                   f"{', '.join(wild)} (name each admin exactly)")
    else:
        counts = {role: sum(1 for r in telemetry.rbac.values() if r == role)
                  for role in ("viewer", "operator", "admin")}
        report.add("rbac", "ok", f"{where}: policy: " + ", ".join(
            f"{n} {role}" for role, n in counts.items()))


# -- the journal key ----------------------------------------------------------------------------


def _check_journal_key(report: AuditReport, mode: str, environ: Mapping[str, str]) -> None:
    from bot_core.errors import ConfigError
    from bot_core.journal.keys import (
        KEY_ENV,
        KEY_FILE_ENV,
        MIN_SECRET_BYTES,
        default_keyring_path,
        keyring_for_verify,
    )

    key_file, key = environ.get(KEY_FILE_ENV, ""), environ.get(KEY_ENV, "")
    try:
        keyring_for_verify(None, environ) if (key_file or key) else None
    except ConfigError as exc:
        report.add("journal_key", "error", str(exc).splitlines()[0])
        return
    if key_file:
        path = Path(key_file).expanduser()
        private, shown = _private(path)
        if private:
            report.add("journal_key", "ok", f"journal keyring {path} ({shown})")
        else:
            report.add("key_files", "error", f"journal keyring {path} may be read by group or "
                       f"others ({shown}): chmod 600 {path}")
        return
    if key:
        report.add("journal_key", "ok", f"{KEY_ENV} set ({len(key.encode())} characters, at "
                   f"least {MIN_SECRET_BYTES})")
        return
    if mode in ("paper", "live"):
        report.add("journal_key", "error", f"a {mode} bot needs an explicit journal key: set "
                   f"{KEY_FILE_ENV} or {KEY_ENV}")
        return
    path = default_keyring_path(environ)
    if path.exists():
        private, shown = _private(path)
        severity: Severity = "warning" if private else "error"
        report.add("journal_key", severity, f"demo keyring {path} ({shown}); paper and live "
                   f"need {KEY_FILE_ENV} or {KEY_ENV}")
    else:
        report.add("journal_key", "warning", f"no journal key yet (a demo creates {path}); paper "
                   f"and live need {KEY_FILE_ENV} or {KEY_ENV}")


# -- WebSockets ---------------------------------------------------------------------------------


def _websocket_findings(report: AuditReport, distributions: Iterable[str],
                        modules: Iterable[str]) -> None:
    from importlib import metadata

    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    dists = {"bot-core"} | {d for d in distributions if d != "<unknown>"}
    found: list[str] = []
    for dist in sorted(dists):
        try:
            requires = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            if canonicalize_name(req.name) in WEBSOCKET_DISTRIBUTIONS:
                found.append(f"{dist} requires {req.name}")
    loaded = sorted(name for name in modules
                    if any(name == m or name.startswith(m + ".") for m in WEBSOCKET_MODULES))
    found += [f"module {name} is imported" for name in loaded]
    if found:
        report.add("no_websockets", "error", "WebSocket libraries in use: " + "; ".join(found)
                   + " (remote interfaces are gRPC, local IPC and /metrics only)")
    else:
        report.add("no_websockets", "ok", f"no WebSocket library required or imported by "
                   f"{', '.join(sorted(dists))}")


# -- the audit ----------------------------------------------------------------------------------


def audit_security(targets: Sequence[AuditTarget] = (), *,
                   environ: Mapping[str, str] | None = None,
                   distributions: Iterable[str] = (), modules: Iterable[str] | None = None,
                   now: dt.datetime | None = None) -> AuditReport:
    """Run every check over ``targets``.

    :param distributions: the installed plugins' distributions (``PluginHost.records``), whose
        requirements are inspected with the host's own.
    :param modules: the imported module names (default: those of a fresh interpreter that
        loaded the host and every plugin, :func:`modules_imported_by_plugins`).
    """
    env = os.environ if environ is None else environ
    moment = now or dt.datetime.now(dt.UTC)
    report = AuditReport()
    modes = set()
    for target in targets:
        config, files, where = target.config, target.tls, target.label
        modes.add(config.runtime.mode)
        _check_binds(report, config, files is not None, where)
        _check_tls(report, config, files, where, moment)
        _check_rbac(report, config, where)
    if not targets:
        report.add("config", "warning", "no config given (--config): the gRPC and TLS checks "
                   "were skipped")
    mode = "live" if "live" in modes else "paper" if "paper" in modes else "demo"
    _check_journal_key(report, mode, env)
    if modules is None:
        try:
            modules = modules_imported_by_plugins(env)
        except (OSError, subprocess.SubprocessError) as exc:  # fail closed: no proof, no pass
            report.add("no_websockets", "error", f"cannot list the modules the host and its "
                       f"plugins import ({exc})")
            return report
    _websocket_findings(report, distributions, modules)
    return report


def modules_imported_by_plugins(environ: Mapping[str, str]) -> list[str]:
    """The modules a fresh interpreter holds once it has imported the host and loaded every
    installed plugin: what a bot imports, and nothing the caller (a test run, a notebook)
    happened to import besides.

    :raises subprocess.SubprocessError: the probe failed or took longer than a minute.
    """
    probe = ("import sys, bot_core; bot_core.load_plugins(); "
             "sys.stdout.write('\\n'.join(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", probe], env=dict(environ), capture_output=True,
                          text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise subprocess.SubprocessError(f"exit {done.returncode}: {done.stderr.strip()[-300:]}")
    return done.stdout.split()
