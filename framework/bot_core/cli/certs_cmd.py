"""``bot-core certs dev DIR``: development certificates for the gRPC server's mutual TLS."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    certs = sub.add_parser("certs", help="certificates for the gRPC server's mutual TLS")
    actions = certs.add_subparsers(dest="certs_command", metavar="ACTION")
    actions.required = True
    dev = actions.add_parser(
        "dev", help="a development CA, a server certificate and one client certificate per role",
        description="Write ca.crt, server.crt/.key, one <role>.crt/.key per role (owner-only "
        "keys) and telemetry.toml, a config fragment enabling the gRPC server with mutual TLS "
        "and an RBAC policy for exactly these certificates. Nothing is overwritten.")
    dev.add_argument("directory", type=Path, metavar="DIR", help="where to write them")
    dev.add_argument("--roles", default="viewer,operator,admin", metavar="ROLES",
                     help="client certificates to make, comma-separated (default: all three)")
    dev.add_argument("--days", type=float, default=30.0, metavar="N",
                     help="validity in days (default 30)")
    dev.add_argument("--grpc-addr", default="127.0.0.1:50051", metavar="HOST:PORT",
                     help="the gRPC address written to telemetry.toml")
    dev.set_defaults(handler=dev_certificates)


def dev_certificates(args: argparse.Namespace) -> int:
    from bot_core.control.certs import generate_dev_certificates
    from bot_core.control.tls import pem_fingerprint
    from bot_core.telemetry.addresses import parse_address

    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    address = parse_address(args.grpc_addr, "--grpc-addr")
    made = generate_dev_certificates(args.directory, roles, days=args.days,
                                     grpc_addr=str(address))
    d = made.directory
    digest = pem_fingerprint(made.server_cert.read_bytes())
    until = f"{made.not_after:%Y-%m-%d %H:%M} UTC" if made.not_after else "?"
    print(f"wrote a development CA, the server's certificate and client certificates for "
          f"{', '.join(roles)} to {d} (valid until {until}; keys owner-only)")
    print(f"  server certificate SHA-256: {digest}")
    print("use:")
    print(f"  cat {made.config} >> bot.toml        # a config that extends a preset")
    print(f"  bot-core run --config bot.toml --grpc-addr {address} --metrics-addr 127.0.0.1:9464")
    viewer = roles[0]
    print(f"  bot-core metrics watch {address} --tls-ca {d / 'ca.crt'} "
          f"--tls-cert {d / (viewer + '.crt')} --tls-key {d / (viewer + '.key')} "
          f"--server-fingerprint {digest}")
    strongest = roles[-1]
    print(f"  bot-core control {address} --tls-ca {d / 'ca.crt'} "
          f"--tls-cert {d / (strongest + '.crt')} --tls-key {d / (strongest + '.key')} status")
    print("  (or export BOT_CORE_GRPC_TLS_CA, BOT_CORE_GRPC_TLS_CERT, BOT_CORE_GRPC_TLS_KEY)")
    return 0
