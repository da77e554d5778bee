"""Write the candidate declaration (``candidate.yaml``) describing a running service."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from conformance import __version__
from conformance.reference.config import ReferenceConfig
from conformance.reference.defects import ActiveDefects

KEY_ENV = "TOKENCERT_API_KEY"
KEY_ENV_B = "TOKENCERT_API_KEY_B"
_NOTE = "(reference-service statement: a local test service, not a vendor commitment)"
GOVERNANCE = {
    "DATA-001": "Prompts and outputs are processed in memory on the local machine only; "
                "nothing is stored except the optional billing export.",
    "DATA-002": "Prompts and outputs are not retained after the response; the prompt cache "
                "holds token-id hashes in memory until the process exits.",
    "DATA-003": "Customer data is never used for training.",
    "DATA-004": "No cross-border transfer: the service listens on loopback only.",
    "DATA-005": "Incidents: open an issue in the tokencert project; disclosure within 72 h.",
}


def declaration_data(cfg: ReferenceConfig, *, base_url: str, engine: str,
                     tokenizer_path: Path, template_path: Path, features: dict[str, bool],
                     defects: ActiveDefects, ca_bundle: Path | None = None,
                     billing_export: Path | None = None, dialect: str = "openai-chat",
                     capacity: float | None = None,
                     eos_counted: bool | None = None) -> dict[str, Any]:
    g, sim = cfg.gateway, cfg.sim
    if capacity is None:
        capacity = sim.predicted_throughput(g.declared_concurrency, 1000, 1000) \
            * g.capacity_claim_fraction
    if "overclaimed_capacity" in defects:
        capacity *= defects.param("overclaimed_capacity")
    endpoint: dict[str, Any] = {"base_url": base_url, "dialect": dialect,
                                "api_key_env": KEY_ENV, "second_api_key_env": KEY_ENV_B,
                                "timeout_s": 120}
    if ca_bundle is not None:
        endpoint["ca_bundle"] = str(ca_bundle)
    pricing = {"currency": g.currency, "unit": "per_1m_tokens", "input": g.price_input,
               "output": g.price_output}
    if features.get("prompt_caching") and "incomplete_price_list" not in defects:
        pricing["cached_input"] = g.price_cached_input
    data: dict[str, Any] = {
        "schema_version": "1.0.0",
        "service": {"name": f"tokencert reference service ({engine})",
                    "vendor": "tokencert project (reference)",
                    "version": __version__, "contact": "reference@localhost"},
        "endpoint": endpoint,
        "models": [{
            "id": g.model_id, "aliases": list(g.aliases),
            "tokenizer": {"kind": "hf", "path": str(tokenizer_path)},
            "chat_template": {"path": str(template_path), "eos_token": "<|im_end|>"},
            "eos_counted": bool(sim.eos_counted if eos_counted is None else eos_counted),
            "context_window": g.context_window,
            "max_output_tokens": g.max_output_tokens,
            "features": features,
        }],
        "pricing": pricing,
        "limits": {"rpm": g.rpm, "tpm": g.tpm, "max_concurrency": g.max_concurrency},
        "performance": {"declared_concurrency": g.declared_concurrency,
                        "output_tokens_per_s": max(math.floor(capacity), 1)},
        "data_governance": {k: {"statement": f"{v} {_NOTE}", "documents": []}
                            for k, v in GOVERNANCE.items()},
    }
    if billing_export is not None:
        data["billing_export"] = {"path": str(billing_export), "format": "csv"}
    return data


def _relative(path: Path, value: str) -> str:
    """``value`` (a path) as the declaration at ``path`` reads it: relative to the file's
    directory when it lies under it, else absolute (never relative to the working dir)."""
    target = Path(value).expanduser().resolve()
    base = path.resolve().parent
    try:
        return str(target.relative_to(base))
    except ValueError:
        return str(target)


def relative_paths(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with every file path rewritten as :func:`_relative` for the file ``path``."""
    ep = data["endpoint"]
    if "ca_bundle" in ep:
        ep["ca_bundle"] = _relative(path, ep["ca_bundle"])
    for m in data["models"]:
        m["tokenizer"]["path"] = _relative(path, m["tokenizer"]["path"])
        m["chat_template"]["path"] = _relative(path, m["chat_template"]["path"])
    if "billing_export" in data:
        data["billing_export"]["path"] = _relative(path, data["billing_export"]["path"])
    for st in data.get("data_governance", {}).values():
        st["documents"] = [_relative(path, d) for d in st.get("documents", [])]
    return data


def write_declaration(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` with paths relative to the file (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = relative_paths(path, data)
    header = ("# Written by `tokencert reference serve`: the claims of the running reference\n"
              "# service. API keys are read from the variables named below, never stored.\n")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
                   encoding="utf-8")
    tmp.replace(path)


def perfect_declaration(workdir: Path) -> Path:
    """The reference service's declaration with every feature on (prompt caching, logprobs,
    one token per chunk, seed, stop sequences, TLS, a second tenant, a billing export): the
    "perfect service" ``tokencert plan --levels`` sizes a profile for. Written under
    ``workdir``; nothing is started."""
    from conformance.reference.build_tokenizer import TEMPLATE_PATH, TOKENIZER_PATH

    features = {"prompt_caching": True, "logprobs": True, "one_token_per_chunk": True,
                "seed": True, "stop_sequences": True, "deterministic": True,
                "tools": True, "structured_output": True}
    data = declaration_data(ReferenceConfig(), base_url="https://127.0.0.1:8443/v1",
                            engine="sim", tokenizer_path=TOKENIZER_PATH,
                            template_path=TEMPLATE_PATH, features=features,
                            defects=ActiveDefects(), billing_export=workdir / "billing.csv")
    (workdir / "billing.csv").touch()  # declared documents must exist; sizing reads none
    path = workdir / "perfect-candidate.yaml"
    write_declaration(path, data)
    return path
