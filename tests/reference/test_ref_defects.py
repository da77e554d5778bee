"""Every registered defect is observable at the HTTP level, and its probe sees nothing on
a healthy service with the same settings (so each probe can fail).

A new defect without a probe here fails ``test_every_defect_has_a_probe``.
"""

from __future__ import annotations

import contextlib
import csv
import json
import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from refclient import MODEL, body, client, get, post, reference_count, stream

from conformance.reference import DEFECTS, ReferenceService

Observe = Callable[[ReferenceService], bool]


@dataclass(frozen=True)
class Probe:
    observe: Observe
    spec: str | None = None  # e.g. "dies_after=1" (default: the bare name)
    tls: bool = False
    gateway: dict[str, Any] = field(default_factory=dict)
    sim: dict[str, Any] = field(default_factory=dict)
    billing: bool = False

    def key(self) -> str:
        return json.dumps([self.tls, self.gateway, self.sim, self.billing], sort_keys=True)


SMALL_CTX = {"context_window": 512, "max_output_tokens": 128}
ONE_SLOT = {"max_concurrency": 1, "max_queue": 0}
SLOW20 = {"tpot_ms": 20.0}
LONG = "The harbour master raises the red flag when storms come. " * 40
DET = body("Deterministic please", max_tokens=20, seed=11, temperature=0)


def _usage(svc: ReferenceService, payload: dict[str, Any]) -> dict[str, Any]:
    r = post(svc, payload)
    assert r.status_code == 200, r.text
    return dict(r.json()["usage"])


def _overload(svc: ReferenceService) -> list[httpx.Response]:
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda _: post(svc, body(max_tokens=30)), range(4)))


def _padded_logprobs(svc: ReferenceService) -> bool:
    """The logprob entries spell more than the delivered text, and usage counts them."""
    doc = post(svc, body(max_tokens=6, logprobs=True)).json()
    ch = doc["choices"][0]
    spelled = b"".join(bytes(e["bytes"]) for e in ch["logprobs"]["content"])
    return (spelled != ch["message"]["content"].encode()
            and doc["usage"]["completion_tokens"] == len(ch["logprobs"]["content"]))


def _refused_probes(svc: ReferenceService) -> bool:
    """Some probe-like requests (max_tokens 1) are refused, the same prompt every time."""
    first = [post(svc, body(f"probe {i}", max_tokens=1)).status_code for i in range(8)]
    again = [post(svc, body(f"probe {i}", max_tokens=1)).status_code for i in range(8)]
    return first == again and any(c in (429, 500) for c in first) and 200 in first


def _ignore_stop(svc: ReferenceService) -> bool:
    text = post(svc, DET).json()["choices"][0]["message"]["content"]
    stop = " " + text.split(" ")[4]
    return stop in post(svc, DET | {"stop": [stop]}).json()["choices"][0]["message"]["content"]


def _no_request_id(svc: ReferenceService) -> bool:
    a, b = post(svc, body(max_tokens=1)), post(svc, body(max_tokens=1))
    return "x-request-id" not in a.headers and a.json()["id"] == b.json()["id"]


def _capacity_short(svc: ReferenceService) -> bool:
    decl = svc.declaration()
    n = decl.performance.declared_concurrency
    t0 = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        streams = list(pool.map(lambda _: stream(svc, body(max_tokens=150)), range(n)))
    rate = sum(len(s.texts) for s in streams) / (time.perf_counter() - t0)
    # healthy reaches ~115% of its claim, the defect ~40%: 60% separates them with room for
    # a busy machine (the benchmark checks the >= 100% claim itself)
    return rate < 0.6 * decl.performance.output_tokens_per_s


def _poor_scaling(svc: ReferenceService) -> bool:
    alone = stream(svc, body(max_tokens=30)).tpot
    with ThreadPoolExecutor(8) as pool:
        many = list(pool.map(lambda _: stream(svc, body(max_tokens=30)).tpot, range(8)))
    return statistics.median(many) / alone > 3.0


