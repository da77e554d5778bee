"""``tokencert reference``: defects listing, serve, and clear errors for bad options."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conformance.declaration import load_declaration
from conformance.reference import DEFECTS


def test_defects_listing(cli: Callable[..., Any]) -> None:
    r = cli("reference", "defects", "--json")
    assert r.code == 0
    listed = json.loads(r.out)
    assert [d["name"] for d in listed] == [d.name for d in DEFECTS]
    text = cli("reference", "defects").out
    assert "missing_done" in text and "API-002" in text


def test_bad_options_are_usage_errors(cli: Callable[..., Any]) -> None:
    r = cli("reference", "serve", "--defect", "missing_don")
    assert r.code == 2 and "unknown defect 'missing_don'" in r.err
    assert "did you mean 'missing_done'" in r.err
    r = cli("reference", "serve", "--set", "sim.nope=1")
    assert r.code == 2 and "unknown setting" in r.err
    r = cli("reference", "serve", "--engine", "vllm")
    assert r.code == 2 and "unknown engine" in r.err


def test_serve_prints_url_writes_declaration_and_stops(tmp_path: Path) -> None:
    decl = tmp_path / "ref" / "candidate.yaml"
    tmp = Path(tempfile.gettempdir())
    before = set(tmp.glob("tokencert-tls-*"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENCERT_API_KEY")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance", "reference", "serve", "--tls",
         "--write-declaration", str(decl), "--set", "gateway.declared_concurrency=4"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 30
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.startswith("TOKENCERT_REFERENCE_READY"):
                break
        text = "".join(lines)
        assert "listening on https://127.0.0.1:" in text
        assert "export TOKENCERT_API_KEY=" in text  # generated, shown once, never stored
        d = load_declaration(decl)
        assert d.performance.declared_concurrency == 4
        assert d.endpoint.ca_bundle == (decl.parent / "ca.pem").resolve()
        key = text.split("export TOKENCERT_API_KEY=")[1].split()[0]
        assert key not in decl.read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert set(tmp.glob("tokencert-tls-*")) <= before  # the server key's temp dir is gone
