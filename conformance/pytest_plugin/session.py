"""The state of one conformance session: inputs, plan, evidence, shared phases.

Built once in ``pytest_configure`` and kept in ``config.stash``. Nothing here imports
pytest: the plugin module adapts it to hooks and fixtures.
"""

from __future__ import annotations

import asyncio
import os
import platform
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance._core.clock import utc_now_iso
from conformance._core.errors import InputError, Problem, RunError
from conformance._core.redact import Redactor
from conformance.declaration import load_declaration
from conformance.declaration.models import Declaration
from conformance.plan import PhasePlan, Plan, build_plan
from conformance.plan.bounds import run_bound
from conformance.plan.build import request_timeout
from conformance.pytest_plugin.guard import (
    CandidateUnreachable,
    Watchdog,
    lock_out,
    no_answer,
    run_inputs,
)
from conformance.pytest_plugin.phases import (
    PromptSource,
    default_factory,
    expected_requests,
    phase_spec,
)
from conformance.run.client import ChatParams, Client, ClientConfig
from conformance.run.evidence import (
    Evidence,
    EvidenceStore,
    Flag,
    Measurement,
    PhaseEvidence,
    PhaseOutcome,
    read_evidence,
    run_phase,
)
from conformance.run.load import Distributed, LoadRunner
from conformance.run.records import RequestRecord
from conformance.run.tokenize import ChatTemplate, Tokenizer, load_tokenizer
from conformance.spec import Catalog, Profile, load_catalog, load_edition, load_profile


@dataclass(frozen=True)
class Options:
    candidate: Path
    profile: str
    out: Path
    only: str | None = None
    resume: bool = False
    catalog: Path | None = None
    ray_address: str | None = None  # run the load phases on this Ray cluster
    ray_workers: int | None = None
    edition: str | None = None  # a published edition by name (None: the default)


@dataclass
class PhaseData:
    """A completed load phase: its records (deduplicated, in seq order) and its outcome."""

    name: str
    records: list[RequestRecord]
    outcome: PhaseOutcome
    warmup: int = 0

    @property
    def measured(self) -> list[RequestRecord]:
        """Records after the warm-up requests, less the instrument's own failures (a client
        error, a lost load worker), which say nothing about the service."""
        return [r for r in self.records if r.seq >= self.warmup and not r.instrument_failed]


@dataclass
class TokenizerKit:
    tokenizer: Tokenizer
    template: ChatTemplate

    def count_messages(self, messages: Sequence[Any]) -> int:
        return self.tokenizer.count(self.template.render(messages, add_generation_prompt=True))


ProgressHook = Callable[[str, RequestRecord | None, int], None]


