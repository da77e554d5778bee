"""The mutation matrix: every reference defect must make its own requirement fail.

One *row* is a defect of ``conformance/reference/defects.py`` (REGISTRY names the requirement
it breaks). A row starts the real reference service over TLS with that defect on, runs the
real ``tokencert run --only <requirement> --profile mutation`` in a child process and reads
the verdict from results.json. The *clean* row runs the same profile with no defect and
must never fail an automated requirement.

Everything a row needs beyond the defect's own default is data in :data:`OVERRIDES` (a
defect parameter, a sim config, a profile, a billing export). :data:`CI_GROUPS` lists the
defects that share one service start and one run in CI; a group is sound only while no
member's defect makes another member's requirement fail, which the full matrix
(``python benchmarks/mutation/matrix.py``, one service per defect, the broader requirement
set) checks and reports as "group collateral".

Imported by tests/mutation/test_mutation_matrix.py and benchmarks/mutation/matrix.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from power import RateRow, power_of

from conformance.reference import ReferenceService
from conformance.reference.defects import ALL_DEFECTS, BY_NAME, DIALECT_DEFECTS, REGISTRY
from conformance.spec import load_catalog, load_edition

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "tests" / "fixtures" / "profiles" / "mutation.yaml"
# a fast engine: sustained waves of W-short (300 tokens) take ~2.5 s at 8 ms/token
BASE_SIM: Mapping[str, Any] = {"tpot_ms": 8.0, "base_ttft_ms": 30.0}
# what a clean service may come out as: a bound the short profile cannot show, a client
# too busy to trust a latency figure, a feature the declaration does not have
# ... or a rate probe the client on a busy machine could not drive past the declared limits
CLEAN_OK_REASONS = ("insufficient_samples", "insufficient_duration", "client_saturated",
                    "rate_not_reached")
# (what ran, verdicts, seconds) of each run in this process: tests/mutation/conftest.py prints
TIMINGS: list[tuple[str, str, float]] = []


@dataclass(frozen=True)
class Override:
    """What a defect's row needs beyond the defect's default (data, not code)."""

    param: float | None = None  # the defect's parameter (``--defect NAME=PARAM``)
    sim: Mapping[str, Any] = field(default_factory=dict)  # merged over BASE_SIM
    gateway: Mapping[str, Any] = field(default_factory=dict)
    phases: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # over the profile's
    request_timeout_s: float | None = None
    billing_export: bool = False
    known_gap: str | None = None  # the requirement cannot fail today, and why (xfail strict)
    ci: bool = True  # False: too long for CI (a known gap only); the full matrix runs it
    note: str = ""
    dialect: str = "openai-chat"  # the wire dialect the service declares (issue 17)
    edition: str | None = None  # the catalog edition the row runs on (None: the default)


# a fail needs the p99's lower bound beyond the limit: of 72 TTFT samples, X(70), so at
# least 3 slow ones — 72 requests hold 7 of "1 in 10" (a random 1 in 10: power 0.979)
SPIKES_72 = {"sustained": {"requests": 72}}
ONE_WAVE = {"sustained": {"requests": 8}}  # one request per stream at the declared concurrency
SEC005_GATEWAY = {"tpm": 400_000}
EDITION_2026_2 = "hqts-2026.2"
# the requirements hqts-2026.2 adds (its clean control runs just these)
NEW_IN_2026_2 = ("API-011", "API-012", "METER-009")
OVERRIDES: Mapping[str, Override] = {
    # TPOT over the 200 ms L1 limit needs >= 60 s for a 300-token answer: one wave only
    "slow_tokens": Override(param=27, sim={"tpot_growth": 0.0}, phases=ONE_WAVE,
                            request_timeout_s=120, note=(
                                "one wave of 8 streams, no batch slow-down, 27 x 8 ms: TPOT "
                                "216 ms (limit 200) x 300 tokens = 65 s")),
    "midstream_stall": Override(phases=ONE_WAVE, note="one wave (every stream stalls)"),
    # one request in 3 decodes at 300 ms/token (90 s): a 6 s request timeout ends it (a
    # fast one takes ~2.5 s), and a request that never completed is not good (PERF-004
    # counts it against goodput); the fail needs goodput's Clopper-Pearson upper bound
    # under 0.90: 8 slow of 40 (RATE_ROWS)
    "slow_minority": Override(param=3, phases={"sustained": {"requests": 40}},
                              request_timeout_s=6, note=(
        "40 sustained requests (5 waves), one in 3 slow; its slow requests end at a 6 s "
        "request timeout, which is why STAB-001/STAB-002 fail with it")),
    # PERF-005 judges throughput only over >= 30 s of sustained load (min_evidence)
    "overclaimed_capacity": Override(phases={"sustained": {"duration_s": 34}},
                                     note="34 s sustained phase (PERF-005 needs 30 s)"),
    # the fail needs completeness's Clopper-Pearson upper bound under 0.995: 2 cut of 60,
    # 3 of 80+ (RATE_ROWS); one in 50 would need ~400 streams for the same power
    "truncated_streams": Override(param=10, phases={"sustained": {"duration_s": 34}},
                                  note="34 s sustained phase (60+ streams), one in 10 cut"),
    # the fail needs the success rate's Clopper-Pearson upper bound under 0.99: 3 failures
    # of 48 (1 in 50 would need ~1,000 requests for the same power: RATE_ROWS)
    "random_5xx": Override(param=6, phases={"sustained": {"requests": 48}},
                           note="48 sustained requests, one in 6 fails"),
    "ttft_spikes": Override(param=10, phases=SPIKES_72,
                            note="72 sustained requests, one in 10 waits 5.5 s (p99 lower "
                                 "bound X(70) of 72 is a slow one with 3 or more)"),
    # quantile_ratio's bound at 97.5% a side needs 6 requests alone (and 6 loaded)
    "poor_scaling": Override(phases={**ONE_WAVE, "scaling": {"requests": 6}}),
    # W-long TTFT = (10000 - 4096) x 4 ms = 23.6 s > 20 s; the answer must complete to count
    "slow_long_prefill": Override(
        sim={"tpot_ms": 2.0}, phases={"long_context": {"requests": 1}}, request_timeout_s=90,
        note="one W-long request, 90 s request timeout (PERF-007 counts completed requests "
             "only), 2 ms/token so its 1500-token answer is short"),
    # "not back within 60 s" (the L1 limit) can only be seen by watching for more than 60 s
    "slow_recovery": Override(phases={"recovery": {"observe_s": 57}},
                              note="57 s observation + one 5 s window after the burst (L1: 60 s)"),
    # STAB-005 judges only >= 120 s of full 60 s windows (min_evidence); the service's
    # second minute of uptime is degraded, which the phase's second window covers
    # the fail needs the ratio's lower bound (the degraded window's p50 lower bound over the
    # overall p50's upper bound, at 1 - 0.05/3 each) beyond 3.0: >= 6 requests in the window
    "latency_episode": Override(
        phases={"sustained": {"duration_s": 125, "window_s": 60}},
        note="125 s sustained phase, 60 s windows (every request sent in the degraded "
             "minute is 2 s slower: deterministic, power 1)"),
    # the service dies 3 s after start; a 600 s sustained phase (L1) is planned, and the
    # service's own errors trip the phase's error-rate stop within seconds
    "dies_after": Override(param=3, phases={"sustained": {"duration_s": 600}},
                           note="600 s sustained phase planned; cut short by 503s at once"),
    # SEC-005 offers one key more than its limits allow in a minute (2 x 1.2 x tpm): at the
    # default 2M tpm that is ~400 prompts of 12,000 tokens; a declared 400k keeps it at ~80
    # (the groupmates' probes stay far below 400k tokens a minute)
    "no_rate_limit": Override(gateway=SEC005_GATEWAY, note="tpm 400k (a shorter SEC-005 probe)"),
    "loose_rate_limit": Override(gateway=SEC005_GATEWAY, note="tpm 400k; the limiter holds 10x"),
    "no_retry_after_rate_limit": Override(gateway=SEC005_GATEWAY, note="tpm 400k"),
    "double_billing": Override(billing_export=True),
    "bills_5xx": Override(billing_export=True),
    # dialect mappings (issue 17): defects of one dialect's endpoint, judged against a
    # service declaring that dialect (the probes: conformance/run/dialect_probes.py)
    **{d.name: Override(dialect="anthropic-messages" if d.name.startswith("anthropic_")
                        else "openai-responses") for d in DIALECT_DEFECTS},
    # hqts-2026.2 (issue 17): tool calls, structured output, tool definitions metered
    "malformed_tool_args": Override(edition=EDITION_2026_2,
                                    note="hqts-2026.2; every tool call's arguments cut"),
    "broken_tool_deltas": Override(edition=EDITION_2026_2,
                                   note="hqts-2026.2; every streamed call loses a fragment"),
    "ignores_response_format": Override(edition=EDITION_2026_2, note="hqts-2026.2"),
    "tools_unbilled": Override(edition=EDITION_2026_2, note="hqts-2026.2"),
}


# Rows whose defect acts at a rate (one request in k): the trials the row's profile gives
# its requirement and the power with which it detects the defect (power.py; the matrix
# asserts >= 95% in tests/mutation/test_power.py). Every other row's defect acts on every
# request (or every request of a span): power 1 once the evidence exists.
RATE_ROWS: Mapping[str, RateRow] = {
    "random_5xx": RateRow("rate", 48, 6, 0.99, "sustained requests"),
    "slow_minority": RateRow("rate", 40, 3, 0.90, "sustained requests"),
    # a 34 s phase holds 60 streams at the least (the fewest seen: about 100)
    "truncated_streams": RateRow("rate", 60, 10, 0.995, "streams of a 34 s sustained phase"),
    "ttft_spikes": RateRow("percentile", 72, 10, 0.99, "TTFT samples (sustained requests)"),
}


# rate defects judged by an `all` condition over every response of the run (one fails it)
ANY_ONE_ROWS: Mapping[str, int] = {"no_usage": 10, "bills_5xx": 20}


@dataclass(frozen=True)
class Row:
    defect: str
    requirement: str
    override: Override

    @property
    def spec(self) -> str:
        """The ``--defect`` option value."""
        p = self.override.param
        return self.defect if p is None else f"{self.defect}={p:g}"


def rows() -> list[Row]:
    return [Row(d.name, d.requirement, OVERRIDES.get(d.name, Override())) for d in ALL_DEFECTS]


ROWS: dict[str, Row] = {r.defect: r for r in rows()}

# Defects that share one service start and one run in CI. A member's defect must not touch
# another member's requirement (the full matrix's "group collateral" check): here each member
# acts on a different request type, endpoint or phase. A defect not listed runs alone.
GROUPED: tuple[tuple[str, ...], ...] = (
    # protocol probes / the rate-limit probe / tenant B's cache probe / unauthenticated probes
    ("malformed_response", "models_list_incomplete", "no_stream_usage", "no_rate_limit"),
    ("missing_done", "ignore_max_tokens", "server_error_on_bad_json", "shared_prompt_cache",
     "loose_rate_limit"),
    ("ignore_stop", "silent_truncation", "no_request_id", "wrong_model_field", "no_auth",
     "echo_api_key", "no_retry_after_rate_limit"),
    ("overclaimed_capacity", "truncated_streams"),  # a claim / 1 in 50 streams cut
    ("slow_tokens", "incomplete_price_list"),  # every token slow / the declaration's prices
    # a usage figure of successful answers / error answers, bad input, transport, overload
    ("cjk_overcount", "completion_inflated", "stack_traces"),
    ("cjk_off_by_one", "crash_on_bad_input", "padded_logprobs"),  # prompt / completion
    ("hidden_system_prompt", "crash_on_nul_byte"),
    ("hidden_token", "plain_http"),
    ("stream_usage_differs", "5xx_under_load"),
    ("inconsistent_usage", "no_retry_after"),
    # length-cut answers' counts / probe-like (max_tokens 1) requests refused
    ("inflated_length_cut", "refused_audit_probes"),
    # hqts-2026.2 (issue 17): a call's arguments / a JSON-schema answer / a prompt count;
    # broken_tool_deltas runs alone (it fails API-011 too, so it would hide a miss)
    ("malformed_tool_args", "ignores_response_format", "tools_unbilled"),
)
# Requirements a defect must never let *pass* (beside failing its own): a probe that
# provoked nothing proves nothing. With no rate limit at all, STAB-003's burst draws no
# refusal: it must come out inconclusive, not pass (its group's run adds the requirement).
NEVER_PASS: Mapping[str, tuple[str, ...]] = {"no_rate_limit": ("STAB-003",)}
# dialect mappings (issue 17): one service per group, declaring the group's dialect. Sound
# as the chat groups are: an echoed key would also fail SEC-003's scan (a secret-looking
# token), an open endpoint would never refuse the key SEC-006 wants quoted, so those sit
# in different groups.
DIALECT_GROUPS: tuple[tuple[str, ...], ...] = (
    ("anthropic_error_shape", "anthropic_no_message_start", "anthropic_bearer_bypass",
     "anthropic_echo_key"),
    ("anthropic_no_delta_usage", "anthropic_stack_traces", "anthropic_crash_on_bad_input"),
    ("responses_error_shape", "responses_no_created", "responses_no_auth"),
    ("responses_no_usage", "responses_echo_key", "responses_crash_on_bad_input"),
)
CI_GROUPS: tuple[tuple[str, ...], ...] = GROUPED + tuple(
    (d.name,) for d in REGISTRY if all(d.name not in g for g in GROUPED)) + DIALECT_GROUPS
# what the clean control of each dialect runs (the requirements its defects target)
DIALECT_ONLY: tuple[str, ...] = ("API-002", "API-003", "API-006", "SEC-001", "SEC-003",
                                 "SEC-004", "SEC-006")


def automated_requirements() -> list[str]:
    return [r.id for r in load_catalog() if r.automated]


def must_requirements() -> set[str]:
    return {r.id for r in load_catalog() if r.automated and r.obligation == "MUST"}


@dataclass
class RunResult:
    defects: tuple[str, ...]
    only: str | None
    rc: int
    seconds: float
    verdicts: dict[str, dict[str, Any]]
    output: str

    def outcome(self, rid: str) -> str:
        v = self.verdicts.get(rid)
        return "missing" if v is None else str(v["outcome"])

    def reason(self, rid: str) -> str | None:
        v = self.verdicts.get(rid)
        return None if v is None else v.get("reason")

    def shown(self, rid: str) -> str:
        o, why = self.outcome(rid), self.reason(rid)
        return o if o in ("pass", "fail") or not why else f"{o}: {why}"

    def failed(self, among: Iterable[str]) -> list[str]:
        return [r for r in among if self.outcome(r) == "fail"]


def write_profile(settings: Override, where: Path) -> Path:
    """The mutation profile with the row's phase settings merged in (``id: mutation``)."""
    if not settings.phases and settings.request_timeout_s is None:
        return PROFILE
    import yaml

    doc = yaml.safe_load(PROFILE.read_text(encoding="utf-8"))
    for name, over in settings.phases.items():
        phase = dict(doc["phases"][name]) | dict(over)
        if "duration_s" in over:
            phase.pop("requests", None)
        if "requests" in over:
            phase.pop("duration_s", None)
        doc["phases"][name] = phase
    if settings.request_timeout_s is not None:
        doc["request_timeout_s"] = settings.request_timeout_s
    path = where / "mutation.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _merge(what: str, items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        for k, v in item.items():
            if k in out and out[k] != v:
                raise ValueError(f"{what}: {k} is {out[k]!r} and {v!r}")
            out[k] = v
    return out


