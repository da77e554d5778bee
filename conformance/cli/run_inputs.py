"""What ``tokencert run`` checks before it starts pytest, and how it resumes: ``--out``, the
inputs (read back from the run directory on ``--resume``), the preflight against the
service, and SIGTERM handled like Ctrl-C. Every failure is an InputError (exit 2) or a
RunError (exit 3) with the fix in its hint."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conformance._core.errors import InputError, Problem


def check_out(out_dir: Path) -> None:
    """``--out`` must be (or become) a directory: not a file, not under a file."""
    for p in (out_dir, *out_dir.parents):
        if p.exists() and not p.is_dir():
            raise InputError(f"--out {out_dir} is not a directory", [Problem(
                f"{p} is a file" if p != out_dir else "a file of that name exists",
                file=str(p), hint="choose a directory for --out (it is created if missing)")])


def resume_inputs(out_dir: Path, candidate: Path | None, profile: str | None,
                  catalog: Path | None, only: str | None
                  ) -> tuple[Path, str, Path | None, str | None]:
    """The candidate, profile, catalog and selection of the run in ``out_dir`` (for
    ``--resume``), where not given on the command line."""
    import json

    manifest = out_dir / "evidence" / "run.json"
    if not manifest.is_file():
        raise InputError(f"nothing to resume in {out_dir}", [Problem(
            "no evidence/run.json", file=str(manifest), hint="drop --resume to start a run")])
    try:
        recorded_run = json.loads(manifest.read_text(encoding="utf-8"))
        inputs = recorded_run.get("inputs") or {}
    except (OSError, ValueError, AttributeError) as exc:
        raise InputError(f"cannot read {manifest}", [Problem(str(exc), file=str(manifest))]
                         ) from None
    def at(value: object) -> Path | None:  # recorded relative to the run directory
        return out_dir / str(value) if value else None

    cand = candidate or at(inputs.get("candidate"))
    if cand is None:
        raise InputError(f"{out_dir} does not say which candidate it ran", [Problem(
            "the run predates recorded inputs", file=str(manifest),
            hint="pass --candidate (and --profile) as when the run started")])
    recorded = str(inputs.get("profile") or "quick")
    prof = profile or (str(at(recorded)) if recorded.endswith((".yaml", ".yml")) else recorded)
    cat = catalog or at(inputs.get("catalog"))
    return cand, prof, cat, only or recorded_run.get("only")


def run_edition(out_dir: Path, edition: str | None, catalog: Path | None,
                resume: bool) -> str | None:
    """The edition to run: ``--edition`` (not with ``--catalog``); on ``--resume`` the
    edition the run was started with, whatever the default is now."""
    import json

    if edition and catalog is not None:
        raise InputError("--edition and --catalog exclude each other", [Problem(
            "both given", hint="a published edition by name, or a catalog directory")])
    if not resume or catalog is not None:
        return edition
    try:
        manifest = json.loads((out_dir / "evidence" / "run.json").read_text(encoding="utf-8"))
        recorded = str(manifest["spec"]["edition"])
    except (OSError, ValueError, KeyError, TypeError):
        return edition  # resume_inputs reports what is wrong with the run directory
    if edition and edition != recorded:
        raise InputError(f"the run in {out_dir} is on edition {recorded}", [Problem(
            f"--edition {edition} given", file=str(out_dir / "evidence" / "run.json"),
            json_path="$.spec.edition", hint="drop --edition: --resume keeps the run's")])
    return recorded


def check_inputs(candidate: Path, profile: str, out_dir: Path, only: str | None,
                 resume: bool, catalog: Path | None,
                 edition: str | None = None) -> tuple[Any, Any, Any]:
    """Everything that can be wrong with the inputs, reported before anything is sent.
    Returns (declaration, profile, plan)."""
    from conformance.declaration import load_declaration
    from conformance.plan import build_plan
    from conformance.spec import load_catalog, load_edition, load_profile

    check_out(out_dir)
    decl = load_declaration(candidate)
    prof = load_profile(profile)
    cat = load_catalog(catalog) if catalog is not None else load_edition(edition)
    plan = build_plan(cat, prof, decl, only)
    env = decl.endpoint.api_key_env
    if not os.environ.get(env):
        raise InputError(f"the API key variable {env} is not set", [Problem(
            f"environment variable {env} is empty", file=str(candidate),
            json_path="$.endpoint.api_key_env", hint=f"export {env}=<key> and run again")])
    manifest = out_dir / "evidence" / "run.json"
    if manifest.exists() and not resume:
        raise InputError(f"{out_dir} already holds a run", [Problem(
            "evidence exists", file=str(manifest),
            hint=f"continue it: tokencert run --resume --out {out_dir} — or choose a new "
            "--out")])
    if resume and not manifest.exists():
        raise InputError(f"nothing to resume in {out_dir}", [Problem(
            "no evidence/run.json", file=str(manifest), hint="drop --resume to start a run")])
    return decl, prof, plan


def check_service(decl: Any, prof: Any, plan: Any) -> Any:
    """The preflight (conformance.run.preflight): exit 2/3 in seconds when the service
    cannot be measured as declared. Returns its report."""
    from conformance.plan.build import request_timeout
    from conformance.run.preflight import preflight, security_only

    return preflight(decl, request_timeout_s=request_timeout(prof, decl),
                     security_only=security_only(plan))


def resume_command(out_dir: Path) -> str:
    """The command that continues the run in ``out_dir`` (it reads its inputs there)."""
    import shlex

    return f"tokencert run --resume --out {shlex.quote(str(out_dir))}"


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C: pytest stops, the evidence is closed and the
    results are written as incomplete (exit 3), resumable."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
