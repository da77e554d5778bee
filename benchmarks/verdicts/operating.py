"""Operating characteristics of the decision rule, by Monte-Carlo simulation.

For every condition of the catalog (grouped by kind, statistic, limit and evidence size) a
service is simulated *exactly at the limit*, at the level's minimum evidence
(``min_evidence.samples``, or the condition's ``min_n``), and judged by the real verdict
code (``conformance.verdicts.conditions``):

* false-fail — the share of runs that **fail** a service exactly at the limit on its good
  side (the limit holds, with equality);
* false-pass — the share that **pass** it; a service beyond the limit on its bad side
  passes at most this often (it is the supremum as the excess shrinks to 0).

Both must be ≤ 5% (the catalog's one-sided 95%). Each figure is printed with its exact
one-sided 95% upper bound (Clopper–Pearson over the simulated runs).

The simulated services, per kind: percentiles — log-normal latencies whose q-quantile is
the limit; rates — Bernoulli trials at the limit's probability; means — normal samples
(σ = the limit, or 0.01 for a zero limit) whose mean is the limit, and for a positive
ceiling a *rare, large* over-biller exactly at it (a share 1 − 0.05^(1/n) of values at
limit ÷ share, the rest 0: the excess bound's case, exact by enumeration); max/min and ``all`` —
observations that break the limit with the defect share ``1 − 0.05^(1/n)`` (the smallest
share n observations can exclude at 95%; a service without defects never fails them);
values with a measured bound — PERF-005's capacity ratio (t-bounded mean of 1-s window
rates, CV 10%) and PERF-006's ratio of p50s (order-statistic bounds, Bonferroni).
Exact values (a count, a duration) have no sampling error: 0 / 0.

    python benchmarks/verdicts/operating.py [--runs 2000] [--seed 7] [--markdown]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import beta, binom

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from conformance.run.evidence.records import Measurement, Obs  # noqa: E402
from conformance.spec import Catalog, Condition, load_catalog  # noqa: E402
from conformance.stats import clopper_pearson, mean_bounds, quantile_ratio  # noqa: E402
from conformance.verdicts import conditions  # noqa: E402

CONF = 0.95


@dataclass(frozen=True)
class Row:
    kind: str
    condition: str
    where: str  # requirement:level pairs
    n: int
    runs: int
    fails: int  # simulated runs failing a service exactly at the limit (good side)
    passes: int  # simulated runs passing one exactly at it (bad side)
    exact_fail: float | None = None  # the same probabilities computed exactly, where known
    exact_pass: float | None = None

    @property
    def false_fail(self) -> float:
        return self.fails / self.runs

    @property
    def false_pass(self) -> float:
        return self.passes / self.runs

    def upper(self, k: int) -> float:
        """One-sided 95% upper bound of a simulated share (Clopper–Pearson)."""
        return 1.0 if k == self.runs else float(beta.ppf(CONF, k + 1, self.runs - k))

    def lower(self, k: int, confidence: float = CONF) -> float:
        return 0.0 if k == 0 else float(beta.ppf(1 - confidence, k, self.runs - k + 1))

    @property
    def ok(self) -> bool:
        """≤ 5%: the exact figure where it is known, and the simulation of the real verdict
        code consistent with it (its 99.9% lower bound not above 5%: over ~40 rows a 95%
        bound would flag two by chance); else the simulation's 95% upper bound."""
        tol = 0.05 + 1e-9
        if self.exact_fail is not None and self.exact_pass is not None:
            return (self.exact_fail <= tol and self.exact_pass <= tol
                    and self.lower(self.fails, 0.999) <= tol
                    and self.lower(self.passes, 0.999) <= tol)
        return self.upper(self.fails) <= tol and self.upper(self.passes) <= tol