def group_settings(members: Sequence[Row]) -> Override:
    """The one service and profile a group of rows shares: the members' settings merged
    (a setting two members give different values is an error)."""
    os_ = [m.override for m in members]
    what = "group " + "+".join(m.defect for m in members)
    names = {n for o in os_ for n in o.phases}
    phases = {n: _merge(f"{what} phase {n}", [o.phases[n] for o in os_ if n in o.phases])
              for n in sorted(names)}
    timeouts = {o.request_timeout_s for o in os_ if o.request_timeout_s is not None}
    if len(timeouts) > 1:
        raise ValueError(f"{what}: request timeouts {sorted(timeouts)}")
    dialects = {o.dialect for o in os_}
    if len(dialects) > 1:
        raise ValueError(f"{what}: dialects {sorted(dialects)}")
    editions = {o.edition for o in os_}
    if len(editions) > 1:
        raise ValueError(f"{what}: editions {sorted(map(str, editions))}")
    return Override(sim=_merge(f"{what} sim", [o.sim for o in os_]),
                    gateway=_merge(f"{what} gateway", [o.gateway for o in os_]),
                    phases=phases, request_timeout_s=next(iter(timeouts), None),
                    billing_export=any(o.billing_export for o in os_),
                    dialect=next(iter(dialects), "openai-chat"),
                    edition=next(iter(editions)))


