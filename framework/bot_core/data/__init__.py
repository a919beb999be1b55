"""The backtest dataset library: normalized datasets, import and quality validation.

Everything strategies, backtests and the demo read goes through here::

    from bot_core.data import load_dataset, list_datasets
    bars = load_dataset("demo-btc-usdt-1m")   # UTC DatetimeIndex, float64 OHLCV columns

Importing this package is cheap: pandas, numpy and pyarrow load on first use of a function that
needs them. See docs/data.md for the file format, the manifest and the checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot_core.data.manifest import DatasetEntry
from bot_core.data.schema import COLUMNS, KINDS, TIMEFRAME_MS, TIMESTAMP
from bot_core.errors import DataError, DataQualityError

if TYPE_CHECKING:
    from bot_core.data.file_checks import validate_dataset
    from bot_core.data.findings import CHECKS, Finding, has_errors
    from bot_core.data.importer import ImportResult, import_csv
    from bot_core.data.library import get_dataset, list_datasets, load_dataset, load_table
    from bot_core.data.quality import DataQualityValidator, ValidatorSettings
    from bot_core.data.reader import Table

__all__ = [
    "CHECKS",
    "COLUMNS",
    "KINDS",
    "TIMEFRAME_MS",
    "TIMESTAMP",
    "DataError",
    "DataQualityError",
    "DataQualityValidator",
    "DatasetEntry",
    "Finding",
    "ImportResult",
    "Table",
    "ValidatorSettings",
    "get_dataset",
    "has_errors",
    "import_csv",
    "list_datasets",
    "load_dataset",
    "load_table",
    "validate_dataset",
]

_LAZY = {
    "CHECKS": "bot_core.data.findings",
    "Finding": "bot_core.data.findings",
    "has_errors": "bot_core.data.findings",
    "ImportResult": "bot_core.data.importer",
    "import_csv": "bot_core.data.importer",
    "get_dataset": "bot_core.data.library",
    "list_datasets": "bot_core.data.library",
    "load_dataset": "bot_core.data.library",
    "load_table": "bot_core.data.library",
    "DataQualityValidator": "bot_core.data.quality",
    "ValidatorSettings": "bot_core.data.quality",
    "Table": "bot_core.data.reader",
    "validate_dataset": "bot_core.data.file_checks",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bot_core.data' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
