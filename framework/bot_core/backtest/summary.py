"""A backtest's summary as (label, value) rows: the terminal table and the HTML report's."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot_core.backtest.results import BacktestResult

__all__ = ["summary_rows"]


def _pct(value: float) -> str:
    return f"{100 * value:+.2f} %"


def summary_rows(result: BacktestResult) -> list[tuple[str, str]]:
    """The figures a trader reads first, formatted; money in the account currency."""
    m = result.metrics
    currency = f" {result.currency}" if result.currency else ""
    benchmark = result.benchmark
    return [
        ("strategies", ", ".join(result.strategies)),
        ("datasets", ", ".join(result.datasets)),
        ("preset", result.preset),
        ("events", f"{result.bars:,}"),
        ("final equity", f"{m.final_equity:,.2f}{currency}"),
        ("total return", _pct(m.total_return)),
        ("buy and hold", "-" if benchmark is None else
         f"{_pct(benchmark.total_return)} ({', '.join(benchmark.instruments)})"),
        ("excess return", "-" if result.excess_return is None else
         f"{_pct(result.excess_return)} (total return - buy and hold)"),
        ("CAGR", _pct(m.cagr)),
        ("Sharpe", f"{m.sharpe:.2f}"),
        ("Sortino", f"{m.sortino:.2f}"),
        ("annualized with", "-" if m.annualization is None else
         f"{m.annualization.periods_per_year:,.0f} "
         f"{'daily' if m.annualization.returns == 'day' else 'bar'} returns a year "
         "(observed in the data)"),
        ("max drawdown", f"{100 * m.max_drawdown:.2f} %"),
        ("trades (closed)", f"{m.n_trades} round trips, {len(result.fills):,} fills"),
        ("win rate", f"{100 * m.win_rate:.1f} %" if m.n_trades else "- (no closed round trip)"),
        ("exposure", f"{100 * m.exposure:.1f} % of bars"),
        ("turnover", f"{m.turnover:.2f} x equity"),
        ("fees", f"{m.fees:,.2f}{currency}"),
        ("risk verdicts", ", ".join(f"{k} {v}" for k, v in sorted(result.verdicts.items()))
         or "none"),
        ("rejected/reduced by", ", ".join(f"{k} {v}" for k, v in
                                          sorted(result.reject_reasons.items())) or "none"),
        ("trading state", result.final_state),
        ("fast path", result.fast_path_note or
         ("yes" if result.fast_path else "no (event by event)")),
        ("elapsed", f"{result.elapsed_s:.2f} s "
                    f"({result.bars / max(result.elapsed_s, 1e-9):,.0f} events/s)"),
    ]