def run_matrix_case(defect_specs: Sequence[str], only: Sequence[str] | None,
                    settings: Override, out: Path | None = None,
                    timeout_s: float = 420.0, seed: int | None = None) -> RunResult:
    """Start the reference service (TLS) with these defects, run `tokencert run`, read back.

    ``seed``: the service's ``--seed`` (where its one-in-k defects fall); default
    ``$TOKENCERT_MUTATION_SEED``, else 0."""
    t0 = time.monotonic()
    own = out is None
    out_dir = Path(tempfile.mkdtemp(prefix="tokencert-mut-")) / "run" if out is None else out
    sim = {**BASE_SIM, **settings.sim}
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    profile = write_profile(settings, out_dir.parent)
    if seed is None:
        seed = int(os.environ.get("TOKENCERT_MUTATION_SEED", "0"))
    with ReferenceService.start(tls=True, defects=list(defect_specs), sim_config=sim, seed=seed,
                                gateway_config=dict(settings.gateway) or None,
                                billing_export=settings.billing_export,
                                dialect=settings.dialect) as svc:
        cmd = [sys.executable, "-m", "conformance", "run", "--candidate",
               str(svc.declaration_path), "--profile", str(profile),
               "--out", str(out_dir)]
        if only:
            cmd += ["--only", ",".join(only)]
        if settings.edition:
            cmd += ["--edition", settings.edition]
        p = subprocess.run(cmd, env={**os.environ, **svc.env, "COLUMNS": "200"},
                           capture_output=True, text=True, timeout=timeout_s, check=False)
    results = out_dir / "results.json"
    verdicts: dict[str, dict[str, Any]] = {}
    if results.is_file():
        doc = json.loads(results.read_text(encoding="utf-8"))
        verdicts = {r["id"]: r for r in doc["requirements"]}
    res = RunResult(tuple(defect_specs), ",".join(only) if only else None, p.returncode,
                    time.monotonic() - t0, verdicts, p.stdout[-4000:] + p.stderr[-4000:])
    if own:
        import shutil

        shutil.rmtree(out_dir.parent, ignore_errors=True)
    return res


