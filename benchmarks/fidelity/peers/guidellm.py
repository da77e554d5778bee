"""Run GuideLLM (``guidellm run``) against a loopback server and parse its JSON report.

GuideLLM 0.8 takes its whole configuration as a scenario file (``-c scenario.json``); we
write one per run (backend, profile, data, constraints, tokenizer, outputs) so the exact
invocation is on disk next to the results. It runs with ``HF_HUB_OFFLINE=1`` and a local
tokenizer directory. Per request, ``benchmarks.json`` gives the wall-clock send stamp
(``info.timings.request_start``, ``time.time()``), TTFT, the mean inter-token latency,
the output token count and the ``id`` of the chunks the server sent (``response_id``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Collection
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

_GROUPS: tuple[tuple[str, Status], ...] = (
    ("successful", "ok"), ("errored", "error"), ("incomplete", "incomplete"))


def scenario(target: str, model: str, *, streams: int | None, rate: float | None,
             duration_s: float | None, requests: int | None, input_tokens: int,
             output_tokens: int, tokenizer: Path, report: Path, api_key: str | None,
             seed: int) -> dict[str, Any]:
    """The GuideLLM scenario document for one benchmark."""
    if (streams is None) == (rate is None):
        raise PeerRunError("give exactly one of streams (concurrent) or rate (Poisson req/s)")
    if (duration_s is None) == (requests is None):
        raise PeerRunError("give exactly one of duration_s or requests")
    backend: dict[str, Any] = {
        "kind": "openai_http", "target": target, "model": model,
        "request_format": "/v1/chat/completions", "http2": False, "timeout": 120.0,
        # the ground-truth server has no /health; GuideLLM's probe would fail (or stream)
        "validate_backend": False,
    }
    if api_key:
        backend["api_key"] = api_key
    profile: dict[str, Any] = ({"kind": "concurrent", "streams": [streams]} if streams
                               else {"kind": "poisson", "rate": [rate]})
    constraint: dict[str, Any] = ({"kind": "max_duration", "seconds": duration_s}
                                  if duration_s is not None
                                  else {"kind": "max_requests", "count": requests})
    return {"spec": {
        "backend": backend,
        "profile": profile,
        "data": [{"kind": "synthetic_text", "prompt_tokens": input_tokens,
                  "output_tokens": output_tokens}],
        "constraints": [constraint],
        "tokenizer": {"kind": "huggingface_auto", "model": str(tokenizer)},
        "seed": {"kind": "static", "value": seed},
        "outputs": [{"kind": "json", "path": str(report)}],
    }}


def run_guidellm(base_url: str, model: str, *, out_dir: Path, streams: int | None = None,
                 rate: float | None = None, duration_s: float | None = None,
                 requests: int | None = None, input_tokens: int = 128,
                 output_tokens: int = 100, api_key: str | None = None, seed: int = 42,
                 venv_root: Path | None = None, timeout_s: float | None = None,
                 cpus: Collection[int] | None = None) -> PeerResult:
    """Run one GuideLLM benchmark (concurrent ``streams`` or Poisson ``rate``) and parse it."""
    target = require_loopback(base_url)
    pe = ensure_peer("guidellm", venv_root)
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    report = out_dir / "benchmarks.json"
    report.unlink(missing_ok=True)
    doc = scenario(target, model, streams=streams, rate=rate, duration_s=duration_s,
                   requests=requests, input_tokens=input_tokens, output_tokens=output_tokens,
                   tokenizer=build_tokenizer_dir(), report=report, api_key=api_key, seed=seed)
    spec_path = out_dir / "scenario.json"
    spec_path.write_text(json.dumps(_redacted(doc), indent=1) + "\n", encoding="utf-8")
    secret_path = out_dir / ".scenario-run.json"  # with the key, removed after the run
    secret_path.write_text(json.dumps(doc), encoding="utf-8")
    secret_path.chmod(0o600)
    cmd = (str(pe.script), "run", "-c", str(secret_path), "--disable-console-interactive")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    limit = timeout_s or ((duration_s or 0.0) + 180.0 if duration_s else 900.0)
    offset = wall_minus_mono_ns()
    t0 = time.monotonic_ns()
    try:
        rc = run_bounded(cmd, env=env, cwd=out_dir, log_path=out_dir / "guidellm.log",
                         timeout_s=limit, cpus=cpus)
    finally:
        secret_path.unlink(missing_ok=True)
    t1 = time.monotonic_ns()
    if rc != 0 or not report.is_file():
        raise PeerRunError(f"guidellm exited with status {rc} and "
                           f"{'a' if report.is_file() else 'no'} report:\n"
                           + tail(out_dir / "guidellm.log"))
    shown = (str(pe.script), "run", "-c", str(spec_path), "--disable-console-interactive")
    return parse_report(report, offset=(offset + wall_minus_mono_ns()) // 2, command=shown,
                        version=pe.version, started_mono_ns=t0, ended_mono_ns=t1)


def _redacted(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(doc))
    if "api_key" in out["spec"]["backend"]:
        out["spec"]["backend"]["api_key"] = "<redacted>"
    return out


def parse_report(path: Path, *, offset: int, command: tuple[str, ...] = (),
                 version: str = "", started_mono_ns: int = 0,
                 ended_mono_ns: int = 0) -> PeerResult:
    """Parse ``benchmarks.json`` (one benchmark) into a :class:`PeerResult`."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        bench = doc["benchmarks"][0]
        groups = bench["requests"]
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise PeerRunError(f"{path}: not a GuideLLM report with one benchmark ({exc})") from None
    reqs: list[PeerRequest] = []
    for key, status in _GROUPS:
        for r in groups.get(key) or []:
            reqs.append(_request(r, status, offset))
    reqs.sort(key=lambda r: r.send_wall_ns)
    m = bench.get("metrics", {})
    reported = {
        "ttft_p50_ms": _stat(m, "time_to_first_token_ms", "median"),
        "ttft_p99_ms": _stat(m, "time_to_first_token_ms", "p99"),
        "itl_p50_ms": _stat(m, "inter_token_latency_ms", "median"),
        "requests_per_s": _stat(m, "requests_per_second", "mean"),
    }
    notes = tuple(str(w.get("message") or w.get("code") or w)
                  for w in bench.get("warnings") or [] if isinstance(w, dict))
    ver = str(doc.get("metadata", {}).get("guidellm_version") or version)
    return PeerResult("guidellm", ver, command, path.parent, tuple(reqs), reported, offset,
                      started_mono_ns, ended_mono_ns, notes)


