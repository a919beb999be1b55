"""``bot-core journal verify|show|rotate-key``: the signed decision journal (docs/journal.md)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["add_parser"]

_DEFAULT_LIMIT = 500


def add_parser(sub: Any) -> None:
    journal = sub.add_parser("journal", help="the signed decision journal: verify, show, "
                             "rotate the key")
    actions = journal.add_subparsers(dest="journal_command", metavar="ACTION")
    actions.required = True

    verify = actions.add_parser(
        "verify", help="check that journals are exactly what their writer wrote",
        description="Exit 0 when every journal is intact; exit 1 naming the first bad file, "
        "line and cause otherwise.")
    verify.add_argument("paths", nargs="+", type=Path, metavar="PATH|DIR",
                        help="a bot's journal directory (or a directory of them), or files")
    verify.add_argument("--key-file", type=Path, metavar="F",
                        help="keyring to verify with (default: BOT_CORE_JOURNAL_KEY_FILE, "
                        "BOT_CORE_JOURNAL_KEY, then the demo keyring in BOT_CORE_HOME)")
    verify.add_argument("--json", action="store_true", help="print JSON")
    verify.set_defaults(handler=verify_journals)

    show = actions.add_parser("show", help="a table of decisions, verdicts, orders and fills")
    show.add_argument("path", type=Path, metavar="PATH", help="a journal directory or file")
    show.add_argument("--since", metavar="TIME",
                      help="records written at or after TIME (ISO 8601: 2024-06-01T12:00:00Z "
                      "or 2024-06-01)")
    show.add_argument("--type", action="append", metavar="TYPE", dest="types",
                      help="only these record types (repeat, or comma-separate); "
                      "default: all")
    show.add_argument("--strategy", metavar="NAME", help="only records of this strategy")
    show.add_argument("--limit", type=int, default=_DEFAULT_LIMIT, metavar="N",
                      help=f"the last N matching rows (default {_DEFAULT_LIMIT}; 0: all)")
    show.add_argument("--json", action="store_true", help="print the matching records as JSON")
    show.set_defaults(handler=show_journal)

    rotate = actions.add_parser(
        "rotate-key", help="add a new journal key that signs from a given time",
        description="Adds a random key to the keyring; records written from --at on are "
        "signed with it. Old keys stay so that the whole journal still verifies. Creates the "
        "keyring when it does not exist.")
    rotate.add_argument("--at", metavar="TIMESTAMP",
                        help="activation time, ISO 8601 with a timezone (default: now)")
    rotate.add_argument("--key-file", type=Path, metavar="F",
                        help="the keyring (default: BOT_CORE_JOURNAL_KEY_FILE, then the demo "
                        "keyring in BOT_CORE_HOME)")
    rotate.add_argument("--json", action="store_true", help="print JSON")
    rotate.set_defaults(handler=rotate_journal_key)


# -- verify -------------------------------------------------------------------------------------


def verify_journals(args: argparse.Namespace) -> int:
    from bot_core.cli.output import print_json
    from bot_core.journal.keys import keyring_for_verify
    from bot_core.journal.verify import verify_paths

    for path in args.paths:  # the usage error first, before any key is looked for
        if not path.exists():
            from bot_core.errors import UsageError

            raise UsageError(f"{path}: no such file or directory")
    keyring = keyring_for_verify(args.key_file)
    reports = verify_paths(args.paths, keyring)
    ok = all(r.ok for r in reports)
    if args.json:
        print_json({"ok": ok, "keyring": keyring.source, "journals": [r.as_dict()
                                                                        for r in reports]})
        return 0 if ok else 1
    for report in reports:
        if report.finding is not None:
            print(f"FAIL {report.target}")
            print(f"     {report.finding}")
        else:
            files = len(report.files)
            span = f"seq {report.first_seq}..{report.last_seq}" if report.records else "empty"
            checkpoint = (f"checkpoint at seq {report.checkpoint_seq}"
                          if report.checkpoint_seq is not None else "no checkpoint compared")
            print(f"ok   {report.target}: {report.records:,} records ({span}) in {files} "
                  f"file{'s' * (files != 1)}, key{'s' * (len(report.key_ids) != 1)} "
                  f"{', '.join(report.key_ids) or '-'}, {report.runs} "
                  f"run{'s' * (report.runs != 1)}; {checkpoint}")
        for note in report.notes:
            print(f"     note: {note}")
    return 0 if ok else 1


# -- show ---------------------------------------------------------------------------------------


def _types(raw: list[str] | None) -> set[str] | None:
    if not raw:
        return None
    from bot_core.errors import UsageError
    from bot_core.journal.record import RECORD_TYPES

    wanted = {t.strip() for item in raw for t in item.split(",") if t.strip()}
    unknown = sorted(wanted - set(RECORD_TYPES))
    if unknown:
        raise UsageError(f"--type: unknown record type {', '.join(unknown)} (known: "
                         f"{', '.join(RECORD_TYPES)})")
    return wanted


def _since(raw: str | None) -> int | None:
    if raw is None:
        return None
    from bot_core.errors import UsageError
    from bot_core.journal.times import parse_timestamp

    try:
        return parse_timestamp(raw)
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.8g}"
    return "" if value is None else str(value)


def _what(record: dict[str, Any], verdict: dict[str, Any] | None) -> str:
    """The one-line summary of a record (a decision with its verdict when both are shown)."""
    kind, p = record.get("type"), record["payload"]
    if kind == "decision":
        price = f" @ {_number(p.get('limit_price'))}" if p.get("limit_price") is not None else ""
        text = f"{p.get('order_type', '')} {p.get('time_in_force', '')}{price}".strip()
        if verdict is not None:
            text += " -> " + _what({"type": "risk_verdict", "payload": verdict}, None)
        return text
    if kind == "risk_verdict":
        action = str(p.get("action", "")).upper()
        allowed = f" to {_number(p.get('allowed_quantity'))}" if action == "REDUCE" else ""
        detail = f": {p['detail']}" if p.get("detail") else ""
        check = f" [{p['check_id']}]" if p.get("check_id") else ""
        return f"{action}{allowed} {p.get('reason', '')}{check}{detail}"
    if kind == "order":
        filled = f" ({_number(p.get('filled_quantity'))} @ {_number(p.get('average_price'))})" \
            if p.get("filled_quantity") else ""
        reason = f" ({p['reason']})" if p.get("reason") else ""
        return f"{p.get('status', '')}{filled}{reason}"
    if kind == "fill":
        return f"@ {_number(p.get('price'))} fee {_number(p.get('fee'))} {p.get('liquidity', '')}"
    if kind == "trading_state":
        return f"{p.get('previous')} -> {p.get('current')} ({p.get('cause')})"
    if kind == "start":
        return f"run {p.get('run_id')} in {p.get('mode')}" + \
            (f", profile {p['profile']}" if p.get("profile") else "")
    if kind == "stop":
        return f"run ended: {p.get('reason')}"
    if kind == "recovery":
        torn = p.get("torn")
        return "reopened after an unclean stop" + \
            (f"; torn line {torn.get('line')} ({torn.get('bytes')} bytes)"
             if isinstance(torn, dict) else "")
    if kind == "journal_file":
        return f"file {p.get('file')} (after {p.get('previous_file') or 'nothing'})"
    if kind == "operator_action":
        return f"{p.get('action')} by {p.get('operator')}"
    if kind == "quarantine":
        return f"{'released' if p.get('released') else 'quarantined'} {p.get('subject')}: " \
            f"{p.get('reason')}"
    if kind == "promotion":
        return f"{p.get('from_mode')} -> {p.get('to_mode')}"
    return ", ".join(f"{k}={v}" for k, v in list(p.items())[:4])


def _matching(args: argparse.Namespace, keep: int | None
              ) -> tuple[list[dict[str, Any]], int, list[str]]:
    """The last ``keep`` matching records (all: None), how many matched, the unreadable lines.
    Only what is shown is held: a journal of millions of records is read in constant memory."""
    from collections import deque

    from bot_core.journal.reader import read_records

    types, since = _types(args.types), _since(args.since)
    records: deque[dict[str, Any]] = deque(maxlen=keep)
    matched = 0
    problems: list[str] = []
    for read in read_records([args.path]):
        record = read.record
        if record is None:
            problems.append(f"{read.file.name}:{read.line}: {read.problem}")
            continue
        if types is not None and record.get("type") not in types:
            continue
        if since is not None and not (isinstance(record.get("ts_ns"), int)
                                      and record["ts_ns"] >= since):
            continue
        if args.strategy is not None and record["payload"].get("strategy_id") != args.strategy:
            continue
        records.append(record)
        matched += 1
    return list(records), matched, problems


def _rows(records: list[dict[str, Any]]) -> Iterable[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Records as table rows: a verdict joins the row of the decision right before it."""
    pending: dict[str, Any] | None = None
    for record in records:
        if record.get("type") == "risk_verdict" and pending is not None and \
                record["payload"].get("client_order_id") == \
                pending["payload"].get("client_order_id"):
            yield pending, record["payload"]
            pending = None
            continue
        if pending is not None:
            yield pending, None
            pending = None
        if record.get("type") == "decision":
            pending = record
        else:
            yield record, None
    if pending is not None:
        yield pending, None