@dataclass
class Session:
    options: Options
    catalog: Catalog
    profile: Profile
    declaration: Declaration
    plan: Plan
    redactor: Redactor
    store: EvidenceStore
    started_at: str
    resumed: Evidence | None = None
    phases: dict[str, PhaseData] = field(default_factory=dict)
    progress: ProgressHook | None = None
    incomplete: list[str] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)
    lock: int | None = None  # the flock'd descriptor of <out>/.lock
    no_answer: int = 0  # requests in a row without any answer (see ``watch``)
    deadline_s: float = 0.0
    watchdog: Watchdog | None = None
    probes_sent: dict[str, int] = field(default_factory=dict)  # per phase, for progress

    @property
    def evidence_dir(self) -> Path:
        return self.options.out / "evidence"

    # -- construction --------------------------------------------------------------------
    @classmethod
    def open(cls, options: Options, *, preflight: bool = True) -> Session:
        """Load the inputs, check the service (``preflight``), lock ``--out`` and open the
        evidence (a new run, or the one there with ``--resume``)."""
        catalog = (load_catalog(options.catalog) if options.catalog
                   else load_edition(options.edition))
        profile = load_profile(options.profile)
        decl = load_declaration(options.candidate)
        key = decl.endpoint.api_key()
        if not key:
            raise InputError(
                f"the API key variable {decl.endpoint.api_key_env} is not set",
                [Problem(f"environment variable {decl.endpoint.api_key_env} is empty",
                         file=str(options.candidate), json_path="$.endpoint.api_key_env",
                         hint=f"export {decl.endpoint.api_key_env}=<your key> and run again")],
            )
        plan = build_plan(catalog, profile, decl, options.only)
        if preflight:
            from conformance.run.preflight import preflight as check
            from conformance.run.preflight import security_only

            check(decl, request_timeout_s=request_timeout(profile, decl),
                  security_only=security_only(plan))
        lock = lock_out(options.out)
        duration = run_bound(plan, decl, request_timeout(profile, decl))
        redactor = Redactor.from_env(decl.secret_env_names())
        started = utc_now_iso()
        manifest = {
            "spec": {"edition": catalog.edition, "version": catalog.version,
                     "digest": catalog.digest},
            "catalog_path": str(options.catalog) if options.catalog else None,
            "profile": {"id": profile.id, "digest": profile.digest,
                        "eligible": profile.eligible},
            "candidate": decl.public_summary(),
            "only": options.only,
            "inputs": run_inputs(options),
            "plan_digest": plan.digest,
            "plan": plan.to_json(),
            "duration": duration.to_json(),  # expected, and the deadline the run keeps
            "started_at": started,
            "environment": environment(),
            **({"load_backend": {"backend": "ray", "address": options.ray_address,
                                 "workers": options.ray_workers}}
               if options.ray_address else {}),
        }
        evdir = options.out / "evidence"
        store = EvidenceStore.open(evdir, manifest, redactor, resume=options.resume)
        resumed = read_evidence(evdir) if options.resume else None
        if resumed is not None:
            started = str(resumed.manifest.get("started_at", started))
        session = cls(options, catalog, profile, decl, plan, redactor, store, started,
                      resumed, attempts=dict(resumed.attempts) if resumed else {}, lock=lock)
        store.observers.append(session.watch)
        session.deadline_s = duration.deadline_s
        session.watchdog = Watchdog(session.deadline_s, session.incomplete)
        return session

    # -- what tests use -------------------------------------------------------------------
    @cached_property
    def distributed(self) -> Distributed | None:
        o = self.options
        return Distributed(o.ray_address, o.ray_workers) if o.ray_address else None

    @cached_property
    def tokenizer(self) -> TokenizerKit:
        m = self.declaration.model
        return TokenizerKit(
            load_tokenizer(m.tokenizer),
            ChatTemplate.from_file(m.chat_template.path, m.chat_template.bos_token,
                                   m.chat_template.eos_token),
        )

    def client_config(self, timeout_s: float | None = None) -> ClientConfig:
        ep = self.declaration.endpoint
        t = timeout_s or request_timeout(self.profile, self.declaration)
        return ClientConfig(base_url=ep.base_url, model=self.declaration.model.id,
                            api_key=ep.api_key(), dialect=ep.dialect, http2=ep.http2,
                            ca_bundle=ep.ca_bundle, read_timeout_s=t, total_timeout_s=t)

    def run_phase(self, name: str) -> PhaseData:
        """Run plan phase ``name`` once per session (resuming what is on disk)."""
        if name in self.phases:
            return self.phases[name]
        pp = self.plan.phase(name)
        if pp is None:
            raise RunError(f"phase {name!r} is not in the plan (no selected requirement "
                           "needs it)")
        return self.run_plan_phase(pp)

    def run_plan_phase(self, pp: PhasePlan) -> PhaseData:
        """Run ``pp`` once per session under its own name (resuming what is on disk): a
        plan phase, or a segment of one derived with ``dataclasses.replace`` (a new name
        and seed), e.g. STAB-004's pre-burst baseline and post-burst observation."""
        name = pp.name
        if name in self.phases:
            return self.phases[name]
        kit = self.tokenizer
        runner = LoadRunner(self.client_config(pp.timeout_s), redactor=self.redactor,
                            count_tokens=kit.tokenizer.count, distributed=self.distributed)
        m = self.declaration.model
        source = PromptSource(m.tokenizer, m.chat_template.path, m.chat_template.bos_token,
                              m.chat_template.eos_token)
        factory = default_factory(pp, source, (kit.tokenizer, kit.template))
        existing = (self.resumed.phase(name) if self.resumed is not None
                    else PhaseEvidence(name))
        count = [len(existing.requests)]
        done = existing.seqs()
        n = expected_requests(pp, self.declaration.performance.declared_concurrency,
                              self.declaration.performance.output_tokens_per_s)
        factory.prepare(s for s in range(n) if s not in done)

        def on_record(rec: RequestRecord) -> None:
            count[0] += 1
            if self.progress is not None:
                self.progress(name, rec, count[0])

        if self.progress is not None:
            self.progress(name, None, count[0])
        try:
            outcome = asyncio.run(run_phase(runner, phase_spec(pp), factory, self.store,
                                            existing, on_record))
        except OSError as exc:
            self.incomplete.append(f"phase {name}: {exc}")
            raise RunError(f"phase {name} could not run: {exc}") from exc
        if outcome.lost_workers:
            self.incomplete.append(
                f"phase {name}: load worker(s) {list(outcome.lost_workers)} lost mid-phase; "
                "their in-flight requests are recorded as worker_lost (not the service's)")
        records = read_evidence(self.evidence_dir).phase(name).records()
        data = PhaseData(name, records, outcome, pp.warmup_requests)
        self.phases[name] = data
        return data

    def probe(self, requests: Sequence[tuple[str, ChatParams | str]], phase: str
              ) -> list[RequestRecord]:
        """Send ``(tag, params)`` probes (``params`` a path string means GET) sequentially;
        each becomes a record ``<phase>-<tag>`` in the evidence."""
        cfg = self.client_config()

        async def go() -> list[RequestRecord]:
            out = []
            async with Client(cfg, redactor=self.redactor,
                              count_tokens=self.tokenizer.tokenizer.count) as c:
                for i, (tag, p) in enumerate(requests):
                    rid = f"{phase}-{tag}"
                    if isinstance(p, str):
                        rec = await c.get(p, request_id=rid, phase=phase, seq=i)
                    else:
                        rec = await c.chat(p, request_id=rid, phase=phase, seq=i)
                    self.store.request(rec)
                    out.append(rec)
                    self.probes_sent[phase] = self.probes_sent.get(phase, 0) + 1
                    if self.progress is not None:
                        self.progress(phase, rec, self.probes_sent[phase])
            return out

        recs = asyncio.run(go())
        self.store.checkpoint()
        return recs

    # -- bookkeeping ------------------------------------------------------------------------
    def test_done(self, nodeid: str) -> bool:
        return self.resumed is not None and nodeid in self.resumed.tests_done

    def start_test(self, nodeid: str, requirements: Sequence[str]) -> int:
        attempt = self.attempts.get(nodeid, 0) + 1
        self.attempts[nodeid] = attempt
        self.store.append("tests", "test_start", f"t:{nodeid}:start:{attempt}",
                          {"test": nodeid, "attempt": attempt,
                           "requirements": list(requirements)})
        self.store.checkpoint()
        self.store.context = {"test": nodeid, "attempt": attempt}
        return attempt

    def end_test(self, nodeid: str, outcome: str) -> None:
        attempt = self.attempts.get(nodeid, 0)
        self.store.context = {}
        self.store.append("tests", "test_end", f"t:{nodeid}:end",
                          {"test": nodeid, "attempt": attempt, "outcome": outcome})
        self.store.checkpoint()

    def measure(self, m: Measurement, nodeid: str) -> None:
        self.store.measurement(m, test=nodeid, attempt=self.attempts.get(nodeid, 0))

    def flag(self, f: Flag, nodeid: str = "") -> None:
        self.store.flag(f, test=nodeid, attempt=self.attempts.get(nodeid, 0))

    def watch(self, rec: RequestRecord) -> None:
        """Called for every request record as it is written: N requests in a row (the
        profile's ``max_consecutive_connection_failures``) without any answer end the run
        (:class:`CandidateUnreachable`, exit 3; the records stay, the run is resumable)."""
        if not no_answer(rec):
            self.no_answer = 0
            return
        self.no_answer += 1
        limit = self.profile.max_consecutive_connection_failures
        if self.no_answer >= limit:
            self.no_answer = 0
            raise CandidateUnreachable(
                f"the candidate stopped answering: {limit} requests in a row got no answer "
                f"(the last: {rec.error}: {rec.error_detail or ''}); the run stops here, its "
                "evidence is kept — resume it when the service is back")

    def finish(self, status: str) -> None:
        if self.watchdog is not None:
            self.watchdog.cancel()
        self.store.append("tests", "run_end", "run:end", {
            "status": status, "finished_at": utc_now_iso(),
            "incomplete": self.incomplete,
            "tls_version": tls_version(self.declaration.endpoint.base_url,
                                       self.declaration.endpoint.ca_bundle),
        })
        self.store.close()
        if self.lock is not None:
            os.close(self.lock)  # releases the flock
            self.lock = None


def tls_version(base_url: str, ca_bundle: Path | None, timeout_s: float = 5.0) -> str | None:
    """The TLS version the candidate negotiates with a default client context (verified
    against the declared CA bundle, or the system store); None for http or on failure."""
    import socket
    import ssl
    from urllib.parse import urlsplit

    u = urlsplit(base_url)
    if u.scheme != "https" or not u.hostname:
        return None
    ctx = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
    try:
        with socket.create_connection((u.hostname, u.port or 443), timeout=timeout_s) as raw, \
                ctx.wrap_socket(raw, server_hostname=u.hostname) as tls:
            return tls.version()
    except (OSError, ssl.SSLError):
        return None


def environment() -> dict[str, Any]:
    """Where the instrument ran (no host names, no user names)."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(terse=True),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "tokencert": __version__,
    }
