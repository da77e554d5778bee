"""Run AIPerf (``aiperf profile``) against a loopback server and parse its exports.

AIPerf runs WITHOUT ``HF_HUB_OFFLINE`` (with it set, 0.13 hands the local tokenizer path to
the hub client, which rejects it) and with the same local tokenizer directory. With
``--export-level raw`` it writes, per request, ``profile_export.jsonl`` (its computed
metrics: TTFT, every inter-chunk gap, output tokens; the wall-clock send
``request_start_ns``) and ``profile_export_raw.jsonl`` (the monotonic send
``start_perf_ns`` and the raw SSE packets, from which we read the chunks' ``id``); the two
are joined on ``x_request_id``, the id AIPerf also sends as the ``X-Request-ID`` header.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.fidelity.peers._proc import require_loopback, run_bounded, tail
from benchmarks.fidelity.peers.result import (
    PeerRequest,
    PeerResult,
    PeerRunError,
    Status,
    wall_minus_mono_ns,
)
from benchmarks.fidelity.peers.tokenizer_dir import build_tokenizer_dir
from benchmarks.fidelity.peers.venv import ensure_peer

RECORDS = "profile_export.jsonl"
RAW = "profile_export_raw.jsonl"
SUMMARY = "profile_export_aiperf.json"


def command(script: Path, target: str, model: str, *, streams: int | None,
            rate: float | None, duration_s: float | None, requests: int | None,
            input_tokens: int, output_tokens: int, tokenizer: Path, out_dir: Path,
            seed: int, grace_s: float, raw: bool) -> list[str]:
    """The ``aiperf profile`` command line (without the API key)."""
    if (streams is None) == (rate is None):
        raise PeerRunError("give exactly one of streams (concurrency) or rate (Poisson req/s)")
    if (duration_s is None) == (requests is None):
        raise PeerRunError("give exactly one of duration_s or requests")
    cmd = [str(script), "profile", "--model", model, "--url", target,
           "--endpoint-type", "chat", "--streaming", "--tokenizer", str(tokenizer),
           "--isl", str(input_tokens), "--osl", str(output_tokens),
           "--extra-inputs", "ignore_eos:true", "--random-seed", str(seed),
           "--artifact-dir", str(out_dir), "--export-level", "raw" if raw else "records",
           "--ui-type", "none", "--no-server-metrics", "--no-gpu-telemetry"]
    if streams is not None:
        cmd += ["--concurrency", str(streams)]
    else:
        cmd += ["--request-rate", f"{rate:g}", "--arrival-pattern", "poisson"]
    if duration_s is not None:
        cmd += ["--benchmark-duration", f"{duration_s:g}",
                "--benchmark-grace-period", f"{grace_s:g}"]
    else:
        cmd += ["--request-count", str(requests)]
    return cmd


def run_aiperf(base_url: str, model: str, *, out_dir: Path, streams: int | None = None,
               rate: float | None = None, duration_s: float | None = None,
               requests: int | None = None, input_tokens: int = 128,
               output_tokens: int = 100, api_key: str | None = None, seed: int = 42,
               grace_s: float = 30.0, raw: bool = True, venv_root: Path | None = None,
               timeout_s: float | None = None, cpus: Collection[int] | None = None
               ) -> PeerResult:
    """Run one AIPerf profile (``streams`` concurrency or Poisson ``rate``) and parse it.

    ``raw=False`` skips the raw export (smaller files); send times then come from the wall
    clock and the chunks' ``id`` is unknown, so matching falls back to arrival order.
    """
    target = require_loopback(base_url)
    pe = ensure_peer("aiperf", venv_root)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in (RECORDS, RAW, SUMMARY):
        (out_dir / name).unlink(missing_ok=True)
    cmd = command(pe.script, target, model, streams=streams, rate=rate, duration_s=duration_s,
                  requests=requests, input_tokens=input_tokens, output_tokens=output_tokens,
                  tokenizer=build_tokenizer_dir(), out_dir=out_dir, seed=seed,
                  grace_s=grace_s, raw=raw)
    env = {k: v for k, v in os.environ.items()
           if k not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}}
    env["TOKENIZERS_PARALLELISM"] = "false"
    # AIPerf reads the key from its flag only; it redacts it in its own logs and exports.
    full = cmd + (["--api-key", api_key] if api_key else [])
    limit = timeout_s or ((duration_s or 0.0) + grace_s + 180.0 if duration_s else 900.0)
    offset = wall_minus_mono_ns()
    t0 = time.monotonic_ns()
    rc = run_bounded(full, env=env, cwd=out_dir, log_path=out_dir / "aiperf.log",
                     timeout_s=limit, cpus=cpus)
    t1 = time.monotonic_ns()
    if rc != 0 or not (out_dir / RECORDS).is_file():
        raise PeerRunError(f"aiperf exited with status {rc}"
                           f"{'' if (out_dir / RECORDS).is_file() else ' and wrote no records'}:"
                           "\n" + tail(out_dir / "aiperf.log"))
    shown = tuple(cmd + (["--api-key", "<redacted>"] if api_key else []))
    return parse_exports(out_dir, offset=(offset + wall_minus_mono_ns()) // 2, command=shown,
                         version=pe.version, started_mono_ns=t0, ended_mono_ns=t1)


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise PeerRunError(f"{path}:{n}: not JSON ({exc})") from None


@dataclass(frozen=True)
class _Raw:
    start_perf_ns: int | None
    chunk_id: str | None
    content_ns: tuple[int, ...]  # receive stamp of each SSE event carrying content


def _content(value: str) -> bool:
    if '"content"' not in value:
        return False
    try:
        choices = json.loads(value).get("choices") or []
    except ValueError:
        return False
    return any((c.get("delta") or {}).get("content") for c in choices if isinstance(c, dict))


def _raw_index(path: Path) -> dict[str, _Raw]:
    """x_request_id → monotonic send, the first chunk's ``id``, the content chunks' stamps."""
    out: dict[str, _Raw] = {}
    for rec in _lines(path):
        rid = (rec.get("metadata") or {}).get("x_request_id")
        if not rid:
            continue
        chunk_id: str | None = None
        stamps: list[int] = []
        for resp in rec.get("responses") or []:
            for pkt in resp.get("packets") or []:
                value = pkt.get("value") if isinstance(pkt, dict) else None
                if not isinstance(value, str) or not value.startswith("{"):
                    continue
                if chunk_id is None:
                    with contextlib.suppress(ValueError):
                        chunk_id = json.loads(value).get("id")
                if _content(value) and isinstance(resp.get("perf_ns"), int):
                    stamps.append(resp["perf_ns"])
        start = rec.get("start_perf_ns")
        out[str(rid)] = _Raw(int(start) if isinstance(start, int) else None, chunk_id,
                             tuple(stamps))
    return out


def _metric(metrics: dict[str, Any], name: str) -> Any:
    m = metrics.get(name)
    return m.get("value") if isinstance(m, dict) else None


def parse_exports(out_dir: Path, *, offset: int, command: tuple[str, ...] = (),
                  version: str = "", started_mono_ns: int = 0,
                  ended_mono_ns: int = 0) -> PeerResult:
    """Parse AIPerf's per-request exports in ``out_dir`` into a :class:`PeerResult`."""
    raw = _raw_index(out_dir / RAW)
    reqs: list[PeerRequest] = []
    for rec in _lines(out_dir / RECORDS):
        md = rec.get("metadata") or {}
        if md.get("benchmark_phase", "profiling") != "profiling":
            continue  # warmup
        metrics = rec.get("metrics") or {}
        status: Status = ("error" if rec.get("error") else
                          "cancelled" if md.get("was_cancelled") else "ok")
        rid = md.get("x_request_id")
        r = raw.get(str(rid))
        start_mono, chunk_id = (r.start_perf_ns, r.chunk_id) if r else (None, None)
        wall = int(md.get("request_start_ns") or 0)
        ttft = _metric(metrics, "time_to_first_token")
        itl = _metric(metrics, "inter_chunk_latency")
        itl_mean = _metric(metrics, "inter_token_latency")
        osl = _metric(metrics, "output_sequence_length")
        err = rec.get("error")
        reqs.append(PeerRequest(
            status=status, send_wall_ns=wall,
            send_mono_ns=start_mono if start_mono is not None else wall - offset,
            ttft_ms=float(ttft) if isinstance(ttft, int | float) else None,
            output_tokens=int(osl) if isinstance(osl, int | float) else None,
            end_wall_ns=int(md["request_end_ns"]) if md.get("request_end_ns") else None,
            itl_ms=tuple(float(x) for x in itl) if isinstance(itl, list) else (),
            itl_mean_ms=float(itl_mean) if isinstance(itl_mean, int | float) else None,
            response_id=chunk_id, request_id=str(rid) if rid else None,
            chunk_mono_ns=r.content_ns if r else (),
            error=json.dumps(err) if isinstance(err, dict) else (str(err) if err else None),
        ))
    if not reqs:
        raise PeerRunError(f"{out_dir / RECORDS}: no profiling records")
    reqs.sort(key=lambda r: r.send_wall_ns)
    summary: dict[str, Any] = {}
    if (out_dir / SUMMARY).is_file():
        summary = json.loads((out_dir / SUMMARY).read_text(encoding="utf-8"))

    def stat(name: str, key: str) -> float:
        v = (summary.get(name) or {}).get(key)
        return float(v) if isinstance(v, int | float) else float("nan")

    reported = {"ttft_p50_ms": stat("time_to_first_token", "p50"),
                "ttft_p99_ms": stat("time_to_first_token", "p99"),
                "itl_p50_ms": stat("inter_token_latency", "p50"),
                "requests_per_s": stat("request_throughput", "avg")}
    ver = str(summary.get("aiperf_version") or version)
    return PeerResult("aiperf", ver, command, out_dir, tuple(reqs), reported, offset,
                      started_mono_ns, ended_mono_ns)