def _slow_recovery(svc: ReferenceService) -> bool:
    assert any(r.status_code in (429, 503) for r in _overload(svc))
    return stream(svc, body(max_tokens=2)).ttft > 1.5


def _bill_rows(svc: ReferenceService) -> list[dict[str, str]]:
    assert svc.billing_export_path is not None
    with svc.billing_export_path.open() as fh:
        return list(csv.DictReader(fh))


def _double_billing(svc: ReferenceService) -> bool:
    rid = str(post(svc, body(max_tokens=2)).json()["id"])
    return sum(r["request_id"] == rid for r in _bill_rows(svc)) > 1


def _bills_5xx(svc: ReferenceService) -> bool:
    failed = _in_one_block(20, lambda s: post(s, body(max_tokens=2)).status_code >= 500)(svc)
    return failed and any(r["status"] != "200" for r in _bill_rows(svc))


def _in_one_block(k: int, observe: Observe) -> Observe:
    """A "one request in k" defect falls once in every block of k requests, at a seeded
    position: k requests show it (all of them run, so a healthy service is asked as often)."""
    def run(svc: ReferenceService) -> bool:
        return any([observe(svc) for _ in range(k)])
    return run


def _wrong_ca(svc: ReferenceService) -> bool:
    try:
        with client(svc) as c:
            c.get("/models")
    except httpx.ConnectError:
        return True
    return False


def _plain_http(svc: ReferenceService) -> bool:
    r = httpx.get(svc.base_url.replace("https://", "http://") + "/models",
                  headers=svc.headers()) if svc.base_url.startswith("http://") else None
    return r is not None and r.status_code == 200


def _shared_cache(svc: ReferenceService) -> bool:
    text = LONG + str(time.perf_counter_ns())  # a prefix nobody primed before
    post(svc, body(text, max_tokens=1))
    other = post(svc, body(text, max_tokens=1), tenant=1).json()["usage"]
    return bool(other["prompt_tokens_details"]["cached_tokens"] > 0)


def _sleep_then(seconds: float, observe: Observe) -> Observe:
    def run(svc: ReferenceService) -> bool:
        time.sleep(seconds)
        return observe(svc)
    return run


