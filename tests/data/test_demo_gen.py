"""The shipped demo data is what the seeded generator produces, and is fit for the strategies."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import numpy as np
import pytest

import bot_core.data as data
from bot_core.data.demo_gen import main
from bot_core.data.library import shipped_dir


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert main(["--out", str(out)]) == 0
    return out


def test_regenerating_reproduces_the_shipped_files(regenerated: Path) -> None:
    shipped = json.loads((shipped_dir() / "manifest.json").read_text())
    fresh = json.loads((regenerated / "manifest.json").read_text())
    assert [d["id"] for d in fresh["datasets"]] == [d["id"] for d in shipped["datasets"]]
    for old in shipped["datasets"]:
        path = old["path"]
        # The CSV content is identical everywhere; the gzip bytes too with the same zlib.
        assert gzip.decompress((regenerated / path).read_bytes()) == \
            gzip.decompress((shipped_dir() / path).read_bytes()), path
    if shipped["generator"]["zlib"] == zlib.ZLIB_VERSION:
        assert fresh["datasets"] == shipped["datasets"]
    assert shipped["generator"] == {**fresh["generator"], "zlib": shipped["generator"]["zlib"]}


def test_shipped_data_is_clean() -> None:
    for entry in data.list_datasets():
        assert data.validate_dataset(entry) == [], entry.id


def test_shipped_data_stays_small() -> None:
    total = sum(p.stat().st_size for p in shipped_dir().iterdir())
    assert total < 6 * 1024 * 1024


@pytest.mark.parametrize(("dataset", "low", "high"), [
    ("demo-btc-usdt-1m", 40_000, 80_000), ("demo-eth-usdt-1m", 2_000, 4_000),
    ("demo-sol-usdt-1m", 80, 250), ("demo-ada-usdt-1m", 0.3, 0.8),
])
def test_bars_are_realistic(dataset: str, low: float, high: float) -> None:
    bars = data.load_dataset(dataset)
    assert len(bars) >= 30 * 1440
    assert (bars.index[-1] - bars.index[0]).days >= 29
    assert low < bars["close"].min() and bars["close"].max() < high
    returns = np.log(bars["close"]).diff().dropna()
    # volatility clustering: absolute returns are autocorrelated
    assert returns.abs().autocorr(lag=1) > 0.1
    # trends: some days move > 2 %; mean reversion: some hours with a strongly negative
    # autocorrelation of 1-minute returns
    daily = bars["close"].resample("1D").last().pct_change().abs()
    assert (daily > 0.02).sum() >= 3
    hourly_ac = returns.groupby(returns.index.floor("4h")).apply(lambda r: r.autocorr())
    assert (hourly_ac < -0.1).sum() >= 3


@pytest.mark.parametrize("symbol", ["btc", "eth"])
def test_quotes_have_venue_dislocations(symbol: str) -> None:
    a = data.load_dataset(f"demo-{symbol}-usdt-quotes-venue_a")
    b = data.load_dataset(f"demo-{symbol}-usdt-quotes-venue_b")
    assert a.index.equals(b.index) and (a.index.to_series().diff().dropna().dt.total_seconds() == 1).all()
    mid = (a["bid"] + a["ask"]) / 2
    spread_bps = (a["ask"] - a["bid"]) / mid * 1e4
    assert 0.5 < spread_bps.median() < 5
    edge_bps = np.maximum((b["bid"] - a["ask"]) / mid, (a["bid"] - b["ask"]) / mid) * 1e4
    beyond_fees = edge_bps > 20  # two 10 bps taker fees
    episodes = int((beyond_fees & ~beyond_fees.shift(1, fill_value=False)).sum())
    assert episodes >= 10
    assert beyond_fees.sum() / episodes < 20  # short: a few ticks each
    quotes_mid = mid.resample("1min").last()
    bars = data.load_dataset(f"demo-{symbol}-usdt-1m")["close"].reindex(quotes_mid.index)
    assert (np.abs(quotes_mid / bars - 1) < 0.003).all()  # quotes follow the bars
