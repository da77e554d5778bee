"""One probe round: fresh prompts, N parallel streaming requests, audit, one stored round.

The existing measuring client sends the requests and timestamps first token and last byte
(``conformance.run.client``); the declared tokenizer and chat template give the audited
prompt count (what the service must bill) and the delivered completion count
(``conformance.checks.metering``). Each probe carries its own unique prompt (a nonce from a
fresh random seed), so no prompt cache or draft model can help.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conformance.checks.audit import audit_completion
from conformance.checks.metering import completion_reference
from conformance.monitor.campaign import Campaign, Scenario, Target, Workload
from conformance.monitor.store import RoundKey, Store, utc_naive
from conformance.run.client import ChatParams, Client, ClientConfig
from conformance.run.prompts import PromptFactory, PromptSpec
from conformance.run.records import RequestRecord
from conformance.run.tokenize import ChatTemplate, Tokenizer, load_tokenizer
from conformance.run.tokenize.vocab import Vocabulary

PER_M = 1_000_000


@dataclass
class Kit:
    tokenizer: Tokenizer
    template: ChatTemplate
    vocab: Vocabulary | None = None

    def count_messages(self, msgs: Sequence[Any]) -> int:
        return self.tokenizer.count(self.template.render(msgs, add_generation_prompt=True))


@dataclass
class RoundOutcome:
    key: RoundKey
    status: str  # done | unavailable | skipped (someone else holds the key)
    n: int = 0
    ok: int = 0
    timings_s: dict[str, float] = field(default_factory=dict)


def _kit(target: Target) -> Kit:
    m = target.declaration.model
    tok = load_tokenizer(m.tokenizer)
    return Kit(tok, ChatTemplate.from_file(m.chat_template.path, m.chat_template.bos_token,
                                           m.chat_template.eos_token), Vocabulary.of(tok))


def _parse_utc(text: str) -> datetime:
    try:
        return utc_naive(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return utc_naive()


def _int(usage: dict[str, Any] | None, name: str) -> int | None:
    v = (usage or {}).get(name)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def request_row(rec: RequestRecord, target: Target, kit: Kit, audited_prompt: int,
                key: RoundKey, region: str, sent_at: datetime) -> dict[str, Any]:
    """The stored row of one probe (what the figures are computed from)."""
    m = target.declaration.model
    audit = audit_completion(rec, kit.tokenizer.count, kit.vocab, logprobs=False,
                             one_token_per_chunk=m.features.one_token_per_chunk,
                             eos_counted=m.eos_counted)
    audited_completion = completion_reference(audit)
    if audited_completion is None and rec.text is not None:
        audited_completion = audit.audited
    ok = rec.ok and not rec.decode_errors and bool(rec.text)
    ttft, e2e = rec.ttft_ms(), rec.e2e_ms()
    tps = None
    n_out = audited_completion
    if ok and ttft is not None and e2e is not None and n_out and n_out > 1 and e2e > ttft:
        tps = (n_out - 1) / ((e2e - ttft) / 1000.0)
    p_rep, c_rep = _int(rec.usage, "prompt_tokens"), _int(rec.usage, "completion_tokens")
    price = target.declaration.pricing
    cost = None
    if p_rep is not None and c_rep is not None:
        cost = float(p_rep * price.input + c_rep * price.output) / PER_M
    return {
        "request_uid": uuid.uuid4().hex, "campaign": key.campaign, "prober": key.prober,
        "region": region, "target": key.target, "workload": key.workload,
        "scenario": key.scenario, "sent_at": sent_at, "ttft_ms": ttft if ok else None,
        "e2e_ms": e2e if ok else None, "output_tps": tps, "http_status": rec.status,
        "error_class": rec.error or (None if ok else "garbage" if rec.ok else "http"),
        "ok": ok, "prompt_tokens_reported": p_rep, "prompt_tokens_audited": audited_prompt,
        "completion_tokens_reported": c_rep, "completion_tokens_audited": audited_completion,
        "cost": cost, "currency": price.currency,
    }


class Prober:
    """Runs rounds of one campaign into one store."""

    def __init__(self, campaign: Campaign, store: Store) -> None:
        self.campaign = campaign
        self.store = store
        self._kits: dict[str, Kit] = {}

    def kit(self, target: Target) -> Kit:
        if target.name not in self._kits:
            self._kits[target.name] = _kit(target)
        return self._kits[target.name]

    def key(self, target: str, workload: str, scenario: str, slot: datetime) -> RoundKey:
        return RoundKey(self.campaign.name, self.campaign.prober, target, workload, scenario,
                        utc_naive(slot))

    async def run_round(self, key: RoundKey, round_id: int | None = None) -> RoundOutcome:
        """Claim ``key`` (unless ``round_id`` is an already claimed round) and run it."""
        c = self.campaign
        if round_id is None:
            round_id = self.store.claim(key, c.region, utc_naive())
            if round_id is None:
                return RoundOutcome(key, "skipped")
        target, workload = c.target(key.target), c.workload(key.workload)
        scenario = c.scenario(key.scenario)
        try:
            rows, timings = await self._probe(target, workload, scenario, key)
        except Exception as exc:  # the instrument failed: the round is not the service's
            self.store.finish(round_id, "failed", [], utc_naive(),
                              f"prober error: {type(exc).__name__}: {exc}")
            raise
        ok = sum(1 for r in rows if r["ok"])
        status = "done" if ok else "unavailable"
        t0 = time.perf_counter()
        detail = None if ok else (rows[0]["error_class"] if rows else "no request")
        self.store.finish(round_id, status, rows, utc_naive(), detail)
        timings["store_s"] = time.perf_counter() - t0
        return RoundOutcome(key, status, len(rows), ok, timings)

    async def _probe(self, target: Target, workload: Workload, scenario: Scenario,
                     key: RoundKey) -> tuple[list[dict[str, Any]], dict[str, float]]:
        t0 = time.perf_counter()
        kit = self.kit(target)
        factory = PromptFactory(kit.count_messages, kit.tokenizer.encode,
                                lambda ids: kit.tokenizer.decode(ids), secrets.randbits(62))
        spec = PromptSpec(workload.input_tokens)
        prompts = [factory.make(i, spec) for i in range(scenario.parallel)]
        audited = [kit.count_messages(p) for p in prompts]
        decl = target.declaration
        timeout = self.campaign.request_timeout_s
        cfg = ClientConfig(base_url=decl.endpoint.base_url, model=target.model,
                           api_key=target.api_key(), dialect=decl.endpoint.dialect,
                           http2=decl.endpoint.http2, ca_bundle=decl.endpoint.ca_bundle,
                           connect_timeout_s=min(10.0, timeout),
                           read_timeout_s=min(decl.endpoint.timeout_s, timeout),
                           total_timeout_s=timeout)
        t1 = time.perf_counter()
        prefix = uuid.uuid4().hex[:12]
        async with Client(cfg, count_tokens=kit.tokenizer.count) as client:
            recs = await asyncio.gather(*(
                client.chat(ChatParams(messages=tuple(p), max_tokens=workload.output_tokens,
                                       stream=True,
                                       extra={"stream_options": {"include_usage": True}}),
                            request_id=f"{prefix}-{i}", phase=key.scenario, seq=i,
                            decode=False)
                for i, p in enumerate(prompts)))
        t2 = time.perf_counter()
        rows = []
        for rec, n in zip(recs, audited, strict=True):
            client.decode(rec)
            sent_at = _parse_utc(rec.started_utc)
            rows.append(request_row(rec, target, kit, n, key, self.campaign.region, sent_at))
        t3 = time.perf_counter()
        return rows, {"prepare_s": t1 - t0, "requests_s": t2 - t1, "decode_audit_s": t3 - t2}
