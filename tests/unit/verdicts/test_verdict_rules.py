"""The verdict rules, judged on real catalog thresholds with hand-made measurements."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from conformance.declaration import load_declaration
from conformance.plan import Plan, build_plan
from conformance.run.evidence import Flag, Measurement, Obs
from conformance.run.load.health import ClientHealth, Summary
from conformance.spec import Catalog, load_catalog, load_profile
from conformance.verdicts import Verdict, judge_all, summarise

DECL = Path(__file__).parents[2] / "fixtures" / "declarations" / "valid" / "candidate.yaml"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def plan(catalog: Catalog) -> Plan:
    return build_plan(catalog, load_profile("quick"), load_declaration(DECL))


def verdict(catalog: Catalog, plan: Plan, rid: str, ms: list[Measurement],
            flags: list[Flag] | None = None,
            health: dict[str, dict[str, object]] | None = None) -> Verdict:
    vs = judge_all(catalog, plan, ms, flags or [], health or {})
    return next(v for v in vs if v.id == rid)


def samples(rid: str, metric: str, values: list[float], **kw: object) -> Measurement:
    return Measurement(rid, metric, samples=tuple(values), **kw)  # type: ignore[arg-type]


def trials(rid: str, metric: str, ok: int, bad: int = 0, none: int = 0) -> Measurement:
    obs = [Obs(True)] * ok + [Obs(False, "bad")] * bad + [Obs(None, "?", "nondeterministic")] * none
    return Measurement(rid, metric, observations=tuple(obs))


def test_percentile_passes_on_its_upper_bound(catalog: Catalog, plan: Plan) -> None:
    v = verdict(catalog, plan, "PERF-001", [samples("PERF-001", "ttft_ms", [100.0] * 299)])
    assert (v.outcome, v.level) == ("pass", "L3")
    m = next(x for x in v.measurements if x.stat == "p99")
    assert m.n == 299 and m.upper == 100.0


def test_too_few_samples_is_inconclusive_never_pass(catalog: Catalog, plan: Plan) -> None:
    v = verdict(catalog, plan, "PERF-001", [samples("PERF-001", "ttft_ms", [100.0] * 22)])
    assert (v.outcome, v.reason, v.level) == ("inconclusive", "insufficient_samples", None)


def test_point_passes_bound_fails_is_inconclusive(catalog: Catalog, plan: Plan) -> None:
    # p99 of 299 is X(296) = 100 ms; its 95% upper bound is X(299) = 6000 ms > 5000 ms
    v = verdict(catalog, plan, "PERF-001",
                [samples("PERF-001", "ttft_ms", [100.0] * 298 + [6000.0])])
    assert (v.outcome, v.reason) == ("inconclusive", "insufficient_samples")
    assert "upper confidence bound is 6000" in (v.detail or "")


def test_a_fail_needs_the_lower_bound_beyond_the_limit(catalog: Catalog, plan: Plan) -> None:
    # 19 of 299 at 7 s: the p99's 95% lower bound is X(293) = 7000 ms > 5000 ms
    v = verdict(catalog, plan, "PERF-001",
                [samples("PERF-001", "ttft_ms", [100.0] * 280 + [7000.0] * 19)])
    assert (v.outcome, v.level, v.reason) == ("fail", None, "threshold_not_met")
    # 4 of 299 at 7 s: the point estimate X(297) is over the limit, but the lower bound
    # X(293) = 100 ms proves nothing: inconclusive, not a fail on a point estimate
    v = verdict(catalog, plan, "PERF-001",
                [samples("PERF-001", "ttft_ms", [100.0] * 295 + [7000.0] * 4)])
    assert (v.outcome, v.reason) == ("inconclusive", "insufficient_samples")


def test_levels_are_reached_in_order(catalog: Catalog, plan: Plan) -> None:
    # p99 1500 ms: L1 (5000) and L2 (2000) hold, L3 (1000) does not
    v = verdict(catalog, plan, "PERF-001", [samples("PERF-001", "ttft_ms", [1500.0] * 299)])
    assert (v.outcome, v.level) == ("pass", "L2")
    assert v.levels["L3"].outcome == "fail"


def test_rate_judged_on_clopper_pearson_bounds(catalog: Catalog, plan: Plan) -> None:
    # 299 of 299: the exact lower bound 0.05^(1/299) = 0.99003 >= 0.99 (268 were Wilson's)
    ok = verdict(catalog, plan, "STAB-001", [trials("STAB-001", "success_rate", 299)])
    assert (ok.outcome, ok.level) == ("pass", "L1")
    short = verdict(catalog, plan, "STAB-001", [trials("STAB-001", "success_rate", 298)])
    assert (short.outcome, short.reason) == ("inconclusive", "insufficient_samples")
    assert ok.levels["L2"].reason == "insufficient_samples"
    unsure = verdict(catalog, plan, "STAB-001", [trials("STAB-001", "success_rate", 300, 1)])
    assert (unsure.outcome, unsure.reason) == ("inconclusive", "insufficient_samples")
    bad = verdict(catalog, plan, "STAB-001", [trials("STAB-001", "success_rate", 270, 30)])
    assert bad.outcome == "fail"
    # 3 failures in 300: point 0.99 — not proven below 0.99 (upper bound 0.997)
    near = verdict(catalog, plan, "STAB-001", [trials("STAB-001", "success_rate", 297, 3)])
    assert (near.outcome, near.reason) == ("inconclusive", "insufficient_samples")
    # unsettled trials count against the pass and for the fail
    unsure = verdict(catalog, plan, "STAB-001",
                     [trials("STAB-001", "success_rate", 1000, 0, 2)])
    assert (unsure.outcome, unsure.reason) == ("pass", None)
    lost = verdict(catalog, plan, "STAB-001", [trials("STAB-001", "success_rate", 270, 20, 10)])
    assert lost.outcome == "fail"


def test_all_means_every_observation(catalog: Catalog, plan: Plan) -> None:
    one_each = [trials("API-001", "schema_valid", 1) for _ in range(3)]
    assert verdict(catalog, plan, "API-001", one_each).outcome == "pass"
    bad = verdict(catalog, plan, "API-001", [*one_each, trials("API-001", "schema_valid", 0, 1)])
    assert bad.outcome == "fail"
    unsure = verdict(catalog, plan, "API-001",
                     [*one_each, trials("API-001", "schema_valid", 0, 0, 1)])
    assert (unsure.outcome, unsure.reason) == ("inconclusive", "nondeterministic")
    few = verdict(catalog, plan, "API-001", one_each[:2])
    assert (few.outcome, few.reason) == ("inconclusive", "insufficient_samples")


def test_value_with_bound(catalog: Catalog, plan: Plan) -> None:
    def cap(value: float, lower: float, duration: float, upper: float = 1.5) -> Verdict:
        m = Measurement("PERF-005", "capacity_ratio", value=value, lower=lower, upper=upper,
                        n=40, duration_s=duration)
        return verdict(catalog, plan, "PERF-005", [m])

    assert cap(0.97, 0.955, 45).level == "L2"
    assert cap(0.95, 0.85, 45).reason == "insufficient_samples"
    # a point far below the floor fails only when the upper bound is below it too
    assert cap(0.5, 0.4, 45, upper=0.6).outcome == "fail"
    assert cap(0.5, 0.4, 45).reason == "insufficient_samples"
    assert cap(0.97, 0.955, 10).reason == "insufficient_duration"


def test_short_duration_is_never_a_failure(catalog: Catalog, plan: Plan) -> None:
    m = Measurement("STAB-006", "sustained_duration_s", value=45.0, n=1, duration_s=45.0)
    v = verdict(catalog, plan, "STAB-006", [m])
    assert (v.outcome, v.reason) == ("inconclusive", "insufficient_duration")
    long = Measurement("STAB-006", "sustained_duration_s", value=700.0, n=1, duration_s=700.0)
    assert verdict(catalog, plan, "STAB-006", [long]).level == "L1"


def test_flags_make_the_verdict_inconclusive(catalog: Catalog, plan: Plan) -> None:
    ms = [samples("PERF-001", "ttft_ms", [100.0] * 299)]
    v = verdict(catalog, plan, "PERF-001", ms, [Flag("PERF-001", "check_error", "Traceback")])
    assert (v.outcome, v.reason, v.detail) == ("inconclusive", "check_error", "Traceback")
    assert verdict(catalog, plan, "PERF-002", []).reason == "no_evidence"


def _health(lag_ms: float) -> dict[str, object]:
    """Client health whose loop lag reaches ``lag_ms`` in its upper tail (p99.5 and up)."""
    lag = Summary(n=1000, p50=0.02, p75=0.03, p90=0.05, p95=0.5, p99=1.0, p995=lag_ms,
                  p999=lag_ms, max=lag_ms)
    h = ClientHealth(1, 10.0, Summary(), lag, 50.0, 40.0)
    return h.to_json()


def test_client_lag_gives_client_saturated(catalog: Catalog, plan: Plan) -> None:
    # 300 ms of lag is more than 2% of 5000 ms: a p99 of 4900 ms is not trusted
    near = [samples("PERF-001", "ttft_ms", [4900.0] * 299, phase="sustained")]
    busy = verdict(catalog, plan, "PERF-001", near, health={"sustained": _health(300.0)})
    assert (busy.outcome, busy.reason) == ("inconclusive", "client_saturated")
    # ... but 100 ms passes every level even with the largest lag added (100 + 300 ms)
    fast = [samples("PERF-001", "ttft_ms", [100.0] * 299, phase="sustained")]
    v = verdict(catalog, plan, "PERF-001", fast, health={"sustained": _health(300.0)})
    assert (v.outcome, v.level) == ("pass", "L3")
    assert "largest client lag" in (v.levels["L1"].detail or "")
    # 30 ms lag is fine at L1 and L2 (2% of 2000 ms = 40 ms) but not at L3 (20 ms), where
    # a p99 of 990 ms + 30 ms no longer holds
    mixed = [samples("PERF-001", "ttft_ms", [100.0] * 200 + [990.0] * 99, phase="sustained")]
    calm = verdict(catalog, plan, "PERF-001", mixed, health={"sustained": _health(30.0)})
    assert (calm.outcome, calm.level) == ("pass", "L2")
    assert calm.levels["L3"].reason == "client_saturated"


def test_a_fail_lag_cannot_explain_stays_a_fail(catalog: Catalog, plan: Plan) -> None:
    h = {"sustained": _health(300.0)}  # saturated for every PERF-001 level (2% of 5000 ms)
    # p99 of 9000 ms: even minus the largest lag (300 ms) it is beyond the L1 limit
    far = [samples("PERF-001", "ttft_ms", [9000.0] * 299, phase="sustained")]
    v = verdict(catalog, plan, "PERF-001", far, health=h)
    assert (v.outcome, v.reason) == ("fail", "threshold_not_met")
    # 5200 ms fails the point estimate, but 300 ms of client lag could have made it
    near = [samples("PERF-001", "ttft_ms", [5200.0] * 299, phase="sustained")]
    v = verdict(catalog, plan, "PERF-001", near, health=h)
    assert (v.outcome, v.reason) == ("inconclusive", "client_saturated")
    # no lag figures at all: nothing bounds the client's error
    blind = {"sustained": ClientHealth(1, 10.0, Summary(), Summary(), 50.0, 40.0).to_json()}
    v = verdict(catalog, plan, "PERF-001", far, health=blind)
    assert (v.outcome, v.reason) == ("inconclusive", "client_saturated")


def test_a_lag_sensitive_ratio_fails_only_beyond_its_lag_slack(catalog: Catalog,
                                                               plan: Plan) -> None:
    # STAB-005: a window ratio whose latency scale is 400 ms at L1 (3 x an overall p50 of
    # 133 ms); 30 ms of lag moves the ratio by at most 3 x 30 / 400 = 0.225
    h = {"sustained": _health(30.0)}
    def ratio(x: float) -> Measurement:
        return Measurement("STAB-005", "window_ratio", value=x, n=96, duration_s=130.0,
                           phase="sustained",
                           lag_sensitive_ms={"L1": 400.0, "L2": 266.7, "L3": 200.0})
    assert verdict(catalog, plan, "STAB-005", [ratio(15.0)], health=h).outcome == "fail"
    v = verdict(catalog, plan, "STAB-005", [ratio(3.1)], health=h)
    assert (v.outcome, v.reason) == ("inconclusive", "client_saturated")


def test_tpot_lag_is_scaled_by_the_tokens_of_a_stream(catalog: Catalog, plan: Plan) -> None:
    h = {"sustained": _health(30.0)}
    raw = [samples("PERF-002", "tpot_ms", [15.0] * 299, phase="sustained")]
    v = verdict(catalog, plan, "PERF-002", raw, health=h)
    assert (v.level, v.levels["L3"].reason) == ("L2", "client_saturated")
    scaled = [samples("PERF-002", "tpot_ms", [15.0] * 299, phase="sustained",
                      lag_scale=1 / 999)]
    assert verdict(catalog, plan, "PERF-002", scaled, health=h).level == "L3"


def test_not_applicable_and_manual(catalog: Catalog, plan: Plan) -> None:
    v = verdict(catalog, plan, "SEC-007", [])
    assert (v.outcome, v.reason) == ("not_applicable", "feature_absent")
    assert "prompt_caching" in (v.detail or "")
    assert verdict(catalog, plan, "DATA-001", []).outcome == "manual"


def test_summary_level_is_lowest_must(catalog: Catalog, plan: Plan) -> None:
    base = dict(category="PERF", method="automated", title="t", levels={})
    vs = [Verdict(id="A-001", obligation="MUST", outcome="pass", level="L3", **base),
          Verdict(id="A-002", obligation="MUST", outcome="pass", level="L1", **base),
          Verdict(id="A-003", obligation="SHOULD", outcome="fail", level=None, **base)]
    s = summarise(vs)
    assert (s.level, s.certified, s.reason) == ("L1", True, None)
    failed = summarise([*vs, dataclasses.replace(vs[0], id="A-004", outcome="fail",
                                                 level=None)])
    assert (failed.level, failed.certified) == (None, False)
    assert failed.reason == "must_failed: A-004"
    unsure = summarise([*vs, dataclasses.replace(vs[0], id="A-005", outcome="inconclusive",
                                                 level=None)])
    assert unsure.reason == "must_inconclusive: A-005"
    assert summarise(vs, partial=True).certified is False
    assert summarise(vs).per_category["PERF"]["counts"]["fail"] == 1


def test_mean_is_summarised_as_the_mean_with_its_bounds(catalog: Catalog, plan: Plan) -> None:
    # METER-002: a 1-token over-count on a few short prompts; the figure shown must be the
    # mean that was judged, not the largest sample
    vals = [0.05] * 5 + [0.0] * 35
    v = verdict(catalog, plan, "METER-002", [samples("METER-002", "billing_bias", vals)])
    m = next(x for x in v.measurements if x.stat == "mean")
    assert m.value == pytest.approx(0.00625) and m.n == 40
    assert m.lower is not None and m.upper is not None and m.lower < 0.00625 < m.upper
    # the point is over 0.005, its t lower bound is not: not proven
    assert (v.outcome, v.reason) == ("inconclusive", "insufficient_samples")
    worse = [0.05] * 20 + [0.0] * 20  # mean 0.025, lower bound 0.016 > 0.005
    v = verdict(catalog, plan, "METER-002", [samples("METER-002", "billing_bias", worse)])
    assert v.outcome == "fail"
