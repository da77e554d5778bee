"""Assemble and run the reference service: config, engine, TLS, declaration, uvicorn."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from conformance._core.errors import InputError, Problem
from conformance.declaration.models import ChatTemplateRef, TokenizerRef
from conformance.reference.billing import BillingLedger
from conformance.reference.build_tokenizer import TEMPLATE_PATH, TOKENIZER_PATH
from conformance.reference.config import ReferenceConfig, load_config
from conformance.reference.declare import KEY_ENV, KEY_ENV_B, declaration_data, write_declaration
from conformance.reference.defects import ActiveDefects, parse_defects
from conformance.reference.engine import Engine
from conformance.run.tokenize import ChatTemplate, Tokenizer, load_tokenizer

READY_MARK = "TOKENCERT_REFERENCE_READY "


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 0
    tls: bool = False
    engine: str = "sim"
    defects: tuple[str, ...] = ()
    write_declaration: Path | None = None
    seed: int = 0
    config: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    billing_export: Path | None = None
    tls_dir: Path | None = None
    capacity: float | None = None
    gguf: Path | None = None
    dialect: str = "openai-chat"  # the dialect the written declaration names (all are served)


def load_assets() -> tuple[Tokenizer, ChatTemplate]:
    tok = load_tokenizer(TokenizerRef("hf", TOKENIZER_PATH))
    ref = ChatTemplateRef(TEMPLATE_PATH, eos_token="<|im_end|>")
    return tok, ChatTemplate.from_file(ref.path, ref.bos_token, ref.eos_token)


def api_keys_from_env() -> tuple[dict[str, str], bool]:
    """Tenant keys from the environment, or fresh random ones (never written anywhere)."""
    a, b = os.environ.get(KEY_ENV), os.environ.get(KEY_ENV_B)
    generated = not (a and b)
    a = a or "sk-ref-a-" + secrets.token_urlsafe(24)
    b = b or "sk-ref-b-" + secrets.token_urlsafe(24)
    if a == b:
        raise InputError(f"{KEY_ENV} and {KEY_ENV_B} must differ (two tenants)")
    return {"A": a, "B": b}, generated


def make_engine(opts: ServeOptions, cfg: ReferenceConfig, tokenizer: Tokenizer) -> Engine:
    if opts.engine == "sim":
        from conformance.reference.sim import SimEngine

        return SimEngine(cfg.sim, tokenizer, opts.seed)
    if opts.engine in {"llama.cpp", "llamacpp"}:
        from conformance.reference.llamacpp import LlamaCppEngine

        return LlamaCppEngine(tokenizer, cfg, gguf=opts.gguf, seed=opts.seed)
    if opts.engine.startswith("upstream:"):
        from conformance.reference.upstream import UpstreamEngine

        return UpstreamEngine(opts.engine.removeprefix("upstream:"), tokenizer)
    raise InputError(f"unknown engine {opts.engine!r}",
                     [Problem(f"--engine {opts.engine}",
                              hint="use sim, llama.cpp or upstream:URL")])


def _llama_limits(cfg: ReferenceConfig) -> ReferenceConfig:
    """The tiny model has a 4096-token context and runs on CPU: declare what it can do."""
    from conformance.reference.llamacpp import LLAMA_CONTEXT

    g = cfg.gateway
    ctx = min(g.context_window, LLAMA_CONTEXT)
    conc = min(g.max_concurrency, 4)
    return replace(cfg, gateway=replace(
        g, context_window=ctx, max_output_tokens=min(g.max_output_tokens, ctx // 4),
        max_concurrency=conc, declared_concurrency=min(g.declared_concurrency, 2, conc)))


def _features(engine: str, caching: bool) -> dict[str, bool]:
    sim = engine == "sim"
    return {"prompt_caching": caching, "logprobs": sim, "one_token_per_chunk": sim,
            "seed": True, "stop_sequences": True, "deterministic": sim}


def serve(opts: ServeOptions, echo: Callable[[str], None] = print) -> None:
    """Run until interrupted (SIGINT/SIGTERM). Prints the URL and a machine-readable line."""
    import uvicorn

    cfg = load_config(opts.config, opts.overrides)
    if opts.engine in {"llama.cpp", "llamacpp"}:
        cfg = _llama_limits(cfg)
    defects = ActiveDefects(parse_defects(opts.defects))
    tokenizer, template = load_assets()
    keys, generated = api_keys_from_env()
    engine = make_engine(opts, cfg, tokenizer)
    caching = opts.engine == "sim"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((opts.host, opts.port))
    except OSError as exc:
        raise InputError(f"cannot listen on {opts.host}:{opts.port}: {exc.strerror}") from None
    port = sock.getsockname()[1]
    tls_on = opts.tls and "plain_http" not in defects
    tls = None
    previous = _stop_on_sigterm()
    try:
        if tls_on:
            from conformance.reference.tls import generate_tls

            ca_dir = opts.tls_dir or (opts.write_declaration.parent if opts.write_declaration
                                      else Path.cwd())
            tls = generate_tls(ca_dir, wrong_ca="wrong_ca" in defects)
        host = "127.0.0.1" if opts.host in {"0.0.0.0", "127.0.0.1"} else opts.host
        base_url = f"{'https' if tls_on else 'http'}://{host}:{port}/v1"
        billing = (BillingLedger(opts.billing_export, cfg.gateway) if opts.billing_export
                   else None)
        from conformance.reference.gateway import Gateway

        gw = Gateway(cfg, engine, tokenizer, template, keys, defects, billing, caching,
                     seed=opts.seed)
        asyncio.run(_run(uvicorn, gw, sock, tls, opts, cfg, base_url, generated, keys,
                         defects, caching, echo))
    finally:
        if tls is not None:
            tls.cleanup()  # the unencrypted server key: gone on SIGINT and SIGTERM alike
        sock.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _stop_on_sigterm() -> Any:
    """SIGTERM ends the service like SIGINT (KeyboardInterrupt), so every ``finally`` runs.
    uvicorn handles both while it serves, then raises the signal again once it has shut
    down: with the default SIGTERM action that would kill the process before the TLS key
    is removed. Returns the previous handler (None off the main thread)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, stop)


