"""The ground-truth streaming server of the fidelity benchmark, as a loopback fixture."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

GTSERVER = Path(__file__).resolve().parents[3] / "benchmarks" / "fidelity" / "gtserver.py"


class GT:
    def __init__(self, ttft_ms: float, itl_ms: float, tokens: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(GTSERVER), "--ttft-ms", str(ttft_ms), "--itl-ms", str(itl_ms),
             "--tokens", str(tokens)], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("LISTENING"), line
        self.base_url = f"http://127.0.0.1:{int(line.split()[1])}/v1"

    def take_log(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.base_url + "/gt/log", timeout=30) as r:
            return dict(json.load(r))

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        if self.proc.stdout:
            self.proc.stdout.close()
