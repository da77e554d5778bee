"""Synthesized run directories and a throw-away PKI for certificate / bundle / verify tests.

The run directory is what `tokencert run` writes: results.json (valid against its schema),
evidence files (treated as opaque) and the declaration used (from spec/templates).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from conformance._core import resources
from conformance.certificate import Pki, Signing, init_ca, issue_evaluator, load_cert
from conformance.certificate.pki import load_private_key, make_crl
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


@dataclass
class TestPki:
    pki: Pki
    signing: Signing
    root: Path
    crl_path: Path
    key_path: Path
    cert_path: Path

    @property
    def ca_cert_path(self) -> Path:
        return self.pki.ca_cert_path


def make_pki(root: Path, days: int = 730, not_before: datetime | None = None,
             name: str = "Dr. Evaluator 评估员") -> TestPki:
    pki = init_ca(root / "pki", PASS)
    issued = issue_evaluator(pki, PASS, root / "pki" / "evaluator", PASS, name=name,
                             org="Example Lab 实验室", days=days, not_before=not_before)
    crl_path = make_crl(pki, PASS)
    from cryptography import x509

    crl = x509.load_pem_x509_crl(crl_path.read_bytes())
    signing = Signing(load_private_key(issued.key_path, PASS), load_cert(issued.cert_path),
                      (pki.ca_cert(),), crl, pki.ca_cert())
    return TestPki(pki, signing, root / "pki", crl_path, issued.key_path, issued.cert_path)


NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
EXPIRED_START = datetime.now(UTC) - timedelta(days=800)


@dataclass
class Issued:
    run: Path
    pki: TestPki
    pdf: Path
    bundle: Path
    number: str


def issue(root: Path, demo: bool = False, pki: TestPki | None = None,
          results: dict[str, Any] | None = None, now: datetime | None = None) -> Issued:
    """A certified run: synthesized run dir, manual items reviewed, certify."""
    from conformance.certificate import Registry, certify

    root.mkdir(parents=True, exist_ok=True)
    run = make_run_dir(root, results)
    decide_manual(run)
    pki = pki or make_pki(root)
    c = certify(run, pki.signing, root / "out", Registry(root / "registry.json"), demo=demo,
                now=now)
    return Issued(run, pki, c.pdf, c.bundle, c.number)
