"""The signed monthly monitoring report: a PDF and an evidence bundle, with the same PKI,
attestation format and bundle layout as a certificate, so ``tokencert verify`` checks it.

Document kind ``monitoring-report`` (``certificate.json`` in the PDF). ``results.json``
holds the published figures and ranking; ``evidence/requests.jsonl`` every stored probe of
the period, so anyone can recompute them; the attestation covers every file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from conformance import __version__
from conformance._core import resources
from conformance._core.canonical import canonical_bytes
from conformance.bundle import CertificateData, layout, write_zip
from conformance.bundle.dsse import sign_statement, statement
from conformance.certificate.certify import Signing, check_signer, evaluator_of
from conformance.monitor.figures import Window
from conformance.monitor.store import Store

KIND = "monitoring-report"
FORMAT = "tokencert-monitor-report/1"


@dataclass(frozen=True)
class SignedReport:
    number: str
    pdf: Path
    bundle: Path
    bundle_digest: str


def _iso(d: datetime) -> str:
    return d.replace(microsecond=0).isoformat() + "Z"


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    def clean(v: Any) -> Any:
        return _iso(v) if isinstance(v, datetime) else v

    return b"".join(canonical_bytes({k: clean(v) for k, v in r.items()}) + b"\n"
                    for r in rows)


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def sign_report(store: Store, w: Window, signing: Signing, out: Path, period: str,
                demo: bool = False, now: datetime | None = None) -> SignedReport:
    from conformance.certificate.render import PdfAttachment, font_css, html_to_pdf
    from conformance.certificate.sign import SigningPolicy, sign_pdf
    from conformance.monitor.publish import render
    from conformance.monitor.store import utc_naive

    issued = utc_naive(now).replace(microsecond=0)
    check_signer(signing, issued.replace(tzinfo=UTC))
    requests = store.requests(w.start, w.end, w.campaign, prober=w.prober)
    requests.sort(key=lambda r: (r["sent_at"], r["request_uid"]))
    results = {"format": FORMAT, "kind": KIND, "period": period, "demo": demo,
               "tool": {"name": "tokencert", "version": __version__}, **w.to_json()}
    results_b = canonical_bytes(results)
    number = f"MON-{period}-{(w.campaign or 'all').upper()}-{_sha(results_b)[:8].upper()}"
    data = CertificateData(number, KIND, _iso(issued), _iso(w.start), _iso(w.end), demo)
    pem = serialization.Encoding.PEM
    files = {layout.RESULTS: results_b, "evidence/requests.jsonl": _jsonl(requests),
             "evidence/rounds.jsonl": _jsonl([r for r in store.rounds(w.campaign)
                                              if w.start <= r["slot"] < w.end]),
             "spec/schemas/monitor.schema.json": resources.schema_path("monitor").read_bytes(),
             layout.EVALUATOR_CERT: signing.cert.public_bytes(pem),
             layout.CHAIN: b"".join(c.public_bytes(pem) for c in signing.chain)}
    manifest = {"format": layout.FORMAT, "document": KIND,
                "tool": {"name": "tokencert", "version": __version__},
                "certificate": data.to_json(),
                "files": {n: {"sha256": _sha(b), "size": len(b)} for n, b in sorted(files.items())}}
    files[layout.MANIFEST] = canonical_bytes(manifest)
    predicate = {"certificate": data.to_json(), "demo": demo, "kind": KIND, "period": period,
                 "campaign": w.campaign, "evaluator": signing.cert.subject.rfc4514_string(),
                 "tool": {"name": "tokencert", "version": __version__}}
    attestation = sign_statement(statement({n: _sha(b) for n, b in files.items()}, predicate),
                                 signing.key, signing.cert)
    files[layout.ATTESTATION] = attestation
    bundle = write_zip(files)
    digest = "sha256:" + _sha(bundle)
    title = f"Monitoring report {period}" + (" — DEMO" if demo else "")
    html, _ = render(w, title, images_inline=True, links=False, number=number,
                     font_css=font_css())
    ev = evaluator_of(signing.cert)
    html = html.replace("</body>", f'<p class="note">Signed by {ev.name} ({ev.organisation}). '
                        f"Evidence bundle {digest}. Check with <code>tokencert verify "
                        f"{number}.pdf --bundle {number}.bundle.zip --trust ROOT.pem</code>."
                        "</p></body>")
    card = canonical_bytes({**data.to_json(), "bundle_digest": digest})
    pdf = html_to_pdf(html, [
        PdfAttachment("certificate.json", card, "monitoring report data (number, period, "
                      "bundle digest)", "Data"),
        PdfAttachment(layout.RESULTS, results_b, "published figures and ranking", "Data"),
        PdfAttachment(layout.ATTESTATION, attestation,
                      "in-toto Statement v1 in a DSSE envelope", "Supplement")])
    signed = sign_pdf(pdf, signing.key, signing.cert, signing.chain, signing.crl,
                      signing.trust_root, SigningPolicy(reason="tokencert monitoring report"),
                      timestamper=signing.timestamper)
    out.mkdir(parents=True, exist_ok=True)
    pdf_path, zip_path = out / f"{number}.pdf", out / f"{number}.bundle.zip"
    zip_path.write_bytes(bundle)
    pdf_path.write_bytes(signed)
    return SignedReport(number, pdf_path, zip_path, digest)
