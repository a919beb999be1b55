"""``bot-core data list|validate|import``: the dataset library from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    data = sub.add_parser("data", help="backtest datasets: list, validate, import")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    data_sub.required = True

    listing = data_sub.add_parser("list", help="list shipped and imported datasets")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=list_command)

    validate = data_sub.add_parser(
        "validate", help="run the data-quality checks (all datasets by default)",
        description="Exit 0 when no error-severity finding, 1 when any, 2 on usage errors.")
    validate.add_argument("targets", nargs="*", metavar="ID|PATH",
                          help="dataset ids or normalized files (default: every dataset)")
    validate.add_argument("--json", action="store_true", help="print findings as JSON")
    validate.set_defaults(handler=validate_command)

    imp = data_sub.add_parser(
        "import", help="normalize a CSV export into the user library",
        description="Read an exchange or vendor export as it is (Binance, Kraken, Coinbase, "
                    "Yahoo, TradingView, MetaTrader, pandas to_csv, ...), validate it and store "
                    "it under BOT_CORE_HOME/datasets.")
    imp.add_argument("src", type=Path, help="the CSV (or .csv.gz) export")
    imp.add_argument("--id", required=True, dest="dataset_id", help="new dataset id")
    imp.add_argument("--venue", required=True, help="venue the data comes from")
    imp.add_argument("--instrument", required=True, help="BASE/QUOTE, e.g. BTC/USDT")
    imp.add_argument("--timeframe", default=None,
                     help="bar length: 1m, 5m, 15m, 1h, 4h, 1d, ... (required for bars)")
    imp.add_argument("--kind", choices=("ohlcv", "quotes"), default="ohlcv")
    imp.add_argument("--tz", default=None, help="timezone of naive timestamps, e.g. UTC")
    imp.add_argument("--date-format", default=None,
                     help="strftime format of the time column when it is ambiguous")
    imp.add_argument("--format", dest="output_format", choices=("csv", "csv.gz", "parquet"),
                     default="csv", help="storage format (parquet needs pyarrow)")
    imp.add_argument("--source", default=None, help="where the data came from")
    imp.add_argument("--licence", default=None, help="terms the data may be used under")
    imp.add_argument("--force", action="store_true", help="replace an existing user dataset")
    imp.add_argument("--json", action="store_true", help="print the stored entry as JSON")
    imp.set_defaults(handler=import_command)


def _entry_row(entry: Any) -> dict[str, Any]:
    record: dict[str, Any] = entry.model_dump(mode="json")
    record["path"] = str(entry.path)
    return record


def _user_library_finding(problem: Any) -> Any:
    """The user library's problem as an error finding of ``data validate``."""
    from bot_core.data.findings import Finding
    from bot_core.data.library import user_dir

    where = getattr(problem, "path", None) or str(user_dir())
    return Finding(where, "user_library", "error", None, None, str(problem),
                   "a readable user library (BOT_CORE_HOME/datasets and its manifest.json)")


def list_command(args: argparse.Namespace) -> int:
    """List every dataset; exit 1 (after listing the shipped ones) when the user library
    cannot be read, with one warning line naming its path and problem."""
    import sys

    from bot_core.cli.output import console, print_json
    from bot_core.data.library import catalogue

    found = catalogue()
    entries = found.entries
    if args.json:
        print_json([_entry_row(e) for e in entries])
    else:
        from rich.table import Table

        table = Table(title="bot-core datasets")
        for column in ("id", "kind", "venue", "instrument", "tf", "first", "last", "rows",
                       "library"):
            table.add_column(column, justify="right" if column == "rows" else "left")
        for e in entries:
            table.add_row(e.id, e.kind, e.venue, e.instrument, e.timeframe or "-",
                          e.first_timestamp.strftime("%Y-%m-%d %H:%M"),
                          e.last_timestamp.strftime("%Y-%m-%d %H:%M"), f"{e.rows:,}", e.library)
        console().print(table)
    if found.user_problem is not None:
        sys.stderr.write(f"warning: {found.user_problem} (imported datasets not listed)\n")
        return 1
    return 0


def validate_command(args: argparse.Namespace) -> int:
    from bot_core.cli.output import console, print_json
    from bot_core.data.file_checks import validate_dataset
    from bot_core.data.findings import has_errors
    from bot_core.data.library import catalogue
    from bot_core.data.quality import DataQualityValidator

    validator = DataQualityValidator()
    found = catalogue()
    entries = {e.id: e for e in found.entries}
    targets: list[Any] = []
    for target in args.targets:
        if target in entries:
            targets.append(entries[target])
        elif Path(target).exists():
            targets.append(Path(target))
        elif found.user_problem is not None:
            raise found.user_problem  # it may be an imported dataset: say why it cannot be read
        else:
            from bot_core.errors import UsageError

            raise UsageError(f"{target!r} is neither a dataset id nor an existing file; known "
                             f"datasets: {', '.join(entries) or 'none'}")
    findings = []
    names = []
    if not targets and found.user_problem is not None:
        findings.append(_user_library_finding(found.user_problem))
    targets = targets or list(entries.values())
    for target in targets:
        names.append(getattr(target, "id", str(target)))
        findings += validate_dataset(target, validator)
    failed = has_errors(findings)
    if args.json:
        print_json({"datasets": names, "ok": not failed,
                    "errors": sum(f.severity == "error" for f in findings),
                    "warnings": sum(f.severity == "warning" for f in findings),
                    "findings": [f.as_dict() for f in findings]})
        return 1 if failed else 0
    out = console()
    if findings:
        from rich.table import Table

        table = Table(title="data-quality findings")
        for column in ("dataset", "check", "severity", "row", "timestamp", "found", "expected"):
            table.add_column(column, overflow="fold")
        for f in findings:
            style = "red" if f.severity == "error" else "yellow"
            table.add_row(f.dataset, f.check, f"[{style}]{f.severity}[/{style}]",
                          "" if f.row is None else str(f.row), f.timestamp or "", f.message,
                          f.expected)
        out.print(table)
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    out.print(f"{len(names)} dataset(s) checked: {errors} error(s), {warnings} warning(s)")
    return 1 if failed else 0


def import_command(args: argparse.Namespace) -> int:
    from bot_core.cli.output import console, print_json
    from bot_core.cli.progress import progress_updates
    from bot_core.data.importer import IMPORT_STAGES, import_csv

    with progress_updates("import", IMPORT_STAGES, quiet=args.json) as progress:
        result = import_csv(
            args.src, dataset_id=args.dataset_id, venue=args.venue, instrument=args.instrument,
            timeframe=args.timeframe, kind=args.kind, tz=args.tz, source=args.source,
            licence=args.licence, force=args.force, date_format=args.date_format,
            output_format=args.output_format, progress=progress)
    if args.json:
        print_json({"entry": _entry_row(result.entry), "layout": result.layout,
                    "notes": result.notes, "warnings": [f.as_dict() for f in result.warnings]})
        return 0
    out = console()
    e = result.entry
    out.print(f"imported {e.id}: {e.rows:,} {e.kind} rows {e.first_timestamp:%Y-%m-%d %H:%M} .. "
              f"{e.last_timestamp:%Y-%m-%d %H:%M} UTC -> {e.path}")
    out.print(f"recognised: {result.layout}")
    for note in result.notes:
        out.print(f"note: {note}")
    for finding in result.warnings[:10]:
        out.print(f"warning: {finding}")
    if len(result.warnings) > 10:
        out.print(f"... and {len(result.warnings) - 10} more warnings "
                  f"(bot-core data validate {e.id})")
    return 0
