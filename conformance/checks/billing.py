"""BILL-001..003 and METER-008 pricing: exact decimal cost, price-list completeness, and
reconciliation of a vendor billing export."""

from __future__ import annotations

import csv
import json
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


def workload_costs(records: Iterable[tuple[str, RequestRecord]], pricing: Pricing,
                   audited: Mapping[str, int] | None = None) -> list[WorkloadCost]:
    """BILL-002: cost per request summed per workload, and effective cost per 1M output.
    ``audited``: record id → the auditor's completion count, priced instead of the
    service's ``completion_tokens`` where given."""
    acc: dict[str, list[Any]] = {}
    for workload, r in records:
        if not r.ok or not isinstance(r.usage, dict):
            continue
        u = _audited_usage(r, audited)
        a = acc.setdefault(workload, [0, Decimal(0), 0])
        a[0] += 1
        a[1] += cost(u, pricing)
        a[2] += int(u.get("completion_tokens", 0))
    return [WorkloadCost(w, n, t, o) for w, (n, t, o) in sorted(acc.items())]


def _audited_usage(r: RequestRecord, audited: Mapping[str, int] | None) -> dict[str, Any]:
    u = dict(r.usage or {})
    if audited is not None and r.request_id in audited:
        u["completion_tokens"] = audited[r.request_id]
    return u


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
              tolerance: Decimal = Decimal("0.0001"),
              delivered: Mapping[str, int] | None = None) -> list[Observation]:
    """BILL-003: every successful request billed once at usage x price (within 0.01%), no
    charge for 5xx answers or for tokens never delivered. Rows match a request by any id
    the client saw for it (``x-request-id`` header, body id). ``delivered``: record id →
    the most completion tokens it may be billed for, where the delivered count is known
    exactly (METER-003's evidence); elsewhere the reported count is the limit."""
    from conformance.checks.metering import is_chat

    m = "reconciled"
    idx = index_rows(rows)
    out: list[Observation] = []
    for r in records:
        ids = seen_ids(r)
        if not ids or (r.request and not is_chat(r)):
            continue
        rid = ids[0]
        billed = [rows[i] for i in rows_for(r, idx)]
        ev = (r.request_id,)
        if r.status is not None and r.status >= 500:
            bad = [b for b in billed if Decimal(str(b.get("charge") or "0")) != 0]
            out.append(failed(m, f"{rid}: charged {bad[0].get('charge')} for a {r.status} "
                              "answer", evidence=ev)
                       if bad else passed(m, f"{rid}: {r.status} not charged", evidence=ev))
            continue
        if not r.ok or not isinstance(r.usage, dict):
            continue
        if len(billed) != 1:
            out.append(failed(m, f"{rid}: billed {len(billed)} times", evidence=ev))
            continue
        row = billed[0]
        expected = cost(r.usage, pricing)
        charge = Decimal(str(row.get("charge") or "0"))
        reported = int(r.usage.get("completion_tokens", 0))
        limit = min(reported, (delivered or {}).get(r.request_id, reported))
        if int(row.get("completion_tokens") or reported) > limit:
            out.append(failed(m, f"{rid}: billed {row.get('completion_tokens')} completion "
                           f"tokens, {limit} delivered", evidence=ev))
        elif (expected == 0 and charge != 0) or (expected and abs(charge - expected) > \
                expected * tolerance):
            out.append(failed(m, f"{rid}: charged {charge}, usage x price = {expected}",
                              evidence=ev))
        else:
            out.append(passed(m, f"{rid}: {charge}", evidence=ev))
    return out


def seen_ids(rec: RequestRecord) -> tuple[str, ...]:
    """Every id the client saw for one request, for matching billing-export rows: the
    ``x-request-id`` header, the body (or first chunk's) ``id``."""
    out: list[str] = []
    if rec.headers.get("x-request-id"):
        out.append(rec.headers["x-request-id"])
    if rec.response_id:
        out.append(rec.response_id)
    docs: list[bytes] = [rec.body] if rec.body else [e.data for e in rec.events[:2]]
    for raw in docs:
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("id"), str):
            out.append(doc["id"])
    return tuple(dict.fromkeys(i for i in out if i))