async def _run(uvicorn: Any, gw: Any, sock: socket.socket, tls: Any, opts: ServeOptions,
               cfg: ReferenceConfig, base_url: str, generated: bool, keys: dict[str, str],
               defects: ActiveDefects, caching: bool, echo: Callable[[str], None]) -> None:
    await gw.engine.start()
    try:
        capacity = opts.capacity
        if capacity is None and opts.engine != "sim":
            # llama.cpp's tiny model does ~700 tokens/s at concurrency 2 on two cores; an
            # upstream's capacity is unknown here: say it with --capacity.
            capacity = 100.0 if opts.engine in {"llama.cpp", "llamacpp"} else 1.0
        if opts.write_declaration is not None:
            data = declaration_data(
                cfg, base_url=base_url, engine=opts.engine, tokenizer_path=TOKENIZER_PATH,
                template_path=TEMPLATE_PATH, features=_features(opts.engine, caching),
                defects=defects, ca_bundle=tls.ca_bundle if tls else None,
                billing_export=opts.billing_export, capacity=capacity, dialect=opts.dialect,
                eos_counted=None if opts.engine == "sim" else opts.engine != "sim"
                and not opts.engine.startswith("upstream:"))
            write_declaration(opts.write_declaration, data)
        config = uvicorn.Config(
            gw.app(), log_level="warning", access_log=False, lifespan="off",
            timeout_graceful_shutdown=3, server_header=False,
            ssl_certfile=str(tls.certfile) if tls else None,
            ssl_keyfile=str(tls.keyfile) if tls else None)
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():  # noqa: ASYNC110 (uvicorn has no event)
            await asyncio.sleep(0.02)
        if server.started:
            echo(f"tokencert reference service ({opts.engine}) listening on {base_url}")
            echo(f"seed {opts.seed} (sim jitter, positions of one-in-k defects)")
            if opts.write_declaration:
                echo(f"declaration: {opts.write_declaration}")
            if tls:
                echo(f"CA bundle (trust this to verify the server): {tls.ca_bundle}")
            if generated:
                echo("generated API keys for this run (not stored anywhere):")
                echo(f"  export {KEY_ENV}={keys['A']}")
                echo(f"  export {KEY_ENV_B}={keys['B']}")
            echo(READY_MARK + json.dumps({
                "base_url": base_url, "pid": os.getpid(),
                "declaration": str(opts.write_declaration) if opts.write_declaration else None,
                "ca_bundle": str(tls.ca_bundle) if tls else None,
                "defects": defects.names(), "seed": opts.seed}))
            sys.stdout.flush()
        await task
    finally:
        await gw.engine.stop()
