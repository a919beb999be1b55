"""``report.html``: one self-contained file a browser opens, to read or send a backtest.

It holds the figure (:mod:`bot_core.backtest.figure`, the PNG embedded as base64), the summary
(:mod:`bot_core.backtest.summary`), the strategy against buy and hold, the risk engine's
verdicts and state changes, the gaps, the trades (the first :data:`TRADES_SHOWN`; all of them
are in ``trades.csv``) and the run manifest (versions, datasets and their checksums, the config
hash, parameters, venue settings). Nothing is loaded from elsewhere: no script, no style sheet,
no font, so it opens offline and from a mail attachment alike.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot_core.backtest.summary import summary_rows
from bot_core.backtest.times import iso_utc

if TYPE_CHECKING:
    from bot_core.backtest.manifest import RunManifest
    from bot_core.backtest.results import BacktestResult

__all__ = ["TRADES_SHOWN", "render_html", "write_html"]

TRADES_SHOWN = 500
"""Trades listed in the page; ``trades.csv`` has every one."""

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto;
       max-width: 1240px; color: #1d232a; padding: 0 16px; }
h1 { font-size: 20px; margin-bottom: 4px; } h2 { font-size: 16px; margin-top: 28px; }
p.sub { color: #59636e; margin-top: 0; }
img { max-width: 100%; border: 1px solid #d8dee4; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #d8dee4; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pos { color: #1a7f37; } .neg { color: #cf222e; }
code { font-size: 12px; word-break: break-all; }
details { margin: 8px 0; } pre { background: #f6f8fa; padding: 8px; overflow-x: auto; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(head: Sequence[str], rows: Iterable[Sequence[object]],
           numeric: Sequence[int] = ()) -> str:
    body = "".join(
        "<tr>" + "".join(f"<td class=num>{_e(c)}</td>" if i in numeric else f"<td>{_e(c)}</td>"
                         for i, c in enumerate(row)) + "</tr>" for row in rows)
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _signed(value: float) -> str:
    css = "pos" if value > 0 else "neg" if value < 0 else ""
    return f"<span class={css or 'zero'}>{100 * value:+.2f} %</span>"


def _comparison(result: BacktestResult) -> str:
    benchmark = result.benchmark
    strategy = result.metrics.total_return
    if benchmark is None or result.excess_return is None:
        return "<p>No buy-and-hold benchmark (no price to buy at).</p>"
    held = ", ".join(_e(i) for i in benchmark.instruments)
    return ("<table><tbody>"
            f"<tr><th>strategy</th><td class=num>{_signed(strategy)}</td></tr>"
            f"<tr><th>buy and hold {held}</th><td class=num>"
            f"{_signed(benchmark.total_return)}</td></tr>"
            f"<tr><th>excess return</th><td class=num>{_signed(result.excess_return)}</td></tr>"
            "</tbody></table><p class=sub>Buy and hold: the initial equity split equally between "
            "the instruments, bought at the first price and held, without fees.</p>")


def _risk(result: BacktestResult) -> str:
    rows = [(k, v) for k, v in sorted(result.verdicts.items())]
    out = _table(("verdict", "count"), rows, numeric=(1,))
    if result.reject_reasons:
        out += _table(("rejected or reduced by", "count"),
                      sorted(result.reject_reasons.items()), numeric=(1,))
    if result.state_changes:
        out += _table(("time (UTC)", "from", "to", "cause"),
                      [(c["time"], c["previous"], c["current"], c["cause"])
                       for c in result.state_changes])
    return out


def _trades(result: BacktestResult) -> str:
    columns = ("strategy", "instrument", "side", "quantity", "entry_time", "entry_price",
               "exit_time", "exit_price", "fills", "fees", "pnl", "return_pct")
    numeric = tuple(i for i, c in enumerate(columns) if c not in
                    ("strategy", "instrument", "side", "entry_time", "exit_time"))
    shown = result.trades[:TRADES_SHOWN]

    def cell(name: str, value: object) -> object:
        if value is None:
            return "open"
        if isinstance(value, float):
            return f"{value:,.2f}" if name in ("fees", "pnl", "return_pct") else f"{value:,.6g}"
        return value

    rows = [[cell(c, t.as_dict()[c]) for c in columns] for t in shown]
    note = (f"<p class=sub>The first {len(shown):,} of {len(result.trades):,} trades; "
            "trades.csv has every one.</p>" if len(result.trades) > len(shown) else "")
    return note + _table(columns, rows, numeric=numeric) if rows else "<p>No trade.</p>"


def _manifest(manifest: RunManifest | None) -> str:
    if manifest is None:
        return ""
    versions = _table(("component", "version"), [*manifest.versions.items(),
                                                 *manifest.plugins.items()])
    datasets = _table(("dataset", "kind", "venue", "instrument", "timeframe", "rows", "first",
                       "last", "sha256"),
                      [(d.id, d.kind, d.venue, d.instrument, d.timeframe or "-", f"{d.rows:,}",
                        d.first, d.last, d.sha256 or "in memory") for d in manifest.datasets],
                      numeric=(5,))
    params = _table(("strategy", "parameter", "value"),
                    [(name, key, json.dumps(value)) for name, values in
                     manifest.parameters.items() for key, value in values.items()])
    venues = _table(("venue", "adapter", "settings"),
                    [(name, v.get("adapter", ""), json.dumps(v.get("settings", {}),
                                                              sort_keys=True))
                     for name, v in manifest.venues.items()])
    config = _e(json.dumps(manifest.config, indent=2, sort_keys=True))
    return (f"<h2>Run manifest</h2><p>Resolved config hash <code>{_e(manifest.config_hash)}"
            f"</code>; replay {_e(manifest.replay.requested)} requested, "
            f"{_e(manifest.replay.path)} taken. <code>bot-core rerun</code> on this folder "
            f"re-runs it and compares bit for bit.</p>"
            f"<h3>Versions</h3>{versions}<h3>Datasets</h3>{datasets}"
            f"<h3>Parameters</h3>{params}<h3>Fees and fills</h3>{venues}"
            f"<details><summary>Resolved config</summary><pre>{config}</pre></details>")


def render_html(result: BacktestResult, png: bytes, manifest: RunManifest | None = None) -> str:
    """The report page of ``result`` with the figure ``png`` (its bytes)."""
    from bot_core.backtest.figure import figure_title

    title = f"{', '.join(result.strategies)} on {', '.join(result.datasets)}"
    image = base64.b64encode(png).decode("ascii")
    span = (f"{iso_utc(int(result.ts_ns[0]))} to {iso_utc(int(result.ts_ns[-1]))}"
            if len(result.ts_ns) else "no data")
    gaps = (_table(("no data from (UTC)", "to"),
                   [(iso_utc(start), iso_utc(end)) for start, end in result.gaps])
            if result.gaps else "")
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1><p class=sub>preset {_e(result.preset)}, {_e(span)} (UTC), "
        f"account currency {_e(result.currency or '-')}, times on the figure in "
        f"{_e(result.timezone)}</p>"
        f"<img alt='{_e(figure_title(result))}' src='data:image/png;base64,{image}'>"
        f"<h2>Strategy against buy and hold</h2>{_comparison(result)}"
        f"<h2>Summary</h2>{_table(('metric', 'value'), summary_rows(result))}"
        f"<h2>Risk</h2>{_risk(result)}"
        + (f"<h2>Gaps</h2>{gaps}" if gaps else "")
        + f"<h2>Trades</h2>{_trades(result)}{_manifest(manifest)}</body></html>\n")


def write_html(result: BacktestResult, path: Path, png: Path,
               manifest: RunManifest | None = None) -> Path:
    """:func:`render_html` into ``path``, embedding the PNG at ``png``."""
    path.write_text(render_html(result, png.read_bytes(), manifest), encoding="utf-8")
    return path
