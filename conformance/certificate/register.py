"""The body's public register: every certificate it issued, with its current status
(issued, suspended, withdrawn), as a signed JSON document and a static HTML page.

``register.json`` has the status list's form (a DSSE envelope by the status signer plus
its chain), payload type ``application/vnd.tokencert.register+json``; ``index.html`` is a
plain page for people, generated from the same data (the JSON is the signed one).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from conformance._core.clock import SystemClock
from conformance.certificate.registry import Registry
from conformance.certificate.roles import Body
from conformance.certificate.statuslist import iso, read_payload, sign_document

REGISTER_PAYLOAD_TYPE = "application/vnd.tokencert.register+json"
REGISTER_TYPE = "tokencert-register/1"

_PAGE = jinja2.Environment(autoescape=True).from_string("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Register of {{ body.name }}</title>
<style>body{font-family:sans-serif;margin:2em}td,th{padding:.3em .8em;text-align:left}
.withdrawn{color:#a00}.suspended{color:#a60}</style></head><body>
<h1>Public register — {{ body.name }}</h1>
<p>Accreditation {{ body.accreditation }}{% if body.demo %} · <b>DEMO PKI, not a
certification body</b>{% endif %}. Generated {{ generated }}. The signed
<a href="register.json">register.json</a> is authoritative.</p>
<table><tr><th>Number</th><th>Service</th><th>Vendor</th><th>Issued</th><th>Valid until</th>
<th>Status</th><th>Bundle digest</th></tr>
{% for e in entries %}<tr id="{{ e.number }}" class="{{ e.status }}"><td>{{ e.number }}</td>
<td>{{ e.service }}</td><td>{{ e.vendor }}</td><td>{{ e.issued_at }}</td>
<td>{{ e.valid_until }}</td><td>{{ e.status }}{% if e.since %} since {{ e.since }}{% endif %}
{% if e.reason %} ({{ e.reason }}){% endif %}</td><td><code>{{ e.bundle_digest }}</code></td>
</tr>{% endfor %}</table></body></html>
""")


def entries(registry: Registry, status_path: Path) -> list[dict[str, Any]]:
    status = read_payload(status_path).get("entries", {})
    out = []
    for e in registry.entries():
        if not e.get("bundle_digest"):
            continue  # allocated, never completed
        st = status.get(e["number"], {})
        cand = e.get("candidate", {})
        out.append({"number": e["number"], "service": cand.get("name"),
                    "vendor": cand.get("vendor"), "issued_at": e.get("issued_at"),
                    "valid_until": e.get("valid_until"), "demo": bool(e.get("demo")),
                    "bundle_digest": e.get("bundle_digest"),
                    "status": st.get("status", "issued"), "since": st.get("since"),
                    "reason": st.get("reason")})
    return out


def export(out_dir: Path, body: Body, registry: Registry, status_path: Path,
           key: ec.EllipticCurvePrivateKey, signer: x509.Certificate,
           chain: list[x509.Certificate], now: datetime | None = None) -> tuple[Path, Path]:
    """Write ``register.json`` (signed) and ``index.html``; returns both paths."""
    generated = iso(now or SystemClock().utc_now())
    rows = entries(registry, status_path)
    payload = {"type": REGISTER_TYPE, "body": body.to_json(), "generated_at": generated,
               "status_sequence": read_payload(status_path).get("sequence", 0),
               "entries": rows}
    doc = sign_document(payload, REGISTER_PAYLOAD_TYPE, key, signer, chain)
    out_dir.mkdir(parents=True, exist_ok=True)
    js, html = out_dir / "register.json", out_dir / "index.html"
    js.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    html.write_text(_PAGE.render(body=body, entries=rows, generated=generated),
                    encoding="utf-8")
    return js, html
