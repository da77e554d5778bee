"""``upstream:URL`` forwarding, client disconnects, and the llama.cpp capacity claim."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from refclient import body, client, post, reference_count, stream

from conformance.reference import GatewayConfig, ReferenceService
from conformance.reference.upstream import UPSTREAM_KEY_ENV


def test_upstream_forwarding_keeps_metering_exact() -> None:
    with ReferenceService.start() as engine, ReferenceService.start(
            engine=f"upstream:{engine.base_url}",
            extra_env={UPSTREAM_KEY_ENV: engine.api_key}) as gw:
        msgs = [{"role": "user", "content": "上游 upstream 👍"}]
        payload = body(max_tokens=6, seed=2, temperature=0) | {"messages": msgs}
        direct = post(engine, payload).json()
        via = post(gw, payload).json()
        assert via["choices"][0]["message"]["content"] == direct["choices"][0]["message"][
            "content"]
        assert via["usage"]["prompt_tokens"] == reference_count(msgs)
        assert via["usage"]["completion_tokens"] == 6
        s = stream(gw, payload | {"stream_options": {"include_usage": True}})
        assert s.done and s.usage is not None and s.usage["completion_tokens"] == 6
        assert s.text == direct["choices"][0]["message"]["content"]
    with ReferenceService.start(engine="upstream:http://127.0.0.1:9/v1") as dead:
        r = post(dead, body(max_tokens=2))
        assert r.status_code == 502 and r.json()["error"]["type"] == "server_error"


def test_disconnects_release_their_slots() -> None:
    with ReferenceService.start(gateway_config=GatewayConfig(max_concurrency=2, max_queue=0),
                                sim_config={"tpot_ms": 50}) as svc:
        for _ in range(3):
            with client(svc) as c, c.stream("POST", "/chat/completions",
                                            json=body(max_tokens=200, stream=True)) as r:
                next(r.iter_lines())  # read a little, then hang up
        time.sleep(0.3)
        with ThreadPoolExecutor(2) as pool:
            codes = list(pool.map(lambda _: post(svc, body(max_tokens=2)).status_code,
                                  range(2)))
        assert codes == [200, 200]


@pytest.mark.engine
def test_llama_cpp_reaches_its_declared_capacity(tiny_gguf: Path) -> None:
    with ReferenceService.start(engine="llama.cpp", gguf=tiny_gguf) as svc:
        d = svc.declaration()
        n = d.performance.declared_concurrency
        post(svc, body("warm up", max_tokens=8))
        t0 = time.perf_counter()
        with ThreadPoolExecutor(n) as pool:
            usages = list(pool.map(lambda i: post(svc, body(f"story {i}", max_tokens=256))
                                   .json()["usage"]["completion_tokens"], range(n)))
        rate = sum(usages) / (time.perf_counter() - t0)
        assert rate >= d.performance.output_tokens_per_s
        with httpx.Client(base_url=svc.base_url, verify=svc.verify) as c:
            assert c.get("/models").status_code == 401


@pytest.mark.engine
def test_timing_defects_apply_to_llama_cpp(tiny_gguf: Path) -> None:
    with ReferenceService.start(engine="llama.cpp", gguf=tiny_gguf,
                                defects=["midstream_stall=800", "ttft_spikes=1"]) as svc:
        s = stream(svc, body(max_tokens=14, temperature=0.0, seed=1))
        assert s.ttft >= 5.4 and s.max_gap >= 0.75 and s.done  # 5.5 s spike, timer slack
