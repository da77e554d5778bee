"""Run both peers, one after the other, against a ground-truth server; columns for a table.

``run.py --peers`` can call :func:`run_peers` with the server's URL and a function that
returns (and clears) the server's send log; each peer's column has the same keys as
``run.py``'s own ``compare`` (plus the peer's self-reported figures), so the three print
side by side.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from benchmarks.fidelity.peers.aiperf import run_aiperf
from benchmarks.fidelity.peers.guidellm import run_guidellm
from benchmarks.fidelity.peers.result import PeerResult, PeerRunError
from benchmarks.fidelity.peers.truth import compare

PEERS = ("guidellm", "aiperf")


def gt_log_taker(base_url: str) -> Callable[[], dict[str, Any]]:
    """``GET <base_url>/gt/log`` — the ground-truth server's log since the last call."""
    url = base_url.rstrip("/") + "/gt/log"

    def take() -> dict[str, Any]:
        with urllib.request.urlopen(url, timeout=60) as r:
            return dict(json.load(r))

    return take


def run_peer(name: str, base_url: str, take_log: Callable[[], Mapping[str, Any]], *,
             out_dir: Path, streams: int | None = None, rate: float | None = None,
             duration_s: float = 10.0, input_tokens: int = 128, output_tokens: int = 100,
             model: str = "gt", seed: int = 42, cpus: Collection[int] | None = None
             ) -> tuple[PeerResult, dict[str, Any]]:
    """Clear the log, run one peer, take the log, compare. Returns the result and column."""
    runner = {"guidellm": run_guidellm, "aiperf": run_aiperf}.get(name)
    if runner is None:
        raise PeerRunError(f"unknown peer {name!r}; known: {', '.join(PEERS)}")
    take_log()
    result = runner(base_url, model, out_dir=out_dir / name, streams=streams, rate=rate,
                    duration_s=duration_s, input_tokens=input_tokens,
                    output_tokens=output_tokens, seed=seed, cpus=cpus)
    log = take_log()
    (out_dir / name / "gt-log.json").write_text(json.dumps(log), encoding="utf-8")
    return result, compare(result, log)


def run_peers(base_url: str, take_log: Callable[[], Mapping[str, Any]], *, out_dir: Path,
              streams: int | None = None, rate: float | None = None,
              duration_s: float = 10.0, input_tokens: int = 128, output_tokens: int = 100,
              peers: tuple[str, ...] = PEERS, cpus: Collection[int] | None = None
              ) -> list[tuple[str, dict[str, Any]]]:
    """Columns ``(label, figures)``; a peer that fails gets a column with ``error``.

    ``cpus``: pin the peers where tokencert's client is pinned (``{0}`` in ``run.py``).
    """
    cols: list[tuple[str, dict[str, Any]]] = []
    for name in peers:
        try:
            res, col = run_peer(name, base_url, take_log, out_dir=out_dir, streams=streams,
                                rate=rate, duration_s=duration_s, input_tokens=input_tokens,
                                output_tokens=output_tokens, cpus=cpus)
            label = f"{res.peer} {res.version}"
        except PeerRunError as exc:
            print(f"  {name} failed: {exc}", file=sys.stderr, flush=True)
            label, col = name, {"error": str(exc).splitlines()[0]}
        cols.append((label, col))
    return cols
