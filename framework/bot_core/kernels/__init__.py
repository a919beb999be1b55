"""Numba signal kernels shared by strategy plugins.

Every estimator comes twice, computed by the same compiled arithmetic:

* a *batch* kernel over a whole float64 array (backtests, ``warm_up``, vectorised fast paths);
* an *incremental* class with an O(1) ``update(x)`` per bar (live trading), whose outputs equal
  the batch kernel's on the same sequence, bit for bit.

Batch kernels take ``workers=`` (threads; by default one below a million bars, else the CPUs
this process may use, at most 8); the result does not depend on it.

They are causal (the value at bar ``t`` uses bars ``<= t`` only), treat NaN as a missing bar
and never return inf: a flat window has standard deviation 0 and z-score 0.

:data:`DECIDE_SIGNATURE` is the signature of a strategy's compiled decision (the batch
contract, :mod:`bot_core.kernels.decide`); :func:`decide_path` runs one over a series.

=====================================  ===================================================
batch                                  incremental
=====================================  ===================================================
:func:`rolling_zscore`                 :class:`RollingMoments` (``.zscore``)
:func:`rolling_mean_std`               :class:`RollingMoments` (``.mean``, ``.std``)
:func:`ewma_vol`                       :class:`EwmaVol`
:func:`rolling_vol`                    :class:`RollingVol`
=====================================  ===================================================

Importing this package imports numba (and compiles or loads cached machine code on first use):
import it inside methods, never at the top of a plugin's entry-point module.
"""

from bot_core.kernels.decide import DECIDE_SIGNATURE, DECIDE_TYPE, decide_list, decide_path
from bot_core.kernels.rolling import RollingMoments, rolling_mean_std, rolling_zscore
from bot_core.kernels.volatility import (
    EwmaVol,
    RollingVol,
    alpha_from_halflife,
    annualization_factor,
    bar_returns,
    ewma_vol,
    rolling_vol,
)

__all__ = [
    "DECIDE_SIGNATURE",
    "DECIDE_TYPE",
    "EwmaVol",
    "RollingMoments",
    "RollingVol",
    "alpha_from_halflife",
    "annualization_factor",
    "bar_returns",
    "decide_list",
    "decide_path",
    "ewma_vol",
    "rolling_mean_std",
    "rolling_vol",
    "rolling_zscore",
]