def _groups(cat: Catalog) -> dict[tuple[str, str, str, float, int], list[str]]:
    """(kind, stat, op, limit, n) → ["REQ:Lk", ...] over the catalog's automated levels."""
    out: dict[tuple[str, str, str, float, int], list[str]] = {}
    for r in cat:
        if not r.automated:
            continue
        for lvl, conds in r.thresholds.items():
            need = r.min_evidence.get(lvl)
            for c in conds:
                n = c.min_n or (need.samples if need and need.samples else 1)
                lim = float(c.value) if not isinstance(c.value, bool) else 1.0
                key = (conditions.kind(c), c.stat, c.op, lim, n)
                if r.metric(c.metric).kind == "value" and c.stat == "value":
                    key = (f"value:{r.id}", c.stat, c.op, lim, n)
                out.setdefault(key, []).append(f"{r.id}:{lvl}")
    return out


def _tally(runs: int, decide: Callable[[], str]) -> tuple[int, int]:
    fails = passes = 0
    for _ in range(runs):
        o = decide()
        fails += o == "fail"
        passes += o == "pass"
    return fails, passes


def _percentile(c: Condition, n: int, runs: int, rng: np.random.Generator) -> tuple[int, int]:
    q = conditions.percentile_q(c.stat)
    assert q is not None
    from scipy.stats import norm

    zq = float(norm.ppf(q))
    lim = float(c.value)
    data = lim * np.exp(0.5 * (rng.standard_normal((runs, n)) - zq))  # q-quantile = lim
    it = iter(data)
    return _tally(runs, lambda: conditions.judge(
        c, [Measurement("X", c.metric, samples=tuple(next(it).tolist()))], CONF).outcome)


def _percentile_exact(c: Condition, n: int) -> tuple[float, float]:
    """The count of samples at or below the true quantile is Binomial(n, q): the upper
    bound X(ku) meets the limit iff that count ≥ ku, the lower bound X(kl) exceeds it iff
    the count < kl."""
    from conformance.stats import lower_rank, upper_rank

    q = conditions.percentile_q(c.stat)
    assert q is not None and c.op in ("<=", "<")
    ku, kl = upper_rank(n, q, CONF), lower_rank(n, q, CONF)
    p_pass = 0.0 if ku is None else float(binom.sf(ku - 1, n, q))
    p_fail = 0.0 if kl is None else float(binom.cdf(kl - 1, n, q))
    return p_fail, p_pass


def _rate(c: Condition, n: int, runs: int, rng: np.random.Generator
          ) -> tuple[int, int, float, float]:
    """Successes ~ Binomial(n, limit), decided by the verdict code (Clopper–Pearson); the
    exact figures weight the decision for every k by its probability."""
    p = float(c.value)
    pmf = binom.pmf(np.arange(n + 1), n, p)
    lo_k, hi_k = int(binom.ppf(1e-12, n, p)), int(binom.isf(1e-12, n, p)) + 1
    out: dict[int, str] = {}
    for k in range(max(0, lo_k), min(n, hi_k) + 1):
        hi = clopper_pearson(k, n, CONF, "upper").upper
        lo = clopper_pearson(k, n, CONF, "lower").lower
        out[k] = conditions.decide(c, k / n, hi, lo, n, "rate").outcome
    ex_f = float(sum(pmf[k] for k, o in out.items() if o == "fail"))
    ex_p = float(sum(pmf[k] for k, o in out.items() if o == "pass"))
    draws = rng.binomial(n, p, runs)
    f = int(sum(out.get(int(k), "inconclusive") == "fail" for k in draws))
    ps = int(sum(out.get(int(k), "inconclusive") == "pass" for k in draws))
    return f, ps, ex_f, ex_p


def _mean(c: Condition, n: int, runs: int, rng: np.random.Generator) -> tuple[int, int]:
    lim = float(c.value)
    sd = abs(lim) if lim else 0.01
    data = lim + sd * rng.standard_normal((runs, n))
    it = iter(data)
    return _tally(runs, lambda: conditions.judge(
        c, [Measurement("X", c.metric, samples=tuple(next(it).tolist()))], CONF).outcome)


