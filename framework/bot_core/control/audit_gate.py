"""The security audit as a promotion gate (paper -> live): one of the host's gates
(:data:`bot_core.runtime.gates.HOST_GATES`, registered through the promotion-gate hook like any
plugin's, and failing closed when blocked): a bot goes live only when ``bot-core security audit``
would pass on its config.

The journal key is checked for the mode the config names (a live start refuses without an
explicit key anyway: :func:`bot_core.journal.keys.keyring_for_run`)."""

from __future__ import annotations

from bot_core.runtime.promotion import GateContext, GateOutcome, PromotionGate

__all__ = ["SecurityAudit"]


class SecurityAudit(PromotionGate):
    id = "security_audit"
    title = "the security audit passes (mTLS, pinned CA, key files, RBAC, journal key, " \
        "no WebSockets)"
    applies_to = frozenset({"live"})

    def evaluate(self, ctx: GateContext) -> GateOutcome:
        from bot_core.control.audit import audit_security

        report = audit_security(bare=[(ctx.config, ctx.bot)], host=ctx.plugins)
        failures = report.failures
        if failures:
            return GateOutcome(False, "; ".join(f"{f.check}: {f.message}" for f in failures),
                               report.as_dict())
        warnings = sum(1 for f in report.findings if f.severity == "warning")
        return GateOutcome(True, f"{len(report.findings)} checks passed"
                           + (f" ({warnings} warnings)" if warnings else ""), report.as_dict())