def run_group(defects: Sequence[str], retries: int = 1) -> RunResult:
    """One service with every defect of the group on, one run of the group's requirements.

    A requirement that comes out ``client_saturated`` was not measured (the client, not the
    service, was too slow to trust): the group runs again, at most ``retries`` times."""
    members = [ROWS[d] for d in defects]
    only = list(dict.fromkeys([*(r.requirement for r in members),
                               *(x for r in members for x in NEVER_PASS.get(r.defect, ()))]))
    total = 0.0
    while True:
        res = run_matrix_case([r.spec for r in members], only, group_settings(members))
        total += res.seconds
        if retries <= 0 or all(res.reason(r) != "client_saturated" for r in only):
            res.seconds = total
            return res
        retries -= 1


_GROUP_RUNS: dict[tuple[str, ...], RunResult] = {}


def group_run(group: tuple[str, ...]) -> RunResult:
    """:func:`run_group` once per group and test session (the group's member tests share
    the run), its time and verdicts listed in ``TIMINGS``."""
    if group not in _GROUP_RUNS:
        res = run_group(group)
        _GROUP_RUNS[group] = res
        shown = ", ".join(f"{ROWS[d].requirement}={res.shown(ROWS[d].requirement)}"
                          for d in group)
        TIMINGS.append(("+".join(group), shown, res.seconds))
    return _GROUP_RUNS[group]


