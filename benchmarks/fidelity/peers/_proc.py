"""Bounded subprocess runs for the peers: own process group, a deadline, a log file."""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.fidelity.peers.result import PeerRunError

LOOPBACK_NAMES = {"localhost"}


def require_loopback(base_url: str) -> str:
    """Return ``base_url`` without a trailing ``/v1``; refuse anything but loopback."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    try:
        loop = host in LOOPBACK_NAMES or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loop = False
    if parts.scheme not in {"http", "https"} or not loop:
        raise PeerRunError(f"peers may only target a loopback http(s) URL, got {base_url!r}; "
                           "start the server on 127.0.0.1")
    return base_url.rstrip("/").removesuffix("/v1")


def run_bounded(cmd: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_path: Path,
                timeout_s: float, cpus: Collection[int] | None = None) -> int:
    """Run ``cmd`` in its own session, output to ``log_path``; kill the group at the deadline.

    ``cpus`` pins the peer (and every worker process it forks later: affinity is inherited)
    to those CPUs, as ``run.py`` pins tokencert's client, so the server keeps its own core.

    On timeout the group gets SIGINT (the peers write their exports on it), then SIGTERM,
    then SIGKILL; a :class:`PeerRunError` says so. Returns the exit status otherwise.
    """
    with log_path.open("wb") as log:
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=dict(env), stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        if cpus and hasattr(os, "sched_setaffinity"):
            try:  # set before the interpreter it execs has even started its workers
                os.sched_setaffinity(proc.pid, set(cpus))
            except OSError as exc:
                _kill_group(proc)
                raise PeerRunError(f"cannot pin the peer to CPUs {sorted(cpus)}: {exc}") from None
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise PeerRunError(f"{Path(cmd[0]).name} ran past its {timeout_s:.0f} s limit "
                               f"and was stopped; see {log_path}") from None
        finally:
            if proc.poll() is None:
                _kill_group(proc)
            _reap_group(proc.pid)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGINT, 10.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _reap_group(pgid: int) -> None:
    """Children the peer left behind in its group (workers) get SIGTERM, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        time.sleep(0.5)


def tail(path: Path, n: int = 3000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-n:]
    except OSError:
        return ""
