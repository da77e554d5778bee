"""The ``record`` fixture's object: how a requirement's test writes what it observed.

    def test_ttft(record, sustained_phase):
        recs = sustained_phase.measured
        record.samples("ttft_ms", [r.ttft_ms() for r in recs if r.ok],
                       evidence=[r.request_id for r in recs if r.ok],
                       phase="sustained", duration_s=sustained_phase.outcome.duration_s)

Tests never compare with thresholds: they record, and the verdict stage judges.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from conformance._core.errors import InputError
from conformance.checks import Observation
from conformance.run.evidence import Flag, Measurement, Obs

if TYPE_CHECKING:
    from conformance.pytest_plugin.session import Session


class Recorder:
    """Writes measurements and flags for the requirement(s) of one test attempt."""

    def __init__(self, session: Session, nodeid: str, requirements: Sequence[str]) -> None:
        self._s = session
        self.nodeid = nodeid
        self.requirements = tuple(requirements)
        self._keys: dict[tuple[str, str], int] = {}

    def _req(self, requirement: str | None) -> str:
        if requirement is not None:
            if requirement not in self.requirements:
                raise InputError(f"{self.nodeid} records for {requirement}, which its "
                                 f"requirement marker does not name ({self.requirements})")
            return requirement
        if len(self.requirements) != 1:
            raise InputError(f"{self.nodeid} is marked with {self.requirements}: pass "
                             "requirement= to say which one a measurement is for")
        return self.requirements[0]

    def _key(self, rid: str, metric: str) -> str:
        k = self._keys.get((rid, metric), 0)
        self._keys[(rid, metric)] = k + 1
        return str(k)

    def _write(self, m: Measurement) -> Measurement:
        self._s.measure(m, self.nodeid)
        return m

    # -- shapes -----------------------------------------------------------------------------
    def samples(self, metric: str, values: Iterable[float | None], *,
                evidence: Sequence[str] = (), phase: str | None = None,
                duration_s: float | None = None, requirement: str | None = None,
                lag_scale: float = 1.0, sent_ns: Sequence[int | None] = (),
                detail: Mapping[str, Any] | None = None) -> Measurement:
        """Numbers for percentile conditions (``None`` values are dropped with their id).
        ``lag_scale``: the share of a client delay that reaches one sample (1 for TTFT,
        1/(tokens − 1) for TPOT). ``sent_ns``: when each sample's request was sent (its
        ``sent_ns``), so the verdict can set aside samples from saturated client windows."""
        vals = list(values)
        ev = list(evidence)
        sent = list(sent_ns)
        kept = [(i, float(v)) for i, v in enumerate(vals) if v is not None]
        keep = [i for i, _ in kept]
        rid = self._req(requirement)
        times = [sent[i] if i < len(sent) else None for i in keep]
        return self._write(Measurement(
            rid, metric, self._key(rid, metric),
            samples=tuple(v for _, v in kept),
            sample_evidence=tuple(ev[i] if i < len(ev) else "" for i in keep) if ev else (),
            sample_sent_ns=tuple(t for t in times if t is not None)
            if times and all(t is not None for t in times) else (),
            phase=phase,
            duration_s=duration_s, n=len(keep), lag_scale=lag_scale,
            detail=dict(detail or {})))

    def observations(self, metric: str,
                     items: Iterable[Obs | Observation | tuple[bool | None, str]], *,
                     phase: str | None = None, duration_s: float | None = None,
                     requirement: str | None = None,
                     lag_sensitive_ms: Mapping[str, float] | None = None,
                     detail: Mapping[str, Any] | None = None) -> Measurement:
        """Booleans for ``stat: all`` / ``stat: rate``: one per response or trial."""
        obs = tuple(_obs(x) for x in items)
        rid = self._req(requirement)
        return self._write(Measurement(
            rid, metric, self._key(rid, metric), observations=obs, phase=phase,
            duration_s=duration_s, n=len(obs), lag_sensitive_ms=dict(lag_sensitive_ms or {}),
            detail=dict(detail or {})))

    def check(self, metric: str, ok: bool | None, detail: str = "", *,
              evidence: Sequence[str] = (), reason: str | None = None,
              requirement: str | None = None) -> Measurement:
        """One boolean observation (e.g. one response checked against a schema)."""
        return self.observations(metric, [Obs(ok, detail, reason, tuple(evidence))],
                                 requirement=requirement)

    def observe(self, observation: Observation, *, requirement: str | None = None
                ) -> Measurement:
        """Record an observation returned by a :mod:`conformance.checks` function."""
        if observation.ok is None and observation.value is not None:
            return self.value(observation.metric, observation.value,
                              evidence=observation.evidence, requirement=requirement)
        return self.observations(observation.metric, [observation], requirement=requirement)

    def value(self, metric: str, value: float | bool | None, *, lower: float | None = None,
              upper: float | None = None, n: int | None = None,
              duration_s: float | None = None, phase: str | None = None,
              evidence: Sequence[str] = (), requirement: str | None = None,
              lag_sensitive_ms: Mapping[str, float] | None = None,
              detail: Mapping[str, Any] | None = None) -> Measurement:
        """One number for ``stat: value``, with a confidence bound when there is one.
        ``lag_sensitive_ms``: per level, the latency (ms) a client delay must stay within
        2% of for the value to be trusted (a ratio of latencies)."""
        rid = self._req(requirement)
        return self._write(Measurement(
            rid, metric, self._key(rid, metric), value=value, lower=lower, upper=upper, n=n,
            duration_s=duration_s, phase=phase, evidence=tuple(evidence),
            lag_sensitive_ms=dict(lag_sensitive_ms or {}), detail=dict(detail or {})))

    def flag(self, name: str, detail: str = "", *, evidence: Sequence[str] = (),
             requirement: str | None = None) -> Flag:
        """``client_saturated``, ``nondeterministic``, ... (the verdict becomes inconclusive)."""
        rid = self._req(requirement)
        f = Flag(rid, name, detail, tuple(evidence), self._key(rid, "flag:" + name))
        self._s.flag(f, self.nodeid)
        return f


def _obs(x: Obs | Observation | tuple[bool | None, str]) -> Obs:
    if isinstance(x, Obs):
        return x
    if isinstance(x, Observation):
        return Obs(x.ok, x.detail, x.reason, tuple(x.evidence), dict(x.data))
    ok, rid = x
    return Obs(ok, evidence=(rid,) if rid else ())
