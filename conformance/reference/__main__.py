"""``python -m conformance.reference serve ...`` — the same flags as ``tokencert reference``.

Used by :class:`~conformance.reference.service.ReferenceService` to run the service in a
child process; people use ``tokencert reference serve``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from conformance._core.errors import TokencertError
from conformance.reference.defects import ALL_DEFECTS
from conformance.reference.server import ServeOptions, serve


def _override(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), yaml.safe_load(value)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m conformance.reference")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--tls", action="store_true")
    s.add_argument("--engine", default="sim")
    s.add_argument("--defect", action="append", default=[])
    s.add_argument("--write-declaration", type=Path)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--config", type=Path)
    s.add_argument("--set", dest="overrides", action="append", type=_override, default=[])
    s.add_argument("--billing-export", type=Path)
    s.add_argument("--tls-dir", type=Path)
    s.add_argument("--capacity", type=float)
    s.add_argument("--gguf", type=Path)
    s.add_argument("--dialect", default="openai-chat",
                   choices=["openai-chat", "anthropic-messages", "openai-responses"])
    sub.add_parser("defects")
    args = ap.parse_args(argv)
    if args.cmd == "defects":
        for d in ALL_DEFECTS:
            print(f"{d.name:24} {d.requirement:10} {d.description}")
        return 0
    opts = ServeOptions(host=args.host, port=args.port, tls=args.tls, engine=args.engine,
                        defects=tuple(args.defect), write_declaration=args.write_declaration,
                        seed=args.seed, config=args.config, overrides=dict(args.overrides),
                        billing_export=args.billing_export, tls_dir=args.tls_dir,
                        capacity=args.capacity, gguf=args.gguf, dialect=args.dialect)
    try:
        serve(opts, echo=lambda line: print(line, flush=True))
    except TokencertError as exc:
        print(f"error: {exc.render()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
