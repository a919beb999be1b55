"""The runtime: bots running in demo, paper or live mode, and the evidence that promotes them.

Small modules named after the domain; this package only re-exports what callers need most.
"""

from bot_core.runtime.history import RunRecorder, RunSummary, config_hash, runs

__all__ = ["RunRecorder", "RunSummary", "config_hash", "runs"]
