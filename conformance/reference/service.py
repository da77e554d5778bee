"""Run the reference service in a child process, for tests, benchmarks and the demo.

    with ReferenceService.start(tls=True, defects=["missing_done"]) as svc:
        svc.base_url, svc.declaration_path, svc.api_keys, svc.env, svc.ca_bundle

Nothing global is touched: the keys go to the child through its own environment, and
``svc.env`` is a mapping you may pass on (e.g. with ``monkeypatch.setenv``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from conformance._core.errors import RunError
from conformance.declaration.models import Declaration
from conformance.reference.config import GatewayConfig, SimConfig
from conformance.reference.declare import KEY_ENV, KEY_ENV_B
from conformance.reference.server import READY_MARK


def _section(value: SimConfig | GatewayConfig | Mapping[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {}
    data = asdict(value) if isinstance(value, SimConfig | GatewayConfig) else dict(value)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


@dataclass
class ReferenceService:
    """A running reference service (child process) and what a client needs to use it."""

    process: subprocess.Popen[bytes]
    base_url: str
    declaration_path: Path
    api_keys: tuple[str, str]
    ca_bundle: Path | None
    workdir: Path
    billing_export_path: Path | None
    log_path: Path

    @property
    def api_key(self) -> str:
        return self.api_keys[0]

    @property
    def env(self) -> dict[str, str]:
        """The variables the declaration names, with this run's keys."""
        return {KEY_ENV: self.api_keys[0], KEY_ENV_B: self.api_keys[1]}

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """What to pass as httpx ``verify``: a context trusting only the generated CA."""
        if self.ca_bundle is None:
            return True
        return ssl.create_default_context(cafile=str(self.ca_bundle))

    def declaration(self) -> Declaration:
        from conformance.declaration import load_declaration

        return load_declaration(self.declaration_path)

    def headers(self, tenant: int = 0) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_keys[tenant]}"}

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    @classmethod
    @contextlib.contextmanager
    def start(cls, *, tls: bool = False, engine: str = "sim", defects: Sequence[str] = (),
              sim_config: SimConfig | Mapping[str, Any] | None = None,
              gateway_config: GatewayConfig | Mapping[str, Any] | None = None,
              seed: int = 0, billing_export: bool = False, workdir: Path | None = None,
              capacity: float | None = None, gguf: Path | None = None,
              extra_env: Mapping[str, str] | None = None,
              startup_timeout_s: float = 90.0,
              dialect: str = "openai-chat") -> Iterator[ReferenceService]:
        own_dir = workdir is None
        wd = Path(tempfile.mkdtemp(prefix="tokencert-ref-")) if workdir is None else workdir
        wd.mkdir(parents=True, exist_ok=True)
        keys = ("sk-ref-a-" + secrets.token_urlsafe(24), "sk-ref-b-" + secrets.token_urlsafe(24))
        decl = wd / "candidate.yaml"
        cmd = [sys.executable, "-m", "conformance.reference", "serve", "--port", "0",
               "--engine", engine, "--seed", str(seed), "--write-declaration", str(decl),
               "--tls-dir", str(wd)]
        if tls:
            cmd.append("--tls")
        if dialect != "openai-chat":
            cmd += ["--dialect", dialect]
        for d in defects:
            cmd += ["--defect", d]
        cfg = {"sim": _section(sim_config), "gateway": _section(gateway_config)}
        if cfg["sim"] or cfg["gateway"]:
            (wd / "reference.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
            cmd += ["--config", str(wd / "reference.yaml")]
        bill = wd / "billing.csv" if billing_export else None
        if bill is not None:
            cmd += ["--billing-export", str(bill)]
        if capacity is not None:
            cmd += ["--capacity", str(capacity)]
        if gguf is not None:
            cmd += ["--gguf", str(gguf)]
        env = {**os.environ, **(extra_env or {}), KEY_ENV: keys[0], KEY_ENV_B: keys[1],
               "PYTHONUNBUFFERED": "1"}
        out_path = wd / "server.log"
        with out_path.open("wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                    stdin=subprocess.DEVNULL)
        try:
            info = _wait_ready(proc, out_path, startup_timeout_s)
            ca = Path(info["ca_bundle"]) if info.get("ca_bundle") else None
            yield cls(proc, info["base_url"], decl, keys, ca, wd, bill, out_path)
        finally:
            _stop(proc)
            if own_dir:
                shutil.rmtree(wd, ignore_errors=True)


def _wait_ready(proc: subprocess.Popen[bytes], out_path: Path, timeout_s: float
                ) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = out_path.read_text(encoding="utf-8", errors="replace")
        for line in text.splitlines():
            if line.startswith(READY_MARK):
                return dict(json.loads(line[len(READY_MARK):]))
        if proc.poll() is not None:
            raise RunError(f"the reference service exited with status {proc.returncode}:\n"
                           + text[-2000:])
        time.sleep(0.05)
    _stop(proc)
    raise RunError(f"the reference service did not become ready within {timeout_s:.0f} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
