"""Run directories and a throw-away PKI for certificate / bundle / verify tests.

``make_run_dir`` synthesizes what `tokencert run` writes (results.json valid against its
schema, opaque evidence): enough for the bundle and preflight tests, never re-judged.
``real_run`` makes one real quick run (a few requirements, reference service) per test
process: certify re-judges it, so every issued test certificate comes from real evidence.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conformance._core import resources
from conformance.certificate import Pki, Signing, init_ca, issue_evaluator, load_cert
from conformance.certificate.pki import load_private_key, make_crl
from conformance.certificate.roles import Body, load_body
from conformance.spec import load_catalog, load_profile

PASS = b"correct horse battery staple"
SERVICE, VENDOR = "千问令牌服务 <Pro>", "示例云计算有限公司 & Co"


def _summary(reqs: list[dict[str, Any]]) -> dict[str, Any]:
    """Shaped like the verdicts stage's summary (automated MUST requirements at L2)."""
    outcomes = ("pass", "fail", "inconclusive", "not_applicable", "manual")

    def counts(rs: list[dict[str, Any]]) -> dict[str, int]:
        return {o: sum(1 for r in rs if r["outcome"] == o) for o in outcomes}

    cats = dict.fromkeys(r["category"] for r in reqs)
    return {"level": "L2", "certified": True, "reason": None,
            "per_category": {c: {"counts": counts([r for r in reqs if r["category"] == c]),
                                 "level": "L2" if c != "DATA" else None} for c in cats},
            "counts": {**counts(reqs), "total": len(reqs)}}


def make_results(profile: str = "certification", **over: Any) -> dict[str, Any]:
    cat = load_catalog()
    prof = load_profile(profile)
    reqs = []
    for r in cat:
        manual = r.method == "manual"
        meas = []
        if r.id == "PERF-001":
            meas = [{"metric": "ttft_ms", "stat": "p95", "value": 412.5, "lower": None,
                     "upper": 455.0, "n": 1200, "unit": "ms"}]
        if r.id == "STAB-002":
            meas = [{"metric": "success_rate", "stat": "rate", "value": 0.9996,
                     "lower": 0.9991, "upper": None, "n": 30000, "unit": "ratio"}]
        reqs.append({
            "id": r.id, "category": r.category, "obligation": r.obligation,
            "method": r.method, "title": r.title,
            "outcome": "manual" if manual else "pass",
            "level": None if manual else "L2", "reason": None, "detail": None,
            "measurements": meas,
            "levels": {} if manual else {"L1": {"outcome": "pass"}, "L2": {"outcome": "pass"},
                                         "L3": {"outcome": "fail", "reason": "bound"}},
            "evidence": [] if manual else ["evidence/requests.jsonl"]})
    data: dict[str, Any] = {
        "schema_version": "1.0.0", "tool": {"name": "tokencert", "version": "0.1.0"},
        "spec": {"edition": cat.edition, "version": cat.version, "digest": cat.digest},
        "profile": {"id": prof.id, "digest": prof.digest, "eligible": prof.eligible},
        "candidate": {"name": SERVICE, "vendor": VENDOR, "version": "2026.11",
                      "base_url": "https://127.0.0.1:8443/v1", "models": ["qwen-mini-1"],
                      "declaration_digest": "sha256:" + "1" * 64},
        "environment": {"python": "3.11", "os": "linux"},
        "started_at": "2026-11-20T08:00:00Z", "finished_at": "2026-11-21T08:30:00Z",
        "status": "complete", "only": None, "demo": False,
        "transport": {"scheme": "https", "tls_version": "TLSv1.3"},
        "client": {"saturated": False}, "requirements": reqs,
        "summary": _summary(reqs),
    }
    data.update(over)
    return data


