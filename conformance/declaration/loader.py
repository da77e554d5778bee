"""Load and check a candidate declaration (``candidate.yaml``)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from conformance._core.canonical import digest
from conformance._core.errors import DeclarationError, InputError, Problem
from conformance._core.redact import REDACTED, looks_like_secret
from conformance._core.schema import validate_document
from conformance._core.yamldoc import Document, load_yaml
from conformance.declaration.models import (
    BillingExport,
    ChatTemplateRef,
    Declaration,
    Endpoint,
    Features,
    GovernanceStatement,
    Limits,
    ModelDecl,
    Performance,
    Pricing,
    TokenizerRef,
)


def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def _check_paths(doc: Document, base: Path) -> list[Problem]:
    problems: list[Problem] = []
    data = doc.data

    def need(path: tuple[str | int, ...], value: str, what: str) -> None:
        if not _resolve(base, value).is_file():
            problems.append(
                doc.problem(
                    path, f"{what} not found: {value}", hint=f"paths are relative to {base}"
                )
            )

    for i, m in enumerate(data["models"]):
        need(("models", i, "tokenizer", "path"), m["tokenizer"]["path"], "tokenizer file")
        need(("models", i, "chat_template", "path"), m["chat_template"]["path"], "chat template")
        if m["max_output_tokens"] >= m["context_window"]:
            problems.append(
                doc.problem(
                    ("models", i, "max_output_tokens"),
                    f"max_output_tokens ({m['max_output_tokens']}) must be smaller than the "
                    f"context window ({m['context_window']})",
                )
            )
    if "ca_bundle" in data["endpoint"]:
        need(("endpoint", "ca_bundle"), data["endpoint"]["ca_bundle"], "CA bundle")
    if "billing_export" in data:
        # the export is written by the service while it bills: it must exist (an empty file
        # with its header row will do) before a run, or BILL-003 would judge a typo
        need(("billing_export", "path"), data["billing_export"]["path"], "billing export")
    for key, st in data.get("data_governance", {}).items():
        for i, d in enumerate(st.get("documents", [])):
            need(("data_governance", key, "documents", i), d, "document")
    ids: dict[str, int] = {}
    for i, m in enumerate(data["models"]):
        for name in [m["id"], *m.get("aliases", [])]:
            if name in ids:
                problems.append(
                    doc.problem(("models", i, "id"), f"model name {name!r} is declared twice")
                )
            ids[name] = i
    perf, lim = data["performance"], data["limits"]
    if perf["declared_concurrency"] > lim["max_concurrency"]:
        problems.append(
            doc.problem(
                ("performance", "declared_concurrency"),
                f"declared concurrency {perf['declared_concurrency']} exceeds the declared "
                f"max_concurrency {lim['max_concurrency']}",
                hint="the declared load must stay within the declared limits",
            )
        )
    if data["endpoint"].get("second_api_key_env") == data["endpoint"]["api_key_env"]:
        problems.append(
            doc.problem(
                ("endpoint", "second_api_key_env"),
                "the second tenant's key must come from a different variable",
            )
        )
    return problems


def _secret_env_values(doc: Document) -> list[Problem]:
    """A key pasted where the NAME of its environment variable belongs: refused without
    showing it (the value is replaced in memory so no later message can echo it)."""
    problems: list[Problem] = []

    def walk(node: Any, path: tuple[str | int, ...]) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if str(k).endswith("_env") and isinstance(v, str) and looks_like_secret(v):
                    problems.append(doc.problem(
                        (*path, k), "this looks like a secret (an API key), not the name of "
                        "an environment variable; the value is not shown",
                        hint=f"put the key in an environment variable, e.g. `export "
                        f"TOKENCERT_API_KEY=...`, and write {k}: TOKENCERT_API_KEY; treat the "
                        "key as exposed if this file was shared"))
                    node[k] = REDACTED
                else:
                    walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*path, i))

    walk(doc.data, ())
    return problems


def build_declaration(doc: Document, base: Path, source: Path | None = None) -> Declaration:
    d: dict[str, Any] = doc.data
    models = []
    for m in d["models"]:
        t, ct, f = m["tokenizer"], m["chat_template"], m.get("features", {})
        models.append(
            ModelDecl(
                id=m["id"],
                aliases=tuple(m.get("aliases", ())),
                tokenizer=TokenizerRef(
                    t["kind"],
                    _resolve(base, t["path"]),
                    t.get("pattern"),
                    dict(t.get("special_tokens", {})),
                ),
                chat_template=ChatTemplateRef(
                    _resolve(base, ct["path"]), ct.get("bos_token"), ct.get("eos_token")
                ),
                eos_counted=bool(m.get("eos_counted", False)),
                context_window=m["context_window"],
                max_output_tokens=m["max_output_tokens"],
                features=Features(**f),
            )
        )
    e = d["endpoint"]
    pr = d["pricing"]
    gov = {
        k: GovernanceStatement(
            v["statement"], tuple(_resolve(base, x) for x in v.get("documents", ()))
        )
        for k, v in d.get("data_governance", {}).items()
    }
    be = d.get("billing_export")
    return Declaration(
        service_name=d["service"]["name"],
        vendor=d["service"]["vendor"],
        service_version=d["service"]["version"],
        endpoint=Endpoint(
            base_url=e["base_url"].rstrip("/"),
            dialect=e["dialect"],
            api_key_env=e["api_key_env"],
            second_api_key_env=e.get("second_api_key_env"),
            ca_bundle=_resolve(base, e["ca_bundle"]) if "ca_bundle" in e else None,
            timeout_s=float(e.get("timeout_s", 60)),
            http2=bool(e.get("http2", False)),
        ),
        models=tuple(models),
        pricing=Pricing(
            pr["currency"],
            pr["unit"],
            Decimal(pr["input"]),
            Decimal(pr["output"]),
            Decimal(pr["cached_input"]) if "cached_input" in pr else None,
        ),
        limits=Limits(**d["limits"]),
        performance=Performance(
            d["performance"]["declared_concurrency"], float(d["performance"]["output_tokens_per_s"])
        ),
        data_governance=gov,
        billing_export=BillingExport(_resolve(base, be["path"]), be["format"]) if be else None,
        digest=digest(d),
        source=source,
        raw=d,
    )


def load_declaration(path: Path | str) -> Declaration:
    """Parse, schema-check, path-check and build a declaration; all problems at once."""
    p = Path(path)
    try:
        doc = load_yaml(p)
    except InputError as exc:
        raise DeclarationError(exc.message, exc.problems) from None
    secret = _secret_env_values(doc)
    if secret:
        raise DeclarationError(f"{p}: declaration holds a secret", secret)
    problems = validate_document("declaration", doc)
    if problems:
        raise DeclarationError(f"{p}: declaration violates its schema", problems)
    base = p.resolve().parent
    problems = _check_paths(doc, base)
    if problems:
        raise DeclarationError(f"{p}: declaration is inconsistent", problems)
    return build_declaration(doc, base, p.resolve())
