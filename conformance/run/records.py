"""The per-request record: the contract between the client/load engine (which fills the
raw, hot-path fields) and the evidence recorder / metrics (which read them).

Hot path rule: while a request is in flight the engine only takes timestamps
(``time.perf_counter_ns``) and keeps raw event bytes. Decoding JSON, counting tokens and
writing evidence happen after the request (``decode_stream``/``decode_body`` in
``conformance.run.client``) or after the phase.

All ``*_ns`` fields are monotonic ``perf_counter_ns`` readings of the process that made the
request; ``started_utc`` only says when. Durations are differences of ``*_ns`` fields.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

RECORD_VERSION = 1

# Error classes a request can end in (client-side view). ``None`` = transport succeeded.
ERROR_CLASSES = (
    "timeout",  # no answer / stalled past the per-request timeout
    "connect",  # connection refused or failed
    "reset",  # connection reset or closed mid-response
    "protocol",  # malformed HTTP / SSE framing
    "too_large",  # response exceeded the size limit (flood)
    "garbage",  # body/events not parseable as the dialect's JSON
    "client_error",  # the instrument itself failed (never counted against the service)
    "worker_lost",  # the load worker sending it was lost mid-request (never counted either)
)
# Failures of the instrument, not of the service: excluded from every candidate rate.
INSTRUMENT_ERRORS = frozenset({"client_error", "worker_lost"})


@dataclass(slots=True)
class ChunkEvent:
    """One SSE event as received: timestamp at its first byte, raw ``data:`` payload."""

    t_ns: int
    data: bytes


@dataclass(slots=True)
class RequestRecord:
    # identity
    request_id: str  # client-side id, unique in the run: "<phase>-<seq>"
    phase: str
    seq: int
    worker: int = 0
    stream: bool = True
    # what was asked (redacted, never contains the API key)
    request: dict[str, Any] = field(default_factory=dict)
    # hot-path timestamps (perf_counter_ns)
    scheduled_ns: int = 0  # when the arrival strategy wanted it sent
    sent_ns: int | None = None  # just before the request bytes were written
    headers_ns: int | None = None  # response headers received
    first_byte_ns: int | None = None  # first body byte
    first_token_ns: int | None = None  # first content-bearing chunk (set by decode)
    last_byte_ns: int | None = None  # end of body
    started_utc: str = ""  # wall clock at send, RFC 3339 UTC
    # raw response
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)  # filtered + redacted
    events: list[ChunkEvent] = field(default_factory=list)  # streaming only
    body: bytes | None = None  # non-streaming only (bounded)
    received_bytes: int = 0  # body bytes received, kept or not (de-chunked, not decoded)
    evidence_cap_bytes: int | None = None  # set when events/body stop at this many bytes
    error: str | None = None  # one of ERROR_CLASSES
    error_detail: str | None = None
    # decoded after the request (off the hot path)
    text: str | None = None
    content_chunks: list[tuple[int, str, int]] = field(default_factory=list)
    # ^ (t_ns, text, tokens_in_chunk) for each content-bearing chunk
    usage: dict[str, Any] | None = None
    finish_reason: str | None = None
    done_seen: bool = False
    model: str | None = None
    response_id: str | None = None  # body "id" / header x-request-id
    decode_errors: list[str] = field(default_factory=list)
    logprob_tokens: int | None = None  # per-token logprob entries received (METER-003)
    # visible reasoning, kept apart from the answer (``reasoning_content`` deltas, Anthropic
    # thinking blocks, Responses reasoning deltas); ``text``/``content_chunks`` never hold it
    reasoning_text: str | None = None
    first_reasoning_ns: int | None = None  # first reasoning-bearing event (set by decode)
    # where a registered secret (an API key) was found in what the candidate sent, before it
    # was redacted: "header <name>", "body", "events", "text", "reasoning" (SEC-006 reads
    # this, not the redaction marker, which a model may write itself)
    secrets_echoed: list[str] = field(default_factory=list)
    version: int = RECORD_VERSION

    # --- derived metrics (MLPerf LoadGen definitions), in milliseconds -------------------
    def ttft_ms(self) -> float | None:
        if self.sent_ns is None or self.first_token_ns is None:
            return None
        return (self.first_token_ns - self.sent_ns) / 1e6

    def ttfat_ms(self) -> float | None:
        """Time to the first answer token: the first content after any reasoning (= TTFT)."""
        return self.ttft_ms()

    def ttfrt_ms(self) -> float | None:
        """Time to the first visible reasoning token; None when none was shown."""
        if self.sent_ns is None or self.first_reasoning_ns is None:
            return None
        return (self.first_reasoning_ns - self.sent_ns) / 1e6

    def e2e_ms(self) -> float | None:
        if self.sent_ns is None or self.last_byte_ns is None:
            return None
        return (self.last_byte_ns - self.sent_ns) / 1e6

    def output_tokens(self) -> int | None:
        if self.usage and isinstance(self.usage.get("completion_tokens"), int):
            return int(self.usage["completion_tokens"])
        if self.content_chunks:
            return sum(n for _, _, n in self.content_chunks)
        return None

    def tpot_ms(self, tokens: int | None = None) -> float | None:
        """(E2E - TTFT) / (tokens - 1); ``tokens``: the auditor's count of the output tokens
        (``conformance.checks.audit``), else the service's ``completion_tokens``."""
        ttft, e2e = self.ttft_ms(), self.e2e_ms()
        n = tokens if tokens is not None else self.output_tokens()
        if ttft is None or e2e is None or n is None or n < 2:
            return None
        return (e2e - ttft) / (n - 1)

    def itl_ms(self) -> list[float]:
        """Gaps between successive content-bearing chunks, divided by the chunk's tokens."""
        out: list[float] = []
        prev: int | None = None
        for t, _, n in self.content_chunks:
            if prev is not None:
                out.append((t - prev) / 1e6 / max(1, n))
            prev = t
        return out

    def max_stall_ms(self) -> float | None:
        gaps = [
            (b[0] - a[0]) / 1e6
            for a, b in zip(self.content_chunks, self.content_chunks[1:], strict=False)
        ]
        return max(gaps) if gaps else None

    @property
    def ok(self) -> bool:
        """Transport completed with a 2xx."""
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @property
    def truncated(self) -> bool:
        """The events or body hold only the first ``evidence_cap_bytes`` of the response."""
        return self.evidence_cap_bytes is not None

    @property
    def instrument_failed(self) -> bool:
        """The instrument failed (client error, lost load worker): the record says nothing
        about the service and is left out of its success and error rates."""
        return self.error in INSTRUMENT_ERRORS

    def to_json(self) -> dict[str, Any]:
        """JSON-safe dict (raw bytes as UTF-8 with replacement; blobs are the recorder's job)."""
        d = asdict(self)
        d["events"] = [[e.t_ns, e.data.decode("utf-8", "replace")] for e in self.events]
        d["body"] = self.body.decode("utf-8", "replace") if self.body is not None else None
        d["content_chunks"] = [list(c) for c in self.content_chunks]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RequestRecord:
        d = dict(d)
        d["events"] = [ChunkEvent(int(t), s.encode("utf-8")) for t, s in d.get("events", [])]
        body = d.get("body")
        d["body"] = body.encode("utf-8") if isinstance(body, str) else None
        d["content_chunks"] = [tuple(c) for c in d.get("content_chunks", [])]
        return cls(**d)
