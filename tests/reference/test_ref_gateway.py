"""Gateway behaviour of a healthy reference service, over real HTTP."""

from __future__ import annotations

import csv
import json
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
from refclient import MODEL, body, client, post, reference_count, stream

from conformance.reference import GatewayConfig, ReferenceService


def test_models_and_request_ids(ref_tls: ReferenceService) -> None:
    with client(ref_tls) as c:
        r = c.get("/models")
        assert r.status_code == 200 and [m["id"] for m in r.json()["data"]] == [MODEL]
        ids = {c.get("/models").headers["x-request-id"] for _ in range(5)}
        assert len(ids) == 5
        assert c.get("/nope").headers["x-request-id"]
        assert c.get("/nope").status_code == 404
        assert c.get("/chat/completions").status_code == 405


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer"},
                                     {"Authorization": "Basic abc"},
                                     {"Authorization": "Bearer sk-not-a-key"}])
@pytest.mark.parametrize("path", ["/models", "/chat/completions", "/other"])
def test_auth_everywhere(ref_tls: ReferenceService, headers: dict[str, str], path: str) -> None:
    with httpx.Client(base_url=ref_tls.base_url, verify=ref_tls.verify) as c:
        r = c.post(path, json=body(), headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_api_key" and "data" not in r.json()
    assert r.headers["x-request-id"]


BAD = {
    "malformed json": b'{"model": ',
    "not an object": b"[1, 2]",
    "invalid utf-8": b'{"model": "\xff\xfe"}',
    "deep nesting": b"[" * 100000 + b"]" * 100000,
    "missing messages": json.dumps({"model": MODEL}).encode(),
    "empty messages": json.dumps({"model": MODEL, "messages": []}).encode(),
    "unknown role": json.dumps(body() | {"messages": [{"role": "wizard",
                                                       "content": "x"}]}).encode(),
    "content is a number": json.dumps(body() | {"messages": [{"role": "user",
                                                              "content": 5}]}).encode(),
    "messages is a string": json.dumps(body() | {"messages": "hi"}).encode(),
    "null byte": json.dumps(body("a\u0000b")).encode(),
    "lone surrogate": b'{"model": "m", "messages": [{"role": "user", "content": "a\\ud800"}]}',
    "surrogate model": b'{"model": "\\udfff", "messages": []}',
    "negative max_tokens": json.dumps(body(max_tokens=-1)).encode(),
    "huge max_tokens": json.dumps(body(max_tokens=10**12)).encode(),
    "bool max_tokens": json.dumps(body(max_tokens=True)).encode(),
    "temperature 3": json.dumps(body(temperature=3)).encode(),
    "n=2": json.dumps(body(n=2)).encode(),
    "stop list too long": json.dumps(body(stop=["a", "b", "c", "d", "e"])).encode(),
    "seed string": json.dumps(body(seed="1")).encode(),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_client_errors_are_400_json(ref_tls: ReferenceService, name: str) -> None:
    r = post(ref_tls, BAD[name])
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert set(err) >= {"message", "type", "code"} and err["type"] == "invalid_request_error"
    assert "Traceback" not in r.text and ".py" not in r.text
    assert ref_tls.api_key not in r.text


def test_unknown_model_body_limit_and_context_window(ref_tls: ReferenceService) -> None:
    r = post(ref_tls, body(model="gpt-nope") | {"model": "gpt-nope"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    r = post(ref_tls, json.dumps(body("x" * (5 * 1024 * 1024))).encode())
    assert r.status_code == 413
    r = post(ref_tls, body("word " * 17000))
    assert r.status_code == 400 and r.json()["error"]["code"] == "context_length_exceeded"
    assert "16384" in r.json()["error"]["message"]
    assert post(ref_tls, body("still fine")).status_code == 200


def test_max_tokens_stop_seed_and_logprobs(ref_tls: ReferenceService) -> None:
    det = body("Deterministic please", max_tokens=20, seed=11, temperature=0)
    a, b = post(ref_tls, det).json(), post(ref_tls, det).json()
    text = a["choices"][0]["message"]["content"]
    assert text == b["choices"][0]["message"]["content"] and a["usage"] == b["usage"]
    s = stream(ref_tls, det | {"stream_options": {"include_usage": True}})
    assert s.text == text and s.usage == a["usage"]
    stop = text.split(" ")[4]
    r = post(ref_tls, det | {"stop": [" " + stop]}).json()
    assert r["choices"][0]["finish_reason"] == "stop"
    assert " " + stop not in r["choices"][0]["message"]["content"]
    assert r["usage"]["completion_tokens"] < 20
    lp = post(ref_tls, det | {"logprobs": True}).json()["choices"][0]["logprobs"]["content"]
    assert len(lp) == 20 and "".join(e["token"] for e in lp) == text
    natural = post(ref_tls, body("no cap")).json()
    assert natural["choices"][0]["finish_reason"] == "stop"


def test_prompt_cache_is_per_tenant(ref_tls: ReferenceService) -> None:
    long = "The harbour master raises the red flag when storms come. " * 40
    first = post(ref_tls, body(long, max_tokens=2)).json()["usage"]
    again = post(ref_tls, body(long, max_tokens=2)).json()["usage"]
    other = post(ref_tls, body(long, max_tokens=2), tenant=1).json()["usage"]
    assert first["prompt_tokens_details"]["cached_tokens"] == 0
    cached = again["prompt_tokens_details"]["cached_tokens"]
    assert 0 < cached < again["prompt_tokens"] == reference_count(
        [{"role": "user", "content": long}])
    assert other["prompt_tokens_details"]["cached_tokens"] == 0


def test_billing_export_matches_usage(ref_tls: ReferenceService) -> None:
    r = post(ref_tls, body("bill me", max_tokens=5)).json()
    assert ref_tls.billing_export_path is not None
    with ref_tls.billing_export_path.open() as fh:
        rows = [row for row in csv.DictReader(fh) if row["request_id"] == r["id"]]
    assert len(rows) == 1
    decl = ref_tls.declaration()
    u = r["usage"]
    expected = (u["prompt_tokens"] * decl.pricing.input
                + u["completion_tokens"] * decl.pricing.output) / Decimal(1_000_000)
    assert Decimal(rows[0]["charge"]) == expected and rows[0]["status"] == "200"


def test_declaration_is_valid_and_claims_what_the_sim_reaches(
        ref_tls: ReferenceService) -> None:
    d = ref_tls.declaration()
    assert d.endpoint.base_url == ref_tls.base_url and d.endpoint.ca_bundle is not None
    assert {"tls", "prompt_caching", "second_tenant", "billing_export"} <= d.features()
    assert d.pricing.cached_input is not None and d.model.features.one_token_per_chunk
    assert set(d.data_governance) == {f"DATA-00{i}" for i in range(1, 6)}
    assert "reference-service statement" in d.data_governance["DATA-001"].statement
    assert d.performance.declared_concurrency <= d.limits.max_concurrency
    for text in (ref_tls.declaration_path.read_text(), ref_tls.log()):
        assert ref_tls.api_keys[0] not in text and ref_tls.api_keys[1] not in text


def test_rate_limits_and_concurrency_answer_429() -> None:
    gw = GatewayConfig(rpm=3, max_concurrency=1, max_queue=0)
    with ReferenceService.start(gateway_config=gw) as svc:
        codes = [post(svc, body(max_tokens=1)).status_code for _ in range(4)]
        assert codes[:3] == [200, 200, 200] and codes[3] == 429
        r = post(svc, body(max_tokens=1))
        assert int(r.headers["retry-after"]) >= 1
        assert r.headers["x-ratelimit-limit-requests"] == "3"
        assert "x-ratelimit-reset-requests" in r.headers
        assert post(svc, body(max_tokens=1), tenant=1).status_code == 200  # per key
    with ReferenceService.start(gateway_config=GatewayConfig(max_concurrency=1, max_queue=0),
                                sim_config={"tpot_ms": 20}) as svc, \
            ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: post(svc, body(max_tokens=30)), range(4)))
        codes = sorted(r.status_code for r in results)
        assert 200 in codes and 429 in codes and all(c in (200, 429) for c in codes)
        assert all("retry-after" in r.headers for r in results if r.status_code == 429)


def test_random_bodies_never_get_5xx(ref_tls: ReferenceService) -> None:
    """A seeded fuzz over field types and values: always 2xx/4xx, then normal service."""
    import random

    rng = random.Random(2026)
    values: list[object] = [None, True, 0, -1, 1.5, 10**30, "", "x", "\u0000", [], {}, [1],
                            {"a": 1}, "a" * 3000, [{"role": "user"}], float("1e308")]
    fields = ["model", "messages", "max_tokens", "max_completion_tokens", "temperature",
              "top_p", "n", "stream", "stream_options", "stop", "seed", "logprobs",
              "top_logprobs", "user", "tools"]
    with client(ref_tls) as c:
        for _ in range(150):
            b: dict[str, object] = dict(body(max_tokens=2))
            for f in rng.sample(fields, rng.randint(1, 4)):
                b[f] = rng.choice(values)
            if rng.random() < 0.3:
                b["messages"] = [{"role": rng.choice(["user", "system", "tool", 5, None]),
                                  "content": rng.choice(values)}]
            r = c.post("/chat/completions", json=b)
            assert r.status_code < 500, (b, r.text)
            if r.status_code >= 400:
                assert r.json()["error"]["message"]
        assert c.post("/chat/completions", json=body(max_tokens=2)).status_code == 200


def test_requests_beyond_max_concurrency_queue_then_run() -> None:
    gw = GatewayConfig(max_concurrency=1, max_queue=4)
    with ReferenceService.start(gateway_config=gw, sim_config={"tpot_ms": 10}) as svc, \
            ThreadPoolExecutor(3) as pool:
        streams = list(pool.map(lambda _: stream(svc, body(max_tokens=20)), range(3)))
        assert [s.status for s in streams] == [200, 200, 200]
        ttfts = sorted(s.ttft for s in streams)
        assert ttfts[2] > ttfts[0] + 0.25  # the last one waited for two others (~0.2 s each)


def test_an_internal_crash_is_a_generic_500_with_a_request_id() -> None:
    with ReferenceService.start(defects=["server_error_on_bad_json"]) as svc:
        r = post(svc, b'{"model": ')
        assert r.status_code == 500 and r.headers["x-request-id"].startswith("req_")
        assert r.json()["error"]["type"] == "server_error"
        assert "Traceback" not in r.text and "RuntimeError" not in r.text
        assert post(svc, body(max_tokens=1)).status_code == 200
        assert "Traceback" not in svc.log()
