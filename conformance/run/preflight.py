"""Preflight: can this declaration be measured at all? Checked in seconds, before a run.

Each step either passes, or ends with an error that names the cause and the fix:
:class:`~conformance._core.errors.DeclarationError` (exit 2) when the declaration or the
environment is wrong (http against a TLS server and the reverse, a base URL without its
API prefix, a key the service refuses, a model it does not know, an untrusted
certificate), :class:`~conformance._core.errors.RunError` (exit 3) when the service cannot
be reached (a name that does not resolve, nothing listening, no answer). Anything the
service answers — a 5xx, a stream without usage or without ``[DONE]`` — is left to the
run's requirements to judge: the preflight never decides a verdict.

Steps: resolve the host; open a TCP connection; speak the declared transport (TLS with
the declared trust, or plain HTTP) and recognise the other one; ``GET /models`` with the
key (401/403 → key, 404 → base path, is the declared model listed?); one streamed chat
completion asking for usage — sent up to three times while it answers 5xx or 429 or its
connection drops, each attempt recorded, so one random fault of the service does not stop
a run before it starts.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import difflib
import json
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from conformance._core.errors import DeclarationError, Problem, RunError, TokencertError
from conformance._core.redact import Redactor
from conformance._core.yamldoc import json_path, load_yaml
from conformance.declaration.models import Declaration
from conformance.plan import Plan
from conformance.run.client.config import make_dialect
from conformance.run.client.dialect import ChatParams
from conformance.run.client.sse import SSESplitter
from conformance.run.records import RequestRecord

STEP_TIMEOUT_S = 5.0  # resolve, connect, handshake, a GET: each must answer within this
STREAM_TIMEOUT_CAP_S = 30.0  # the streamed request: the request deadline, at most this
MAX_BODY_BYTES = 1024 * 1024  # read no more of any preflight answer than this
PROBE_TOKENS = 8
STREAM_ATTEMPTS = 3  # the streamed request: retried on 5xx, 429 or a dropped connection
RETRY_WAIT_S = 0.5  # between attempts, unless the answer's Retry-After says (capped)
RETRY_WAIT_MAX_S = 5.0


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class PreflightReport:
    base_url: str
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for the run to judge, not fatal
    models: list[str] | None = None  # what GET /models listed (None: no list)
    attempts: list[str] = field(default_factory=list)  # the streamed request's tries
    seconds: float = 0.0

    def ok(self, name: str, detail: str) -> None:
        self.steps.append(Step(name, True, detail))

    def to_json(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "steps": [s.to_json() for s in self.steps],
                "notes": list(self.notes), "models": self.models,
                "attempts": list(self.attempts),
                "seconds": round(self.seconds, 3)}


class _Fail(Exception):
    def __init__(self, exit_code: int, where: tuple[str | int, ...], message: str,
                 hint: str) -> None:
        super().__init__(message)
        self.exit_code, self.where, self.message, self.hint = exit_code, where, message, hint


BASE_URL = ("endpoint", "base_url")


def preflight(decl: Declaration, *, request_timeout_s: float,
              security_only: bool = False) -> PreflightReport:
    """Check that ``decl``'s endpoint can be measured; raise on the first step that fails.

    ``request_timeout_s``: the run's per-request deadline (the streamed request waits at
    most this, and at most :data:`STREAM_TIMEOUT_CAP_S`). ``security_only``: the run
    selects only transport/security requirements, so an untrusted certificate is what the
    run is there to record, not a reason to stop."""
    ep = decl.endpoint
    rep = PreflightReport(ep.base_url)
    t0 = time.monotonic()
    redactor = Redactor.from_env(decl.secret_env_names())
    try:
        _run(decl, rep, min(request_timeout_s, STREAM_TIMEOUT_CAP_S), security_only)
    except _Fail as f:
        raise _error(decl, f, redactor) from None
    finally:
        rep.seconds = time.monotonic() - t0
    return rep


def _error(decl: Declaration, f: _Fail, redactor: Redactor) -> TokencertError:
    line = col = None
    file = str(decl.source) if decl.source else None
    if decl.source is not None:
        with contextlib.suppress(TokencertError):
            line, col = load_yaml(decl.source).position(f.where)
    path = json_path(f.where)
    problem = Problem(redactor.text(f.message), file=file, line=line, column=col,
                      json_path=path, hint=redactor.text(f.hint))
    head = ("preflight: the declaration does not match the service" if f.exit_code == 2
            else "preflight: the service cannot be measured")
    cls = DeclarationError if f.exit_code == 2 else RunError
    return cls(f"{head} (nothing was run, no verdict)", [problem])


def security_only(plan: Plan) -> bool:
    """Does the run select only requirements of the security phase (which judge the
    transport itself, and so must run over an untrusted connection)?"""
    picked = [r for r in plan.requirements if r.applicable]
    return bool(picked) and all(r.phase == "security" for r in picked)


# -- the steps --------------------------------------------------------------------------------
def _run(decl: Declaration, rep: PreflightReport, stream_timeout_s: float,
         security_only: bool) -> None:
    ep = decl.endpoint
    u = urlsplit(ep.base_url)
    host = u.hostname or ""
    port = u.port or (443 if u.scheme == "https" else 80)
    addr = _resolve(host, port)
    rep.ok("resolve", f"{host} → {addr[0]}")
    _connect(addr, host, port).close()
    rep.ok("connect", f"{host}:{port} accepts connections")
    ctx = _tls_context(decl)
    verify: ssl.SSLContext | bool = ctx
    if u.scheme == "https":
        if not _check_tls(ctx, addr, host, port, decl, security_only, rep):
            verify = False  # only the transport check runs: it records the distrust
    else:
        _check_plain(addr, host, port, ep.base_url)
        rep.ok("transport", "plain http (no TLS): a self-assessment, never a certificate")
    headers = make_dialect(ep.dialect).auth_headers(ep.api_key() or "")
    with httpx.Client(verify=verify, timeout=httpx.Timeout(STEP_TIMEOUT_S),
                      follow_redirects=False, trust_env=False) as http:
        _check_models(http, decl, headers, rep)
        _check_stream(http, decl, headers, rep, stream_timeout_s)


def _bounded(fn: Callable[[], Any], timeout_s: float) -> Any:
    """``fn()`` in a worker thread, waited for at most ``timeout_s`` (name resolution has no
    timeout of its own); raises TimeoutError."""
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="preflight")
    try:
        return pool.submit(fn).result(timeout=timeout_s)
    except concurrent.futures.TimeoutError:
        raise TimeoutError from None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _resolve(host: str, port: int) -> tuple[str, int]:
    try:
        infos = _bounded(lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM),
                         STEP_TIMEOUT_S)
    except TimeoutError:
        raise _Fail(3, BASE_URL, f"the host name {host!r} did not resolve within "
                    f"{STEP_TIMEOUT_S:.0f} s", "check this machine's DNS, or the host name "
                    "in endpoint.base_url") from None
    except OSError as exc:
        raise _Fail(3, BASE_URL, f"the host name {host!r} does not resolve "
                    f"({exc.strerror or exc})", "check the host name in endpoint.base_url "
                    "(and this machine's DNS)") from None
    sockaddr = infos[0][4]
    return str(sockaddr[0]), int(sockaddr[1])


def _connect(addr: tuple[str, int], host: str, port: int) -> socket.socket:
    try:
        return socket.create_connection(addr, timeout=STEP_TIMEOUT_S)
    except ConnectionRefusedError:
        raise _Fail(3, BASE_URL, f"nothing listens on {host}:{port} (connection refused)",
                    "start the service, or fix the port in endpoint.base_url") from None
    except TimeoutError:
        raise _Fail(3, BASE_URL, f"{host}:{port} did not accept a connection within "
                    f"{STEP_TIMEOUT_S:.0f} s", "check the address and port in "
                    "endpoint.base_url, and any firewall between here and there") from None
    except OSError as exc:
        raise _Fail(3, BASE_URL, f"cannot connect to {host}:{port} ({exc.strerror or exc})",
                    "check the address and port in endpoint.base_url") from None


def _tls_context(decl: Declaration) -> ssl.SSLContext:
    ca = decl.endpoint.ca_bundle
    return ssl.create_default_context(cafile=str(ca) if ca is not None else None)


def _speaks_http(addr: tuple[str, int], host: str) -> bool | None:
    """Does the server answer a plain-text HTTP request with an HTTP status line? None: it
    sent nothing at all within the step timeout (a hang, not another protocol)."""
    try:
        with socket.create_connection(addr, timeout=STEP_TIMEOUT_S) as s:
            s.sendall(f"HEAD / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            return s.recv(5) == b"HTTP/"
    except TimeoutError:
        return None
    except OSError:
        return False


def _speaks_tls(addr: tuple[str, int], host: str) -> bool:
    """Does the server complete a TLS handshake (any certificate)?"""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(addr, timeout=STEP_TIMEOUT_S) as raw, \
                ctx.wrap_socket(raw, server_hostname=host or None):
            return True
    except (OSError, ssl.SSLError):
        return False


def _check_tls(ctx: ssl.SSLContext, addr: tuple[str, int], host: str, port: int,
               decl: Declaration, security_only: bool, rep: PreflightReport) -> bool:
    """True: TLS with a trusted certificate; False: untrusted, tolerated (security only)."""
    base_url = decl.endpoint.base_url
    try:
        with socket.create_connection(addr, timeout=STEP_TIMEOUT_S) as raw, \
                ctx.wrap_socket(raw, server_hostname=host) as tls:
            rep.ok("transport", f"{tls.version()}, certificate trusted")
            return True
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or exc.reason or str(exc)
        if security_only:
            rep.ok("transport", f"certificate untrusted ({reason}): the run records it")
            rep.notes.append(f"the server's certificate does not verify ({reason})")
            return False
        where = ("endpoint", "ca_bundle") if decl.endpoint.ca_bundle is not None \
            else BASE_URL
        raise _Fail(2, where, f"the certificate of {host}:{port} does not verify against "
                    f"the declared trust: {reason}", "point endpoint.ca_bundle at the CA "
                    "that signed the server's certificate (or give the server a certificate "
                    "for this host name); over an untrusted connection only the transport "
                    "check can run: `tokencert run --only SEC-002` records that failure"
                    ) from None
    except TimeoutError:
        raise _Fail(3, BASE_URL, f"{host}:{port} accepts connections but did not answer the "
                    f"TLS handshake within {STEP_TIMEOUT_S:.0f} s", "check that this is the "
                    "service's port and that the service is healthy") from None
    except (ssl.SSLError, ConnectionError, OSError) as exc:
        if _speaks_http(addr, host):
            plain = "http://" + base_url.split("://", 1)[1]
            raise _Fail(2, BASE_URL, f"endpoint.base_url says https, but {host}:{port} "
                        "speaks plain http (no TLS)", f"use base_url: {plain} — or serve "
                        "TLS on this port") from None
        raise _Fail(3, BASE_URL, f"the TLS handshake with {host}:{port} failed "
                    f"({type(exc).__name__}: {exc})", "check that this port serves TLS "
                    "(https)") from None


def _check_plain(addr: tuple[str, int], host: str, port: int, base_url: str) -> None:
    http = _speaks_http(addr, host)
    if http:
        return
    if http is False and _speaks_tls(addr, host):
        tls = "https://" + base_url.split("://", 1)[1]
        raise _Fail(2, BASE_URL, f"endpoint.base_url says http, but {host}:{port} speaks "
                    "TLS", f"use base_url: {tls} (and endpoint.ca_bundle for a private CA)")
    raise _Fail(3, BASE_URL, f"{host}:{port} accepts connections but does not answer "
                f"HTTP within {STEP_TIMEOUT_S:.0f} s", "check that this is the service's "
                "port and that the service is healthy")


# -- HTTP steps ------------------------------------------------------------------------------
def _get(http: httpx.Client, url: str, headers: dict[str, str],
         timeout_s: float = STEP_TIMEOUT_S) -> tuple[int, bytes]:
    with http.stream("GET", url, headers=headers, timeout=timeout_s) as r:
        return r.status_code, _read(r)


def _read(r: httpx.Response) -> bytes:
    body = b""
    for chunk in r.iter_bytes():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            break
    return body[:MAX_BODY_BYTES]


def _with_v1(base_url: str) -> str | None:
    """``base_url`` + ``/v1`` when it lacks the usual API prefix."""
    path = urlsplit(base_url).path.rstrip("/")
    return None if path.endswith("/v1") else base_url.rstrip("/") + "/v1"


def _base_path_fail(http: httpx.Client, decl: Declaration, headers: dict[str, str],
                    what: str) -> _Fail:
    base = decl.endpoint.base_url
    alt = _with_v1(base)
    if alt is not None:
        try:
            status, _ = _get(http, alt + "/models", headers)
        except httpx.HTTPError:
            status = 404
        if status != 404:
            return _Fail(2, BASE_URL, f"{what} is 404 at {base}, but {alt}/models answers "
                         f"(HTTP {status})", f"use base_url: {alt}")
    return _Fail(2, BASE_URL, f"{what} is 404: no OpenAI-compatible API at {base}",
                 "base_url is the prefix before /chat/completions, e.g. "
                 "https://api.example.com/v1")


def _key_fail(decl: Declaration, status: int, what: str) -> _Fail:
    env = decl.endpoint.api_key_env
    return _Fail(2, ("endpoint", "api_key_env"), f"the service refused the key in ${env} "
                 f"({what}: HTTP {status})", f"export {env}=<a valid key for this service> "
                 "and run again")


def _check_models(http: httpx.Client, decl: Declaration, headers: dict[str, str],
                  rep: PreflightReport) -> None:
    url = decl.endpoint.base_url + "/models"
    try:
        status, body = _get(http, url, headers)
    except httpx.TimeoutException:
        raise _Fail(3, BASE_URL, f"GET {url} got no answer within {STEP_TIMEOUT_S:.0f} s",
                    "check that the service is healthy") from None
    except httpx.HTTPError as exc:
        raise _Fail(3, BASE_URL, f"GET {url} failed ({type(exc).__name__}: {exc})",
                    "check that the service is healthy") from None
    if status in (401, 403):
        raise _key_fail(decl, status, "GET /models")
    if status == 404:
        raise _base_path_fail(http, decl, headers, "GET /models")
    if not 200 <= status < 300:
        rep.notes.append(f"GET /models answered HTTP {status}: the run judges it (API-007)")
        rep.ok("models", f"HTTP {status} (left to the run)")
        return
    rep.models = _model_ids(body)
    if rep.models is None:
        rep.notes.append("GET /models did not return a model list: the run judges it")
    elif not any(decl.model.accepts_name(m) for m in rep.models):
        rep.notes.append(f"GET /models does not list {decl.model.id!r} "
                         f"(it lists {', '.join(rep.models[:5]) or 'nothing'})")
    rep.ok("models", f"HTTP {status}, {len(rep.models or [])} model(s) listed")


def _model_ids(body: bytes) -> list[str] | None:
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list):
        return None
    return [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]


def _model_fail(decl: Declaration, models: Sequence[str], status: int) -> _Fail:
    close = difflib.get_close_matches(decl.model.id, list(models), n=1, cutoff=0.4)
    hint = (f"did you mean {close[0]!r}? " if close else "") + \
        f"set models[0].id to a model the service offers ({', '.join(models[:5])})"
    return _Fail(2, ("models", 0, "id"), f"the service does not know model "
                 f"{decl.model.id!r} (HTTP {status}; GET /models lists "
                 f"{', '.join(models[:5])})", hint)


def _check_stream(http: httpx.Client, decl: Declaration, headers: dict[str, str],
                  rep: PreflightReport, timeout_s: float) -> None:
    dialect = make_dialect(decl.endpoint.dialect)
    extra = {"stream_options": {"include_usage": True}} if dialect.name == "openai-chat" else {}
    built = dialect.build(ChatParams(
        [{"role": "user", "content": "Reply with one word: ready."}],
        max_tokens=min(PROBE_TOKENS, decl.model.max_output_tokens), extra=extra), decl.model.id)
    url, body = f"{decl.endpoint.base_url}/{built.path}", built.json
    where = f"POST /{built.path}"
    t0 = time.monotonic()
    status, raw = _stream_with_retries(http, url, body, headers, rep, timeout_s)
    if len(rep.attempts) > 1:
        rep.notes.append(f"the streamed request took {len(rep.attempts)} attempts ("
                         + "; ".join(rep.attempts) + "): the run judges the failures")
    if status in (401, 403):
        raise _key_fail(decl, status, where)
    if status == 404 and not (rep.models and not any(decl.model.accepts_name(m)
                                                      for m in rep.models)):
        raise _base_path_fail(http, decl, headers, where)
    if 400 <= status < 500 and status != 429 and rep.models and not any(
            decl.model.accepts_name(m) for m in rep.models):
        raise _model_fail(decl, rep.models, status)
    if not 200 <= status < 300:
        rep.notes.append(f"a minimal streamed request answered HTTP {status}: the run "
                         "judges it")
        rep.ok("stream", f"HTTP {status} (left to the run)")
        return
    splitter = SSESplitter()
    splitter.feed(raw, 0)
    splitter.close()
    events = splitter.events
    rec = RequestRecord(request_id="preflight", phase="preflight", seq=0, status=status,
                        events=events)
    dialect.decode(rec)  # the dialect's own terminator and usage ([DONE], message_stop, ...)
    usage = isinstance((rec.usage or {}).get("prompt_tokens"), int)
    done = rec.done_seen
    if not events:
        rep.notes.append("the streamed answer held no `data:` events: the run judges it")
    if not usage:
        rep.notes.append("the streamed answer carried no usage: the run judges it (API-003)")
    if not done:
        rep.notes.append("the streamed answer did not end with its terminator ([DONE], "
                         "message_stop, response.completed): the run judges it")
    rep.ok("stream", f"HTTP {status}, {len(events)} event(s), usage "
           f"{'present' if usage else 'absent'}, {time.monotonic() - t0:.2f} s")


def _stream_with_retries(http: httpx.Client, url: str, body: Any, headers: dict[str, str],
                         rep: PreflightReport, timeout_s: float) -> tuple[int, bytes]:
    """The streamed request, sent up to :data:`STREAM_ATTEMPTS` times while it answers 5xx
    or 429 or its connection drops (one random fault must not void a run); each attempt is
    recorded in ``rep.attempts``. Returns the last answer's status and body; a connection
    that still drops, or no answer within ``timeout_s``, ends the preflight (exit 3)."""
    for attempt in range(1, STREAM_ATTEMPTS + 1):
        t0 = time.monotonic()
        wait = RETRY_WAIT_S
        try:
            with http.stream("POST", url, json=body, headers=headers,
                             timeout=httpx.Timeout(timeout_s, connect=STEP_TIMEOUT_S)) as r:
                status = r.status_code
                raw = _read_until(r, t0 + timeout_s)
                wait = _retry_after(r.headers.get("retry-after"))
        except httpx.TimeoutException:
            rep.attempts.append(f"attempt {attempt}: no answer within {timeout_s:.0f} s")
            raise _Fail(3, ("endpoint", "timeout_s"), f"a streamed chat completion got no "
                        f"answer within {timeout_s:.0f} s", "check that the service is "
                        "healthy; endpoint.timeout_s is the longest a request may take"
                        ) from None
        except httpx.HTTPError as exc:
            rep.attempts.append(f"attempt {attempt}: connection failed "
                                f"({type(exc).__name__})")
            if attempt == STREAM_ATTEMPTS:
                raise _Fail(3, BASE_URL, f"a streamed chat completion failed "
                            f"{STREAM_ATTEMPTS} times ({type(exc).__name__}: {exc})",
                            "check that the service is healthy") from None
            time.sleep(wait)
            continue
        retry = status >= 500 or status == 429
        rep.attempts.append(f"attempt {attempt}: HTTP {status}"
                            + (", retried" if retry and attempt < STREAM_ATTEMPTS else ""))
        if not retry or attempt == STREAM_ATTEMPTS:
            return status, raw
        time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _retry_after(value: str | None) -> float:
    """The pause before the next attempt: the answer's Retry-After seconds, capped."""
    try:
        return min(max(float(value), 0.0), RETRY_WAIT_MAX_S) if value else RETRY_WAIT_S
    except ValueError:
        return RETRY_WAIT_S


def _read_until(r: httpx.Response, deadline: float) -> bytes:
    body = b""
    for chunk in r.iter_bytes():
        body += chunk
        if len(body) > MAX_BODY_BYTES or time.monotonic() > deadline:
            break
    return body
