from __future__ import annotations

import json
from collections import Counter

from conformance.run.corpora import fingerprint_cases, malformed_cases, metering_cases


def test_metering_corpus_covers_languages_and_is_unique() -> None:
    cases = metering_cases()
    assert len(cases) >= 52  # METER-001 L1 minimum evidence
    assert len({c.id for c in cases}) == len(cases)
    langs = Counter(c.lang for c in cases)
    for lang in ("en", "zh", "ja", "code", "emoji", "mixed", "long"):
        assert langs[lang] >= 3, lang
    longest = max(sum(len(m["content"]) for m in c.messages) for c in cases)
    assert longest > 2000
    assert any(m["role"] == "system" for c in cases for m in c.messages)


def test_fingerprint_corpus_kinds() -> None:
    kinds = Counter(c.kind for c in fingerprint_cases())
    assert set(kinds) >= {"rare_unicode", "whitespace", "digits", "cjk", "byte_fallback"}
    texts = [c.text for c in fingerprint_cases()]
    assert any("\u200d" in t for t in texts) and any("\ue000" in t for t in texts)


def test_malformed_corpus_builds_every_body() -> None:
    cases = {c.id: c for c in malformed_cases("m-1")}
    assert len(cases) >= 30
    assert b'"m-1"' in cases["missing-messages"].body
    assert len(cases["huge-body"].body) > 32 * 1024 * 1024
    assert cases["deep-nesting"].body.startswith(b"[[[[")
    try:
        cases["invalid-utf8"].body.decode("utf-8")
        raise AssertionError("invalid-utf8 must not decode")
    except UnicodeDecodeError:
        pass
    assert b"\x00" in cases["null-bytes-raw"].body
    json.loads(cases["max-tokens-negative"].body)
    assert cases["unknown-role"].acceptable(400) and not cases["unknown-role"].acceptable(500)
    assert cases["json-nan"].acceptable(200)
