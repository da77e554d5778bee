"""Settings of the reference service: the sim latency model and the gateway policy.

Policy is data: frozen dataclasses built from defaults, a YAML file and flags, passed in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from conformance._core.errors import InputError, Problem


@dataclass(frozen=True)
class SimConfig:
    """Latency model of the simulated engine (continuous batching).

    TTFT = queueing + ``base_ttft_ms`` + ``prefill_ms_per_token`` × uncached prompt tokens.
    Each later token takes ``tpot_ms`` × (1 + ``tpot_growth`` × (active − 1)) where
    ``active`` is the number of sequences decoding at that moment; at most ``capacity``
    sequences decode at once, the rest wait in FIFO order. Every delay is multiplied by a
    seeded factor drawn uniformly from [1 − jitter, 1 + jitter].
    """

    base_ttft_ms: float = 50.0
    prefill_ms_per_token: float = 0.02
    tpot_ms: float = 8.0
    tpot_growth: float = 0.02
    capacity: int = 16
    jitter: float = 0.05
    natural_min_tokens: int = 16
    natural_max_tokens: int = 64
    eos_counted: bool = False
    # reasoning mode: the first this-many generated tokens (at most all but one) are visible
    # reasoning, streamed as reasoning deltas before the answer and reported as
    # reasoning_tokens; they count in completion_tokens and against max_tokens
    reasoning_tokens: int = 0

    def tpot_at(self, active: int) -> float:
        """Model time per output token in ms with ``active`` sequences decoding."""
        return self.tpot_ms * (1.0 + self.tpot_growth * (max(active, 1) - 1))

    def predicted_throughput(self, concurrency: int, prompt_tokens: int,
                             output_tokens: int) -> float:
        """Output tokens/s the model predicts for closed-loop load at ``concurrency``."""
        active = min(concurrency, self.capacity)
        ttft = self.base_ttft_ms + self.prefill_ms_per_token * prompt_tokens
        per_request_ms = ttft + (output_tokens - 1) * self.tpot_at(active)
        return active * output_tokens / (per_request_ms / 1000.0)


@dataclass(frozen=True)
class GatewayConfig:
    """What the gateway enforces and declares."""

    model_id: str = "tokencert-ref-1"
    aliases: tuple[str, ...] = ("tokencert-ref",)
    context_window: int = 16384
    max_output_tokens: int = 4096
    rpm: int = 1200
    tpm: int = 2_000_000
    max_concurrency: int = 16
    max_queue: int = 8  # a burst at 4x the declared concurrency (32) overflows 16 + 8: 429s
    queue_timeout_s: float = 30.0
    declared_concurrency: int = 8
    max_body_bytes: int = 4 * 1024 * 1024
    price_input: str = "0.50"
    price_output: str = "1.50"
    price_cached_input: str = "0.05"
    currency: str = "USD"
    cache_block_tokens: int = 64
    cache_min_tokens: int = 128
    cache_max_entries: int = 4096
    capacity_claim_fraction: float = 0.85


@dataclass(frozen=True)
class ReferenceConfig:
    sim: SimConfig = field(default_factory=SimConfig)
    gateway: GatewayConfig = field(default_factory=GatewayConfig)


def _section(cls: type[Any], data: Any, where: str) -> Any:
    if data is None:
        return cls()
    if not isinstance(data, dict):
        raise InputError(f"{where} must be a mapping", [Problem(f"{where} is not a mapping")])
    known = {f.name: f for f in fields(cls)}
    bad = [k for k in data if k not in known]
    if bad:
        raise InputError(f"unknown setting(s) in {where}: {', '.join(map(str, bad))}",
                         [Problem(f"unknown key {k!r}", json_path=f"$.{where}.{k}",
                                  hint=f"known keys: {', '.join(sorted(known))}")
                          for k in bad])
    values = dict(data)
    if "aliases" in values:
        values["aliases"] = tuple(values["aliases"])
    try:
        return cls(**values)
    except TypeError as exc:
        raise InputError(f"bad value in {where}: {exc}") from None


def load_config(path: Path | None = None, overrides: dict[str, Any] | None = None
                ) -> ReferenceConfig:
    """Defaults, then the YAML file (``sim:`` and ``gateway:`` sections), then overrides.

    ``overrides`` maps ``"sim.tpot_ms"``-style dotted names to values.
    """
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise InputError(f"cannot read reference config {path}: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise InputError(f"{path}: the config must be a mapping with sim/gateway sections")
        raw = loaded or {}
        unknown = set(raw) - {"sim", "gateway"}
        if unknown:
            raise InputError(f"{path}: unknown section(s) {sorted(unknown)}",
                             [Problem("only 'sim' and 'gateway' are allowed", file=str(path))])
    cfg = ReferenceConfig(_section(SimConfig, raw.get("sim"), "sim"),
                          _section(GatewayConfig, raw.get("gateway"), "gateway"))
    for key, value in (overrides or {}).items():
        section, _, name = key.partition(".")
        if section not in {"sim", "gateway"}:
            raise InputError(f"bad override {key!r}: use sim.NAME or gateway.NAME")
        current = getattr(cfg, section)
        merged = asdict(current) | {name: value}
        cfg = replace(cfg, **{section: _section(type(current), merged, section)})
    return cfg


def config_to_dict(cfg: ReferenceConfig) -> dict[str, Any]:
    out = asdict(cfg)
    out["gateway"]["aliases"] = list(cfg.gateway.aliases)
    return out
