"""The connection arguments ``metrics watch`` and ``control`` share (one definition)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot_core.control.options import ConnectOptions

__all__ = ["add_connection_arguments", "connection_options"]


def add_connection_arguments(parser: Any) -> None:
    parser.add_argument("addr", metavar="ADDR",
                        help="HOST:PORT of the bot's gRPC server (bot-core run --grpc-addr)")
    parser.add_argument("--tls-ca", default=None, metavar="FILE",
                        help="CA certificate to pin for the server (env BOT_CORE_GRPC_TLS_CA)")
    parser.add_argument("--tls-cert", default=None, metavar="FILE",
                        help="client certificate (env BOT_CORE_GRPC_TLS_CERT)")
    parser.add_argument("--tls-key", default=None, metavar="FILE",
                        help="client key (env BOT_CORE_GRPC_TLS_KEY)")
    parser.add_argument("--server-fingerprint", default=None, metavar="SHA256",
                        help="pin the server certificate's SHA-256 as well (64 hex digits, "
                        "colons allowed)")
    parser.add_argument("--header", action="append", default=[], metavar="KEY=VALUE",
                        help="custom metadata, repeatable (also BOT_CORE_GRPC_HEADERS=k=v,k2=v2); "
                        "a name ending in -bin sends bytes")


def connection_options(args: argparse.Namespace) -> ConnectOptions:
    """Every connection option checked (UsageError, exit 2, naming the first bad one)."""
    from bot_core.control.options import connect_options

    return connect_options(args.addr, tls_ca=args.tls_ca, tls_cert=args.tls_cert,
                           tls_key=args.tls_key, server_fingerprint=args.server_fingerprint,
                           headers=args.header)
