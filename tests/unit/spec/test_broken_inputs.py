"""Deliberately broken catalogs and declarations: each gives a precise error and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIX = Path(__file__).resolve().parents[2] / "fixtures"
CATALOGS = sorted((FIX / "broken" / "catalogs").iterdir())
DECLS = sorted((FIX / "broken" / "declarations").iterdir())


def _check(res, case: Path) -> None:  # type: ignore[no-untyped-def]
    expect = json.loads((case / "expect.json").read_text())
    assert res.code == 2, res.err
    assert "Traceback" not in res.err
    assert f"{expect['file']}:{expect['line']}" in res.err, res.err
    assert expect["contains"] in res.err, res.err
    if "hint" in expect:
        assert "hint:" in res.err and expect["hint"] in res.err, res.err


@pytest.mark.parametrize("case", CATALOGS, ids=[c.name for c in CATALOGS])
def test_broken_catalog(cli, case: Path) -> None:  # type: ignore[no-untyped-def]
    _check(cli("spec", "validate", str(case)), case)


@pytest.mark.parametrize("case", DECLS, ids=[c.name for c in DECLS])
def test_broken_declaration(cli, case: Path) -> None:  # type: ignore[no-untyped-def]
    _check(cli("declaration", "check", str(case / "candidate.yaml")), case)


def test_enough_broken_fixtures() -> None:
    assert len(CATALOGS) + len(DECLS) >= 12


def test_minimal_catalog_and_valid_declaration_pass(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("spec", "validate", str(FIX / "catalogs" / "minimal")).code == 0
    res = cli("declaration", "check", str(FIX / "declarations" / "valid" / "candidate.yaml"))
    assert res.code == 0, res.err


def test_missing_file_is_a_clear_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res = cli("declaration", "check", str(tmp_path / "nope.yaml"))
    assert res.code == 2 and "file not found" in res.err


def test_init_writes_a_template_that_validates(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "candidate.yaml"
    assert cli("init", str(target)).code == 0
    assert cli("init", str(target)).code == 2  # refuses to overwrite
    (tmp_path / "tokenizer.json").write_text("{}")
    (tmp_path / "chat_template.jinja").write_text("x")
    res = cli("declaration", "check", str(target))
    assert res.code == 0, res.err


@pytest.mark.parametrize("dialect", ["anthropic-messages", "openai-responses"])
def test_init_names_the_dialect(cli, tmp_path: Path, dialect: str) -> None:  # type: ignore[no-untyped-def]
    from conformance.declaration.loader import load_declaration

    target = tmp_path / "candidate.yaml"
    assert cli("init", str(target), "--dialect", dialect).code == 0
    (tmp_path / "tokenizer.json").write_text("{}")
    (tmp_path / "chat_template.jinja").write_text("x")
    assert load_declaration(target).endpoint.dialect == dialect
    res = cli("init", str(tmp_path / "x.yaml"), "--dialect", "openai-completions")
    assert res.code == 2 and "unknown dialect" in res.err


def test_console_script_exit_code(tmp_path: Path) -> None:
    import subprocess
    import sys

    case = FIX / "broken" / "catalogs" / "misspelt_key"
    proc = subprocess.run([sys.executable, "-m", "conformance", "spec", "validate", str(case)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "did you mean 'obligation'" in proc.stderr