def make_run_dir(root: Path, results: dict[str, Any] | None = None) -> Path:
    run = root / "run"
    (run / "evidence" / "blobs" / "ab").mkdir(parents=True)
    (run / "results.json").write_text(json.dumps(results or make_results(), indent=2,
                                                 ensure_ascii=False), encoding="utf-8")
    lines = [json.dumps({"request_id": f"sustained-{i}", "status": 200, "ttft_ms": 400 + i})
             for i in range(50)]
    (run / "evidence" / "requests.jsonl").write_text("\n".join(lines) + "\n")
    (run / "evidence" / "blobs" / "ab" / "cdef0123").write_bytes(bytes(range(256)) * 8)
    decl = (resources.spec_dir() / "templates" / "candidate.yaml").read_text(encoding="utf-8")
    decl = decl.replace('"My Token Service"', json.dumps(SERVICE, ensure_ascii=False))
    (run / "declaration.yaml").write_text(decl, encoding="utf-8")
    return run


def decide_manual(run: Path, verdict: str = "pass") -> None:
    from conformance.certificate import record_review

    for r in load_catalog():
        if r.method == "manual":
            record_review(run, r.id, verdict, f"{r.id}: documents checked", reviewer="tester",
                          now="2026-11-21T09:00:00Z")


ONLY = "API-001,API-002,API-007,DATA-001"
_REAL: list[tuple[Path, Path]] = []


def real_run() -> tuple[Path, Path]:
    """(run directory, declaration) of one real `tokencert run` (quick profile, a few
    requirements, the reference service over TLS), made once per test process."""
    if _REAL:
        return _REAL[0]
    import atexit
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    from conformance.reference import ReferenceService

    base = Path(tempfile.mkdtemp(prefix="tokencert-testkit-"))
    atexit.register(shutil.rmtree, base, True)
    with ReferenceService.start(tls=True, workdir=base / "reference",
                                sim_config={"tpot_ms": 2.0, "base_ttft_ms": 20.0}) as svc:
        p = subprocess.run(
            [sys.executable, "-m", "conformance", "run", "--candidate",
             str(svc.declaration_path), "--profile", "quick", "--out", str(base / "run"),
             "--only", ONLY], env={**os.environ, **svc.env}, capture_output=True, text=True,
            timeout=300, check=False)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
        decl = svc.declaration_path
    _REAL.append((base / "run", decl))
    return _REAL[0]


def copy_real_run(root: Path) -> Path:
    """A fresh copy of the real run under ``root/run``, its manual item reviewed."""
    import shutil

    src, _ = real_run()
    run = root / "run"
    shutil.copytree(src, run)
    from conformance.certificate import record_review

    record_review(run, "DATA-001", "pass", "DATA-001: hosting contract checked",
                  reviewer="tester", now="2026-11-21T09:00:00Z")
    return run


@dataclass
class TestPki:
    __test__ = False  # not a test class

    pki: Pki
    signing: Signing
    root: Path
    crl_path: Path
    key_path: Path
    cert_path: Path
    demo: bool = False

    @property
    def ca_cert_path(self) -> Path:
        return self.pki.ca_cert_path

    @property
    def body(self) -> Body:
        return load_body(self.root)

    def timestamper(self, fixed: datetime | None = None) -> object:
        from conformance.certificate.roles import tsa
        from conformance.certificate.sign import local_timestamper

        key, cert = tsa(self.pki, PASS)
        return local_timestamper(key, cert, [self.pki.ca_cert()], fixed)

    def status(self, action: str = "publish", number: str = "",
               now: datetime | None = None, days: int = 7) -> Path:
        """Apply ``action`` to the status list (publish: re-sign) and return a copy of the
        list as it is now (status-<sequence>.json)."""
        import shutil

        from conformance.certificate.roles import status_signer
        from conformance.certificate.statuslist import update

        key, cert = status_signer(self.pki, PASS)
        new = update(self.root / "status.json", action, number, key, cert, [], "test",
                     now=now, days=days)
        copy = self.root / f"status-{new['sequence']}.json"
        shutil.copy(self.root / "status.json", copy)
        return copy


