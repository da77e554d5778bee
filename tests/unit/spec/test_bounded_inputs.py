"""Hostile input files: refused at once, with a located message, exit 2 and bounded memory."""

from __future__ import annotations

import shutil
import time
import tracemalloc
from pathlib import Path

FIX = Path(__file__).resolve().parents[2] / "fixtures"
VALID = FIX / "declarations" / "valid"
BOMB = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def _bounded(cli, *args: str) -> tuple[object, float, int]:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    t0 = time.monotonic()
    try:
        res = cli(*args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return res, time.monotonic() - t0, peak


def test_alias_bomb_is_refused_at_the_first_alias(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "candidate.yaml"
    p.write_text(BOMB, encoding="utf-8")
    res, secs, peak = _bounded(cli, "declaration", "check", str(p))
    assert res.code == 2, res.err
    assert f"{p}:2:" in res.err and "aliases" in res.err, res.err
    assert "Traceback" not in res.err
    assert peak < 64 * 1024 * 1024, f"{peak / 2**20:.0f} MiB"
    print(f"alias bomb refused in {secs:.3f} s, peak {peak / 2**20:.1f} MiB traced")


def test_a_50_mb_declaration_is_refused_before_it_is_read(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "candidate.yaml"
    with p.open("w", encoding="utf-8") as fh:
        fh.write("schema_version: '1.0.0'\nservice:\n  name: '")
        fh.write("x" * (50 * 1024 * 1024))
        fh.write("'\n")
    res, secs, peak = _bounded(cli, "declaration", "check", str(p))
    assert res.code == 2, res.err
    assert "too large" in res.err and "the limit is" in res.err, res.err
    assert peak < 16 * 1024 * 1024, f"{peak / 2**20:.0f} MiB"
    print(f"50 MB declaration refused in {secs:.3f} s, peak {peak / 2**20:.1f} MiB traced")


def test_deep_nesting_is_a_located_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "candidate.yaml"
    p.write_text("a: " + "[" * 200_000, encoding="utf-8")
    res = cli("declaration", "check", str(p))
    assert res.code == 2 and "Traceback" not in res.err, res.err
    assert "nested too deeply" in res.err or "not valid YAML" in res.err, res.err


def test_a_key_in_an_env_field_is_never_echoed(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "decl"
    shutil.copytree(VALID, d)
    key = "sk-proj-Zx81Qw7Lm2Np4Rt6Vy9Ab3Cd"
    text = (d / "candidate.yaml").read_text(encoding="utf-8")
    (d / "candidate.yaml").write_text(
        text.replace("second_api_key_env: TOKENCERT_API_KEY_B",
                     f"second_api_key_env: {key}"), encoding="utf-8")
    res = cli("declaration", "check", str(d / "candidate.yaml"))
    assert res.code == 2, res.err
    assert "looks like a secret" in res.err and "second_api_key_env" in res.err, res.err
    assert key not in res.err + res.out and "Zx81Qw7Lm2Np" not in res.err + res.out


def test_error_messages_are_scrubbed_of_keys() -> None:
    from conformance._core.redact import looks_like_secret, scrub

    assert looks_like_secret("sk-ref-a-0123456789abcdef")
    assert looks_like_secret("Zx81Qw7Lm2Np4Rt6Vy9Ab3Cd")
    for name in ("TOKENCERT_API_KEY", "OPENAI_API_KEY", "sha256:" + "0a1b" * 16,
                 "/tmp/pytest-of-root/pytest-1/test_x0/candidate.yaml"):
        assert not looks_like_secret(name), name
    assert "sk-live" not in scrub("rejected sk-live-0123456789abcdefXYZ in header")


def test_reference_declarations_hold_paths_relative_to_their_file(tmp_path: Path) -> None:
    from conformance.reference.declare import relative_paths

    decl = tmp_path / "ref" / "candidate.yaml"
    data = {"endpoint": {"ca_bundle": str(tmp_path / "ref" / "ca.pem")},
            "models": [{"tokenizer": {"path": "/opt/tok.json"},
                        "chat_template": {"path": str(tmp_path / "ref" / "t" / "c.jinja")}}],
            "billing_export": {"path": str(tmp_path / "ref" / "bill.csv")},
            "data_governance": {"DATA-001": {"documents": [str(tmp_path / "doc.pdf")]}}}
    out = relative_paths(decl, data)
    assert out["endpoint"]["ca_bundle"] == "ca.pem"
    assert out["models"][0]["tokenizer"]["path"] == "/opt/tok.json"
    assert out["models"][0]["chat_template"]["path"] == "t/c.jinja"
    assert out["billing_export"]["path"] == "bill.csv"
    assert out["data_governance"]["DATA-001"]["documents"] == [str(tmp_path / "doc.pdf")]