ZH = "请用两句话总结服务等级协议。"
PROBES: dict[str, Probe] = {
    "malformed_response": Probe(lambda s: "object" not in post(s, body(max_tokens=2)).json()),
    "missing_done": Probe(lambda s: not stream(s, body(max_tokens=3)).done),
    "no_stream_usage": Probe(lambda s: stream(
        s, body(max_tokens=3, stream_options={"include_usage": True})).usage is None),
    "ignore_max_tokens": Probe(lambda s: len(stream(s, body(max_tokens=5)).texts) > 5),
    "ignore_stop": Probe(_ignore_stop),
    "server_error_on_bad_json": Probe(lambda s: post(s, b'{"model": ').status_code == 500),
    "models_list_incomplete": Probe(lambda s: MODEL not in {
        m["id"] for m in get(s, "/models").json()["data"]}),
    "silent_truncation": Probe(lambda s: post(s, body("word " * 800, max_tokens=8))
                               .status_code == 200, gateway=SMALL_CTX),
    "no_request_id": Probe(_no_request_id),
    "wrong_model_field": Probe(lambda s: post(s, body(max_tokens=1)).json()["model"] != MODEL),
    "ttft_spikes": Probe(_in_one_block(2, lambda s: stream(s, body(max_tokens=2)).ttft > 4.0),
                         spec="ttft_spikes=2"),
    "slow_tokens": Probe(lambda s: stream(s, body(max_tokens=6)).tpot > 0.2),
    "midstream_stall": Probe(lambda s: stream(s, body(max_tokens=12)).max_gap > 3.0),
    "slow_minority": Probe(_in_one_block(2, lambda s: stream(s, body(max_tokens=5)).tpot
                                         > 0.2), spec="slow_minority=2"),
    "overclaimed_capacity": Probe(_capacity_short),
    "poor_scaling": Probe(_poor_scaling),
    "slow_long_prefill": Probe(lambda s: stream(s, body("word " * 5200, max_tokens=2)).ttft
                               > 3.0),
    "random_5xx": Probe(_in_one_block(2, lambda s: post(s, body(max_tokens=1)).status_code
                                      == 500), spec="random_5xx=2"),
    "truncated_streams": Probe(_in_one_block(2, lambda s: (
        lambda st: not st.done and st.finish_reason is None)(stream(s, body(max_tokens=10)))),
        spec="truncated_streams=2"),
    "5xx_under_load": Probe(lambda s: any(r.status_code == 503 for r in _overload(s)),
                            gateway=ONE_SLOT, sim=SLOW20),
    "no_retry_after": Probe(lambda s: any(
        r.status_code == 429 and "retry-after" not in r.headers
        and "x-ratelimit-reset-requests" not in r.headers for r in _overload(s)),
        gateway=ONE_SLOT, sim=SLOW20),
    "html_200": Probe(lambda s: (lambda r: r.status_code == 200 and r.headers[
        "content-type"].startswith("text/html"))(post(s, body(max_tokens=1)))),
    "slow_recovery": Probe(_slow_recovery, gateway=ONE_SLOT, sim=SLOW20),
    # episodes of 2 s: uptime 2-4 s is degraded (the service is up well before 2 s)
    "latency_episode": Probe(_sleep_then(2.5, lambda s: stream(s, body(max_tokens=2)).ttft
                                         > 1.5), spec="latency_episode=2"),
    "dies_after": Probe(_sleep_then(1.3, lambda s: post(s, body(max_tokens=1)).status_code
                                    == 503), spec="dies_after=1"),
    "cjk_overcount": Probe(lambda s: _usage(s, body(ZH, max_tokens=1))["prompt_tokens"]
                           != reference_count([{"role": "user", "content": ZH}])),
    "cjk_off_by_one": Probe(lambda s: (
        _usage(s, body(ZH, max_tokens=1))["prompt_tokens"]
        == reference_count([{"role": "user", "content": ZH}]) + 1
        and _usage(s, body("hi", max_tokens=1))["prompt_tokens"]
        == reference_count([{"role": "user", "content": "hi"}]))),
    "hidden_system_prompt": Probe(lambda s: _usage(s, body("hi", max_tokens=1))["prompt_tokens"]
                                  > reference_count([{"role": "user", "content": "hi"}])),
    "hidden_token": Probe(lambda s: _usage(s, body("hi", max_tokens=1))["prompt_tokens"]
                          == reference_count([{"role": "user", "content": "hi"}]) + 1),
    "completion_inflated": Probe(lambda s: (lambda st: st.usage is not None and st.usage[
        "completion_tokens"] != len(st.texts))(stream(
            s, body(max_tokens=6, stream_options={"include_usage": True})))),
    "padded_logprobs": Probe(_padded_logprobs),
    "inflated_length_cut": Probe(
        lambda s: _usage(s, body(max_tokens=5))["completion_tokens"] == 7),
    "refused_audit_probes": Probe(_refused_probes),
    "stream_usage_differs": Probe(lambda s: _usage(s, DET) != stream(
        s, DET | {"stream_options": {"include_usage": True}}).usage),
    "inconsistent_usage": Probe(lambda s: (lambda u: u["total_tokens"] != u["prompt_tokens"]
                                           + u["completion_tokens"])(
        _usage(s, body(max_tokens=3)))),
    "bill_beyond_cap": Probe(lambda s: _usage(s, body(max_tokens=5))["completion_tokens"] > 5),
    "tokenizer_substitution": Probe(lambda s: _usage(
        s, body("a\u3000\u3000b    c ｆｕｌｌ ①", max_tokens=1))["prompt_tokens"]
        != reference_count([{"role": "user", "content": "a\u3000\u3000b    c ｆｕｌｌ ①"}])),
    "cache_never_hits": Probe(lambda s: (post(s, body(LONG, max_tokens=1)), _usage(
        s, body(LONG, max_tokens=1)))[1]["prompt_tokens_details"]["cached_tokens"] == 0),
    "incomplete_price_list": Probe(lambda s: (lambda d: d.model.features.prompt_caching
                                              and d.pricing.cached_input is None)(
        s.declaration())),
    "no_usage": Probe(_in_one_block(10, lambda s: "usage" not in post(
        s, body(max_tokens=1)).json())),
    "double_billing": Probe(_double_billing, billing=True),
    "bills_5xx": Probe(_bills_5xx, billing=True),
    "no_auth": Probe(lambda s: httpx.post(s.base_url + "/chat/completions",
                                          json=body(max_tokens=1)).status_code == 200),
    "plain_http": Probe(_plain_http, tls=True),
    "wrong_ca": Probe(_wrong_ca, tls=True),
    "stack_traces": Probe(lambda s: "Traceback" in post(s, b'{"model": ').text),
    "crash_on_bad_input": Probe(lambda s: post(s, json.dumps(
        {"model": MODEL, "messages": "hi"}).encode()).status_code == 500),
    "crash_on_nul_byte": Probe(lambda s: post(s, b'{"model":\x00\x00}').status_code == 500),
    "no_rate_limit": Probe(lambda s: all(post(s, body(max_tokens=1)).status_code == 200
                                         for _ in range(4)), gateway={"rpm": 2}),
    # rpm 2: the declared limit admits 2 at once; a 10x looser limiter admits all 4
    "loose_rate_limit": Probe(lambda s: all(post(s, body(max_tokens=1)).status_code == 200
                                            for _ in range(4)), gateway={"rpm": 2}),
    "no_retry_after_rate_limit": Probe(lambda s: any(
        r.status_code == 429 and "retry-after" not in r.headers
        for r in (post(s, body(max_tokens=1)) for _ in range(4))), gateway={"rpm": 2}),
    "echo_api_key": Probe(lambda s: any(s.api_key in v for v in post(
        s, body(max_tokens=1)).headers.values())),
    "shared_prompt_cache": Probe(_shared_cache),
}


