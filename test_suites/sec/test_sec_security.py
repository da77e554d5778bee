"""SEC-001, SEC-002, SEC-004, SEC-005, SEC-007: authentication, transport, bad input, rate
limits, cache isolation. SEC-005 runs late (it exhausts a key's limit on purpose)."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import socket
import ssl
import time
import warnings
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from conformance.checks import hygiene
from conformance.checks import overload as ov
from conformance.checks.findings import Observation
from conformance.checks.hygiene import TransportFacts
from conformance.declaration.models import Declaration
from conformance.plan import Plan
from conformance.plan.probes import allowance
from conformance.plan.probes import rate_probe as probe_size
from conformance.pytest_plugin.record import Recorder
from conformance.pytest_plugin.session import Session, TokenizerKit
from conformance.run.client import ChatParams, Client
from conformance.run.dialect_probes import probes_for
from conformance.run.prompts import Message, PromptFactory, PromptSpec
from conformance.run.records import RequestRecord
from conformance.spec import Requirement

if TYPE_CHECKING:  # the suites' fixture types (fixtures arrive by name, not import)
    from test_suites.conftest import SendRaw

PHASE = "security"


# -- SEC-001 -------------------------------------------------------------------------------------

@pytest.mark.requirement("SEC-001")
def test_auth_on_every_endpoint(send_raw: SendRaw, record: Recorder,
                                declaration: Declaration) -> None:
    """Missing, malformed and wrong keys (and a key in the header the dialect does not read)
    on the declared dialect's chat endpoint, streamed and not, and on GET models."""
    model = declaration.model.id
    probes = probes_for(declaration.endpoint.dialect)
    variants = probes.auth_variants()

    async def go(c: Client) -> list[RequestRecord]:
        out = []
        for i, (name, cred) in enumerate(variants):
            base = f"{PHASE}-sec001-{name}"
            hdrs = probes.send_headers(cred)
            out.append(await c.post_raw(probes.path, probes.body(model),
                                        auth=cred.authorization, headers=hdrs,
                                        request_id=f"{base}-chat", phase=PHASE, seq=3 * i))
            out.append(await c.post_raw(probes.path, probes.body(model, stream=True),
                                        auth=cred.authorization, headers=hdrs, stream=True,
                                        request_id=f"{base}-stream", phase=PHASE,
                                        seq=3 * i + 1))
            out.append(await c.get("models", auth=cred.authorization, headers=hdrs,
                                   request_id=f"{base}-models", phase=PHASE, seq=3 * i + 2))
        return out

    recs = send_raw(go)
    whats = [f"{name} key, {ep}" for name, _ in variants
             for ep in (f"POST {probes.path}", f"POST {probes.path} (stream)", "GET models")]
    record.observations("auth_enforced", [hygiene.auth_refused(r, w)
                                          for r, w in zip(recs, whats, strict=True)])


# -- SEC-002 -------------------------------------------------------------------------------------

def _handshake(host: str, port: int, ctx: ssl.SSLContext, timeout_s: float = 10.0) -> str | None:
    with socket.create_connection((host, port), timeout=timeout_s) as raw, \
            ctx.wrap_socket(raw, server_hostname=host) as tls:
        return tls.version()


def _old_tls_accepted(host: str, port: int) -> bool | None:
    try:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with warnings.catch_warnings():  # deprecated on purpose: that is what is probed
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        return None
    try:
        _handshake(host, port, ctx)
        return True
    except ssl.SSLError as exc:
        if "NO_PROTOCOLS_AVAILABLE" in str(exc).upper():
            return None  # this client's OpenSSL cannot offer TLS 1.1: nothing learnt
        return False
    except OSError:
        return False


def _plain_http(host: str, port: int, path: str, timeout_s: float = 5.0
                ) -> tuple[int | None, str | None, str | None]:
    """(status, location, error) of an unauthenticated plain-http GET (no key is sent)."""
    req = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
           "User-Agent: tokencert\r\n\r\n").encode()
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as s:
            s.sendall(req)
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        return None, None, f"{type(exc).__name__}: {exc}"
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    if not parts[0].startswith("HTTP/") or len(parts) < 2 or not parts[1].isdigit():
        return None, None, f"no HTTP answer ({len(data)} bytes, starting {data[:8]!r})"
    loc = next((ln.split(":", 1)[1].strip() for ln in lines[1:]
                if ln.lower().startswith("location:")), None)
    return int(parts[1]), loc, None


