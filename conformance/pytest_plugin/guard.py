"""What keeps a run bounded and its directory sound: the rule for a service that stopped
answering, the run deadline's watchdog, the lock on ``--out``, and the inputs a resume
reads back. Nothing here imports pytest."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from conformance._core.errors import InputError, Problem, RunError
from conformance.plan.build import LIMIT_EXEMPT_PHASES
from conformance.run.records import RequestRecord


class RunOptions(Protocol):
    """What :func:`run_inputs` reads of the session's options."""

    @property
    def out(self) -> Path: ...
    @property
    def profile(self) -> str: ...
    @property
    def candidate(self) -> Path: ...
    @property
    def catalog(self) -> Path | None: ...
    @property
    def edition(self) -> str | None: ...


class CandidateUnreachable(RunError):
    """The service stopped answering mid-run: the run ends incomplete (exit 3)."""


def no_answer(rec: RequestRecord) -> bool:
    """A request that got no answer at all: no connection (refused, failed, TLS failed), or
    not one byte before its deadline. Resets, errors and slow answers are answers. The
    overload phase is exempt from the second kind (a service may queue a burst)."""
    if rec.error == "connect":
        return True
    return (rec.error == "timeout" and rec.status is None and rec.first_byte_ns is None
            and rec.phase not in LIMIT_EXEMPT_PHASES)


class Watchdog:
    """Interrupts the run (as Ctrl-C does) when it passes its deadline: the session then
    ends as incomplete (exit 3), evidence kept, resumable."""

    def __init__(self, deadline_s: float, incomplete: list[str]) -> None:
        import threading

        self.deadline_s = deadline_s
        self._incomplete = incomplete
        self._timer = threading.Timer(deadline_s, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        import _thread

        self._incomplete.append(f"the run passed its deadline of {self.deadline_s:.0f} s "
                                "(from the plan: `tokencert plan` states it)")
        _thread.interrupt_main()

    def cancel(self) -> None:
        self._timer.cancel()


def lock_out(out: Path) -> int:
    """Hold an exclusive lock on ``<out>/.lock`` for the session: two runs never write one
    run directory (the kernel drops the lock when the process ends, however it ends)."""
    import fcntl

    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise InputError(f"another run is writing {out}", [Problem(
            "the run directory is locked", file=str(out / ".lock"),
            hint="wait for that run to end, or choose another --out")]) from None
    return fd


def run_inputs(options: RunOptions) -> dict[str, str | None]:
    """What ``--resume`` needs to continue the run: the candidate, profile and catalog,
    as paths relative to the run directory where they can be (no home paths in bundles)."""

    def rel(p: Path | None) -> str | None:
        if p is None:
            return None
        try:
            return os.path.relpath(p.resolve(), options.out.resolve())
        except ValueError:
            return str(p.resolve())

    prof = Path(options.profile)
    profile = rel(prof) if prof.suffix in (".yaml", ".yml") and prof.is_file() \
        else options.profile
    out = {"candidate": rel(options.candidate), "profile": profile,
           "catalog": rel(options.catalog)}
    if options.edition:
        out["edition"] = options.edition
    return out
