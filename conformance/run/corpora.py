"""The corpora shipped with the conformance suite (``test_suites/corpora``).

- metering: multilingual chat requests for METER-001..004 (reference counts come from the
  declared tokenizer over the declared chat template, never from a calibrated offset);
- fingerprint: adversarial texts on which tokenizers disagree (METER-007);
- malformed: malformed and abusive request bodies for SEC-004 / API-006, some built at run
  time (huge bodies, deep nesting) so the repository stays small.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from conformance._core import resources

Message = dict[str, str]


def corpora_dir() -> Path:
    return resources.test_suites_dir() / "corpora"


@cache
def _load(name: str) -> dict[str, Any]:
    with (corpora_dir() / f"{name}.yaml").open(encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    return data


@dataclass(frozen=True)
class MeteringCase:
    id: str
    lang: str
    messages: tuple[Message, ...]


def _expand(entry: dict[str, Any]) -> tuple[Message, ...]:
    if "messages" in entry:
        return tuple(dict(m) for m in entry["messages"])
    rep = entry["repeat"]
    parts = [
        rep["text"].format(i=i) if rep.get("numbered") else rep["text"] for i in range(rep["times"])
    ]
    return ({"role": "user", "content": "".join(parts) + entry.get("suffix", "")},)


def metering_cases() -> list[MeteringCase]:
    return [MeteringCase(e["id"], e["lang"], _expand(e)) for e in _load("metering")["entries"]]


CUT_TOKENS = 8      # max_tokens of a probe cut by it (finish_reason: length)
OPEN_TOKENS = 96    # room to stop naturally
OPEN_EVERY = 4      # one probe in four is open, the others are cut


@dataclass(frozen=True)
class MeteringProbeSpec:
    """One planned metering probe: a corpus case in one repeat, cut by a small
    ``max_tokens`` or open. A cut answer holds exactly ``max_tokens`` tokens: settled
    evidence for METER-002/003 without logprobs (and METER-006 needs answers at the cap)."""

    case: MeteringCase
    repeat: int
    cut: bool

    @property
    def max_tokens(self) -> int:
        return CUT_TOKENS if self.cut else OPEN_TOKENS


def metering_schedule(repeats: int) -> list[MeteringProbeSpec]:
    """The corpus ``repeats`` times: three probes in four cut (rotating over the repeats,
    so every case is also sent open), every long prompt cut."""
    cases = metering_cases()
    return [MeteringProbeSpec(c, r, c.lang == "long" or (i + r) % OPEN_EVERY != 0)
            for r in range(max(1, repeats)) for i, c in enumerate(cases)]


@dataclass(frozen=True)
class FingerprintCase:
    id: str
    kind: str
    text: str

    @property
    def messages(self) -> tuple[Message, ...]:
        return ({"role": "user", "content": self.text},)


def fingerprint_cases() -> list[FingerprintCase]:
    return [FingerprintCase(e["id"], e["kind"], e["text"]) for e in _load("fingerprint")["entries"]]


@dataclass(frozen=True)
class MalformedCase:
    id: str
    kind: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    accept: tuple[str, ...] = ("4xx",)

    def acceptable(self, status: int) -> bool:
        return f"{status // 100}xx" in self.accept


def _generate(spec: dict[str, Any], model: str) -> bytes:
    kind = spec["kind"]
    if kind == "deep":
        d = int(spec["depth"])
        return b"[" * d + b"]" * d
    if kind == "deep_field":
        d = int(spec["depth"])
        inner = '{"a":' * d + "1" + "}" * d
        return (
            f'{{"model": {json.dumps(model)}, "messages": [{{"role": "user", '
            f'"content": "x"}}], "metadata": {inner}}}'
        ).encode()
    if kind == "huge":
        size = int(spec["mib"]) * 1024 * 1024
        pad = "A" * size
        return json.dumps(
            {"model": model, "messages": [{"role": "user", "content": "hi"}], "padding": pad}
        ).encode()
    if kind == "huge_content":
        size = int(spec["mib"]) * 1024 * 1024
        return json.dumps(
            {
                "model": model,
                "messages": [{"role": "user", "content": "word " * (size // 5)}],
                "max_tokens": 4,
            }
        ).encode()
    if kind == "many_messages":
        msgs = [{"role": "user", "content": "x"}] * int(spec["count"])
        return json.dumps({"model": model, "messages": msgs, "max_tokens": 4}).encode()
    raise ValueError(f"unknown generator {kind!r}")


def malformed_cases(model: str) -> list[MalformedCase]:
    out: list[MalformedCase] = []
    for e in _load("malformed")["entries"]:
        b = e["body"]
        if "json" in b:
            body = json.dumps(b["json"]).replace("$MODEL", model).encode()
        elif "raw" in b:
            body = b["raw"].replace("$MODEL", model).encode("utf-8", "surrogatepass")
        elif "raw_hex" in b:
            body = bytes.fromhex(b["raw_hex"])
        else:
            body = _generate(b["generate"], model)
        headers = {"content-type": "application/json", **e.get("headers", {})}
        out.append(
            MalformedCase(e["id"], e["kind"], body, headers, tuple(e.get("accept", ["4xx"])))
        )
    return out
