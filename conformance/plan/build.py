"""(catalog, profile, declaration, --only) → Plan. Pure: no I/O, no clock, no randomness."""

from __future__ import annotations

import fnmatch
import hashlib
import math

from conformance._core.errors import InputError, Problem
from conformance.declaration.models import Declaration
from conformance.plan.dialects import not_applicable
from conformance.plan.model import PhasePlan, Plan, PlannedRequirement
from conformance.spec.models import Catalog, PhaseSettings, Profile

LIMIT_EXEMPT_PHASES = frozenset({"burst"})  # STAB-003's overload goes beyond the limits
STREAMS_PER_LOOP = 64  # beyond this, one event loop measures its own lag, not the service
MAX_PROCESSES = 8
# phases a requirement reads beyond its own: PERF-006 divides the sustained phase's TPOT by
# the scaling phase's (and, where the profile has one, sweeps the concurrency levels
# between them: conformance.plan.sweep); STAB-004 observes the recovery from STAB-003's burst
EXTRA_PHASES: dict[str, tuple[str, ...]] = {"PERF-006": ("sustained", "sweep"),
                                            "STAB-004": ("burst",)}


def parse_only(only: str | None) -> tuple[str, ...]:
    """``"PERF-*, API-001"`` → ``("PERF-*", "API-001")`` (glob patterns, case-insensitive)."""
    if not only:
        return ()
    return tuple(p.strip().upper() for p in only.split(",") if p.strip())


def select(catalog: Catalog, only: str | None) -> tuple[str, ...]:
    """Requirement ids matching ``only`` (all when empty); an unmatched pattern is an error."""
    patterns = parse_only(only)
    if not patterns:
        return catalog.ids
    unmatched = [p for p in patterns if not fnmatch.filter(catalog.ids, p)]
    if unmatched:
        raise InputError(
            f"--only {only!r} selects nothing for {', '.join(unmatched)}",
            [Problem(f"no requirement matches {p!r}",
                     hint="use catalog ids or globs, e.g. PERF-* or API-001,SEC-004; "
                     "`tokencert spec list` shows them") for p in unmatched],
        )
    return tuple(r for r in catalog.ids if any(fnmatch.fnmatchcase(r, p) for p in patterns))


def phase_seed(profile_seed: int, phase: str) -> int:
    """A fixed seed per phase, derived from the profile's seed and the phase name."""
    h = hashlib.sha256(f"tokencert-phase:{profile_seed}:{phase}".encode()).hexdigest()
    return int(h[:13], 16)  # < 2**53: exact in JSON and canonical digests


def request_timeout(profile: Profile, decl: Declaration) -> float:
    """The per-request deadline: the declaration's ``endpoint.timeout_s``, capped by the
    profile's ``request_timeout_s`` (a service may promise faster answers, never slower)."""
    return min(decl.endpoint.timeout_s, profile.request_timeout_s)


