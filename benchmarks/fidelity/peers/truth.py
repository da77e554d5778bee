"""Match a peer's requests to the ground-truth server's log and measure its TTFT error.

The ground-truth server (``benchmarks/fidelity/gtserver.py``) logs, per request, the
instant it finished reading it (``recv``) and the instant it wrote each content chunk
(``sends``), on ``CLOCK_MONOTONIC``; ``GET /gt/log`` returns ``{key: {"recv", "sends",
"tokens"}}``. The key is the body's ``user`` field, which neither peer sets, so for them it
is the server's own response id ``gt-<n>`` — the ``id`` of every chunk it streams, which
both peers keep (GuideLLM as ``response_id``, AIPerf in its raw SSE packets).

Matching, simplest robust method first:

1. **by response id** — exact, immune to reordering and to requests the peer never
   reported. Used when at least 90 % of the ids the peer kept are in the log; requests
   without an id (no response chunk reached the peer) stay unmatched.
2. **by arrival order** — otherwise: the peer's sends (on the monotonic clock) and the
   server's receptions are both sorted, and walked together; a reception earlier than the
   send (by more than ``slack_ms``) belongs to nobody in this run, a send with no reception
   within ``max_lag_ms`` is unmatched. At a light load only near-simultaneous sends may
   pair crosswise (each error then moves by at most their arrival gap); a peer that lags
   sends in another order than the server receives, and the pairing degrades — measured
   in docs/peers.md (GuideLLM at 512 streams: 115 of 633 right).

True TTFT, like ``run.py``: server's first content send − client's send (``client_send``
basis): the error is then the peer's own delay in noticing the first token. The
``server_recv`` basis (first send − server's reception) also charges the peer's send lag.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from benchmarks.fidelity.peers.result import PeerRequest, PeerResult, PeerRunError, quantile

Basis = Literal["client_send", "server_recv"]


@dataclass(frozen=True)
class TruthRecord:
    key: str  # the request's ``user`` field, else the server's response id
    recv_ns: int  # monotonic: request fully read
    sends_ns: tuple[int, ...]  # monotonic: each content chunk written

    @property
    def ttft_ms(self) -> float | None:
        return (self.sends_ns[0] - self.recv_ns) / 1e6 if self.sends_ns else None


_ALIASES = {"recv": ("recv", "recv_ns", "arrival_ns"), "sends": ("sends", "sends_ns", "chunk_ns")}


def _record(key: str, obj: Mapping[str, Any], where: str) -> TruthRecord:
    def pick(name: str) -> Any:
        for alias in _ALIASES[name]:
            if alias in obj:
                return obj[alias]
        raise PeerRunError(f"{where}: ground-truth record {key!r} has none of "
                           f"{', '.join(_ALIASES[name])}")

    recv, sends = pick("recv"), pick("sends")
    if not isinstance(recv, int) or not isinstance(sends, list):
        raise PeerRunError(f"{where}: record {key!r}: recv must be an int (ns), "
                           "sends a list of ints (ns)")
    return TruthRecord(key, recv, tuple(int(s) for s in sends))


def load_truth(source: Path | str | Mapping[str, Any] | Iterable[Mapping[str, Any]]
               ) -> list[TruthRecord]:
    """Ground-truth records from the ``/gt/log`` mapping, a JSON file of it, or JSONL.

    JSONL lines are objects with ``key`` (or ``id``/``request_id``), ``recv`` and
    ``sends`` (aliases ``recv_ns``/``arrival_ns``, ``sends_ns``/``chunk_ns``).
    """
    where = "ground-truth log"
    data: Any = source
    if isinstance(source, str | Path):
        where = str(source)
        text = Path(source).read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except ValueError:
            try:
                data = [json.loads(line) for line in text.splitlines() if line.strip()]
            except ValueError as exc:
                raise PeerRunError(f"{where}: neither JSON nor JSONL ({exc})") from None
    if isinstance(data, Mapping):
        return [_record(str(k), v, where) for k, v in data.items()]
    out = []
    for i, obj in enumerate(data):
        if not isinstance(obj, Mapping):
            raise PeerRunError(f"{where}: entry {i} is not an object")
        key = obj.get("key") or obj.get("id") or obj.get("request_id") or f"#{i}"
        out.append(_record(str(key), obj, where))
    return out


@dataclass(frozen=True)
class Match:
    peer: PeerRequest
    truth: TruthRecord

    def true_ttft_ms(self, basis: Basis = "client_send") -> float | None:
        if not self.truth.sends_ns:
            return None
        if basis == "server_recv":
            return self.truth.ttft_ms
        if self.peer.send_mono_ns is None:
            return None
        return (self.truth.sends_ns[0] - self.peer.send_mono_ns) / 1e6


@dataclass(frozen=True)
class Matching:
    method: Literal["response_id", "order"]
    matches: tuple[Match, ...]
    unmatched_peer: int
    unmatched_truth: int


def match_records(peer: PeerResult, truth: Iterable[TruthRecord], *, max_lag_ms: float = 2000.0,
                  slack_ms: float = 5.0) -> Matching:
    """Pair the peer's requests with ground-truth records (see the module docstring)."""
    recs = list(truth)
    by_key = {t.key: t for t in recs}
    with_id = [r for r in peer.requests if r.response_id]
    hits = [Match(r, by_key[r.response_id]) for r in with_id if r.response_id in by_key]
    # Requests without an id never got a response chunk (errors, or cut off by the peer's
    # own deadline before the first token): nothing to match them to, by id or otherwise.
    if hits and len(hits) >= 0.9 * len(with_id):
        used = {m.truth.key for m in hits}
        return Matching("response_id", tuple(hits), len(peer.requests) - len(hits),
                        sum(1 for t in recs if t.key not in used))
    sent = sorted((r for r in peer.requests if r.send_mono_ns is not None),
                  key=lambda r: r.send_mono_ns or 0)
    arrived = sorted(recs, key=lambda t: t.recv_ns)
    matches: list[Match] = []
    j = skipped = 0
    for r in sent:
        assert r.send_mono_ns is not None
        while j < len(arrived) and arrived[j].recv_ns < r.send_mono_ns - slack_ms * 1e6:
            j += 1
            skipped += 1
        if j < len(arrived) and arrived[j].recv_ns - r.send_mono_ns <= max_lag_ms * 1e6:
            matches.append(Match(r, arrived[j]))
            j += 1
    return Matching("order", tuple(matches), len(peer.requests) - len(matches),
                    skipped + len(arrived) - j)


