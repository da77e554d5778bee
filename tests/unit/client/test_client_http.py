"""The measuring client against a real loopback server, well-behaved and not."""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from client_servers import RawServer

from conformance.checks import hygiene
from conformance.run.client import AUTH, BuiltRequest, ChatParams, Client, ClientConfig
from conformance.run.records import RequestRecord

KEY = "sk-test-SECRET-0123456789abcdef"
MSGS = [{"role": "user", "content": "hi"}]


@pytest.fixture(params=["httpx", "fast"])
def engine(request: pytest.FixtureRequest) -> str:
    """Every streaming behaviour is checked through both client engines."""
    return str(request.param)


def chat(
    server: RawServer,
    route: str,
    *,
    stream: bool = True,
    count_tokens: Any = None,
    transport: httpx.AsyncBaseTransport | None = None,
    engine: str = "httpx",
    **cfg: Any,
) -> RequestRecord:
    config = ClientConfig(base_url=server.url(route), model="m", api_key=KEY, engine=engine, **cfg)

    async def go() -> RequestRecord:
        async with Client(config, count_tokens=count_tokens, transport=transport) as c:
            return await c.chat(ChatParams(MSGS, max_tokens=5, stream=stream), request_id="t-1")

    return asyncio.run(go())


def assert_standard(rec: RequestRecord) -> None:
    assert rec.ok, (rec.error, rec.error_detail)
    assert rec.text == "Hello"
    assert [c[1] for c in rec.content_chunks] == ["Hel", "lo"]
    assert rec.usage == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert rec.finish_reason == "stop"
    assert rec.done_seen
    assert rec.model == "m" and rec.response_id == "chatcmpl-1"
    assert rec.decode_errors == []
    # the role-only and the empty delta are not tokens: first token is the "Hel" chunk
    hel = next(e for e in rec.events if b'"Hel"' in e.data)
    assert rec.first_token_ns == hel.t_ns
    assert rec.events[0].t_ns <= rec.first_token_ns
    assert rec.sent_ns is not None and rec.headers_ns is not None
    assert rec.first_byte_ns is not None and rec.last_byte_ns is not None
    assert rec.sent_ns <= rec.headers_ns <= rec.first_byte_ns <= rec.first_token_ns
    assert rec.first_token_ns <= rec.last_byte_ns


@pytest.mark.parametrize("route", ["ok", "crlf", "one-write", "bytewise"])
def test_well_formed_streams_decode_the_same(
    engine: str, raw_server: RawServer, route: str
) -> None:
    assert_standard(chat(raw_server, route, engine=engine))


def test_first_token_is_stamped_when_its_bytes_arrive(engine: str, raw_server: RawServer) -> None:
    rec = chat(raw_server, "ok", engine=engine)  # the server waits 10 ms between events
    ts = [e.t_ns for e in rec.events]
    assert all(b - a > 5_000_000 for a, b in itertools.pairwise(ts))
    ttft = rec.ttft_ms()
    assert ttft is not None and ttft > 15  # two events (role, empty) came first


def test_no_done_is_recorded_not_an_error(engine: str, raw_server: RawServer) -> None:
    rec = chat(raw_server, "no-done", engine=engine)
    assert rec.ok and not rec.done_seen and rec.text == "Hello"


def test_usage_on_last_content_chunk(engine: str, raw_server: RawServer) -> None:
    rec = chat(raw_server, "usage-last", engine=engine)
    assert rec.ok and rec.usage == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert rec.finish_reason == "length" and rec.text == "ab"


def test_tokens_per_chunk_from_usage_deltas(engine: str, raw_server: RawServer) -> None:
    rec = chat(raw_server, "usage-deltas", engine=engine)
    assert [n for _, _, n in rec.content_chunks] == [3, 2]
    assert rec.output_tokens() == 5


def test_tokens_per_chunk_from_declared_tokenizer(engine: str, raw_server: RawServer) -> None:
    rec = chat(
        raw_server, "ok", count_tokens=len, engine=engine
    )  # a "tokenizer": one token per character
    assert [n for _, _, n in rec.content_chunks] == [3, 2]
    rec = chat(raw_server, "ok", engine=engine)  # none declared: one per non-empty content chunk
    assert [n for _, _, n in rec.content_chunks] == [1, 1]