def show_journal(args: argparse.Namespace) -> int:
    from bot_core.cli.output import console, print_json
    from bot_core.errors import UsageError

    if args.limit < 0:
        raise UsageError(f"--limit: must be 0 (all) or more, got {args.limit}")
    # a row holds one record, or a decision and its verdict: 2 x limit + 1 records fill the
    # last `limit` rows whole
    keep = (args.limit if args.json else 2 * args.limit + 1) if args.limit else None
    records, matched, problems = _matching(args, keep)
    if problems:
        import sys

        for problem in problems[:3]:
            sys.stderr.write(f"warning: {problem}; run `bot-core journal verify`\n")
        if len(problems) > 3:
            sys.stderr.write(f"warning: {len(problems) - 3} more lines are not records\n")
    if args.json:
        print_json(records)
        return 0
    rows = list(_rows(records))
    shown = rows[-args.limit:] if args.limit else rows
    from rich.table import Table
    from rich.text import Text

    from bot_core.journal.sanitize import escape_text
    from bot_core.journal.times import format_ns

    def cell(value: Any) -> Text:  # never markup, never a control character
        return Text(escape_text(_number(value), limit=200))

    title = f"journal {args.path}: " + (f"{len(shown):,} of {len(rows):,} rows"
                                        if matched == len(records) else
                                        f"the last {len(shown):,} rows, {matched:,} records match")
    table = Table(title=title)
    for column in ("time (UTC)", "seq", "type", "strategy", "instrument", "side", "quantity",
                   "what"):
        table.add_column(column, overflow="fold")
    for record, verdict in shown:
        p = record["payload"]
        ts = record.get("ts_ns")
        table.add_row(cell(format_ns(ts) if isinstance(ts, int) else "?"), cell(record.get("seq")),
                      cell(record.get("type")), cell(p.get("strategy_id")),
                      cell(p.get("instrument")), cell(p.get("side")), cell(p.get("quantity")),
                      cell(_what(record, verdict)))
    console().print(table)
    if len(shown) < len(rows):
        console().print(f"(the last {len(shown):,} rows; --limit 0 shows all)")
    return 0


# -- rotate-key ---------------------------------------------------------------------------------


def rotate_journal_key(args: argparse.Namespace) -> int:
    from bot_core.cli.output import print_json
    from bot_core.errors import UsageError
    from bot_core.journal.keys import keyring_file_for_rotation, rotate_key
    from bot_core.journal.times import format_ns, parse_timestamp

    now = time.time_ns()
    if args.at is None:
        at = now
    else:
        try:
            at = parse_timestamp(args.at)
        except ValueError as exc:
            raise UsageError(f"--at: {exc}") from None
    path = keyring_file_for_rotation(args.key_file)
    key, created = rotate_key(path, at, now)
    if args.json:
        print_json({"key_file": str(path), "key_id": key.key_id, "created": created,
                    "activated_ns": key.activated_ns,
                    "activated_at": format_ns(key.activated_ns)})
        return 0
    if created:
        print(f"created {path} with key {key.key_id} (owner-only permissions); set "
              f"BOT_CORE_JOURNAL_KEY_FILE={path} for paper and live bots")
    else:
        print(f"key {key.key_id} signs from {format_ns(key.activated_ns)} on, in {path}; the "
              "previous keys stay for verification")
    return 0
