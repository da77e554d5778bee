"""Child process hosting llama.cpp's own HTTP server (from the ``xllamacpp`` wheel).

``python -m conformance.reference.llama_worker --model M.gguf --parallel 4 --ctx 4096``
prints ``LLAMA_LISTENING <url>`` once the server is up and serves until terminated.
It listens on a free loopback port; only the gateway talks to it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--ctx", type=int, default=4096, help="context per sequence")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    import xllamacpp as xl

    p = xl.CommonParams()
    p.model.path = args.model
    p.n_parallel = args.parallel
    p.n_ctx = args.ctx * args.parallel
    p.port = 0
    p.warmup = False
    p.cpuparams.n_threads = args.threads
    p.cpuparams_batch.n_threads = args.threads
    p.use_jinja = False
    p.cache_prompt = False
    server = xl.Server(p)
    print(f"LLAMA_LISTENING {server.listening_address}", flush=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
