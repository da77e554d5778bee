"""Every command's --help has an Examples section, and the examples work.

The test walks the whole command tree. Every example is parsed by the real command (so an
example naming an option that no longer exists fails here); every example of a command
that finishes offline is RUN, in order, in one directory, on artefacts made the way a user
makes them: a small real run against the reference service over TLS (run1, and a copy as
run2), the PKI made by the pki examples, the certificate made by the certify example.
`run`, `demo` and `reference serve` run for minutes or until interrupted; their examples
are parsed here and run by their own tests (tests/integration/test_run_*.py,
test_demo.py, tests/reference/).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
import typer

from conformance.cli.app import app
from conformance.reference import ReferenceService

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "certificate"))
from tokencert_testkit import certification_gate_open

pytestmark = pytest.mark.slow

# commands that need a live service (doctor: tests/integration/test_run_failfast.py)
LONG = {("run",), ("demo",), ("reference", "serve"), ("doctor",)}
LONG |= {("monitor", c) for c in ("check", "probe", "report", "serve", "demo")}  # tests/monitor
# The order a user would follow; each command's own examples run in the order they appear.
ORDER = [
    ("spec", "validate"), ("spec", "list"), ("spec", "show"), ("reference", "defects"),
    ("init",), ("declaration", "check"), ("plan",),
    ("pki", "init-ca"), ("pki", "init-tsa"), ("pki", "init-status-signer"),
    ("pki", "issue-evaluator"), ("pki", "crl"),
    ("results",), ("report",), ("compare",), ("review",), ("certify",),
    ("pki", "status", "suspend"), ("pki", "status", "reinstate"), ("pki", "status", "publish"),
    ("verify",), ("pki", "status", "withdraw"), ("pki", "register", "export"), ("pki", "revoke"),
]
# Examples that must NOT succeed on these artefacts, and why.
EXPECTED_EXIT: dict[tuple[str, int], int] = {}
EXAMPLE_NUMBER = "EXC-HQTS-2026.1-2026-000001"
ONLY = "API-001,DATA-001"


def _is_group(cmd: Any) -> bool:
    return hasattr(cmd, "commands")  # typer ships its own click: duck-type the Group


def _tree(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, cmd
    if _is_group(cmd):
        for name, sub in cmd.commands.items():
            yield from _tree(sub, (*path, name))


def examples(help_text: str) -> list[str]:
    """The example command lines of a help text (continuation lines joined)."""
    _, sep, section = help_text.partition("Examples:")
    assert sep, "no Examples section"
    lines: list[str] = []
    cont = False
    for raw in section.splitlines():
        line = raw.strip()
        if not line and not cont:
            if lines:
                break
            continue
        if line.startswith(("Options:", "Arguments:", "Commands:", "Exit codes:")):
            break
        if cont:
            lines[-1] += " " + line.rstrip("\\").strip()
        elif line.startswith("tokencert "):
            lines.append(line.rstrip("\\").strip())
        cont = line.endswith("\\")
    return lines


def _resolve(root: Any, args: list[str]) -> tuple[tuple[str, ...], Any, list[str]]:
    cmd, path = root, ()
    while _is_group(cmd) and args and args[0] in cmd.commands:
        path = (*path, args[0])
        cmd = cmd.commands[args[0]]
        args = args[1:]
    return path, cmd, args


@pytest.fixture(scope="module")
def made_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[str, ...]]:
    """A real (small) run against the reference service over TLS, as `tokencert run`."""
    run = tmp_path_factory.mktemp("made") / "run1"
    with ReferenceService.start(tls=True) as svc:
        p = subprocess.run(
            [sys.executable, "-m", "conformance", "run", "--candidate",
             str(svc.declaration_path), "--profile", "quick", "--out", str(run), "--only",
             ONLY], env={**os.environ, **svc.env}, capture_output=True, text=True,
            timeout=300, check=False)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
        (run.parent / "declaration-run1.yaml").write_bytes(svc.declaration_path.read_bytes())
        return run, svc.api_keys


def test_every_command_has_examples_and_they_run(
        tmp_path: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch,
        made_run: tuple[Path, tuple[str, ...]]) -> None:
    root = typer.main.get_command(app)
    commands = dict(_tree(root))
    leaves = {p for p, c in commands.items() if not _is_group(c)}
    assert leaves == set(ORDER) | LONG, "add new commands to ORDER (or LONG) in this test"

    # 1. every command and group has examples, and each example parses
    own: dict[tuple[str, ...], list[str]] = {}
    for path in commands:
        r = cli(*path, "--help")
        assert r.code == 0, (path, r.err)
        found = examples(r.out)
        assert found, f"`tokencert {' '.join(path)} --help` has no example"
        for ex in found:
            args = shlex.split(ex)[1:]
            target, leaf, rest = _resolve(root, args)
            assert target[:len(path)] == path, f"{path}: example runs another command: {ex}"
            assert target in leaves, f"example names no command: {ex}"
            leaf.make_context(" ".join(target), rest)  # raises on unknown/missing options
        if path in leaves:
            own[path] = found

    # 2. run the examples of every offline command, in a user's order, in one directory
    run1, api_keys = made_run
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TC_CA_PASS", "example CA passphrase")
    monkeypatch.setenv("TC_EV_PASS", "example evaluator passphrase")
    monkeypatch.setenv("TC_TSA_PASS", "example TSA passphrase")
    monkeypatch.setenv("TC_ST_PASS", "example status passphrase")
    shutil.copytree(run1, tmp_path / "run1")
    shutil.copytree(run1, tmp_path / "run2")
    (tmp_path / "contract.pdf").write_bytes(b"%PDF-1.4\n% hosting contract (test)\n%%EOF\n")
    number = EXAMPLE_NUMBER
    ran = 0
    for path in ORDER:
        if path == ("declaration", "check"):  # the vendor fills in the template
            assets = Path(__file__).parents[2] / "conformance" / "reference" / "assets"
            for name in ("tokenizer.json", "chat_template.jinja"):
                shutil.copy(assets / name, tmp_path / name)
        if path == ("certify",):  # the declaration run1 was made from, as its evaluator has it
            shutil.copy(run1.parent / "declaration-run1.yaml", tmp_path / "candidate.yaml")
        for i, ex in enumerate(own[path]):
            args = shlex.split(ex.replace(EXAMPLE_NUMBER, number))[1:]
            # run1 is a quick-profile --only selection: certify it as if it were a complete
            # certification run (the refusal itself is tested in tests/certificate)
            with certification_gate_open() if path == ("certify",) else nullcontext():
                r = cli(*args)
            want = EXPECTED_EXIT.get((" ".join(path), i), 0)
            assert r.code == want, f"{ex}\n-> exit {r.code}\n{r.out[-1500:]}\n{r.err[-1500:]}"
            ran += 1
            if path == ("certify",) and "--self-assessment" not in args:
                issued = json.loads(r.out)
                assert issued["demo"] is ("--demo" in args) and Path(issued["pdf"]).is_file()
                if not issued["demo"]:
                    number = issued["number"]
            if path == ("verify",):
                assert "VALID" in r.out
    assert ran >= len(ORDER)
    # what the examples wrote never holds an API key
    for f in tmp_path.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert all(k.encode() not in data for k in api_keys), f


def test_exit_codes(tmp_path: Path, cli: Callable[..., Any],
                    monkeypatch: pytest.MonkeyPatch) -> None:
    """2 for every usage error and unreadable input, across the tree (README table)."""
    monkeypatch.chdir(tmp_path)
    root = typer.main.get_command(app)
    for path, cmd in _tree(root):
        if not _is_group(cmd):
            r = cli(*path, "--no-such-option")
            assert r.code == 2, (path, r.code)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    for args in (["spec", "show", "NOPE-999"], ["declaration", "check", "none.yaml"],
                 ["results", "none"], ["report", "none"], ["compare", "a", "b"],
                 ["review", "none", "DATA-001", "--verdict", "pass", "--note", "n"],
                 ["certify", "none", "--self-assessment"],
                 ["verify", "none.pdf", "--trust", "none.pem"],
                 ["demo", "--out", "full"]):
        r = cli(*args)
        assert r.code == 2, (args, r.code, r.err)
        assert "error:" in r.err
    assert re.search(r"not empty", cli("demo", "--out", "full").err)