def _every(c: Condition, n: int, runs: int, rng: np.random.Generator) -> tuple[int, int]:
    """max/min/all: the defect share n observations can just exclude at 95%."""
    p_bad = 1.0 - (1.0 - CONF) ** (1.0 / n)

    def tally(share: float) -> tuple[int, int]:
        it = iter(rng.random((runs, n)) < share)
        if c.stat == "all":
            return _tally(runs, lambda: conditions.judge(
                c, [Measurement("X", c.metric, observations=tuple(
                    Obs(not b) for b in next(it)))], CONF).outcome)
        lim = float(c.value)
        beyond = lim * 2 + 1 if c.stat == "max" else lim / 2 - 1
        return _tally(runs, lambda: conditions.judge(c, [Measurement(
            "X", c.metric, samples=tuple(beyond if b else lim for b in next(it)))],
            CONF).outcome)

    return tally(0.0)[0], tally(p_bad)[1]


def _capacity(c: Condition, n: int, runs: int, rng: np.random.Generator) -> tuple[int, int]:
    """PERF-005: n 1-s windows, mean rate exactly the limit (declared = 1), CV 10%; the
    suite's two-sided t interval of the window mean gives the bounds."""
    lim = float(c.value)
    data = lim * (1.0 + 0.1 * rng.standard_normal((runs, max(2, n))))
    it = iter(data)

    def one() -> str:
        w = next(it).tolist()
        mb = mean_bounds(w, CONF, "two")
        m = Measurement("X", c.metric, value=mb.mean, lower=mb.lower, upper=mb.upper, n=mb.n)
        return conditions.judge(c, [m], CONF).outcome

    return _tally(runs, one)


def _scaling(c: Condition, n: int, runs: int, rng: np.random.Generator) -> tuple[int, int]:
    """PERF-006: p50 at load ÷ p50 alone is exactly the limit; ``quantile_ratio`` bounds."""
    lim = float(c.value)
    num = lim * np.exp(0.3 * rng.standard_normal((runs, n)))
    den = np.exp(0.3 * rng.standard_normal((runs, n)))
    pairs = iter(zip(num, den, strict=True))

    def one() -> str:
        a, b = next(pairs)
        qr = quantile_ratio(a.tolist(), b.tolist(), 0.5, CONF)
        # as the suite records it: a ratio is >= 0 for certain
        m = Measurement("X", c.metric, value=qr.point,
                        lower=qr.lower if qr.lower is not None else 0.0, upper=qr.upper,
                        n=qr.n)
        return conditions.judge(c, [m], CONF).outcome

    return _tally(runs, one)


def rare_large_share(n: int) -> float:
    """The share of over-billed requests that ``n`` probes miss entirely 5% of the time:
    1 − 0.05^(1/n) (9.5% at n = 30). A rarer over-biller is undetectable at this size."""
    return 1.0 - (1.0 - CONF) ** (1.0 / n)


def _rare_large(c: Condition, n: int, runs: int, rng: np.random.Generator
                ) -> tuple[int, int, float, float]:
    """A service exactly at a mean's (positive) ceiling that over-bills rarely but by a lot:
    a share ``rare_large_share(n)`` of values at limit / share, the rest 0. The verdict
    depends only on how many were drawn (k ~ Binomial(n, share)): exact by enumeration."""
    lim = float(c.value)
    share = rare_large_share(n)
    big = lim / share
    out = {k: conditions.judge(c, [Measurement("X", c.metric, samples=tuple(
        [big] * k + [0.0] * (n - k)))], CONF).outcome for k in range(n + 1)}
    pmf = binom.pmf(np.arange(n + 1), n, share)
    ex_f = float(sum(pmf[k] for k, o in out.items() if o == "fail"))
    ex_p = float(sum(pmf[k] for k, o in out.items() if o == "pass"))
    draws = rng.binomial(n, share, runs)
    f = int(sum(out[int(k)] == "fail" for k in draws))
    ps = int(sum(out[int(k)] == "pass" for k in draws))
    return f, ps, ex_f, ex_p


def skewed_mean(runs: int, seed: int, n: int = 30, limit: float = 0.005) -> float:
    """Share of passes of ``mean <= limit`` for a service exactly at the limit whose values
    are 0 (90%) or 10 × the limit (10%): outside the t-bound's assumption."""
    rng = np.random.default_rng(seed)
    c = Condition("x", "mean", "<=", limit)
    data = np.where(rng.random((runs, n)) < 0.1, 10 * limit, 0.0)
    it = iter(data)
    return _tally(runs, lambda: conditions.judge(
        c, [Measurement("X", c.metric, samples=tuple(next(it).tolist()))], CONF).outcome)[1] / runs


