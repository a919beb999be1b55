"""The ``[telemetry]`` settings of one ``bot-core run``, from its configs and flags.

One process serves one ``/metrics`` endpoint and one gRPC server for every bot it runs, so the
configs must agree on ``[telemetry]`` (its addresses, TLS files and policy); ``--metrics-addr``
and ``--grpc-addr`` override the addresses. TLS paths are resolved against the directory of the
config file that gave them (a preset or a variable: the working directory).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot_core.errors import UsageError
from bot_core.telemetry.addresses import Address, parse_address

if TYPE_CHECKING:
    from bot_core.config.models import TelemetryConfig
    from bot_core.config.resolve import ResolvedConfig
    from bot_core.control.rbac import AccessPolicy
    from bot_core.control.tls import TlsFiles

__all__ = ["TelemetrySettings", "resolve_path", "telemetry_settings", "tls_files"]


@dataclass(frozen=True)
class TelemetrySettings:
    """What the runtime starts: ``metrics`` and ``grpc`` are None when not served."""

    config: TelemetryConfig
    metrics: Address | None
    grpc: Address | None
    tls: TlsFiles | None
    policy: AccessPolicy
    source: str
    """Where ``[telemetry]`` came from (for errors)."""


def resolve_path(resolved: ResolvedConfig, field: str, value: str) -> Path:
    """``value`` of ``field``, relative to the config file that gave it."""
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    source = resolved.sources.get(field, "")
    if source and not source.startswith(("preset:", "env:", "default", "--")):
        candidate = Path(source)
        if candidate.suffix == ".toml":
            return candidate.parent / path
    return path


def tls_files(resolved: ResolvedConfig) -> TlsFiles | None:
    """The server's TLS files of ``[telemetry.tls]``, None when none is set."""
    from bot_core.control.tls import TlsFiles

    tls = resolved.config.telemetry.tls
    values = {name: getattr(tls, name) for name in ("ca_file", "cert_file", "key_file")}
    if all(v is None for v in values.values()):
        return None
    paths = {name: resolve_path(resolved, f"telemetry.tls.{name}", v) if v else None
             for name, v in values.items()}
    return TlsFiles(paths["ca_file"], paths["cert_file"], paths["key_file"])


def telemetry_settings(configs: Sequence[ResolvedConfig], origins: Sequence[str], *,
                       metrics_addr: str | None = None,
                       grpc_addr: str | None = None) -> TelemetrySettings:
    """The one ``[telemetry]`` of a run; UsageError when the configs disagree."""
    from bot_core.control.rbac import AccessPolicy

    first = configs[0]
    section = first.config.telemetry
    files = tls_files(first)
    for one, origin in zip(configs[1:], origins[1:], strict=True):
        if one.config.telemetry != section or tls_files(one) != files:
            raise UsageError(f"conflicting configs: [telemetry] differs ({origins[0]} and "
                             f"{origin}); one process serves one metrics endpoint and one gRPC "
                             f"server for all its bots")
    metrics_text = metrics_addr if metrics_addr is not None else section.metrics_addr
    grpc_text = grpc_addr if grpc_addr is not None else section.grpc_addr
    metrics = parse_address(metrics_text, "--metrics-addr" if metrics_addr is not None
                            else f"{origins[0]}: telemetry.metrics_addr") \
        if metrics_text else None
    grpc = parse_address(grpc_text, "--grpc-addr" if grpc_addr is not None
                         else f"{origins[0]}: telemetry.grpc_addr") if grpc_text else None
    policy = AccessPolicy.of(section.rbac, section.plaintext_role)
    if section.relay_cpus is not None:
        _check_relay_cpus(section, f"{origins[0]}: telemetry.relay_cpus")
    return TelemetrySettings(section, metrics, grpc, files, policy, origins[0])


def _check_relay_cpus(section: TelemetryConfig, what: str) -> None:
    """The relay's CPUs must be ones it can be given: Linux, the relay, CPUs this process may
    use."""
    cpus = section.relay_cpus or []
    if section.grpc_process != "relay":
        raise UsageError(f"{what} {cpus}: it applies to grpc_process = \"relay\" only")
    if not hasattr(os, "sched_setaffinity"):
        raise UsageError(f"{what} {cpus}: setting a process's CPUs needs Linux")
    allowed = os.sched_getaffinity(0)
    missing = [cpu for cpu in cpus if cpu not in allowed]
    if missing:
        raise UsageError(f"{what} {cpus}: CPU {', '.join(map(str, missing))} is not one this "
                         f"process may run on ({', '.join(map(str, sorted(allowed)))})")