def test_non_streaming_body(engine: str, raw_server: RawServer) -> None:
    rec = chat(raw_server, "plain", stream=False, engine=engine)
    assert rec.ok and rec.text == "Hi there" and rec.finish_reason == "stop"
    assert rec.usage is not None and rec.usage["completion_tokens"] == 2
    assert rec.logprob_tokens == 2 and rec.response_id == "r-1"
    assert rec.content_chunks[0][2] == 2
    sent = json.loads(json.loads(rec.body or b"")["echo"])
    assert sent["messages"] == MSGS and sent["max_tokens"] == 5 and "stream" not in sent


def test_server_error_keeps_body(engine: str, raw_server: RawServer) -> None:
    rec = chat(raw_server, "server-error", engine=engine)
    assert rec.status == 500 and rec.error is None and not rec.ok
    assert rec.body == b'{"error": {"message": "boom"}}'


@pytest.mark.parametrize(
    ("route", "error", "cfg", "within_s"),
    [
        ("hang", "timeout", {"read_timeout_s": 0.3}, 3),
        ("stall", "timeout", {"read_timeout_s": 0.3}, 3),
        ("slow-forever", "timeout", {"total_timeout_s": 0.5}, 3),
        ("reset", "reset", {}, 3),
        ("garbage-http", "protocol", {}, 3),
        ("garbage-sse", "garbage", {}, 3),
        ("not-sse", "garbage", {}, 3),
        ("flood", "too_large", {"max_response_bytes": 200_000}, 5),
    ],
)
def test_misbehaviour_ends_as_an_error_class(
    engine: str, raw_server: RawServer, route: str, error: str, cfg: dict[str, Any], within_s: float
) -> None:
    t = time.monotonic()
    rec = chat(raw_server, route, **cfg, engine=engine)
    assert time.monotonic() - t < within_s
    assert rec.error == error, (rec.error, rec.error_detail)
    assert not rec.ok
    assert rec.error_detail


def test_stalled_stream_keeps_what_arrived(engine: str, raw_server: RawServer) -> None:
    rec = chat(raw_server, "stall", read_timeout_s=0.3, engine=engine)
    assert rec.error == "timeout" and rec.text == "a" and rec.first_token_ns is not None


def test_connection_refused() -> None:
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        cfg = ClientConfig(base_url=f"http://127.0.0.1:{port}/v1", model="m")

        async def go() -> RequestRecord:
            async with Client(cfg) as c:
                return await c.chat(ChatParams(MSGS), request_id="t")

        rec = asyncio.run(go())
    assert rec.error == "connect"


@pytest.mark.parametrize("route", ["echo-key", "echo-key-stream"])
def test_api_key_never_recorded(engine: str, raw_server: RawServer, route: str) -> None:
    rec = chat(raw_server, route, engine=engine)
    dumped = json.dumps(rec.to_json())
    assert KEY not in dumped and "SECRET" not in dumped
    assert raw_server.requests[-1]["headers"]["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(("route", "where"), [("echo-key", {"header x-echo", "body"}),
                                           ("echo-key-stream", {"events", "text"})])
def test_an_echoed_key_is_noted_where_it_was_found(engine: str, raw_server: RawServer,
                                                   route: str, where: set[str]) -> None:
    rec = chat(raw_server, route, engine=engine)
    assert set(rec.secrets_echoed) == where
    assert hygiene.key_not_echoed([rec], [], redacted=True)[0].ok is False


def test_a_model_writing_the_marker_is_no_echo(engine: str, raw_server: RawServer) -> None:
    rec = chat(raw_server, "says-redacted", engine=engine)
    assert rec.text == "the file said [REDACTED] and Basic averages"  # kept as said
    assert rec.secrets_echoed == []
    assert hygiene.key_not_echoed([rec], [KEY], redacted=True)[0].ok


