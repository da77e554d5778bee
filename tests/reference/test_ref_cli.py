"""``tokencert reference``: defects listing, serve, and clear errors for bad options."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.declaration import load_declaration
from conformance.reference.defects import ALL_DEFECTS


def test_defects_listing(cli: Callable[..., Any]) -> None:
    r = cli("reference", "defects", "--json")
    assert r.code == 0
    listed = json.loads(r.out)
    assert [d["name"] for d in listed] == [d.name for d in ALL_DEFECTS]
    text = cli("reference", "defects").out
    assert "missing_done" in text and "API-002" in text


def test_bad_options_are_usage_errors(cli: Callable[..., Any]) -> None:
    r = cli("reference", "serve", "--defect", "missing_don")
    assert r.code == 2 and "unknown defect 'missing_don'" in r.err
    assert "did you mean 'missing_done'" in r.err
    r = cli("reference", "serve", "--dialect", "anthropic")
    assert r.code == 2 and "unknown dialect 'anthropic'" in r.err
    r = cli("reference", "serve", "--set", "sim.nope=1")
    assert r.code == 2 and "unknown setting" in r.err
    r = cli("reference", "serve", "--engine", "vllm")
    assert r.code == 2 and "unknown engine" in r.err


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_prints_url_writes_declaration_and_stops(tmp_path: Path, stop: int) -> None:
    """The --help example as written (a declaration path relative to the working directory):
    the declaration holds paths relative to itself, so it checks from anywhere; SIGINT and
    SIGTERM both remove the unencrypted server key."""
    decl = Path("ref") / "candidate.yaml"  # relative to the child's working directory
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENCERT_API_KEY")}
    env["TMPDIR"] = str(tmp)  # the server key's private directory goes here
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance", "reference", "serve", "--tls",
         "--write-declaration", str(decl), "--billing-export", "ref/billing.csv",
         "--set", "gateway.declared_concurrency=4"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True, cwd=tmp_path)
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
        assert list(tmp.glob("tokencert-tls-*/server.key"))
        written = tmp_path / decl
        raw = written.read_text()
        assert "ca_bundle: ca.pem" in raw and "path: billing.csv" in raw, raw
        d = load_declaration(written)  # read relative to the file, not the working dir
        assert d.performance.declared_concurrency == 4
        assert d.endpoint.ca_bundle == (written.parent / "ca.pem").resolve()
        assert d.billing_export is not None and d.billing_export.path.is_file()
        key = text.split("export TOKENCERT_API_KEY=")[1].split()[0]
        assert key not in raw
    finally:
        proc.send_signal(stop)
        proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert not list(tmp.glob("tokencert-tls-*")), "the server key's temp dir is left"
