"""The sim engine in-process: deterministic text, canonical tokens, the latency model."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from refclient import tokenizer

from conformance._core.errors import InputError
from conformance.reference.config import SimConfig, load_config
from conformance.reference.engine import Finish, GenRequest, Token
from conformance.reference.sim import SimEngine, word_tokens


def _req(**kw: object) -> GenRequest:
    base: dict[str, object] = dict(
        request_id="r1", model="m", prompt_text="x", prompt_ids=[1] * 100,
        messages=[{"role": "user", "content": "hi"}], max_tokens=20,
        max_tokens_requested=True, seed=5, temperature=0.0)
    base.update(kw)
    return GenRequest(**base)  # type: ignore[arg-type]


async def _run(engine: SimEngine, req: GenRequest) -> tuple[list[Token], Finish, list[float]]:
    toks, times, fin = [], [], None
    t0 = time.perf_counter()
    async for ev in engine.generate(req):
        if isinstance(ev, Token):
            toks.append(ev)
            times.append(time.perf_counter() - t0)
        else:
            fin = ev
    assert fin is not None
    return toks, fin, times


def test_word_tokens_are_canonical() -> None:
    tok = tokenizer()
    words = word_tokens(tok)
    assert len(words) > 500
    text = "".join(w for _, w in words[:300])
    assert tok.encode(text) == [i for i, _ in words[:300]]


def test_deterministic_text_and_counts() -> None:
    eng = SimEngine(SimConfig(base_ttft_ms=1, tpot_ms=0.1, jitter=0), tokenizer())
    a = asyncio.run(_run(eng, _req()))
    b = asyncio.run(_run(eng, _req(request_id="other")))
    assert [t.text for t in a[0]] == [t.text for t in b[0]]
    assert a[1] == Finish("length", 20) and len(a[0]) == 20
    c = asyncio.run(_run(eng, _req(seed=6)))
    assert [t.text for t in c[0]] != [t.text for t in a[0]]
    natural = asyncio.run(_run(eng, _req(max_tokens=4096, max_tokens_requested=False)))
    assert natural[1].reason == "stop" and 16 <= natural[1].completion_tokens <= 64


def test_eos_counted_adds_one_on_natural_stop() -> None:
    eng = SimEngine(SimConfig(base_ttft_ms=1, tpot_ms=0.1, jitter=0, eos_counted=True),
                    tokenizer())
    toks, fin, _ = asyncio.run(_run(eng, _req(max_tokens=4096, max_tokens_requested=False)))
    assert fin.completion_tokens == len(toks) + 1


def test_latency_model_single_stream() -> None:
    cfg = SimConfig(base_ttft_ms=40, prefill_ms_per_token=0.1, tpot_ms=10, jitter=0)
    _, _, times = asyncio.run(_run(SimEngine(cfg, tokenizer()), _req(max_tokens=30)))
    assert times[0] == pytest.approx(0.040 + 0.010, abs=0.015)  # 100 prompt tokens
    tpot = (times[-1] - times[0]) / 29
    assert tpot == pytest.approx(0.010, rel=0.1)


def test_capacity_queues_and_growth_slows_tokens() -> None:
    cfg = SimConfig(base_ttft_ms=10, prefill_ms_per_token=0, tpot_ms=5, tpot_growth=0.5,
                    capacity=2, jitter=0)
    eng = SimEngine(cfg, tokenizer())

    async def three() -> list[list[float]]:
        res = await asyncio.gather(*(_run(eng, _req(request_id=str(i), max_tokens=11))
                                     for i in range(3)))
        return [r[2] for r in res]

    t = asyncio.run(three())
    assert t[0][0] == pytest.approx(0.010, abs=0.015)
    tpot = (t[0][-1] - t[0][0]) / 10
    assert tpot == pytest.approx(5 * 1.5 / 1000, rel=0.15)  # two active: 1 + 0.5
    assert t[2][0] > t[0][-1]  # the third waited for a free slot
    assert cfg.tpot_at(2) == 7.5
    assert SimConfig().predicted_throughput(8, 1000, 1000) == pytest.approx(
        8 * 1000 / ((50 + 20 + 999 * 8 * 1.14) / 1000))


def test_config_file_and_overrides(tmp_path: Path) -> None:
    f = tmp_path / "ref.yaml"
    f.write_text("sim: {tpot_ms: 12}\ngateway: {rpm: 60, aliases: [a, b]}\n")
    cfg = load_config(f, {"sim.capacity": 4})
    assert cfg.sim.tpot_ms == 12 and cfg.sim.capacity == 4
    assert cfg.gateway.rpm == 60 and cfg.gateway.aliases == ("a", "b")
    f.write_text("sim: {tpot: 12}\n")
    with pytest.raises(InputError, match="unknown setting"):
        load_config(f)
    f.write_text("engine: {}\n")
    with pytest.raises(InputError, match="unknown section"):
        load_config(f)
    with pytest.raises(InputError, match="bad override"):
        load_config(None, {"tpot_ms": 1})
