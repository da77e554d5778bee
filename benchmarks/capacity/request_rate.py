"""Client capacity for small non-streamed requests (SEC-005's rate probe).

    python benchmarks/capacity/request_rate.py [--requests 600] [--streams 16]

The reference service (a separate process, TLS, no rate limit, a near-instant engine)
answers one-word prompts with ``max_tokens: 1``; tokencert's real client sends them on
``--streams`` concurrent loops. Printed: the client's own CPU time per request (this
process only) and the requests per second one client process could send at 100% of a core
— the figure behind ``conformance.plan.probes.REQUESTS_PER_S_PER_PROCESS`` — and the wall
rate reached (bounded by the service and the machine, not only the client).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from conformance.reference import ReferenceService
from conformance.run.client import ChatParams, Client
from conformance.run.client.config import ClientConfig


async def _run(svc: ReferenceService, n: int, streams: int) -> tuple[float, float]:
    cfg = ClientConfig(base_url=svc.base_url, api_key=svc.api_key, ca_bundle=svc.ca_bundle)
    p = ChatParams(messages=({"role": "user", "content": "ping"},), max_tokens=1, stream=False)
    async with Client(cfg) as c:
        for i in range(streams):  # open the connections first (TLS handshakes)
            await c.chat(p, request_id=f"warm-{i}", phase="bench", seq=i)
        todo = iter(range(n))

        async def loop() -> None:
            for i in todo:
                await c.chat(p, request_id=f"r-{i}", phase="bench", seq=i)

        cpu0, t0 = time.process_time(), time.monotonic()
        await asyncio.gather(*(loop() for _ in range(streams)))
        return time.process_time() - cpu0, time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=600)
    ap.add_argument("--streams", type=int, default=16)
    a = ap.parse_args()
    with ReferenceService.start(tls=True, defects=["no_rate_limit"],
                                sim_config={"tpot_ms": 0.5, "base_ttft_ms": 1.0}) as svc:
        cpu, wall = asyncio.run(_run(svc, a.requests, a.streams))
    per = cpu / a.requests
    print(f"client CPU per request: {per * 1e3:.2f} ms -> {1 / per:,.0f} requests/s per "
          f"process at 100% of a core; wall rate reached {a.requests / wall:,.0f} requests/s")


if __name__ == "__main__":
    main()