def test_every_defect_has_a_probe() -> None:
    assert sorted(PROBES) == sorted(d.name for d in DEFECTS)


def test_defect_names_are_unique_and_name_a_catalog_requirement() -> None:
    from conformance.spec import load_catalog

    ids = {r.id for r in load_catalog().requirements}
    assert len({d.name for d in DEFECTS}) == len(DEFECTS)
    assert {d.requirement for d in DEFECTS} <= ids
    automated = {r.id for r in load_catalog().requirements
                 if r.method == "automated" and r.id.split("-")[0] in
                 {"API", "PERF", "STAB", "METER", "BILL", "SEC"}}
    assert automated <= {d.requirement for d in DEFECTS}


@pytest.fixture(scope="module")
def healthy() -> Iterator[Callable[[Probe], ReferenceService]]:
    """Healthy services, one per distinct setting, started on first use."""
    running: dict[str, ReferenceService] = {}
    with contextlib.ExitStack() as stack:
        def get(p: Probe) -> ReferenceService:
            if p.key() not in running:
                running[p.key()] = stack.enter_context(ReferenceService.start(
                    tls=p.tls, gateway_config=p.gateway, sim_config=p.sim,
                    billing_export=p.billing))
            return running[p.key()]
        yield get


@pytest.mark.slow
@pytest.mark.parametrize("name", [d.name for d in DEFECTS])
def test_defect_is_observable(name: str, healthy: Callable[[Probe], ReferenceService]) -> None:
    probe = PROBES[name]
    with ReferenceService.start(defects=[probe.spec or name], tls=probe.tls,
                                gateway_config=probe.gateway, sim_config=probe.sim,
                                billing_export=probe.billing) as svc:
        assert probe.observe(svc), f"defect {name} is not observable"
    assert not probe.observe(healthy(probe)), f"probe for {name} fires on a healthy service"
