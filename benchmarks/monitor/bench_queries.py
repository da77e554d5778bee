"""Report queries over a large monitoring store, on SQLite and on PostgreSQL.

Fills a fresh store with N synthetic probes (default 1 000 000: 10 targets × 2 workloads ×
2 scenarios over 30 days) and times what publishing and the dashboard do: the 72-hour
leaderboard (with the previous window for the trend), the monthly ranking, one target's
time series. PostgreSQL: a throw-away server started from the system binaries.

    python benchmarks/monitor/bench_queries.py [--requests 1000000] [--backend both]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "monitor"))

import sqlalchemy as sa

from conformance.monitor import tables as t
from conformance.monitor.figures import compute, last_hours, month
from conformance.monitor.store import Store, open_store

TARGETS = [f"svc-{i:02d}" for i in range(10)]
KEYS = [(tg, wl, sc) for tg in TARGETS for wl in ("short", "long") for sc in ("single", "par")]
END = datetime(2026, 12, 31, 21, 0)


def fill(store: Store, n: int) -> float:
    rng = random.Random(7)
    per_round = 20
    n_rounds = n // per_round
    t0 = time.perf_counter()
    rounds, reqs = [], []
    for i in range(n_rounds):
        tg, wl, sc = KEYS[i % len(KEYS)]
        slot = END - timedelta(minutes=30 * 24 * 60 * (i // len(KEYS)) / (n_rounds // len(KEYS)))
        rounds.append({"id": i + 1, "campaign": "bench", "prober": "p1", "region": "x",
                       "target": tg, "workload": wl, "scenario": sc, "slot": slot,
                       "status": "done", "claimed_at": slot, "finished_at": slot,
                       "n_requests": per_round})
    speed = {tg: 40 + 25 * k for k, tg in enumerate(TARGETS)}
    uid = 0
    with store.engine.begin() as conn:
        for k in range(0, len(rounds), 5000):
            conn.execute(t.rounds.insert(), rounds[k:k + 5000])
    for r in rounds:
        for _ in range(per_round):
            uid += 1
            ok = rng.random() > 0.01
            tps = speed[r["target"]] * rng.uniform(0.8, 1.2)
            ttft = rng.lognormvariate(5, 0.4)
            audited = 100 if r["workload"] == "short" else 1000
            reqs.append((r["id"], f"u{uid:012d}", "bench", "p1", "x", r["target"],
                         r["workload"], r["scenario"], r["slot"] + timedelta(seconds=uid % 60),
                         ttft if ok else None, ttft + 100 / tps * 1000 if ok else None,
                         tps if ok else None, 200 if ok else 503, None if ok else "http", ok,
                         audited + (r["target"] == "svc-03"), audited, 100, 100, 0.0002, "USD"))
            if len(reqs) >= 50_000:
                _insert(store, reqs)
                reqs = []
    if reqs:
        _insert(store, reqs)
    return time.perf_counter() - t0


COLS = ["round_id", "request_uid", "campaign", "prober", "region", "target", "workload",
        "scenario", "sent_at", "ttft_ms", "e2e_ms", "output_tps", "http_status", "error_class",
        "ok", "prompt_tokens_reported", "prompt_tokens_audited", "completion_tokens_reported",
        "completion_tokens_audited", "cost", "currency"]


def _insert(store: Store, rows: list[tuple[object, ...]]) -> None:
    if store.dialect == "postgresql":  # COPY: how a bulk import would load it
        raw = store.engine.raw_connection()
        try:
            cur = raw.cursor()
            with cur.copy(f"COPY monitor_requests ({', '.join(COLS)}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)
            raw.commit()
        finally:
            raw.close()
    else:
        with store.engine.begin() as conn:
            conn.execute(t.requests.insert(), [dict(zip(COLS, r, strict=True)) for r in rows])


def timed(label: str, fn: object) -> float:
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    dt = time.perf_counter() - t0
    print(f"  {label:<52} {dt:8.2f} s")
    return dt


def bench(store: Store, n: int) -> None:
    print(f"{store.dialect}: filling {n} requests …")
    print(f"  {'fill (bulk insert)':<52} {fill(store, n):8.2f} s")
    with store.engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(t.requests)).scalar()
    print(f"  stored requests: {total}")
    if store.dialect == "postgresql":
        with store.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    timed("72 h leaderboard (+ previous window for the trend)",
          lambda: compute(store, last_hours(72, END, campaign="bench")))
    timed("72 h leaderboard, one workload × scenario",
          lambda: compute(store, last_hours(72, END, campaign="bench", workload="short",
                                            scenario="par")))
    timed("monthly ranking 2026-12 (whole store, no trend)",
          lambda: compute(store, month("2026-12", campaign="bench"), trend=False))
    timed("one target's 72 h time series",
          lambda: store.requests(END - timedelta(hours=72), END, "bench",
                                 ("sent_at", "ttft_ms", "output_tps"), target="svc-05"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    a = ap.parse_args()
    if a.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as d:
            store = open_store(Path(d) / "bench.db")
            bench(store, a.requests)
            store.close()
    if a.backend in ("postgresql", "both"):
        from pgserver import postgres_server, unavailable_reason

        why = unavailable_reason()
        if why:
            print(f"postgresql: skipped ({why})")
            return
        with postgres_server() as url:
            store = open_store(url)
            bench(store, a.requests)
            store.close()


if __name__ == "__main__":
    main()
