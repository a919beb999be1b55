"""The report traders read: buy and hold and the excess return (JSON, table), the figure (equity
with buy and hold and the trades over drawdown, one time axis in the config's timezone, gaps left
as gaps) and the self-contained HTML page, read back from what is written."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from bot_core.backtest.driver import run_backtest
from bot_core.backtest.figure import trader_figure
from bot_core.backtest.html_report import TRADES_SHOWN
from bot_core.backtest.plan import DataSpec, plan_backtest
from bot_core.backtest.report import write_report

from .conftest import make_bars


def _run(host: Any, write_config: Any, data: dict[str, DataSpec],
         environ: dict[str, str] | None = None) -> Any:
    plan = plan_backtest(host, strategies=["cross"], datasets=data, preset=None,
                         config_path=write_config(notional=5.0, fee=5.0, slippage=1.0),
                         environ=environ or {})
    return run_backtest(plan, host)


def test_buy_and_hold_holds_each_instrument_from_its_first_price(host, write_config) -> None:
    btc, eth = make_bars(1500, seed=11, drift=-0.0002), make_bars(1500, seed=5, start=50.0,
                                                                  drift=0.0003)
    result = _run(host, write_config, {"btc": DataSpec(btc, "ohlcv", "BTC/USDT", "venue_a"),
                                       "eth": DataSpec(eth, "ohlcv", "ETH/USDT", "venue_a")})
    closes = [frame["close"].to_numpy() for frame in (btc, eth)]
    held = np.mean([c[-1] / c[0] for c in closes]) - 1.0
    benchmark = result.benchmark
    assert benchmark.instruments == ["BTC/USDT", "ETH/USDT"]
    assert benchmark.total_return == pytest.approx(held, rel=1e-12)
    # marked at every step of the run's own timeline, starting from the initial equity
    assert len(benchmark.equity) == len(result.ts_ns)
    assert benchmark.equity[0] == pytest.approx(100_000.0)
    middle = 700
    expected = 100_000.0 * np.mean([c[middle] / c[0] for c in closes])
    assert benchmark.equity[middle] == pytest.approx(expected, rel=1e-12)
    assert result.excess_return == pytest.approx(result.metrics.total_return - held, abs=1e-15)
    out = result.as_dict()
    assert out["buy_and_hold_return"] == benchmark.total_return
    assert out["excess_return"] == result.excess_return
    assert out["buy_and_hold"] == {"instruments": ["BTC/USDT", "ETH/USDT"],
                                   "return": benchmark.total_return}
    assert out["currency"] == "USDT"


def test_the_figure_is_equity_over_drawdown_on_one_time_axis_in_the_config_timezone(
        host, write_config) -> None:
    import pandas as pd
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import num2date

    btc = make_bars(600, seed=11)
    eth = make_bars(600, seed=5, start=50.0)
    eth.index = eth.index + pd.Timedelta(days=3)  # a gap between the two datasets
    result = _run(host, write_config, {"btc": DataSpec(btc, "ohlcv", "BTC/USDT", "venue_a"),
                                       "eth": DataSpec(eth, "ohlcv", "ETH/USDT", "venue_a")},
                  environ={"BOT_CORE_RUNTIME__TIMEZONE": "Asia/Tokyo"})
    assert result.timezone == "Asia/Tokyo" and len(result.gaps) == 1 and result.trades
    figure = trader_figure(result)
    FigureCanvasAgg(figure).draw()
    top, bottom = figure.axes
    assert top.get_shared_x_axes().joined(top, bottom)
    assert top.get_ylabel() == "equity (USDT)" and bottom.get_ylabel() == "drawdown (%)"
    assert bottom.get_xlabel() == "time (Asia/Tokyo)"
    # the tick labels are Tokyo's clock: nine hours ahead of the UTC times plotted
    shown = [t for t in bottom.get_xticklabels() if re.fullmatch(r"\d\d:\d\d", t.get_text())]
    assert shown
    for tick in shown:
        local = num2date(tick.get_position()[0], tz=ZoneInfo("Asia/Tokyo"))
        assert tick.get_text() == local.strftime("%H:%M")
    labels = [t.get_text() for t in top.get_legend().get_texts()]
    assert f"strategy ({100 * result.metrics.total_return:+.2f} %)" in labels
    assert (f"buy and hold BTC/USDT, ETH/USDT ({100 * result.benchmark.total_return:+.2f} %)"
            in labels)
    assert {"long entry", "exit", "no data"} <= set(labels)
    # every line, the buy and hold's included, stops at the gap and starts again after it
    gap = [np.datetime64(t, "ns") for t in result.gaps[0]]
    lines = top.get_lines()
    assert len(lines) == 4
    for line in lines:
        x = np.asarray(line.get_xdata(), dtype="datetime64[ns]")
        assert x.max() <= gap[0] or x.min() >= gap[1]
    # one marker per trade entry, and per exit, on the equity curve
    markers = {c.get_label(): c.get_offsets() for c in top.collections if c.get_label()
               in ("long entry", "short entry", "exit")}
    entries = sum(len(v) for k, v in markers.items() if k != "exit")
    assert entries == len(result.trades)
    assert len(markers["exit"]) == len(result.closed_trades)
    equity_at = dict(zip(result.ts_ns.astype("datetime64[ns]").astype("datetime64[us]").tolist(),
                         result.equity.tolist(), strict=True))
    for x, y in markers["exit"][:5]:
        when = np.datetime64(num2date(x).replace(tzinfo=None), "us").tolist()
        assert y == pytest.approx(equity_at[when])
    # the gap is shaded in both panels
    assert all(any(p.get_label() == "no data" for p in ax.patches) for ax in (top, bottom))


def test_the_html_report_is_one_self_contained_page(host, write_config, tmp_path: Path) -> None:
    result = _run(host, write_config,
                  {"btc": DataSpec(make_bars(1500, seed=11), "ohlcv", "BTC/USDT", "venue_a")})
    paths = write_report(result, tmp_path / "report")
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == [
        "equity.csv", "fills.csv", "report.html", "report.png", "trades.csv"]
    page = paths["html"].read_text(encoding="utf-8")
    # nothing is fetched from elsewhere: no script, style sheet or remote image
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:|//)""", page)
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == 1 and base64.b64decode(images[0]) == paths["figure"].read_bytes()
    for heading in ("Strategy against buy and hold", "Summary", "Risk", "Trades"):
        assert f"<h2>{heading}</h2>" in page
    bh = f"{100 * result.benchmark.total_return:+.2f} %"
    excess = f"{100 * result.excess_return:+.2f} %"
    assert bh in page and excess in page
    trades = page.split("<h2>Trades</h2>", 1)[1]
    assert trades.count("<tr><td>") == min(len(result.trades), TRADES_SHOWN) > 20
    assert "Run manifest" not in page  # none was given


def test_backtest_json_and_table_give_buy_and_hold_and_the_excess_return(run_cli) -> None:
    from bot_core.data.library import load_dataset

    close = load_dataset("demo-eth-usdt-1m")["close"].to_numpy()
    held = close[-1] / close[0] - 1.0
    args = ("backtest", "--strategy", "mean_reversion", "--dataset", "demo-eth-usdt-1m")
    proc = run_cli(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["buy_and_hold_return"] == pytest.approx(held, rel=1e-12)
    assert out["excess_return"] == pytest.approx(out["total_return"] - held, abs=1e-15)
    assert out["buy_and_hold"]["instruments"] == ["ETH/USDT"] and out["currency"] == "USDT"
    table = run_cli(*args)
    assert table.returncode == 0, table.stderr
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip()
            for line in table.stdout.splitlines() if line.count("│") == 3}
    assert rows["buy and hold"] == f"{100 * held:+.2f} % (ETH/USDT)"
    assert rows["excess return"].startswith(f"{100 * (out['total_return'] - held):+.2f} %")
    assert rows["final equity"].endswith(" USDT")
