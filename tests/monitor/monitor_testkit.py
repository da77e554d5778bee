"""Helpers shared by the monitor tests (a module of its own: `conftest` is ambiguous
when several test folders each have one)."""

from __future__ import annotations

from pathlib import Path


def write_campaign(path: Path, declaration: Path, *, prober: str = "p1", every_s: float = 60,
                   parallel: int = 2, extra: str = "") -> Path:
    path.write_text(f"""campaign: test
prober: {{name: {prober}, region: loopback}}
targets:
  - name: ref
    declaration: {declaration}
    api_key_env: TOKENCERT_MONITOR_TEST_KEY
workloads:
  - {{name: short, input_tokens: 40, output_tokens: 16}}
scenarios:
  - {{name: single, parallel: 1}}
  - {{name: par, parallel: {parallel}}}
schedule: {{every_s: {every_s}}}
request_timeout_s: 20
{extra}""", encoding="utf-8")
    return path
