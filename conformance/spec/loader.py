"""Load a catalog edition and run profiles: schema first, then semantic checks, then models.

Every complaint carries the file, line, column and JSON path, and all complaints of a
catalog are reported together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from conformance._core import resources
from conformance._core.canonical import digest
from conformance._core.errors import InputError, Problem, SpecError
from conformance._core.schema import validate_document
from conformance._core.yamldoc import Document, load_yaml
from conformance.spec.models import (
    DEFAULT_CONNECTION_FAILURES,
    LEVELS,
    Applicability,
    Catalog,
    Category,
    Condition,
    EvidenceMin,
    Level,
    Metric,
    PhaseSettings,
    Profile,
    Requirement,
    Review,
    SaturationRule,
    SourceRef,
    Workload,
)

_REQUIREMENTS_FILE_SCHEMA = "catalog#/$defs/requirements_file"


def _load(path: Path) -> Document:
    try:
        return load_yaml(path)
    except SpecError:
        raise
    except InputError as exc:
        raise SpecError(exc.message, exc.problems) from None


def _validate(schema: str, doc: Document) -> list[Problem]:
    if "#" in schema:
        from conformance._core.schema import validate_subschema

        name, pointer = schema.split("#", 1)
        return validate_subschema(name, pointer, doc)
    return validate_document(schema, doc)


def _condition(c: dict[str, Any]) -> Condition:
    return Condition(c["metric"], c["stat"], c["op"], c["value"], c.get("note"), c.get("min_n"))


def _requirement(raw: dict[str, Any], source: SourceRef) -> Requirement:
    thresholds: dict[Level, tuple[Condition, ...]] = {}
    for lvl in LEVELS:
        if lvl in raw.get("thresholds", {}):
            thresholds[lvl] = tuple(_condition(c) for c in raw["thresholds"][lvl])
    min_ev: dict[Level, EvidenceMin] = {
        lvl: EvidenceMin(e.get("samples"), e.get("duration_s"),
                         tuple(_condition(c) for c in e.get("requires", ())))
        for lvl, e in raw.get("min_evidence", {}).items()
    }
    rv = raw.get("review")
    app = raw["applicability"]
    return Requirement(
        id=raw["id"],
        category=raw["category"],
        obligation=raw["obligation"],
        title=raw["title"],
        rationale=raw["rationale"],
        check=raw["check"],
        method=raw["method"],
        applicability=Applicability(tuple(app.get("requires", ())), app.get("reason")),
        phase=raw.get("phase"),
        workload=raw.get("workload"),
        metrics=tuple(
            Metric(m["name"], m["unit"], m["kind"], m["description"])
            for m in raw.get("metrics", ())
        ),
        thresholds=thresholds,
        min_evidence=min_ev,
        review=Review(rv.get("declaration_key"), rv.get("guidance")) if rv else None,
        references=tuple(raw.get("references", ())),
        module=raw.get("module", "core"),
        parameters=dict(raw.get("parameters", {})),
        source=source,
    )


def _semantic_checks(
    doc: Document, index: dict[str, Any], seen: dict[str, SourceRef]
) -> list[Problem]:
    problems: list[Problem] = []
    workloads = {w["id"] for w in index.get("workloads", [])}
    file_cat = doc.data["category"]
    for i, req in enumerate(doc.data["requirements"]):
        base = ("requirements", i)
        rid = req["id"]
        if req["category"] != file_cat:
            problems.append(
                doc.problem(
                    (*base, "category"),
                    f"requirement {rid} has category {req['category']!r} in a file of category "
                    f"{file_cat!r}",
                    hint="move it to the file of its category",
                )
            )
        if rid.split("-")[0] != req["category"]:
            problems.append(
                doc.problem(
                    (*base, "id"),
                    f"ID prefix of {rid} does not match its category {req['category']!r}",
                    hint=f"IDs are CATEGORY-NNN, e.g. {req['category']}-001",
                )
            )
        if rid in seen:
            problems.append(
                doc.problem(
                    (*base, "id"),
                    f"duplicate requirement ID {rid} (first defined at {seen[rid]})",
                    hint="IDs are public and stable; give the new requirement a new number",
                )
            )
        else:
            line, _ = doc.position((*base, "id"))
            seen[rid] = SourceRef(doc.file, line)
        wl = req.get("workload")
        if wl and wl not in workloads:
            problems.append(
                doc.problem(
                    (*base, "workload"),
                    f"unknown workload {wl!r}",
                    hint=f"workloads of this edition: {', '.join(sorted(workloads))}",
                )
            )
        metric_names = [m["name"] for m in req.get("metrics", [])]
        metric_kinds = {m["name"]: m["kind"] for m in req.get("metrics", [])}
        judged: list[tuple[tuple[str | int, ...], dict[str, Any]]] = [
            ((*base, "thresholds", lvl, j), c)
            for lvl, conds in req.get("thresholds", {}).items()
            for j, c in enumerate(conds)]
        judged += [((*base, "min_evidence", lvl, "requires", j), c)
                   for lvl, e in req.get("min_evidence", {}).items()
                   for j, c in enumerate(e.get("requires", ()))]
        for at, c in judged:
            path = (*at, "metric")
            if c["metric"] not in metric_names:
                import difflib

                close = difflib.get_close_matches(c["metric"], metric_names, n=1)
                problems.append(
                    doc.problem(
                        path,
                        f"threshold refers to undefined metric {c['metric']!r}",
                        hint=f"did you mean {close[0]!r}?"
                        if close
                        else f"define it under metrics: ({', '.join(metric_names)})",
                    )
                )
                continue
            kind = metric_kinds[c["metric"]]
            stat = c["stat"]
            ok = {
                "sample": {"p50", "p90", "p95", "p99", "p999", "max", "min", "mean", "all"},
                "rate": {"rate", "all"},
                "value": {"value"},
                "check": {"all"},
            }[kind]
            if stat not in ok:
                problems.append(
                    doc.problem(
                        (*at, "stat"),
                        f"stat {stat!r} does not apply to a metric of kind {kind!r}",
                        hint=f"use one of: {', '.join(sorted(ok))}",
                    )
                )
        for lvl in req.get("min_evidence", {}):
            if lvl not in req.get("thresholds", {}) and req["method"] == "automated":
                problems.append(
                    doc.problem(
                        (*base, "min_evidence", lvl),
                        f"minimum evidence for {lvl} but no thresholds for it",
                    )
                )
    return problems


def load_edition(edition: str | None = None) -> Catalog:
    """A published edition by name (None: the default one); an unknown name is an
    InputError listing the editions this tokencert ships."""
    name = edition or resources.DEFAULT_EDITION
    shipped = resources.editions()
    if name not in shipped:
        raise InputError(f"unknown catalog edition {name!r}", [Problem(
            f"this tokencert ships {', '.join(shipped)}", json_path="$.spec.edition",
            hint="choose one of them with --edition")])
    return load_catalog(resources.catalog_dir(name))


def load_catalog(path: Path | str | None = None) -> Catalog:
    """Load a catalog edition from its directory (or its index file)."""
    p = Path(path) if path is not None else resources.catalog_dir()
    index_path = p / "catalog.yaml" if p.is_dir() else p
    index_doc = _load(index_path)
    problems = _validate("catalog", index_doc)
    if problems:
        raise SpecError(f"{index_path}: catalog index violates its schema", problems)
    index = cast(dict[str, Any], index_doc.data)
    seen: dict[str, SourceRef] = {}
    requirements: list[Requirement] = []
    raw_requirements: list[dict[str, Any]] = []
    for k, name in enumerate(index["requirement_files"]):
        fpath = index_path.parent / name
        if not fpath.is_file():
            problems.append(
                index_doc.problem(
                    ("requirement_files", k),
                    f"requirement file {name!r} does not exist",
                    hint=f"expected at {fpath}",
                )
            )
            continue
        doc = _load(fpath)
        file_problems = _validate(_REQUIREMENTS_FILE_SCHEMA, doc)
        if not file_problems:
            file_problems = _semantic_checks(doc, index, seen)
        problems.extend(file_problems)
        if file_problems:
            continue
        for i, raw in enumerate(doc.data["requirements"]):
            line, _ = doc.position(("requirements", i, "id"))
            requirements.append(_requirement(raw, SourceRef(doc.file, line)))
            raw_requirements.append(raw)
    if problems:
        raise SpecError(
            f"catalog {index_path.parent} is invalid "
            f"({len(problems)} problem{'s' if len(problems) != 1 else ''})",
            problems,
        )
    requirements.sort(key=lambda r: _sort_key(r.id))
    raw_requirements.sort(key=lambda r: _sort_key(r["id"]))
    index_snapshot = {k: v for k, v in index.items() if k != "requirement_files"}
    snapshot = {"catalog": index_snapshot, "requirements": raw_requirements}
    return Catalog(
        edition=index["edition"],
        version=index["version"],
        title=index["title"],
        publisher=index["publisher"],
        confidence=float(index["confidence"]),
        levels=dict(index["levels"]),
        categories=tuple(Category(c["id"], c["title"], c["module"]) for c in index["categories"]),
        workloads=tuple(
            Workload(w["id"], w["input_tokens"], w["output_tokens"], w.get("condition"))
            for w in index["workloads"]
        ),
        requirements=tuple(requirements),
        digest=digest(snapshot),
        snapshot=snapshot,
        saturation=SaturationRule(**index.get("client_saturation", {})),
    )


_CATEGORY_ORDER = ("API", "PERF", "STAB", "METER", "BILL", "SEC", "DATA", "SAFE")


def _sort_key(rid: str) -> tuple[int, int]:
    cat, num = rid.split("-")
    return (_CATEGORY_ORDER.index(cat) if cat in _CATEGORY_ORDER else 99, int(num))


def load_profile(name_or_path: str | Path, digest: str | None = None) -> Profile:
    """Load a profile by name (``quick``) or from a path. With ``digest``, a published
    profile as it was when it had that digest: the current file, or its earlier version
    kept in ``spec/profiles/history/NAME@DIGEST12.yaml`` (runs and certificates made with
    an earlier version still re-judge); SpecError when no version has it."""
    profile = _load_profile(name_or_path)
    if digest is None or profile.digest == digest or str(name_or_path).endswith(
            (".yaml", ".yml")) or "/" in str(name_or_path):
        return profile
    prefix = digest.removeprefix("sha256:")[:12]
    kept = resources.profile_path("x").parent / "history" / f"{name_or_path}@{prefix}.yaml"
    if kept.is_file():
        old = _load_profile(kept)
        if old.digest == digest:
            return old
    raise SpecError(f"profile {name_or_path!r} was never published with digest {digest}", [
        Problem(f"published now: {profile.digest}; no earlier version in {kept.parent} "
                "has that digest", hint="the run's profile was edited or is not a published "
                "one; use the tokencert version that made the run")])


def _load_profile(name_or_path: str | Path) -> Profile:
    s = str(name_or_path)
    path = Path(s) if s.endswith((".yaml", ".yml")) or "/" in s else resources.profile_path(s)
    if not path.is_file() and not s.endswith((".yaml", ".yml")) and "/" not in s:
        known = sorted(q.stem for q in resources.profile_path("x").parent.glob("*.yaml"))
        import difflib

        close = difflib.get_close_matches(s, known, n=1)
        raise SpecError(
            f"unknown profile {s!r}",
            [
                Problem(
                    f"no profile named {s!r}",
                    hint=(f"did you mean {close[0]!r}? " if close else "")
                    + f"profiles: {', '.join(known)}, or a path to a profile YAML",
                )
            ],
        )
    doc = _load(path)
    problems = validate_document("profile", doc)
    if problems:
        raise SpecError(f"{path}: profile violates its schema", problems)
    raw = doc.data
    phases: dict[str, PhaseSettings] = {}
    for name, ph in raw["phases"].items():
        conc = ph.get("concurrency")
        phases[name] = PhaseSettings(
            name=name,
            strategy=ph["strategy"],
            concurrency=conc if isinstance(conc, int) else None,
            concurrency_multiple=conc.get("declared_multiple") if isinstance(conc, dict) else None,
            rate_rps=ph.get("rate_rps"),
            requests=ph.get("requests"),
            duration_s=ph.get("duration_s"),
            warmup_requests=ph.get("warmup_requests", 0),
            max_error_rate=ph.get("max_error_rate"),
            window_s=ph.get("window_s"),
            workload=ph.get("workload"),
            repeats=ph.get("repeats", 1),
            observe_s=ph.get("observe_s"),
        )
    return Profile(
        id=raw["id"],
        title=raw["title"],
        description=raw["description"],
        request_timeout_s=float(raw["request_timeout_s"]),
        max_consecutive_connection_failures=int(
            raw.get("max_consecutive_connection_failures", DEFAULT_CONNECTION_FAILURES)),
        seed=int(raw.get("seed", 0)),
        phases=phases,
        validity_months=raw["certificate"]["validity_months"],
        eligible=raw["certificate"]["eligible"],
        digest=digest(raw),
        source=str(path),
    )