def make_pki(root: Path, days: int = 730, not_before: datetime | None = None,
             name: str = "Dr. Evaluator 评估员", demo: bool = False) -> TestPki:
    from conformance.certificate.roles import init_status_signer, init_tsa, write_body

    pki = init_ca(root / "pki", PASS, demo=demo)
    write_body(root / "pki", Body("Test Certification Body 认证机构", "TEST-ACC-0001", "TCT",
                                  "https://register.example.test/", demo))
    issued = issue_evaluator(pki, PASS, root / "pki" / "evaluator", PASS, name=name,
                             org="Example Lab 实验室", days=days, not_before=not_before)
    init_tsa(pki, PASS, PASS)
    init_status_signer(pki, PASS, PASS)
    crl_path = make_crl(pki, PASS)
    from cryptography import x509

    crl = x509.load_pem_x509_crl(crl_path.read_bytes())
    signing = Signing(load_private_key(issued.key_path, PASS), load_cert(issued.cert_path),
                      (pki.ca_cert(),), crl, pki.ca_cert())
    tp = TestPki(pki, signing, root / "pki", crl_path, issued.key_path, issued.cert_path, demo)
    tp.signing = replace(signing, timestamper=tp.timestamper())
    return tp


NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
EXPIRED_START = datetime.now(UTC) - timedelta(days=800)


@dataclass
class Issued:
    run: Path
    pki: TestPki
    pdf: Path
    bundle: Path
    number: str
    declaration: Path


@contextmanager
def certification_gate_open() -> Iterator[None]:
    """certify as if the quick run were a complete certification run: its refusals that a
    demo waives (profile not eligible, partial selection) are dropped. The gate itself is
    tested in test_preflight; the documents made here are what verify tests need."""
    import importlib
    from unittest import mock

    from conformance.certificate.preflight import Preflight, check_run

    def open_gate(results: dict[str, Any], path: Path) -> Preflight:
        pre = check_run(results, path)
        return Preflight(pre.problems, (), pre.profile)

    mod = importlib.import_module("conformance.certificate.certify")
    with mock.patch.object(mod, "check_run", open_gate):
        yield


def issue(root: Path, demo: bool = False, pki: TestPki | None = None,
          now: datetime | None = None, run: Path | None = None,
          signing: Signing | None = None) -> Issued:
    """A certified real run (manual item reviewed): DEMO with a DEMO PKI, else a
    certificate by an accredited test PKI (gate opened, see certification_gate_open)."""
    from conformance.certificate import Registry, certify

    root.mkdir(parents=True, exist_ok=True)
    run = run or copy_real_run(root)
    pki = pki or make_pki(root, demo=demo)
    _, decl = real_run()
    with certification_gate_open() if not demo else nullcontext():
        c = certify(run, signing or pki.signing, root / "out",
                    Registry(root / "pki" / "registry.json"), demo=demo, now=now,
                    body=pki.body, declaration=decl)
    return Issued(run, pki, c.pdf, c.bundle, c.number, decl)


def issue_synthesized(root: Path) -> Issued:
    """A certificate over the synthesized run (CJK names, every category decided): for
    rendering tests only. Its evidence is opaque, so certify's re-judging is bypassed."""
    import importlib
    from unittest import mock

    from conformance.certificate import Registry, certify

    root.mkdir(parents=True, exist_ok=True)
    run = make_run_dir(root)
    decide_manual(run)
    pki = make_pki(root)
    mod = importlib.import_module("conformance.certificate.certify")
    with mock.patch.object(mod, "_rejudge_problems", lambda *a: []):
        c = certify(run, pki.signing, root / "out", Registry(root / "pki" / "registry.json"),
                    body=pki.body, declaration=run / "declaration.yaml")
    return Issued(run, pki, c.pdf, c.bundle, c.number, run / "declaration.yaml")
