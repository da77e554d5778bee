"""Statistics: percentiles with order-statistic bounds, rate intervals, windowed series.

Pure functions on numbers; no knowledge of records, requirements or levels.
"""

from conformance.stats.quantiles import (
    QuantileEstimate,
    QuantileRatio,
    lower_rank,
    min_samples_upper,
    quantile,
    quantile_bounds,
    quantile_ratio,
    upper_rank,
)
from conformance.stats.rates import (
    ExcessBound,
    MeanEstimate,
    RateEstimate,
    clopper_pearson,
    excess_bound,
    mean_bounds,
    rate,
)
from conformance.stats.windows import Throughput, Window, throughput, windowed

__all__ = [
    "ExcessBound",
    "MeanEstimate",
    "QuantileEstimate",
    "QuantileRatio",
    "RateEstimate",
    "Throughput",
    "Window",
    "clopper_pearson",
    "excess_bound",
    "lower_rank",
    "mean_bounds",
    "min_samples_upper",
    "quantile",
    "quantile_bounds",
    "quantile_ratio",
    "rate",
    "throughput",
    "upper_rank",
    "windowed",
]