def _stat(metrics: dict[str, Any], name: str, stat: str) -> float:
    d = metrics.get(name, {}).get("successful") or {}
    v = d.get(stat) if stat in {"median", "mean"} else (d.get("percentiles") or {}).get(stat)
    return float(v) if isinstance(v, int | float) else float("nan")


def _request(r: dict[str, Any], status: Status, offset: int) -> PeerRequest:
    info = r.get("info") or {}
    timings = info.get("timings") or {}
    start = timings.get("request_start") or r.get("request_start_time")
    if start is None:  # never sent (queued when the benchmark stopped)
        start = timings.get("queued") or 0.0
    wall = round(float(start) * 1e9)
    ttft = r.get("time_to_first_token_ms")
    itl = r.get("inter_token_latency_ms")
    out = r.get("output_tokens")
    end = timings.get("request_end")
    return PeerRequest(
        status=status, send_wall_ns=wall, send_mono_ns=wall - offset,
        ttft_ms=float(ttft) if isinstance(ttft, int | float) else None,
        output_tokens=int(out) if isinstance(out, int | float) else None,
        end_wall_ns=round(float(end) * 1e9) if isinstance(end, int | float) else None,
        itl_mean_ms=float(itl) if isinstance(itl, int | float) else None,
        response_id=r.get("response_id"), request_id=r.get("request_id"),
        error=info.get("error"),
    )
