"""``bot-core metrics watch ADDR``: a running bot's metrics and events, live, over gRPC.

A table that redraws in place (the latest value of every matching sample, the last events,
updates lost by a slow terminal), or ``--json``: one JSON object per update. The connection is
made as ``bot-core control`` makes it (TLS flags and ``BOT_CORE_GRPC_TLS_*``, headers); a lost
connection is retried with exponential backoff capped at 30 s, and said so on stderr. Exit 3 when
the TLS handshake is refused, 4 when the role may not stream, 1 when ``--max-retries`` ran out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from bot_core.cli.remote_args import add_connection_arguments, connection_options
from bot_core.errors import UsageError

__all__ = ["add_parser", "parse_filters"]

_FILTER_KEYS = {"bot": "bots", "profile": "profiles", "strategy": "strategies",
                "metric": "metrics"}
_BACKOFF_START_S = 0.5
_BACKOFF_CAP_S = 30.0


def add_parser(sub: Any) -> None:
    metrics = sub.add_parser("metrics", help="watch a running bot's metrics over gRPC")
    actions = metrics.add_subparsers(dest="metrics_command", metavar="ACTION")
    actions.required = True
    watch = actions.add_parser(
        "watch", help="stream a running bot's metrics and events (bot-core run --grpc-addr)",
        description="Stream metric snapshots and runtime events from a bot's gRPC server. TLS "
        "options fall back to BOT_CORE_GRPC_TLS_CA/_CERT/_KEY; NONE, NULL, DEFAULT or an empty "
        "value mean not set (plaintext, loopback only). Exit codes: 3 TLS handshake refused, "
        "4 permission denied, 1 gave up reconnecting, 2 bad arguments.")
    add_connection_arguments(watch)
    watch.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                       help="bot=NAME, profile=NAME, strategy=NAME or metric=PATTERN (shell "
                       "wildcards; event:* for events); repeatable, values of one key are "
                       "alternatives")
    watch.add_argument("--json", action="store_true", help="one JSON object per update")
    watch.add_argument("--count", type=int, default=None, metavar="N",
                       help="stop after N updates")
    watch.add_argument("--max-retries", type=int, default=None, metavar="N",
                       help="give up after N reconnection attempts in a row (default: never)")
    watch.set_defaults(handler=watch_metrics)


def parse_filters(texts: Sequence[str]) -> dict[str, list[str]]:
    """``--filter`` values -> StreamMetricsRequest fields; UsageError naming a bad one."""
    out: dict[str, list[str]] = {field: [] for field in _FILTER_KEYS.values()}
    for text in texts:
        key, sep, value = text.partition("=")
        field = _FILTER_KEYS.get(key.strip())
        if not sep or field is None or not value.strip():
            raise UsageError(f"--filter {text}: expected bot=NAME, profile=NAME, strategy=NAME "
                             f"or metric=PATTERN")
        out[field].append(value.strip())
    return out


def watch_metrics(args: argparse.Namespace) -> int:
    from bot_core.control.client import RemoteClient
    from bot_core.control.protos import bot_core_pb2 as pb
    from bot_core.errors import RemoteUnavailableError

    if args.count is not None and args.count < 1:
        raise UsageError(f"--count {args.count}: must be at least 1")
    if args.max_retries is not None and args.max_retries < 0:
        raise UsageError(f"--max-retries {args.max_retries}: must be 0 or more")
    options = connection_options(args)
    filters = parse_filters(args.filter)
    if not args.json and not filters["metrics"]:
        filters["metrics"] = ["bot_core_*", "event:*"]  # the table: the bots, not the process
    request = pb.StreamMetricsRequest(bots=filters["bots"], profiles=filters["profiles"],
                                      strategies=filters["strategies"],
                                      metrics=filters["metrics"])
    view: _View = _JsonView() if args.json else _TableView(options.target)
    seen = 0
    failures = 0
    delay = _BACKOFF_START_S
    try:
        while True:
            client = RemoteClient(options)
            reason = "the server ended the stream"
            try:
                client.connect()
                view.status(f"connected to {options.target}")
                for batch in client.stream_metrics(request):
                    failures, delay = 0, _BACKOFF_START_S
                    for update in batch.updates:
                        view.update(update)
                        seen += 1
                        if args.count is not None and seen >= args.count:
                            return 0
                    view.dropped(batch.dropped)
                    view.flush()
            except RemoteUnavailableError as exc:
                reason = str(exc)
            finally:
                client.close()
            failures += 1
            if args.max_retries is not None and failures > args.max_retries:
                raise RemoteUnavailableError(f"gave up after {args.max_retries} reconnection "
                                             f"attempts: {reason}")
            message = f"connection lost ({reason}); reconnecting in {delay:.1f} s " \
                f"(attempt {failures})"
            view.status(message)
            sys.stderr.write(message + "\n")
            sys.stderr.flush()
            time.sleep(delay)
            delay = min(delay * 2, _BACKOFF_CAP_S)
    finally:
        view.close()


class _View:
    def update(self, update: Any) -> None: ...

    def dropped(self, total: int) -> None: ...

    def status(self, text: str) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def _record(update: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"seq": update.seq, "wall_ns": update.wall_ns}
    for key in ("bot", "profile", "strategy"):
        value = getattr(update, key)
        if value:
            out[key] = value
    if update.HasField("sample"):
        out["metric"] = update.sample.name
        out["labels"] = dict(update.sample.labels)
        out["value"] = update.sample.value
    else:
        out["event"] = update.event.kind
        out["ts_ns"] = update.event.ts_ns
        try:
            out["fields"] = json.loads(update.event.fields_json or "{}")
        except json.JSONDecodeError:
            out["fields"] = {"raw": update.event.fields_json}
    return out


class _JsonView(_View):
    def __init__(self) -> None:
        self._dropped = 0

    def update(self, update: Any) -> None:
        sys.stdout.write(json.dumps(_record(update), sort_keys=True) + "\n")

    def dropped(self, total: int) -> None:
        if total > self._dropped:
            sys.stdout.write(json.dumps({"dropped": total}) + "\n")
            self._dropped = total

    def flush(self) -> None:
        sys.stdout.flush()


class _TableView(_View):
    """The latest value per sample and the last events, redrawn in place (at most 4 times a
    second)."""

    def __init__(self, target: str) -> None:
        from rich.live import Live

        from bot_core.cli.output import console

        self._target = target
        self._rows: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._events: list[str] = []
        self._dropped = 0
        self._status = f"connecting to {target}"
        self._console = console()
        self._live = Live(console=self._console, auto_refresh=False, transient=False)
        self._started = False
        self._last_draw = 0.0

    def update(self, update: Any) -> None:
        if update.HasField("sample"):
            labels = tuple(sorted(update.sample.labels.items()))
            self._rows[(update.sample.name, labels)] = update.sample.value
        else:
            record = _record(update)
            fields = record.get("fields", {})
            shown = " ".join(f"{k}={v}" for k, v in sorted(fields.items())
                             if not isinstance(v, dict | list))
            who = "/".join(p for p in (update.bot, update.strategy) if p)
            self._events.append(f"{update.event.kind} {who} {shown}"[:160])
            del self._events[:-8]

    def dropped(self, total: int) -> None:
        self._dropped = total

    def status(self, text: str) -> None:
        self._status = text
        if self._started:
            self._render()

    def flush(self) -> None:
        now = time.monotonic()
        if now - self._last_draw >= 0.25:
            self._render()

    def _render(self) -> None:
        from rich.table import Table

        if not self._started:  # nothing is drawn before the first update arrived
            self._live.start()
            self._started = True
        self._last_draw = time.monotonic()
        table = Table(title=f"bot-core metrics · {self._status}"
                      + (f" · {self._dropped} updates dropped" if self._dropped else ""),
                      expand=False)
        for column in ("bot", "strategy", "metric", "labels"):
            table.add_column(column)
        table.add_column("value", justify="right")
        height = max(10, (self._console.height or 40) - 14)
        rows = sorted(self._rows.items(), key=lambda kv: (dict(kv[0][1]).get("bot", ""),
                                                          dict(kv[0][1]).get("strategy", ""),
                                                          kv[0][0], kv[0][1]))
        for (name, labels), value in rows[:height]:
            plain = dict(labels)
            bot, strategy = plain.pop("bot", ""), plain.pop("strategy", "")
            plain.pop("profile", None)
            table.add_row(bot, strategy, name, ",".join(f"{k}={v}" for k, v in plain.items()),
                          f"{value:,.6g}")
        if len(rows) > height:
            table.caption = f"{len(rows) - height} more rows: narrow with --filter"
        from rich.console import Group
        from rich.text import Text

        events = Text("\n".join(self._events) or "no events yet", style="dim")
        self._live.update(Group(table, events), refresh=True)

    def close(self) -> None:
        if self._started:
            self._render()
            self._live.stop()
