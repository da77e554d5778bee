"""The vendor's billing export: one CSV row per billed request (for BILL-003).

``request_id`` is the response body's ``id``; ``x_request_id`` the ``x-request-id`` header
every answer carries (5xx included), so a customer can match a row to any response."""

from __future__ import annotations

import csv
import threading
from decimal import Decimal
from pathlib import Path

from conformance.reference.config import GatewayConfig

FIELDS = ("request_id", "tenant", "model", "prompt_tokens", "cached_tokens",
          "completion_tokens", "charge", "currency", "status", "x_request_id")
MILLION = Decimal(1_000_000)


class BillingLedger:
    """Appends a row per billed request; the file is created (truncated) at start."""

    def __init__(self, path: Path, cfg: GatewayConfig) -> None:
        self.path = path
        self._in = Decimal(cfg.price_input)
        self._out = Decimal(cfg.price_output)
        self._cached = Decimal(cfg.price_cached_input)
        self._currency = cfg.currency
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerow(FIELDS)

    def charge(self, prompt: int, cached: int, completion: int) -> Decimal:
        return ((prompt - cached) * self._in + cached * self._cached
                + completion * self._out) / MILLION

    def record(self, request_id: str, tenant: str, model: str, prompt: int, cached: int,
               completion: int, status: int, times: int = 1, x_request_id: str = "") -> None:
        row = (request_id, tenant, model, prompt, cached, completion,
               str(self.charge(prompt, cached, completion)), self._currency, status,
               x_request_id)
        with self._lock, self.path.open("a", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            for _ in range(times):
                w.writerow(row)