def run_clean(settings: Override | None = None, only: Sequence[str] | None = None
              ) -> RunResult:
    """The clean control: every requirement (or ``only`` these), one service (with a
    billing export)."""
    s = settings or Override(billing_export=True)
    return run_matrix_case([], only, s)


def run_clean_2026_2() -> RunResult:
    """The clean control of hqts-2026.2's new requirements (the rest is hqts-2026.1's)."""
    return run_matrix_case([], NEW_IN_2026_2, Override(edition=EDITION_2026_2))


# ---------------------------------------------------------------- the full matrix (script)

@dataclass
class MatrixLine:
    row: Row
    result: RunResult

    @property
    def verdict(self) -> str:
        return self.result.shown(self.row.requirement)

    @property
    def collateral(self) -> list[str]:
        """Other MUST requirements that failed with this defect on."""
        others = sorted(must_requirements() - {self.row.requirement})
        return self.result.failed(others)

    @property
    def status(self) -> str:
        if self.result.reason(self.row.requirement) == "no_test":
            return "no suite yet"
        if self.result.outcome(self.row.requirement) == "fail":
            return "ok"
        return "KNOWN GAP" if self.row.override.known_gap else "MISSED"


def collateral_set(row: Row, scope: str = "must") -> list[str]:
    """What the script runs for a defect: its requirement and, for ``scope`` ``must``, every
    automated MUST requirement; for ``near``, the MUST requirements of its category and the
    requirements of its CI groupmates (what the group's soundness depends on)."""
    cat = {r.id: r.category for r in load_edition(row.override.edition)}
    if scope == "must":
        others = must_requirements()
    else:
        group = next((g for g in CI_GROUPS if row.defect in g), ())
        others = {r for r in must_requirements() if cat[r] == cat[row.requirement]}
        others |= {ROWS[d].requirement for d in group}
    return sorted(others | {row.requirement}, key=list(cat).index)


