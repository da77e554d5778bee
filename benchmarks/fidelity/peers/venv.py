"""Separate virtual environments for the peers (never project dependencies).

    python -m benchmarks.fidelity.peers.venv            # create / check, print the paths

One venv per peer under a root (default ``~/.cache/tokencert/peers-venv``, or
``$TOKENCERT_PEERS_VENV``, or the ``root`` argument): GuideLLM and AIPerf pin different
``huggingface-hub``, ``rich`` and ``pandas`` majors, so they do not share one. Creation is
idempotent: a marker file records the pinned requirement, and a venv whose marker matches
and whose console script exists is reused as is.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

from benchmarks.fidelity.peers.result import PeerRunError

VENV_ENV = "TOKENCERT_PEERS_VENV"
# Versions the issue measured; both are on PyPI and install with plain pip (GuideLLM pulls
# torch, ~2.3 GB with its CUDA wheels; nothing of it is used against an HTTP target).
PINS = {"guidellm": "guidellm==0.8.1", "aiperf": "aiperf==0.13.0"}
SCRIPTS = {"guidellm": "guidellm", "aiperf": "aiperf"}
INSTALL_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class PeerEnv:
    name: str
    root: Path
    requirement: str

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def script(self) -> Path:
        return self.root / "bin" / SCRIPTS[self.name]

    @property
    def version(self) -> str:
        return self.requirement.split("==", 1)[1]


def venv_root(root: Path | str | None = None) -> Path:
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(VENV_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tokencert" / "peers-venv"


def ensure_peer(name: str, root: Path | str | None = None, *, quiet: bool = True) -> PeerEnv:
    """Create (if needed) the venv of peer ``name`` and install its pinned release."""
    if name not in PINS:
        raise PeerRunError(f"unknown peer {name!r}; known: {', '.join(sorted(PINS))}")
    pe = PeerEnv(name, venv_root(root) / name, PINS[name])
    marker = pe.root / ".tokencert-peer"
    if marker.is_file() and marker.read_text().strip() == pe.requirement and pe.script.exists():
        return pe
    if not pe.python.exists():
        venv.EnvBuilder(with_pip=True, clear=False).create(pe.root)
    cmd = [str(pe.python), "-m", "pip", "install", "--disable-pip-version-check",
           *(["-q"] if quiet else []), pe.requirement]
    try:
        done = subprocess.run(cmd, capture_output=quiet, text=True, timeout=INSTALL_TIMEOUT_S,
                              check=False)
    except subprocess.TimeoutExpired:
        raise PeerRunError(f"installing {pe.requirement} took over {INSTALL_TIMEOUT_S:.0f} s"
                           ) from None
    if done.returncode != 0 or not pe.script.exists():
        detail = (done.stderr or done.stdout or "")[-2000:] if quiet else ""
        raise PeerRunError(f"could not install {pe.requirement} into {pe.root} "
                           f"(pip exit {done.returncode}); check network access to PyPI.\n"
                           + detail)
    marker.write_text(pe.requirement + "\n")
    return pe


def ensure_all(root: Path | str | None = None, *, quiet: bool = True) -> dict[str, PeerEnv]:
    return {name: ensure_peer(name, root, quiet=quiet) for name in PINS}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="create the peers' virtual environments")
    ap.add_argument("--root", type=Path, default=None, help=f"default ${VENV_ENV} or "
                    "~/.cache/tokencert/peers-venv")
    a = ap.parse_args(argv)
    try:
        envs = ensure_all(a.root, quiet=False)
    except PeerRunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for pe in envs.values():
        print(f"{pe.requirement:18} {pe.script}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