ROW_ID_FIELDS = ("request_id", "x_request_id", "response_id")


def rows_for(rec: RequestRecord, index: Mapping[str, list[int]]) -> list[int]:
    """Positions of the export rows billed for ``rec`` (by any id it was seen under)."""
    found: dict[int, None] = {}
    for i in seen_ids(rec):
        for pos in index.get(i, ()):
            found[pos] = None
    return list(found)


def index_rows(rows: list[dict[str, Any]]) -> dict[str, list[int]]:
    """id → positions of the rows naming it in any id column."""
    idx: dict[str, list[int]] = {}
    for pos, row in enumerate(rows):
        for f in ROW_ID_FIELDS:
            v = str(row.get(f) or "")
            if v and pos not in idx.get(v, []):
                idx.setdefault(v, []).append(pos)
    return idx


def costs_reported(records: Iterable[tuple[str, RequestRecord]], pricing: Pricing,
                   audited: Mapping[str, int] | None = None) -> list[Observation]:
    """BILL-002: for each workload, the cost of every successful request (metered usage x
    declared prices, exact decimals) and the effective cost per 1M output tokens. A
    successful response without usable usage cannot be billed from: the workload fails.
    ``records``: ``(workload, record)`` for the chat completions that must carry usage.
    ``audited``: record id → the auditor's completion count: every figure is priced on it,
    the service's own figure shown beside it (``*_reported``)."""
    m = "cost_reported"
    per: dict[str, list[RequestRecord]] = {}
    for w, r in records:
        per.setdefault(w, []).append(r)
    out: list[Observation] = []
    for w, recs in sorted(per.items()):
        costs: dict[str, str] = {}
        missing: list[str] = []
        for r in recs:
            u = r.usage
            if not isinstance(u, dict) or not all(
                    isinstance(u.get(k), int) and not isinstance(u.get(k), bool)
                    for k in ("prompt_tokens", "completion_tokens")):
                missing.append(r.request_id)
                continue
            costs[r.request_id] = str(cost(_audited_usage(r, audited), pricing))
        billable = [(w, r) for r in recs if r.request_id in costs]
        wc = workload_costs(billable, pricing, audited)
        summary = wc[0].to_json(pricing.currency) if wc else {"workload": w, "requests": 0}
        data = {**summary, "cost_per_request": costs}
        if audited is not None:
            rep = workload_costs(billable, pricing)
            data["counts"] = "auditor's completion counts"
            if rep:
                data["total_reported"] = str(rep[0].total)
                data["output_tokens_reported"] = rep[0].output_tokens
        if missing:
            out.append(failed(m, f"{w}: {len(missing)} of {len(recs)} successful responses "
                              f"carry no usage to bill from (first: {missing[0]})",
                              evidence=tuple(missing[:20]), data=data))
        else:
            out.append(passed(m, f"{w}: {len(recs)} requests, {summary.get('total')} "
                              f"{pricing.currency}, {summary.get('per_1m_output_tokens')} per "
                              "1M output tokens", evidence=tuple(costs)[:20], data=data))
    return out


def cached_price_applied(rec: RequestRecord, rows: list[dict[str, Any]],
                         pricing: Pricing, tolerance: Decimal = Decimal("0.0001")
                         ) -> Observation:
    """METER-008 with a billing export: the charge for a response with cached tokens equals
    usage x price with the cached tokens at the cached-input price."""
    m = "caching_ok"
    ev = (rec.request_id,)
    billed = [rows[i] for i in rows_for(rec, index_rows(rows))]
    if not billed or not isinstance(rec.usage, dict):
        return failed(m, "the billing export has no row for this request", evidence=ev)
    expected = cost(rec.usage, pricing)
    for row in billed:  # billed more than once is BILL-003's finding, not this one
        charge = Decimal(str(row.get("charge") or "0"))
        if abs(charge - expected) > expected * tolerance:
            full = cost({**rec.usage, "prompt_tokens_details": {"cached_tokens": 0}}, pricing)
            why = " (the full input price)" if charge == full else ""
            return failed(m, f"charged {charge}{why}, cached-price cost {expected}",
                          evidence=ev)
    return passed(m, f"{len(billed)} row(s) charged {expected} at the cached-input price",
                  evidence=ev)
