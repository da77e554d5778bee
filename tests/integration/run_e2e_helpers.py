"""Helpers for end-to-end runs of `tokencert run` (imported by the integration tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conformance.reference import ReferenceService

# A profile small enough for CI: request-count phases (deterministic record ids)
TINY_PROFILE = """\
schema_version: "1.0.0"
id: tiny
title: Tiny test profile
description: seconds-long profile for the toolkit's own tests
request_timeout_s: 30
seed: 7
phases:
  protocol: {strategy: sequential, requests: 12}
  sustained:
    strategy: concurrent
    concurrency: {declared_multiple: 1}
    requests: 24
    warmup_requests: 2
    max_error_rate: 0.5
certificate:
  validity_months: 12
  eligible: false
"""
FAST_SIM = {"tpot_ms": 2.0, "base_ttft_ms": 20.0}
ONLY = "API-001,API-002,API-007,PERF-00[1-5],STAB-00[126]"


def tokencert_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "conformance", *args]


def run_args(svc: ReferenceService, profile: Path, out: Path, *extra: str) -> list[str]:
    return tokencert_cmd("run", "--candidate", str(svc.declaration_path), "--profile",
                         str(profile), "--out", str(out), "--only", ONLY, *extra)


def run_env(svc: ReferenceService) -> dict[str, str]:
    return {**os.environ, **svc.env, "COLUMNS": "200"}


def run(svc: ReferenceService, profile: Path, out: Path, *extra: str
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(run_args(svc, profile, out, *extra), env=run_env(svc),
                          capture_output=True, text=True, timeout=300, check=False)
