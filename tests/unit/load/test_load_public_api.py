"""The engine's chosen public API (what the evidence recorder, plugin and verdicts use)."""

from __future__ import annotations

import conformance.run.client as client
import conformance.run.load as load
import conformance.stats as stats


def test_exported_members() -> None:
    assert set(client.__all__) == {
        "AUTH", "AnthropicMessages", "DIALECTS", "BuiltRequest", "ChatParams", "Client",
        "ClientConfig",
        "CountTokens", "Dialect", "OpenAIChat", "OpenAIResponses",
        "SSESplitter", "decode_record", "make_dialect",
    }
    assert set(load.__all__) == {
        "Arrival", "Burst", "ClientHealth", "Concurrency", "ConstantRate", "Distributed",
        "HealthWindow",
        "LagMonitor", "LoadRunner", "OnRecord", "PhaseResult", "PhaseSpec", "Poisson",
        "RequestFactory", "SaturationCheck", "Sequential", "StopConditions", "Summary",
        "request_rng", "saturation", "worker_seed",
    }
    assert set(stats.__all__) == {
        "ExcessBound", "MeanEstimate", "QuantileEstimate", "QuantileRatio", "RateEstimate",
        "Throughput",
        "Window", "clopper_pearson", "lower_rank", "mean_bounds", "min_samples_upper",
        "quantile", "quantile_bounds", "quantile_ratio", "rate", "throughput", "upper_rank",
        "windowed", "excess_bound",
    }
    for mod in (client, load, stats):
        for name in mod.__all__:
            assert getattr(mod, name) is not None
