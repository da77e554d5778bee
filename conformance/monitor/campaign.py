"""The campaign file (``monitor.yaml``) → frozen models, with file:line errors.

A target is an ordinary candidate declaration (so its tokenizer, chat template, prices and
limits are known); keys stay in environment variables and are read when a probe is sent.
Every problem in the file is reported at once: schema first, then what the schema cannot
say (unique names, a parsable schedule, probe load inside each target's declared limits).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance._core.canonical import digest
from conformance._core.errors import InputError, Problem, TokencertError
from conformance._core.schema import validate_document
from conformance._core.yamldoc import Document, load_yaml
from conformance.declaration import Declaration, load_declaration

DEFAULT_CRON = "0 */3 * * *"  # eight rounds a day
DEFAULT_WINDOW_H = 72.0


@dataclass(frozen=True)
class Schedule:
    cron: str | None = None
    every_s: float | None = None

    def describe(self) -> str:
        return f"cron {self.cron!r} (UTC)" if self.cron else f"every {self.every_s:g} s"


@dataclass(frozen=True)
class Target:
    name: str
    declaration: Declaration
    model: str
    api_key_env: str

    def api_key(self) -> str | None:
        """The key, read from the environment now (never stored)."""
        import os

        return os.environ.get(self.api_key_env)


@dataclass(frozen=True)
class Workload:
    name: str
    input_tokens: int
    output_tokens: int
    schedule: Schedule


@dataclass(frozen=True)
class Scenario:
    name: str
    parallel: int


@dataclass(frozen=True)
class Campaign:
    name: str
    prober: str
    region: str
    targets: tuple[Target, ...]
    workloads: tuple[Workload, ...]
    scenarios: tuple[Scenario, ...]
    schedule: Schedule
    request_timeout_s: float
    window_hours: float
    confidence: float
    source: Path | None = None
    digest: str = ""

    def target(self, name: str) -> Target:
        return next(t for t in self.targets if t.name == name)

    def workload(self, name: str) -> Workload:
        return next(w for w in self.workloads if w.name == name)

    def scenario(self, name: str) -> Scenario:
        return next(s for s in self.scenarios if s.name == name)


_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def cron_trigger(expr: str) -> Any:
    """An APScheduler trigger for a standard crontab line (UTC). APScheduler 3 numbers
    weekdays from Monday = 0; crontab from Sunday = 0 (and 7): numbers in the weekday field
    are turned into names first, so ``0 0 * * 1`` means Monday as everywhere else."""
    import re

    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) == 5:
        fields[4] = re.sub(r"(?<![/\d])\d+", lambda m: _DAYS[int(m.group()) % 7]
                           if int(m.group()) <= 7 else m.group(), fields[4])
    return CronTrigger.from_crontab(" ".join(fields), timezone="UTC")


def _schedule(raw: dict[str, Any] | None, default: Schedule) -> Schedule:
    if raw is None:
        return default
    return Schedule(raw.get("cron"), float(raw["every_s"]) if "every_s" in raw else None)


def _check_cron(doc: Document, path: tuple[str | int, ...], raw: dict[str, Any] | None
                ) -> list[Problem]:
    if raw is None or "cron" not in raw:
        return []
    try:
        cron_trigger(raw["cron"])
    except ValueError as exc:
        return [doc.problem((*path, "cron"), f"not a crontab expression: {exc}",
                            hint="five fields: minute hour day month weekday, e.g. '0 */3 * * *'")]
    return []


def _unique(doc: Document, key: str, problems: list[Problem]) -> None:
    seen: set[str] = set()
    for i, item in enumerate(doc.data[key]):
        if item["name"] in seen:
            problems.append(doc.problem((key, i, "name"), f"{key[:-1]} {item['name']!r} is "
                                        "named twice", hint="names must be unique"))
        seen.add(item["name"])


def _targets(doc: Document, base: Path, problems: list[Problem]) -> list[Target]:
    out: list[Target] = []
    for i, t in enumerate(doc.data["targets"]):
        path = Path(t["declaration"]).expanduser()
        path = path if path.is_absolute() else (base / path).resolve()
        try:
            decl = load_declaration(path)
        except TokencertError as exc:
            detail = exc.problems[0].render() if exc.problems else exc.message
            problems.append(doc.problem(("targets", i, "declaration"),
                                        f"declaration {t['declaration']} unusable: {detail}"))
            continue
        model = t.get("model", decl.model.id)
        if not any(m.accepts_name(model) for m in decl.models):
            problems.append(doc.problem(("targets", i, "model"),
                                        f"model {model!r} is not declared by {path.name}"))
        out.append(Target(t["name"], decl, model, t.get("api_key_env",
                                                        decl.endpoint.api_key_env)))
    return out


def _limits(doc: Document, targets: list[Target], problems: list[Problem]) -> None:
    """Probe load stays inside every target's declared limits."""
    for t in targets:
        lim, m = t.declaration.limits, t.declaration.model
        for j, s in enumerate(doc.data["scenarios"]):
            if s["parallel"] > lim.max_concurrency:
                problems.append(doc.problem(("scenarios", j, "parallel"), (
                    f"scenario {s['name']!r} sends {s['parallel']} requests at once; target "
                    f"{t.name!r} declares max_concurrency {lim.max_concurrency}"),
                    hint="probe load must stay inside each target's declared limits"))
            if s["parallel"] > lim.rpm:
                problems.append(doc.problem(("scenarios", j, "parallel"),
                                            f"more than target {t.name!r}'s {lim.rpm} rpm"))
        for k, w in enumerate(doc.data["workloads"]):
            if w["output_tokens"] > m.max_output_tokens:
                problems.append(doc.problem(("workloads", k, "output_tokens"), (
                    f"{w['output_tokens']} output tokens exceed target {t.name!r}'s "
                    f"max_output_tokens {m.max_output_tokens}")))
            if w["input_tokens"] + w["output_tokens"] > m.context_window:
                problems.append(doc.problem(("workloads", k, "input_tokens"), (
                    f"workload {w['name']!r} does not fit target {t.name!r}'s context window "
                    f"({m.context_window} tokens)")))