def test_helpers_get_and_post_raw(raw_server: RawServer) -> None:
    cfg = ClientConfig(base_url=raw_server.url("plain"), model="m", api_key=KEY)

    async def go() -> list[RequestRecord]:
        async with Client(cfg) as c:
            return [
                await c.get("models", request_id="g"),
                await c.post_raw("chat/completions", b"{bad", request_id="p1"),
                await c.post_raw("chat/completions", b"{}", request_id="p2", auth=None),
                await c.post_raw(
                    "chat/completions", b"{}", request_id="p3", auth="Bearer wrong-key-xyz"
                ),
            ]

    g, p1, p2, p3 = asyncio.run(go())
    assert g.ok and g.request == {"method": "GET", "path": "models"} and g.body
    reqs = raw_server.requests[-4:]
    assert reqs[0]["method"] == "GET" and reqs[0]["path"].endswith("/models")
    assert reqs[1]["body"] == b"{bad" and p1.request["body_len"] == 4
    assert "authorization" not in reqs[2]["headers"]
    assert reqs[3]["headers"]["authorization"] == "Bearer wrong-key-xyz"
    assert reqs[1]["headers"]["authorization"] == f"Bearer {KEY}"
    assert all(KEY not in json.dumps(r.to_json()) for r in (g, p1, p2, p3))
    assert AUTH is not None