@pytest.mark.requirement("SEC-002")
def test_transport_security(record: Recorder, declaration: Declaration) -> None:
    ep = declaration.endpoint
    u = urlsplit(ep.base_url)
    host = u.hostname or ""
    path = (u.path.rstrip("/") or "") + "/models"
    if u.scheme != "https":
        status, loc, err = _plain_http(host, u.port or 80, path)
        record.observe(hygiene.transport_secure(TransportFacts(
            u.scheme, plain_status=status, plain_location=loc, plain_error=err)))
        return
    port = u.port or 443
    version: str | None = None
    chain_error: str | None = None
    try:
        ctx = ssl.create_default_context(cafile=str(ep.ca_bundle) if ep.ca_bundle else None)
        version = _handshake(host, port, ctx)
    except (ssl.SSLError, ssl.CertificateError) as exc:
        chain_error = f"{type(exc).__name__}: {exc}"[:300]
    except OSError as exc:
        chain_error = f"no TLS connection: {type(exc).__name__}: {exc}"[:300]
    # plain http on the https port (explicit port) or on port 80 (default port)
    status, loc, err = _plain_http(host, u.port if u.port else 80, path)
    record.observe(hygiene.transport_secure(TransportFacts(
        "https", version, chain_error, _old_tls_accepted(host, port), status, loc, err)))


# -- SEC-004 -------------------------------------------------------------------------------------

@pytest.mark.requirement("SEC-004")
def test_bad_input(send_raw: SendRaw, record: Recorder, declaration: Declaration,
                   tokencert_session: Session) -> None:
    """The whole malformed corpus (in the declared dialect), one request at a time with the
    valid key, each bounded by the declared timeout (at most the profile's); then one
    normal request."""
    probes = probes_for(declaration.endpoint.dialect)
    cases = probes.malformed(declaration.model.id)
    timeout_s = min(declaration.endpoint.timeout_s, tokencert_session.profile.request_timeout_s)

    async def go(c: Client) -> list[RequestRecord]:
        out = []
        for i, case in enumerate(cases):
            out.append(await c.post_raw(probes.path, case.body, headers=case.headers,
                                        request_id=f"{PHASE}-sec004-{case.id}", phase=PHASE,
                                        seq=i))
        out.append(await c.chat(ChatParams(messages=({"role": "user", "content": "hello"},),
                                           max_tokens=4, stream=False),
                                request_id=f"{PHASE}-sec004-after", phase=PHASE,
                                seq=len(cases)))
        return out

    recs = send_raw(go, timeout_s=timeout_s)
    obs = [hygiene.bad_input_handled(r, c.id, c.accept)
           for r, c in zip(recs, cases, strict=False)]
    obs.append(hygiene.healthy_after(recs[-1]))
    record.observations("bad_input_handled", obs, detail={"timeout_s": timeout_s})


# -- SEC-007 -------------------------------------------------------------------------------------

