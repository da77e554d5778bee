"""Reference service under load: does the sim latency model hold, does the gateway stay up?

    python benchmarks/reference/bench_reference.py [--streams 200] [--output 64]

Phase 1 (burst): N concurrent streams (default 200) against gateway + sim engine, all sent
at once. The engine decodes at most ``capacity`` sequences; the rest queue (FIFO). The
model is replayed on the observed engine arrival times (FIFO, C slots, TTFT = queueing +
base + prefill x P, TPOT = tpot x (1 + growth x (active - 1))); we compare predicted and
observed TTFT quantiles, mean TPOT and the makespan (within 10%).
Phase 2 (capacity): closed-loop streams at the declared concurrency with the W-std shape
(1000 in / 1000 out) against the capacity the written declaration claims.
Phase 3: the service still answers. Loopback only; bounded in count and duration.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import statistics
import sys
import time
from dataclasses import dataclass

import httpx

from conformance.reference import GatewayConfig, ReferenceService, SimConfig

MODEL = "tokencert-ref-1"


@dataclass
class Result:
    ok: bool
    ttft: float = 0.0
    tpot: float = 0.0
    tokens: int = 0
    prompt_tokens: int = 0
    end: float = 0.0
    sent: float = 0.0
    headers: float = 0.0


async def one(c: httpx.AsyncClient, prompt: str, max_tokens: int, t0: float) -> Result:
    payload = {"model": MODEL, "messages": [{"role": "user", "content": prompt}],
               "max_tokens": max_tokens, "stream": True,
               "stream_options": {"include_usage": True}}
    times: list[float] = []
    usage = None
    sent = time.perf_counter()
    try:
        async with c.stream("POST", "/chat/completions", json=payload) as r:
            headers = time.perf_counter()
            if r.status_code != 200:
                await r.aread()
                return Result(False)
            async for line in r.aiter_lines():
                if not line.startswith("data:") or line.endswith("[DONE]"):
                    continue
                obj = json.loads(line[5:])
                ch = obj.get("choices") or []
                if ch and ch[0]["delta"].get("content"):
                    times.append(time.perf_counter())
                if obj.get("usage"):
                    usage = obj["usage"]
    except httpx.HTTPError:
        return Result(False)
    if not times or usage is None:
        return Result(False)
    n = len(times)
    return Result(True, times[0] - sent, (times[-1] - times[0]) / (n - 1) if n > 1 else 0.0,
                  n, usage["prompt_tokens"], times[-1] - t0, sent - t0, headers - t0)


def q(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(int(p * len(s)), len(s) - 1)]


def predict(cfg: SimConfig, arrivals: list[float], prompt: int, out: int
            ) -> tuple[list[float], list[float], float]:
    """The latency model replayed on the observed engine arrival times (response headers:
    the gateway hands a request to the engine right after sending them).

    Returns the predicted first-token times and TPOTs (arrival order) and the makespan.
    """
    first = (cfg.base_ttft_ms + cfg.prefill_ms_per_token * prompt) / 1000
    free = [0.0] * cfg.capacity
    running: list[tuple[float, float]] = []  # (start, end) of admitted requests
    firsts, tpots = [], []
    for i, h in enumerate(sorted(arrivals)):
        start = max(h, heapq.heappop(free))
        waiting = sum(1 for a in arrivals[i + 1:] if a <= start + first)
        active = min(cfg.capacity,
                     1 + sum(1 for s0, e in running if s0 <= start < e) + waiting)
        tpot = cfg.tpot_at(active) / 1000
        end = start + first + (out - 1) * tpot
        running.append((start, end))
        heapq.heappush(free, end)
        firsts.append(start + first)
        tpots.append(tpot)
    return firsts, tpots, max(e for _, e in running)


def within(pred: float, obs: float) -> str:
    err = (obs - pred) / pred
    return f"{pred * 1000:9.1f} {obs * 1000:9.1f} {err:+7.1%} {'ok' if abs(err) <= 0.10 else 'OFF'}"


async def burst(svc: ReferenceService, cfg: SimConfig, n: int, out: int) -> bool:
    limits = httpx.Limits(max_connections=n + 8, max_keepalive_connections=n + 8)
    async with httpx.AsyncClient(base_url=svc.base_url, headers=svc.headers(), timeout=300,
                                 limits=limits) as c:
        prompt = "The harbour master raises the red flag when storms come. " * 8
        t0 = time.perf_counter()
        res = await asyncio.gather(*(one(c, prompt + str(i), out, t0) for i in range(n)))
    good = [r for r in res if r.ok]
    print(f"\n== burst: {n} concurrent streams, {out} output tokens each, "
          f"engine capacity {cfg.capacity}")
    print(f"completed {len(good)}/{n}; failed {n - len(good)}")
    if not good:
        return False
    p = round(statistics.fmean(r.prompt_tokens for r in good))
    good.sort(key=lambda r: r.headers)
    firsts, tpots, makespan = predict(cfg, [r.headers for r in good], p, out)
    ttfts = [f - r.sent for f, r in zip(firsts, good, strict=True)]
    tpot = statistics.fmean(tpots)
    obs_ttft = [r.ttft for r in good]
    admit = [r.headers - r.sent for r in good]
    print(f"gateway admission (request sent -> response headers): p50 {q(admit, .5) * 1000:.0f}"
          f" ms, max {max(admit) * 1000:.0f} ms")
    print(f"prompt tokens {p}; {'metric':22} {'model ms':>9} {'observed':>9} {'error':>7}")
    rows = [("TTFT p10", q(ttfts, 0.10), q(obs_ttft, 0.10)),
            ("TTFT p50", q(ttfts, 0.50), q(obs_ttft, 0.50)),
            ("TTFT p90", q(ttfts, 0.90), q(obs_ttft, 0.90)),
            ("TPOT mean", tpot, statistics.fmean(r.tpot for r in good)),
            ("makespan", makespan, max(r.end for r in good))]
    ok = len(good) == n
    for name, pred, obs in rows:
        line = within(pred, obs)
        ok &= line.endswith("ok")
        print(f"{'':18}{name:22} {line}")
    print(f"throughput {sum(r.tokens for r in good) / max(r.end for r in good):.0f} tokens/s")
    return ok


async def capacity(svc: ReferenceService) -> bool:
    d = svc.declaration()
    conc, claim = d.performance.declared_concurrency, d.performance.output_tokens_per_s
    prompt = "word " * 990
    async with httpx.AsyncClient(base_url=svc.base_url, headers=svc.headers(),
                                 timeout=300) as c:
        t0 = time.perf_counter()
        res = await asyncio.gather(*(one(c, prompt + str(i), 1000, t0) for i in range(conc)))
    wall = max(r.end for r in res if r.ok)
    rate = sum(r.tokens for r in res) / wall
    good = [r for r in res if r.ok]
    print(f"\n== capacity: {conc} concurrent W-std streams (~1000 in / 1000 out)")
    print(f"completed {len(good)}/{conc}; TTFT p50 {q([r.ttft for r in good], .5) * 1000:.0f} "
          f"ms; TPOT mean {statistics.fmean(r.tpot for r in good) * 1000:.2f} ms")
    print(f"output {rate:.0f} tokens/s vs declared {claim:.0f} -> {rate / claim:.1%} of claim "
          f"({'meets L3 >= 100%' if rate >= claim else 'BELOW CLAIM'})")
    return rate >= claim and len(good) == conc


def alive(svc: ReferenceService) -> bool:
    with httpx.Client(base_url=svc.base_url, headers=svc.headers(), timeout=30) as c:
        r = c.post("/chat/completions", json={"model": MODEL, "max_tokens": 4, "messages": [
            {"role": "user", "content": "still there?"}]})
        ok = r.status_code == 200 and c.get("/models").status_code == 200
    print(f"\n== after the load: service {'answers normally' if ok else 'is DOWN'}; "
          f"process {'running' if svc.process.poll() is None else 'EXITED'}")
    return ok and svc.process.poll() is None


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--streams", type=int, default=200)
    ap.add_argument("--output", type=int, default=64)
    ap.add_argument("--skip-capacity", action="store_true")
    args = ap.parse_args()
    cfg = SimConfig()
    gw = GatewayConfig(max_concurrency=args.streams + 16, max_queue=args.streams,
                       rpm=1_000_000, tpm=10**10)
    with ReferenceService.start(sim_config=cfg, gateway_config=gw) as svc:
        ok = asyncio.run(burst(svc, cfg, args.streams, args.output))
        if not args.skip_capacity:
            ok &= asyncio.run(capacity(svc))
        ok &= alive(svc)
    print(f"\nverdict: {'model holds within 10%, service stayed up' if ok else 'NOT OK'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
