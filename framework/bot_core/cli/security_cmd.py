"""``bot-core security audit``: the security baseline of a bot's config, keys and plugins
(:mod:`bot_core.control.audit`). Exit 0 when it passes (warnings allowed), 1 on any failure,
2 for bad input."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser"]

_STYLE = {"error": "bold red", "warning": "yellow", "ok": "green"}


def add_parser(sub: Any) -> None:
    security = sub.add_parser("security", help="security checks")
    actions = security.add_subparsers(dest="security_command", metavar="ACTION")
    actions.required = True
    audit = actions.add_parser(
        "audit", help="mTLS, pinned CA, certificates, key files, RBAC, journal key, no "
        "WebSockets",
        description="Audit the remote interfaces and keys of a bot: mutual TLS on every "
        "non-loopback bind, the pinned CA, certificates not expired (nor expiring soon), key "
        "files owner-only, an RBAC policy without wildcard admins, the journal key, plaintext "
        "only on loopback, and no WebSocket library in the host or any installed plugin. Exit 1 "
        "on any failure.")
    audit.add_argument("--config", type=Path, action="append", default=[], metavar="FILE",
                       help="a bot's config (repeatable); without one only the keys and the "
                       "plugins are checked")
    audit.add_argument("--json", action="store_true", help="print JSON")
    audit.set_defaults(handler=security_audit)


def security_audit(args: argparse.Namespace) -> int:
    from bot_core.cli.output import console, print_json
    from bot_core.config.resolve import resolve_config
    from bot_core.control.audit import AuditTarget, audit_security
    from bot_core.control.settings import tls_files
    from bot_core.errors import UsageError
    from bot_core.plugins import load_plugins

    host = load_plugins()
    targets = []
    for path in args.config:
        if not path.is_file():
            raise UsageError(f"--config {path}: no such file")
        resolved = resolve_config(path, plugins=host)
        targets.append(AuditTarget(resolved.config, tls_files(resolved), resolved.config.name))
    report = audit_security(targets, distributions=[r.distribution for r in host.records])
    if args.json:
        print_json(report.as_dict())
    else:
        from rich.table import Table

        table = Table(title="bot-core security audit")
        for column in ("severity", "check", "finding"):
            table.add_column(column)
        order = ("error", "warning", "ok")
        for finding in sorted(report.findings, key=lambda f: order.index(f.severity)):
            table.add_row(f"[{_STYLE[finding.severity]}]{finding.severity}[/]", finding.check,
                          finding.message)
        out = console()
        out.print(table)
        failures = len(report.failures)
        out.print("passed" if report.passed else f"[bold red]failed[/]: {failures} finding(s)")
    return 0 if report.passed else 1