@pytest.mark.requirement("SEC-007")
def test_cache_isolation(send_raw: SendRaw, record: Recorder, declaration: Declaration,
                         tokenizer: TokenizerKit, plan: Plan, requirement: Requirement) -> None:
    """Per trial: key A primes a fresh long prefix; key B sends a different fresh prefix
    (cold) and then A's prefix (primed). B must see no cached tokens on A's prefix, and B's
    TTFT on primed prefixes must not be significantly lower than on cold ones. The catalog
    gives ``alpha``, ``batches`` and ``trials_per_batch``: a drop counts only when every one
    of ``batches`` successive batches is significant at alpha^(1/batches) (independent
    batches: a clean service fails with probability alpha); the next batch runs only while
    every earlier one was significant."""
    key_b = declaration.endpoint.second_api_key()
    assert key_b, "SEC-007 needs the second tenant key (applicability)"
    trials = int(requirement.param("trials_per_batch"))
    batches = max(1, int(requirement.param("batches")))
    alpha = requirement.param("alpha")
    per_batch = alpha ** (1.0 / batches)
    ph = plan.phase("caching")
    seed = ph.seed if ph is not None else 0
    factory = PromptFactory(tokenizer.count_messages, tokenizer.tokenizer.encode,
                            tokenizer.tokenizer.decode, seed)
    size = max(256, min(4000, declaration.model.context_window // 3))

    def batch(b: int) -> tuple[list[RequestRecord], list[RequestRecord]]:
        prompts = [(tuple(factory.make(70000 + 1000 * b + 2 * i, PromptSpec(size))),
                    tuple(factory.make(70000 + 1000 * b + 2 * i + 1, PromptSpec(size))))
                   for i in range(trials)]

        def params(msgs: tuple[Message, ...], stream: bool) -> ChatParams:
            return ChatParams(messages=msgs, max_tokens=1, stream=stream,
                              extra={"stream_options": {"include_usage": True}} if stream
                              else {})

        async def prime(c: Client) -> list[RequestRecord]:
            return [await c.chat(params(a, False), request_id=f"caching-sec007-{b}-{i}-a",
                                 phase="caching", seq=3 * i) for i, (a, _) in enumerate(prompts)]

        async def probe(c: Client) -> list[RequestRecord]:
            out = []
            for i, (a, cold) in enumerate(prompts):
                out.append(await c.chat(params(cold, True), phase="caching", seq=3 * i + 1,
                                        request_id=f"caching-sec007-{b}-{i}-b-cold"))
                out.append(await c.chat(params(a, True), phase="caching", seq=3 * i + 2,
                                        request_id=f"caching-sec007-{b}-{i}-b-primed"))
            return out

        send_raw(prime)
        recs = send_raw(probe, api_key=key_b)
        return recs[0::2], recs[1::2]

    def ttfts(recs: list[RequestRecord]) -> list[float]:
        return [t for t in (r.ttft_ms() for r in recs if r.ok) if t is not None]

    obs: list[Observation] = []
    p_values: list[float] = []
    timing = None
    for b in range(batches):
        cold, primed = batch(b)
        obs += [hygiene.no_cross_tenant_hit(r) for r in primed]
        timing = hygiene.no_ttft_drop(ttfts(primed), ttfts(cold), alpha=per_batch,
                                      evidence=[r.request_id for r in cold + primed])
        if "p_value" in timing.data:
            p_values.append(float(timing.data["p_value"]))
        if timing.ok is not False or not all(o.ok for o in obs):
            break  # not significant (or undecided), or a cached-token hit already decides
    assert timing is not None
    if timing.ok is False and len(p_values) > 1:
        timing = dataclasses.replace(
            timing, detail=f"every one of {len(p_values)} batches significant at "
            f"{per_batch:.3f} (p = {', '.join(f'{x:.3f}' for x in p_values)}): "
            f"{timing.detail}", data={**timing.data, "p_values": p_values})
    elif timing.ok is False and batches > 1:
        # a cached-token hit ended the batches early: the timing alone is not confirmed
        timing = dataclasses.replace(timing, ok=True, detail="timing not confirmed "
                                     f"(one batch of {batches}); {timing.detail}")
    record.observations("cache_isolated", [*obs, timing],
                        detail={"prompt_tokens": size, "trials_per_batch": trials,
                                "batches_run": len(p_values) or 1, "alpha": alpha,
                                "alpha_per_batch": per_batch})


# -- SEC-005 -------------------------------------------------------------------------------------

@pytest.mark.run_late(1)
@pytest.mark.requirement("SEC-005")
def test_rate_limit(send_raw: SendRaw, record: Recorder, declaration: Declaration,
                    tokenizer: TokenizerKit, plan: Plan, requirement: Requirement) -> None:
    """One key (the second tenant's when declared, so the main key stays usable), on the
    probe's streams, as fast as the service answers, until more requests (or prompt tokens)
    were answered than the declared limits allow in the elapsed time — refused or not — or
    the catalog's ``probe_s`` has passed (conformance.plan.probes sizes it)."""
    lim = declaration.limits
    key = declaration.endpoint.second_api_key() or None
    tol = requirement.param("tolerance")
    probe_s = requirement.param("probe_s")
    ph = plan.phase("security")
    factory = PromptFactory(tokenizer.count_messages, tokenizer.tokenizer.encode,
                            tokenizer.tokenizer.decode, ph.seed if ph is not None else 0)
    short = ({"role": "user", "content": "ping"},)
    rp = probe_size(declaration, requirement, tokenizer.count_messages(list(short)))
    msgs = tuple(factory.make(50000, PromptSpec(rp.prompt_tokens))) if rp.limit == "tpm" \
        else short
    size = tokenizer.count_messages(list(msgs))  # the auditor's own count, sent every time
    p = ChatParams(messages=msgs, max_tokens=1, stream=False)
    times: list[float] = []

    async def go(c: Client) -> list[RequestRecord]:
        out: list[RequestRecord] = []
        stop = asyncio.Event()
        t0 = time.monotonic()
        answered = [0, 0]  # requests, prompt tokens

        def reached() -> bool:
            el = time.monotonic() - t0
            return (answered[0] > allowance(lim.rpm, el, tol)
                    or answered[1] > allowance(lim.tpm, el, tol))

        seqs = itertools.count()

        async def worker() -> None:
            while not stop.is_set():
                if time.monotonic() - t0 > probe_s or reached():
                    stop.set()
                    break
                n = next(seqs)
                rec = await c.chat(p, request_id=f"{PHASE}-sec005-{n}", phase=PHASE, seq=n)
                out.append(rec)
                if (rec.status or 0) >= 500:
                    stop.set()
                elif rec.status is not None:
                    answered[0] += 1
                    answered[1] += size

        await asyncio.gather(*(worker() for _ in range(rp.streams)))
        times.append(time.monotonic() - t0)
        return out

    recs = send_raw(go, api_key=key)
    elapsed = times[0] if times else 0.0
    recs.sort(key=lambda r: r.seq)
    obs = hygiene.rate_limited(
        [r.status for r in recs], lim.rpm, elapsed, evidence=[r.request_id for r in recs[:50]],
        declared_tpm=lim.tpm, prompt_tokens=[size] * len(recs), tolerance=tol)
    record.observations("rate_limited", [obs], detail={
        "probe": rp.to_json(), "prompt_tokens_counted": size, **obs.data})
    refusals = [r for r in recs if r.status == 429]
    record.observations("refusal_well_formed", [ov.refusal_actionable(r) for r in refusals],
                        detail={"refused": len(refusals)})
