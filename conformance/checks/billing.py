"""BILL-001..003 and METER-008 pricing: exact decimal cost, price-list completeness, and
reconciliation of a vendor billing export."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from conformance.checks.findings import Observation, failed, passed
from conformance.declaration.models import Declaration, Pricing
from conformance.run.records import RequestRecord

MILLION = Decimal(1_000_000)


def cost(usage: Mapping[str, Any], pricing: Pricing) -> Decimal:
    """Exact cost of one response: cached input at the cached price where declared."""
    p = int(usage.get("prompt_tokens", 0))
    c = int(usage.get("completion_tokens", 0))
    details = usage.get("prompt_tokens_details") or {}
    cached = int(details.get("cached_tokens", 0) or 0) if isinstance(details, dict) else 0
    cached_price = pricing.cached_input if pricing.cached_input is not None else pricing.input
    return ((Decimal(p - cached) * pricing.input + Decimal(cached) * cached_price
             + Decimal(c) * pricing.output) / MILLION)


def price_list_complete(decl: Declaration) -> Observation:
    """BILL-001."""
    missing = []
    pr = decl.pricing
    if pr.input is None or pr.output is None:
        missing.append("input/output price")
    if "prompt_caching" in decl.features() and pr.cached_input is None:
        missing.append("cached_input price (prompt caching is declared)")
    if not pr.currency or pr.unit != "per_1m_tokens":
        missing.append("currency / unit")
    if missing:
        return failed("price_list_complete", "missing: " + ", ".join(missing))
    return passed("price_list_complete",
                  f"{pr.currency} per 1M tokens: input {pr.input}, output {pr.output}"
                  + (f", cached input {pr.cached_input}" if pr.cached_input is not None else ""))


@dataclass(frozen=True)
class WorkloadCost:
    workload: str
    requests: int
    total: Decimal
    output_tokens: int

    @property
    def per_million_output(self) -> Decimal | None:
        return (self.total / self.output_tokens * MILLION) if self.output_tokens else None

    def to_json(self, currency: str) -> dict[str, Any]:
        per_m = self.per_million_output
        return {"workload": self.workload, "requests": self.requests, "currency": currency,
                "total": str(self.total), "output_tokens": self.output_tokens,
                "per_1m_output_tokens": str(per_m.quantize(Decimal("0.000001")))
                if per_m is not None else None}


def workload_costs(records: Iterable[tuple[str, RequestRecord]],
                   pricing: Pricing) -> list[WorkloadCost]:
    """BILL-002: cost per request summed per workload, and effective cost per 1M output."""
    acc: dict[str, list[Any]] = {}
    for workload, r in records:
        if not r.ok or not isinstance(r.usage, dict):
            continue
        a = acc.setdefault(workload, [0, Decimal(0), 0])
        a[0] += 1
        a[1] += cost(r.usage, pricing)
        a[2] += int(r.usage.get("completion_tokens", 0))
    return [WorkloadCost(w, n, t, o) for w, (n, t, o) in sorted(acc.items())]


def load_export(path: Path, fmt: str) -> list[dict[str, Any]]:
    """Rows of a billing export: request_id, prompt_tokens, completion_tokens,
    [cached_tokens], charge (decimal string), [currency]."""
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = data.get("rows", data) if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise ValueError("billing export JSON must be a list of rows or {rows: [...]}")
    return rows


def reconcile(records: Iterable[RequestRecord], rows: list[dict[str, Any]], pricing: Pricing,
              tolerance: Decimal = Decimal("0.0001")) -> list[Observation]:
    """BILL-003: every successful request billed once at usage x price (within 0.01%), no
    charge for 5xx answers or for tokens never delivered."""
    m = "reconciled"
    by_id: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_id.setdefault(str(row.get("request_id", "")), []).append(row)
    out: list[Observation] = []
    seen: Counter[str] = Counter()
    for r in records:
        rid = r.response_id or r.headers.get("x-request-id")
        if not rid:
            continue
        seen[rid] += 1
        billed = by_id.get(rid, [])
        ev = (r.request_id,)
        if r.status is not None and r.status >= 500:
            bad = [b for b in billed if Decimal(str(b.get("charge", "0"))) != 0]
            out.append(failed(m, f"{rid}: charged for a {r.status} answer", evidence=ev)
                       if bad else passed(m, f"{rid}: {r.status} not charged", evidence=ev))
            continue
        if not r.ok or not isinstance(r.usage, dict):
            continue
        if len(billed) != 1:
            out.append(failed(m, f"{rid}: billed {len(billed)} times", evidence=ev))
            continue
        row = billed[0]
        expected = cost(r.usage, pricing)
        charge = Decimal(str(row.get("charge", "0")))
        delivered = int(r.usage.get("completion_tokens", 0))
        if int(row.get("completion_tokens", delivered)) > delivered:
            out.append(failed(m, f"{rid}: billed {row.get('completion_tokens')} completion "
                           f"tokens, {delivered} reported as delivered", evidence=ev))
        elif (expected == 0 and charge != 0) or (expected and abs(charge - expected) > \
                expected * tolerance):
            out.append(failed(m, f"{rid}: charged {charge}, usage x price = {expected}",
                              evidence=ev))
        else:
            out.append(passed(m, f"{rid}: {charge}", evidence=ev))
    return out