def workers_for(concurrency: int) -> int:
    """Worker processes for ``concurrency`` streams: none up to one loop's share."""
    if concurrency <= STREAMS_PER_LOOP:
        return 0
    return min(MAX_PROCESSES, -(-concurrency // STREAMS_PER_LOOP))


def burst_concurrency(catalog: Catalog, decl: Declaration, profile_streams: int) -> int:
    """Requests at one instant of STAB-003's burst: the profile's multiple of the declared
    concurrency, and at least the catalog's ``burst_multiple`` × the declared
    ``max_concurrency`` — a service may run that many and queue as many again, so one that
    honours its limit must refuse the rest (docs/metrics.md, "Probes that provoke")."""
    req = catalog.get("STAB-003") if "STAB-003" in catalog.ids else None
    if req is None or "burst_multiple" not in req.parameters:
        return profile_streams
    return max(profile_streams,
               math.ceil(req.param("burst_multiple") * decl.limits.max_concurrency))


def _phase(
    ps: PhaseSettings,
    profile: Profile,
    decl: Declaration,
    workload: tuple[str, int, int] | None,
    burst_floor: int | None = None,
) -> PhasePlan:
    declared = decl.performance.declared_concurrency
    limits = decl.limits
    exempt = ps.name in LIMIT_EXEMPT_PHASES
    bounded: list[str] = []
    conc = ps.resolve_concurrency(declared)
    requests = ps.requests
    if ps.strategy == "sequential":
        conc = 1
    elif ps.strategy == "burst" and burst_floor is not None and burst_floor > conc:
        conc = burst_floor  # sized from the declared limits: an honest service must refuse
        requests = max(requests or conc, conc)
    if not exempt and conc > limits.max_concurrency:
        conc = limits.max_concurrency
        bounded.append("max_concurrency")
    wid, tin, tout = workload if workload else (None, None, None)
    caps: list[tuple[float, str]] = [(limits.rpm / 60.0, "rpm")]
    if tin is not None and tout is not None:
        caps.append((limits.tpm / 60.0 / (tin + tout), "tpm"))
    cap, cap_name = min(caps)
    rate = ps.rate_rps
    if not exempt:
        if ps.strategy in ("constant", "poisson") and rate is not None and rate > cap:
            rate = cap
            bounded.append(cap_name)
        elif ps.strategy in ("concurrent", "sequential") and tout:
            # closed loop: the declared capacity predicts the request rate it would reach
            expected = decl.performance.output_tokens_per_s / tout * conc / max(1, declared)
            if expected > cap:
                rate = cap
                bounded.append(cap_name)
    return PhasePlan(
        name=ps.name,
        strategy=ps.strategy,
        seed=phase_seed(profile.seed, ps.name),
        concurrency=conc,
        rate_rps=rate,
        requests=requests,
        duration_s=ps.duration_s,
        warmup_requests=ps.warmup_requests,
        max_error_rate=ps.max_error_rate,
        window_s=ps.window_s,
        workload=wid,
        input_tokens=tin,
        output_tokens=tout,
        repeats=ps.repeats,
        observe_s=ps.observe_s,
        timeout_s=request_timeout(profile, decl),
        bounded_by=tuple(bounded),
        exempt_from_limits=exempt,
        processes=workers_for(conc),
    )


def build_plan(
    catalog: Catalog, profile: Profile, decl: Declaration, only: str | None = None
) -> Plan:
    """The plan for ``catalog`` × ``profile`` against ``decl``, restricted to ``only``."""
    features = decl.features()
    off = not_applicable(decl.endpoint.dialect)  # requirements without meaning in the dialect
    planned: list[PlannedRequirement] = []
    phase_workloads: dict[str, str | None] = {}
    for rid in select(catalog, only):
        req = catalog.get(rid)
        missing = tuple(f for f in req.applicability.requires if f not in features)
        reason = req.applicability.reason if missing else None
        if rid in off:
            missing, reason = (*missing, f"dialect {decl.endpoint.dialect}"), off[rid]
        applicable = not missing
        planned.append(PlannedRequirement(rid, applicable, reason, missing, req.phase))
        if (applicable and req.automated and req.phase
                and phase_workloads.get(req.phase) is None):
            phase_workloads[req.phase] = req.workload
        for extra in EXTRA_PHASES.get(rid, ()) if applicable and req.automated else ():
            if phase_workloads.get(extra) is None:
                phase_workloads[extra] = next(
                    (r.workload for r in catalog if r.phase == extra and r.workload), None)
    phases: dict[str, PhasePlan] = {}
    for name, wid in phase_workloads.items():
        ps = profile.phase(name)
        if ps is None:
            continue  # a grouping without load settings (billing, safety): nothing to plan
        wid = ps.workload or wid
        wl = None
        if wid is not None:
            w = catalog.workload(wid)
            wl = (w.id, w.input_tokens, w.output_tokens)
        floor = (burst_concurrency(catalog, decl, ps.resolve_concurrency(
            decl.performance.declared_concurrency)) if ps.strategy == "burst" else None)
        phases[name] = _phase(ps, profile, decl, wl, floor)
    return Plan(
        edition=catalog.edition,
        catalog_digest=catalog.digest,
        profile=profile.id,
        profile_digest=profile.digest,
        declaration_digest=decl.digest,
        only=only,
        requirements=tuple(planned),
        phases=phases,
    )