def match_to_ground_truth(peer: PeerResult,
                          truth_records: Iterable[TruthRecord] | Mapping[str, Any], *,
                          basis: Basis = "client_send") -> list[tuple[float, float]]:
    """(measured TTFT ms, true TTFT ms) for every successful request matched to the truth."""
    recs = load_truth(truth_records) if isinstance(truth_records, Mapping) else truth_records
    out = []
    for m in match_records(peer, recs).matches:
        true = m.true_ttft_ms(basis)
        if m.peer.status == "ok" and m.peer.ttft_ms is not None and true is not None:
            out.append((m.peer.ttft_ms, true))
    return out


def _itl_errors(m: Match) -> list[float]:
    """|measured − true| inter-token gaps: per gap where the peer exports them, else mean."""
    s = m.truth.sends_ns
    true_gaps = [(b - a) / 1e6 for a, b in itertools.pairwise(s)]
    if m.peer.itl_ms and len(m.peer.itl_ms) == len(true_gaps):
        return [abs(x - t) for x, t in zip(m.peer.itl_ms, true_gaps, strict=True)]
    if m.peer.itl_mean_ms is not None and true_gaps:
        return [abs(m.peer.itl_mean_ms - sum(true_gaps) / len(true_gaps))]
    return []


def compare(peer: PeerResult, truth: Iterable[TruthRecord] | Mapping[str, Any]) -> dict[str, Any]:
    """The peer's figures against the truth, keyed like ``run.py``'s ``compare``."""
    recs = load_truth(truth) if isinstance(truth, Mapping) else list(truth)
    matching = match_records(peer, recs)
    meas, true, err, srv, srv_ttft, itl_err, itl_meas = [], [], [], [], [], [], []
    delay: list[float] = []
    for m in matching.matches:
        t = m.true_ttft_ms("client_send")
        if m.peer.status != "ok" or m.peer.ttft_ms is None or t is None:
            continue
        meas.append(m.peer.ttft_ms)
        true.append(t)
        err.append(m.peer.ttft_ms - t)
        srv.append(m.peer.ttft_ms - (m.truth.ttft_ms or 0.0))
        srv_ttft.append(m.truth.ttft_ms or 0.0)
        itl_err += _itl_errors(m)
        got, sent = m.peer.chunk_mono_ns, m.truth.sends_ns
        if got and len(got) == len(sent):
            delay += [(g - t) / 1e6 for g, t in zip(got, sent, strict=True)]
        itl_meas += list(m.peer.itl_ms) or ([m.peer.itl_mean_ms] if m.peer.itl_mean_ms else [])
    nan = float("nan")
    return {
        "peer": f"{peer.peer} {peer.version}", "match": matching.method,
        "requests": len(peer.requests),
        "errors": sum(1 for r in peer.requests if r.status == "error"),
        # cut off by the peer's own duration limit (GuideLLM) or cancelled: not failures
        "incomplete": sum(1 for r in peer.requests if r.status in {"incomplete", "cancelled"}),
        "matched": len(err), "unmatched_peer": matching.unmatched_peer,
        "unmatched_truth": matching.unmatched_truth,
        "ttft_true_p50": quantile(true, 0.5), "ttft_meas_p50": quantile(meas, 0.5),
        "ttft_err_p50": quantile(err, 0.5), "ttft_err_p99": quantile(err, 0.99),
        "ttft_server_view_p50": quantile(srv_ttft, 0.5),
        "ttft_err_vs_server_p50": quantile(srv, 0.5), "ttft_err_vs_server_p99": quantile(srv, 0.99),
        "itl_meas_p50": quantile(itl_meas, 0.5), "itl_err_p50": quantile(itl_err, 0.5),
        "itl_err_p99": quantile(itl_err, 0.99),
        # per chunk: peer's receive stamp − server's send (only AIPerf's raw export has them)
        "read_delay_p50": quantile(delay, 0.5), "read_delay_p99": quantile(delay, 0.99),
        "tokens_per_s": peer.tokens_per_s(), "achieved_rate": peer.achieved_rate(),
        "reported_ttft_p50": peer.reported.get("ttft_p50_ms", nan),
        "reported_ttft_p99": peer.reported.get("ttft_p99_ms", nan),
        "reported_itl_p50": peer.reported.get("itl_p50_ms", nan),
        # run.py rows a peer has no figure for: it measures no lag of its own
        "loop_lag_p50": nan, "loop_lag_p99": nan, "loop_lag_max": nan, "cpu_max": nan,
        "sched_delay_p99": nan, "saturated_ttft": "n/a", "saturated_itl": "n/a",
    }