def rows(runs: int = 2000, seed: int = 7, cat: Catalog | None = None) -> Iterator[Row]:
    cat = cat or load_catalog()
    rng = np.random.default_rng(seed)
    for (kind, stat, op, lim, n), where in sorted(_groups(cat).items()):
        value: float | bool = True if stat == "all" else lim
        c = Condition("x", stat, op, value)
        shown = f"{stat} {op} {lim:g}" if stat != "all" else "all == true"
        ex: tuple[float, float] | tuple[None, None] = (None, None)
        if kind == "percentile":
            f, p = _percentile(c, n, runs, rng)
            ex = _percentile_exact(c, n)
        elif kind == "rate":
            f, p, ef, ep = _rate(c, n, runs, rng)
            ex = (ef, ep)
        elif kind == "mean":  # Student-t is exact for normal samples
            f, p = _mean(c, n, runs, rng)
            # the t bound's exact figures; the excess bound only takes passes away
            ex = (1 - CONF, 1 - CONF)
            if op in ("<=", "<") and lim > 0:  # the excess bound's own case
                rf, rp, ef, ep = _rare_large(c, n, runs, rng)
                yield Row("mean (rare, large)", f"{shown} (bad side: {rare_large_share(n):.1%}"
                          f" of values at {1 / rare_large_share(n):.1f} x the limit)",
                          " ".join(where), n, runs, rf, rp, ef, ep)
        elif kind in ("extreme", "all"):
            f, p = _every(c, n, runs, rng)
            shown += f" (bad side: defect share {1 - (1 - CONF) ** (1 / n):.2%})"
            ex = (0.0, 1 - CONF)
        elif kind == "value:PERF-005":  # a two-sided t interval: 2.5% a side
            f, p = _capacity(c, n, runs, rng)
            ex = ((1 - CONF) / 2, (1 - CONF) / 2)
        elif kind == "value:PERF-006":
            f, p = _scaling(c, n, runs, rng)
        elif kind.startswith("value:"):
            # values recorded by checks that own their bound (STAB-004/005) or exact
            # figures (STAB-003 count, STAB-006 duration): not simulated here
            continue
        else:  # pragma: no cover - a new kind must be added above
            raise SystemExit(f"no simulation for condition kind {kind!r}")
        yield Row(kind, shown, " ".join(where), n, runs, f, p, *ex)


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _cell(exact: float | None, sim: float, lo: float, hi: float) -> str:
    e = "—" if exact is None else _pct(exact)
    return f"{e} / {_pct(sim)} [{_pct(lo)}, {_pct(hi)}]"


def render(rs: list[Row], markdown: bool) -> str:
    head = ("kind", "condition", "n", "false-fail: exact / simulated [90% interval]",
            "false-pass: exact / simulated [90% interval]", "≤ 5%", "where")
    lines = []
    if markdown:
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rs:
        cells = (r.kind, r.condition, str(r.n),
                 _cell(r.exact_fail, r.false_fail, r.lower(r.fails), r.upper(r.fails)),
                 _cell(r.exact_pass, r.false_pass, r.lower(r.passes), r.upper(r.passes)),
                 "yes" if r.ok else "**no**", r.where)
        lines.append("| " + " | ".join(cells) + " |" if markdown else "  ".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2000, help="simulated runs per condition")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--markdown", action="store_true", help="a table for docs/metrics.md")
    a = ap.parse_args(argv)
    t = time.perf_counter()
    rs = list(rows(a.runs, a.seed))
    print(render(rs, a.markdown))
    bad = [r for r in rs if not r.ok]
    print(f"\noutside the t-bound's assumption: mean <= 0.005 at n=30 for a service at the "
          f"limit with 90% of values 0 and 10% at 0.05 passes "
          f"{_pct(skewed_mean(a.runs, a.seed))} of runs (the t bound alone: ~19%; the "
          f"excess bound leaves the runs that drew no over-billed value: 0.9^30 = 4.2%)")
    print(f"\n{len(rs)} conditions, {a.runs} simulated runs each, "
          f"{time.perf_counter() - t:.1f} s; over 5%: {len(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