def load_campaign(path: Path | str) -> Campaign:
    """Parse, schema-check and cross-check ``monitor.yaml``; every problem at once."""
    p = Path(path)
    doc = load_yaml(p)
    problems = validate_document("monitor", doc)
    if problems:
        raise InputError(f"{p}: campaign violates its schema", problems)
    data: dict[str, Any] = doc.data
    _unique(doc, "targets", problems)
    _unique(doc, "workloads", problems)
    _unique(doc, "scenarios", problems)
    problems += _check_cron(doc, ("schedule",), data.get("schedule"))
    for k, w in enumerate(data["workloads"]):
        problems += _check_cron(doc, ("workloads", k, "schedule"), w.get("schedule"))
    targets = _targets(doc, p.resolve().parent, problems)
    _limits(doc, targets, problems)
    if problems:
        raise InputError(f"{p}: campaign is inconsistent", problems)
    default = _schedule(data.get("schedule"), Schedule(cron=DEFAULT_CRON))
    return Campaign(
        name=data["campaign"], prober=data["prober"]["name"],
        region=data["prober"].get("region", ""), targets=tuple(targets),
        workloads=tuple(Workload(w["name"], w["input_tokens"], w["output_tokens"],
                                 _schedule(w.get("schedule"), default))
                        for w in data["workloads"]),
        scenarios=tuple(Scenario(s["name"], s["parallel"]) for s in data["scenarios"]),
        schedule=default, request_timeout_s=float(data.get("request_timeout_s", 120)),
        window_hours=float(data.get("window_hours", DEFAULT_WINDOW_H)),
        confidence=float(data.get("confidence", 0.95)), source=p.resolve(),
        digest=digest(data))
