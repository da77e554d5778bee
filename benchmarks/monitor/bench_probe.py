"""A probe round's client overhead: what the prober spends besides waiting for the service.

Runs rounds against a local reference service (fast sim, loopback) and prints, per workload
and scenario, the median time of each part of a round: making the fresh prompts (exact
token length under the declared tokenizer), the requests themselves (the service's time),
decoding and the token audit, and the one-transaction write to the store (SQLite).

    python benchmarks/monitor/bench_probe.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conformance.monitor.campaign import load_campaign
from conformance.monitor.prober import Prober
from conformance.monitor.store import open_store
from conformance.reference import ReferenceService

CAMPAIGN = """campaign: bench
prober: {{name: bench}}
targets: [{{name: ref, declaration: {decl}, api_key_env: TOKENCERT_BENCH_KEY}}]
workloads:
  - {{name: in100, input_tokens: 100, output_tokens: 64}}
  - {{name: in1k, input_tokens: 1000, output_tokens: 64}}
  - {{name: in10k, input_tokens: 10000, output_tokens: 64}}
scenarios: [{{name: single, parallel: 1}}, {{name: par10, parallel: 10}}]
"""
PARTS = ("prepare_s", "requests_s", "decode_audit_s", "store_s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=10)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d, ReferenceService.start(
            workdir=Path(d) / "ref", sim_config={"tpot_ms": 2.0, "base_ttft_ms": 20.0},
            gateway_config={"max_concurrency": 16}) as svc:
        os.environ["TOKENCERT_BENCH_KEY"] = svc.api_key
        path = Path(d) / "monitor.yaml"
        path.write_text(CAMPAIGN.format(decl=svc.declaration_path))
        c = load_campaign(path)
        store = open_store(Path(d) / "m.db")
        prober = Prober(c, store)
        t0 = datetime(2026, 12, 1, tzinfo=UTC)
        print(f"{'workload':<8} {'scenario':<7} " + " ".join(f"{p[:-2]:>13}" for p in PARTS)
              + f" {'overhead':>9}  (median ms per round; overhead = all but requests)")
        for w in c.workloads:
            for s in c.scenarios:
                times: dict[str, list[float]] = {p: [] for p in PARTS}
                for i in range(a.rounds + 1):
                    key = prober.key("ref", w.name, s.name, t0 + timedelta(minutes=i))
                    r = asyncio.run(prober.run_round(key))
                    assert r.ok == r.n, r
                    if i:  # the first round loads the tokenizer: not steady state
                        for p in PARTS:
                            times[p].append(r.timings_s[p] * 1000)
                med = {p: statistics.median(v) for p, v in times.items()}
                over = med["prepare_s"] + med["decode_audit_s"] + med["store_s"]
                print(f"{w.name:<8} {s.name:<7} " + " ".join(f"{med[p]:13.1f}" for p in PARTS)
                      + f" {over:9.1f}")
        store.close()


if __name__ == "__main__":
    main()