class CountingTransport(httpx.AsyncBaseTransport):
    """A real transport, wrapped: proves the client sends through the one it is given."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.count = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_swappable_transport(raw_server: RawServer) -> None:
    tr = CountingTransport()
    assert_standard(chat(raw_server, "ok", transport=tr))
    assert tr.count == 1


class EchoDialect:
    """A different wire format: POST /echo {"q": ...}, streamed lines of text."""

    name = "echo"
    models_path = "models"

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"x-echo-key": api_key} if api_key else {}

    def build(self, params: ChatParams, model: str) -> BuiltRequest:
        return BuiltRequest("POST", "echo", {"q": params.messages[-1]["content"]})

    def decode(self, record: RequestRecord, count_tokens: Any = None) -> None:
        record.content_chunks = [(e.t_ns, e.data.decode(), 1) for e in record.events]
        record.text = "".join(c[1] for c in record.content_chunks)
        record.first_token_ns = record.content_chunks[0][0] if record.content_chunks else None


def test_another_dialect_plugs_in(raw_server: RawServer) -> None:
    cfg = ClientConfig(base_url=raw_server.url("ok"), model="m")

    async def go() -> RequestRecord:
        async with Client(cfg, dialect=EchoDialect()) as c:
            return await c.chat(ChatParams(MSGS), request_id="e")

    rec = asyncio.run(go())
    assert raw_server.requests[-1]["path"].endswith("/v1/echo")
    assert json.loads(raw_server.requests[-1]["body"]) == {"q": "hi"}
    assert rec.text and "Hel" in rec.text and rec.first_token_ns == rec.events[0].t_ns


def test_unknown_dialect_is_an_input_error() -> None:
    from conformance._core.errors import InputError

    with pytest.raises(InputError, match="unknown dialect 'grpc'"):
        Client(ClientConfig(base_url="http://127.0.0.1:1/v1", dialect="grpc"))


def _headers_of(rec: RequestRecord) -> Mapping[str, str]:
    return rec.headers


def test_response_headers_filtered(engine: str, raw_server: RawServer) -> None:
    rec = chat(raw_server, "echo-key", engine=engine)
    h = _headers_of(rec)
    assert h["x-echo"] == "Bearer [REDACTED]" and "date" not in h


def test_fast_engine_reuses_connections_and_really_bypasses_httpx(raw_server: RawServer) -> None:
    cfg = ClientConfig(base_url=raw_server.url("ok"), model="m", engine="fast")

    async def go() -> list[RequestRecord]:
        async with Client(cfg) as c:
            recs = [await c.chat(ChatParams(MSGS), request_id=f"k{i}") for i in range(3)]
            assert c._fast is not None and len(c._fast.idle) == 1
            return recs

    recs = asyncio.run(go())
    for rec in recs:
        assert_standard(rec)
    peers = {r["peer"] for r in raw_server.requests[-3:]}
    assert len(peers) == 1  # one keep-alive connection served all three


def test_fast_engine_does_not_reuse_a_closed_connection(raw_server: RawServer) -> None:
    cfg = ClientConfig(base_url=raw_server.url("ok-close"), model="m", engine="fast")

    async def go() -> list[RequestRecord]:
        async with Client(cfg) as c:
            return [await c.chat(ChatParams(MSGS), request_id=f"c{i}") for i in range(2)]

    for rec in asyncio.run(go()):
        assert_standard(rec)
    assert len({r["peer"] for r in raw_server.requests[-2:]}) == 2


def test_fast_engine_frees_each_exchange_without_the_cyclic_gc(raw_server: RawServer) -> None:
    """Phases run with the cyclic GC quietened: an exchange kept alive by a reference cycle
    (its parser holds its callbacks) would pile up until the phase ends, ~6 KB a request."""
    from conformance.run.client import fast

    cfg = ClientConfig(base_url=raw_server.url("ok"), model="m", engine="fast")

    async def go() -> int:
        async with Client(cfg) as c:
            for i in range(5):
                assert_standard(await c.chat(ChatParams(MSGS), request_id=f"g{i}"))
            return sum(isinstance(o, fast._Exchange) for o in gc.get_objects())

    gc.collect()
    gc.disable()
    try:
        live = asyncio.run(go())
    finally:
        gc.enable()
    assert live == 0


def test_unknown_engine_is_an_input_error() -> None:
    from conformance._core.errors import InputError

    with pytest.raises(InputError, match="unknown client engine"):
        Client(ClientConfig(base_url="http://127.0.0.1:1/v1", engine="warp"))


def test_prewarm_opens_connections_the_phase_then_uses(raw_server: RawServer) -> None:
    cfg = ClientConfig(base_url=raw_server.url("ok"), model="m", engine="fast")

    async def go() -> tuple[int, list[RequestRecord]]:
        async with Client(cfg) as c:
            n = await c.prewarm(3)
            recs = await asyncio.gather(
                *(c.chat(ChatParams(MSGS), request_id=f"w{i}") for i in range(3))
            )
            return n, list(recs)

    n, recs = asyncio.run(go())
    assert n == 3 and all(r.ok for r in recs)
    assert len({r["peer"] for r in raw_server.requests[-3:]}) == 3
    httpx_cfg = ClientConfig(base_url=raw_server.url("ok"), model="m", engine="httpx")

    async def plain() -> int:
        async with Client(httpx_cfg) as c:
            return await c.prewarm(3)

    assert asyncio.run(plain()) == 0


@pytest.mark.parametrize("cap", [100, 340, 400])
def test_evidence_cap_keeps_complete_events_and_counts_the_rest(
    engine: str, raw_server: RawServer, cap: int
) -> None:
    """``cap`` falls inside the first event (100: the lone cut event makes the request
    ``too_large``), on the end of the second (340) or inside the third (400): the kept part
    holds only whole events, at most ``cap`` bytes, and the rest is counted."""
    rec = chat(raw_server, "one-write", engine=engine, max_stream_record_bytes=cap)
    full = chat(raw_server, "one-write", engine=engine)
    assert full.evidence_cap_bytes is None and full.received_bytes > cap
    assert rec.evidence_cap_bytes == cap and rec.received_bytes == full.received_bytes
    assert sum(len(e.data) for e in rec.events) <= cap
    assert [e.data for e in rec.events] == [e.data for e in full.events[: len(rec.events)]]
    assert len(rec.events) == {100: 0, 340: 2, 400: 2}[cap]
    assert rec.error == ("too_large" if cap == 100 else None)


def test_a_body_past_the_cap_is_too_large(engine: str, raw_server: RawServer) -> None:
    rec = chat(raw_server, "plain", stream=False, engine=engine, max_body_record_bytes=64)
    assert rec.error == "too_large" and rec.evidence_cap_bytes == 64
    assert rec.body is not None and len(rec.body) == 64 and rec.received_bytes > 64
