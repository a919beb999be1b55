"""Telemetry of a running bot: Prometheus metrics, the ``/metrics`` endpoint, and the stream
of samples and events the gRPC ``Telemetry`` service serves (docs/telemetry.md).

Modules: :mod:`~bot_core.telemetry.metrics` (the metrics and the scheduler probe),
:mod:`~bot_core.telemetry.http` (``start_metrics_server``), :mod:`~bot_core.telemetry.stream`
(the fan-out to watchers), :mod:`~bot_core.telemetry.addresses` (``HOST:PORT`` and loopback).
"""
