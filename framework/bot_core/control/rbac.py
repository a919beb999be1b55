"""Role-based access to the gRPC services: who the caller is, what its role allows, and the one
decorator that enforces it on every method.

The caller's identity comes from the TLS auth context of the call (``context.auth_context()``:
the client certificate the handshake verified), never from metadata: a header claiming a role
or an identity is ignored. Its candidate names, in order: SAN URIs, other SANs (DNS names),
the subject's CN; the first one the policy (``[telemetry.rbac]``) names decides the role.
Policy keys may hold ``*`` and ``?`` wildcards (an exact key wins over a pattern). Roles are
ordered: viewer < operator < admin; a method names the least role it needs.

Over plaintext (loopback only, ``allow_plaintext_loopback = true``) there is no certificate:
the caller is ``plaintext:loopback`` with ``telemetry.plaintext_role``.

Every method of a servicer is wrapped by :func:`requires`; :func:`check_guarded` refuses to
serve a servicer with an unguarded method, so a method cannot be added without a role.
"""

from __future__ import annotations

import enum
import fnmatch
import functools
import inspect
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import grpc

__all__ = [
    "PLAINTEXT_IDENTITY",
    "AccessPolicy",
    "AuditSink",
    "CallRecord",
    "Caller",
    "Role",
    "check_guarded",
    "requires",
]

PLAINTEXT_IDENTITY = "plaintext:loopback"
DENIED_ROLE_KEY = "bot-core-role"
NEEDED_ROLE_KEY = "bot-core-needs-role"
IDENTITY_KEY = "bot-core-identity"
"""Trailing metadata of a PERMISSION_DENIED: the caller's role, the role the method needs and
the identity the server saw (so a client can say which, without parsing text)."""
_ROLE_ATTRIBUTE = "__bot_core_role__"


class Role(enum.IntEnum):
    """Ordered roles: each may do everything the ones below it may."""

    VIEWER = 1
    """stream metrics, list bots and strategies, read the risk status."""
    OPERATOR = 2
    """also pause and resume strategies."""
    ADMIN = 3
    """also set the trading state, clear REDUCING, promote."""

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r} (roles: viewer, operator, admin)") from None


@dataclass(frozen=True)
class Caller:
    """Who called, as the TLS handshake proved it, and the role the policy gives them."""

    identity: str
    """The name the policy matched (or the first candidate when none matched)."""
    role: Role | None
    names: tuple[str, ...] = ()
    """Every candidate name of the certificate, in matching order."""

    @property
    def role_label(self) -> str:
        return self.role.label if self.role is not None else "none"


@dataclass(frozen=True)
class AccessPolicy:
    """``[telemetry.rbac]``: identity (or pattern) -> role; and the plaintext caller's role."""

    identities: Mapping[str, Role] = field(default_factory=dict)
    plaintext_role: Role | None = None

    @classmethod
    def of(cls, rbac: Mapping[str, str], plaintext_role: str | None) -> AccessPolicy:
        return cls({key: Role.parse(value) for key, value in rbac.items()},
                   Role.parse(plaintext_role) if plaintext_role not in (None, "none") else None)

    def role_of(self, name: str) -> Role | None:
        if name in self.identities:
            return self.identities[name]
        for pattern, role in self.identities.items():
            if any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(name, pattern):
                return role
        return None

    def caller(self, auth: Mapping[str, Sequence[bytes]]) -> Caller:
        """The caller of a call with this TLS auth context (``context.auth_context()``)."""
        if auth.get("transport_security_type", [b""])[0] != b"ssl":
            return Caller(PLAINTEXT_IDENTITY, self.plaintext_role, (PLAINTEXT_IDENTITY,))
        names: list[str] = []
        for key in ("peer_uri", "x509_subject_alternative_name", "x509_common_name"):
            for raw in auth.get(key, ()):
                name = raw.decode("utf-8", "replace")
                if name and name not in names:
                    names.append(name)
        for name in names:
            role = self.role_of(name)
            if role is not None:
                return Caller(name, role, tuple(names))
        return Caller(names[0] if names else "<no identity>", None, tuple(names))


@dataclass(frozen=True)
class CallRecord:
    """One call as the audit sees it; ``metadata`` is already sanitised."""

    method: str
    caller: Caller
    code: str
    """``OK`` or the status code's name."""
    detail: str
    request: Mapping[str, Any]
    metadata: Mapping[str, str]
    wall_ns: int


class AuditSink(Protocol):
    """Where every call is recorded (the control plane's journal and metrics)."""

    def record(self, call: CallRecord) -> None: ...


