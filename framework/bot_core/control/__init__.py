"""The remote control plane of a running bot: gRPC Telemetry and Control services with mutual
TLS and role-based access (docs/telemetry.md, docs/security.md).

Modules: :mod:`~bot_core.control.server` (the server), :mod:`~bot_core.control.service` (the
servicers), :mod:`~bot_core.control.rbac` (roles and the one guard), :mod:`~bot_core.control.tls`
(mutual TLS, the client's handshake check), :mod:`~bot_core.control.target` (what the service
needs of a runtime) and :mod:`~bot_core.control.runtime_target` (the runtime's answer),
:mod:`~bot_core.control.client`, :mod:`~bot_core.control.options` and
:mod:`~bot_core.control.headers` (the clients' side), :mod:`~bot_core.control.certs`
(development certificates), :mod:`~bot_core.control.audit` (``security audit``).
Nothing here is imported by the event path; grpc is imported only by the modules that serve or
call.
"""