def run_full_row(row: Row, scope: str = "must") -> MatrixLine:
    return MatrixLine(row, run_matrix_case([row.spec], collateral_set(row, scope),
                                           row.override))


def unsound_groups(lines: Sequence[MatrixLine]) -> list[str]:
    """CI groups in which one member's defect fails another member's requirement."""
    by = {ln.row.defect: ln for ln in lines}
    bad = []
    for g in CI_GROUPS:
        for d in g:
            if d not in by:
                continue
            hits = [ROWS[o].requirement for o in g
                    if o != d and ROWS[o].requirement in by[d].collateral]
            if hits:
                bad.append(f"{'+'.join(g)}: {d} also fails {', '.join(hits)}")
    return bad


def render_markdown(lines: Sequence[MatrixLine], clean: RunResult | None,
                    header: Mapping[str, str]) -> str:
    out = ["# Mutation matrix", "",
           "Each defect of the reference service (`tokencert reference defects`) switched on "
           "alone, over TLS; `tokencert run --profile mutation` (with the row's overrides) "
           "with `--only` its requirement and the collateral set (*collateral scope* below: "
           "`must` = every automated MUST requirement; `near` = the MUST requirements of its "
           "category and the requirements of its CI groupmates); the verdict of its "
           "requirement, and any *other* MUST requirement that failed (collateral). "
           "Produced by `python benchmarks/mutation/matrix.py --write docs/mutation-matrix.md`; "
           "CI runs the same rows, grouped, in `tests/mutation/` (no collateral).", ""]
    out += [f"- {k}: {v}" for k, v in header.items()]
    out += ["", "| defect | requirement | expected | verdict | status | collateral (other MUST "
            "fails) | s | power |", "|---|---|---|---|---|---|---|---|"]
    for ln in lines:
        out.append(f"| `{ln.row.spec}` | {ln.row.requirement} | fail | {ln.verdict} | "
                   f"{ln.status} | {', '.join(ln.collateral) or '—'} | "
                   f"{ln.result.seconds:.0f} | "
                   f"{power_of(ln.row.defect, RATE_ROWS, ANY_ONE_ROWS)} |")
    gaps = [ln for ln in lines if ln.row.override.known_gap]
    notes = [ln for ln in lines if ln.row.override.note]
    if gaps or notes:
        out += ["", "Row notes:", ""]
        out += [f"- `{ln.row.defect}` (known gap): {ln.row.override.known_gap}" for ln in gaps]
        out += [f"- `{ln.row.defect}`: {ln.row.override.note}" for ln in notes]
    bad = unsound_groups(lines)
    out += ["", "CI groups (`CI_GROUPS`, one service and one run each): "
            + ("every group is sound (no member fails another member's requirement)." if not bad
               else "UNSOUND — " + "; ".join(bad))]
    if clean is not None:
        out += ["", f"## Clean control (no defect, every requirement, {clean.seconds:.0f} s)", "",
                "| requirement | obligation | verdict |", "|---|---|---|"]
        ob = {r.id: r.obligation for r in load_catalog()}
        for rid in automated_requirements():
            out.append(f"| {rid} | {ob[rid]} | {clean.shown(rid)} |")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import platform
    from datetime import UTC, datetime

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--defects", help="comma-separated defect names (default: all)")
    ap.add_argument("--no-clean", action="store_true", help="skip the clean control")
    ap.add_argument("--write", type=Path, help="also write the markdown record here")
    ap.add_argument("--collateral", choices=("must", "near"), default="must",
                    help="must: every automated MUST requirement beside the defect's own "
                    "(default); near: the MUST ones of its category and its CI groupmates'")
    a = ap.parse_args(argv)
    names = a.defects.split(",") if a.defects else [d.name for d in ALL_DEFECTS]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        print(f"unknown defect(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    clean = None
    if not a.no_clean:
        clean = run_clean()
        bad = [r for r in automated_requirements() if clean.outcome(r) == "fail"]
        print(f"clean control: {clean.seconds:.0f} s, fails: {', '.join(bad) or 'none'}",
              flush=True)
    lines: list[MatrixLine] = []

    def record(final: bool) -> str:
        header = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                  "machine": f"{platform.node() or 'unknown'}, {platform.machine()}, "
                             f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
                  "total": f"{time.monotonic() - t0:.0f} s", "collateral scope": a.collateral}
        if not final:
            header["partial"] = f"{len(lines)} of {len(names)} rows so far"
        md = render_markdown(lines, clean, header)
        if a.write:
            a.write.write_text(md, encoding="utf-8")
        return md

    for n in names:
        ln = run_full_row(ROWS[n], a.collateral)
        lines.append(ln)
        print(f"{n:24} {ln.row.requirement:9} {ln.verdict:34} {ln.status:12} "
              f"collateral: {', '.join(ln.collateral) or '-':30} {ln.result.seconds:5.0f} s",
              flush=True)
        record(final=False)
    print(record(final=True))
    missed = [ln for ln in lines if ln.status == "MISSED"]
    clean_fails = clean is not None and any(clean.outcome(r) == "fail"
                                            for r in automated_requirements())
    return 1 if missed or clean_fails else 0


if __name__ == "__main__":
    raise SystemExit(main())