class GuardedServicer(Protocol):
    policy: AccessPolicy
    audit: AuditSink

    def describe_request(self, method: str, request: Any) -> Mapping[str, Any]: ...


F = TypeVar("F", bound=Callable[..., Any])


def _metadata(context: grpc.ServicerContext) -> dict[str, str]:
    """The call's custom metadata, sanitised for the audit (never used to decide anything)."""
    from bot_core.control.headers import sanitise_metadata

    return sanitise_metadata(context.invocation_metadata() or ())


def requires(role: Role) -> Callable[[F], F]:
    """Guard a servicer method (unary or server-streaming) with the least ``role`` it needs.

    The caller comes from the TLS auth context; a caller below ``role`` (or with no role) gets
    PERMISSION_DENIED before the method runs, for streams too (before the first message).
    Every call, allowed or denied, is recorded with its result by the servicer's ``audit``.
    """

    def decorate(method: F) -> F:
        name = method.__name__
        streaming = inspect.isgeneratorfunction(method)

        def admit(self: GuardedServicer, request: Any, context: grpc.ServicerContext
                  ) -> tuple[Caller, Mapping[str, Any], dict[str, str]]:
            caller = self.policy.caller(context.auth_context())
            summary = self.describe_request(name, request)
            metadata = _metadata(context)
            if caller.role is None or caller.role < role:
                why = (f"role {caller.role_label} may not call {name}" if caller.role is not None
                       else f"identity {caller.identity!r} has no role")
                detail = f"{why}: it needs {role.label} (caller {caller.identity})"
                self.audit.record(CallRecord(name, caller, "PERMISSION_DENIED", detail, summary,
                                             metadata, time.time_ns()))
                context.set_trailing_metadata((
                    (DENIED_ROLE_KEY, caller.role_label), (NEEDED_ROLE_KEY, role.label),
                    (IDENTITY_KEY, _ascii(caller.identity))))
                context.abort(grpc.StatusCode.PERMISSION_DENIED, detail)
            return caller, summary, metadata

        def finish(self: GuardedServicer, caller: Caller, summary: Mapping[str, Any],
                   metadata: dict[str, str], code: str, detail: str) -> None:
            self.audit.record(CallRecord(name, caller, code, detail, summary, metadata,
                                         time.time_ns()))

        if streaming:
            @functools.wraps(method)
            def stream(self: GuardedServicer, request: Any, context: grpc.ServicerContext
                       ) -> Iterator[Any]:
                caller, summary, metadata = admit(self, request, context)
                code, detail = "OK", ""
                try:
                    yield from method(self, request, context, caller)
                except Exception as exc:
                    code, detail = _failure(exc, context)
                    raise
                finally:
                    finish(self, caller, summary, metadata, code, detail)

            wrapped: Any = stream
        else:
            @functools.wraps(method)
            def unary(self: GuardedServicer, request: Any, context: grpc.ServicerContext) -> Any:
                caller, summary, metadata = admit(self, request, context)
                code, detail = "OK", ""
                try:
                    return method(self, request, context, caller)
                except Exception as exc:
                    code, detail = _failure(exc, context)
                    raise
                finally:
                    finish(self, caller, summary, metadata, code, detail)

            wrapped = unary
        setattr(wrapped, _ROLE_ATTRIBUTE, role)
        return wrapped  # type: ignore[no-any-return]

    return decorate


def _failure(exc: Exception, context: grpc.ServicerContext) -> tuple[str, str]:
    code = context.code() if hasattr(context, "code") else None
    if isinstance(code, grpc.StatusCode) and code is not grpc.StatusCode.OK:
        details = context.details() if hasattr(context, "details") else ""
        return code.name, (details.decode() if isinstance(details, bytes) else str(details or ""))
    return "INTERNAL", f"{type(exc).__name__}: {exc}"


def _ascii(text: str) -> str:
    return "".join(c if 0x20 <= ord(c) <= 0x7E else "?" for c in text)[:256]


def required_role(method: Callable[..., Any]) -> Role | None:
    value = getattr(method, _ROLE_ATTRIBUTE, None)
    return value if isinstance(value, Role) else None


def check_guarded(servicer: object, methods: Sequence[str]) -> dict[str, Role]:
    """Each RPC method of ``servicer`` and its role; refuses one without :func:`requires`
    (fail closed: no method is ever served without a role check)."""
    roles: dict[str, Role] = {}
    for name in methods:
        method = getattr(servicer, name, None)
        role = required_role(method) if method is not None else None
        if role is None:
            raise TypeError(f"{type(servicer).__name__}.{name} is not guarded by @requires(role)")
        roles[name] = role
    return roles
