"""The client side of the gRPC services, shared by ``bot-core metrics watch`` and
``bot-core control``.

:meth:`RemoteClient.connect` checks the handshake first (:func:`bot_core.control.tls.preflight`)
and turns what goes wrong into one of the host's errors, each with a message that says which:

* :class:`~bot_core.errors.RemoteAuthenticationError` (exit 3): ``TLS handshake refused: ...``
  (no client certificate, expired, another CA, fingerprint mismatch, plaintext against TLS);
* :class:`~bot_core.errors.RemotePermissionError` (exit 4):
  ``permission denied (role viewer may not halt)``;
* :class:`~bot_core.errors.RemoteUnavailableError`: the server cannot be reached (the watcher
  reconnects);
* :class:`~bot_core.errors.RemoteError`: any other status, with the server's words.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from bot_core.control.options import ConnectOptions
from bot_core.errors import (
    RemoteAuthenticationError,
    RemoteError,
    RemotePermissionError,
    RemoteUnavailableError,
)

__all__ = ["RemoteClient", "translate"]

CONTROL = "/bot_core.v1.Control/"
TELEMETRY = "/bot_core.v1.Telemetry/"
_TLS_WORDS = ("ssl", "tls", "handshake", "certificate")


def translate(error: Any, *, action: str, options: ConnectOptions) -> RemoteError:
    """A :class:`grpc.RpcError` as the host error that says what happened."""
    import grpc

    code = error.code()
    details = (error.details() or "").strip()
    name = code.name if code is not None else "UNKNOWN"
    if code is grpc.StatusCode.PERMISSION_DENIED:
        trailing = {k: v for k, v in (error.trailing_metadata() or ())}
        role = trailing.get("bot-core-role", "")
        needs = trailing.get("bot-core-needs-role", "")
        who = trailing.get("bot-core-identity", "")
        if role and role != "none":
            head = f"permission denied (role {role} may not {action})"
        else:
            head = f"permission denied ({who or 'this identity'} has no role)"
        tail = f": it needs {needs}" if needs else (f": {details}" if details else "")
        return RemotePermissionError(head + tail + (f"; caller {who}" if who else ""), code=name)
    if code is grpc.StatusCode.UNAUTHENTICATED:
        return RemoteAuthenticationError(f"authentication refused: {details}", code=name)
    if code is grpc.StatusCode.UNAVAILABLE:
        lowered = details.lower()
        if options.tls is not None and any(word in lowered for word in _TLS_WORDS):
            return RemoteAuthenticationError(f"TLS handshake refused: {details}", code=name)
        return RemoteUnavailableError(f"{options.target} unavailable: {details}", code=name)
    return RemoteError(f"{action}: {name}: {details}", code=name)


class RemoteClient:
    """A connection to one bot-core gRPC server.

    :param options: address, TLS files, pinned fingerprint and headers (already checked).
    :param timeout_s: deadline of each unary call.
    """

    def __init__(self, options: ConnectOptions, *, timeout_s: float = 10.0) -> None:
        os.environ.setdefault("GRPC_VERBOSITY", "ERROR")  # one clear line, not gRPC's logs
        self.options = options
        self.timeout_s = timeout_s
        self.server_fingerprint: str | None = None
        self._channel: Any = None

    def connect(self) -> None:
        """Check the handshake, then open the channel.

        :raises RemoteAuthenticationError: the handshake was refused (the message says why).
        :raises RemoteUnavailableError: nothing answers at the address.
        """
        import grpc

        from bot_core.control.tls import HandshakeRefused, preflight

        options = self.options
        try:
            self.server_fingerprint = preflight(options.address, options.tls,
                                                server_fingerprint=options.server_fingerprint)
        except HandshakeRefused as exc:
            raise RemoteAuthenticationError(f"TLS handshake refused: {exc}",
                                            code="UNAVAILABLE") from None
        except OSError as exc:
            raise RemoteUnavailableError(f"cannot reach {options.target}: "
                                         f"{exc.strerror or exc}", code="UNAVAILABLE") from None
        channel_options = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]
        if options.tls is None:
            self._channel = grpc.insecure_channel(options.target, options=channel_options)
            return
        tls = options.tls

        def read(path: Any) -> bytes | None:
            return path.read_bytes() if path is not None else None

        credentials = grpc.ssl_channel_credentials(read(tls.ca), read(tls.key), read(tls.cert))
        self._channel = grpc.secure_channel(options.target, credentials, options=channel_options)

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def __enter__(self) -> RemoteClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _metadata(self) -> list[tuple[str, Any]]:
        return list(self.options.headers)

    def call(self, method: str, request: Any, response_type: Any, *, action: str) -> Any:
        """One Control call; ``action`` names it in error messages (``halt``, ``status``)."""
        import grpc

        if self._channel is None:
            self.connect()
        stub = self._channel.unary_unary(CONTROL + method,
                                         request_serializer=type(request).SerializeToString,
                                         response_deserializer=response_type.FromString)
        try:
            return stub(request, timeout=self.timeout_s, metadata=self._metadata())
        except grpc.RpcError as exc:
            raise translate(exc, action=action, options=self.options) from None

    def stream_metrics(self, request: Any) -> Iterator[Any]:
        """The StreamMetrics batches, as they come; errors translated."""
        import grpc

        from bot_core.control.protos import bot_core_pb2 as pb

        if self._channel is None:
            self.connect()
        stub = self._channel.unary_stream(TELEMETRY + "StreamMetrics",
                                          request_serializer=type(request).SerializeToString,
                                          response_deserializer=pb.MetricsBatch.FromString)
        call = stub(request, metadata=self._metadata())
        try:
            yield from call
        except grpc.RpcError as exc:
            raise translate(exc, action="stream metrics", options=self.options) from None
        finally:
            call.cancel()
