"""`pip install tokencert[verify]` must suffice: verification never imports the renderer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tokencert_testkit import Issued, issue

FORBIDDEN = ("weasyprint", "conformance.certificate.render", "matplotlib", "qrcode", "pydyf")


def test_importing_verify_pulls_no_renderer() -> None:
    code = ("import sys, conformance.verify, conformance.cli.verify_cmd; "
            f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Issued:
    i = issue(tmp_path_factory.mktemp("norender"))
    i.pki.status("publish")
    return i


def test_verifying_pulls_no_renderer(issued: Issued) -> None:
    code = (
        "import sys; from pathlib import Path; "
        "from conformance.verify import verify_certificate, load_trust_root; "
        f"r = verify_certificate(Path({str(issued.pdf)!r}).read_bytes(), "
        f"load_trust_root(Path({str(issued.pki.ca_cert_path)!r})), "
        f"Path({str(issued.bundle)!r}).read_bytes(), "
        f"[Path({str(issued.pki.crl_path)!r}).read_bytes()], "
        f"Path({str(issued.pki.root / 'status.json')!r})); "
        "assert r.valid, r.bottom_line; "
        f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]; "
        "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_import_contract_holds() -> None:
    from shutil import which

    exe = which("lint-imports")
    if exe is None:
        pytest.skip("import-linter not installed")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([exe], cwd=root, capture_output=True, text=True, timeout=300)
    assert "verify never imports the renderer KEPT" in out.stdout, out.stdout[-2000:]


HEAVY = ("pytest", "_pytest", "scipy", "numpy", "tokenizers", "tiktoken", "sentencepiece",
         "uvicorn", "starlette", "weasyprint", "matplotlib", "httpx", "psutil")


def test_verify_runs_without_the_heavy_dependencies(issued: Issued) -> None:
    """What `pip install tokencert[verify]` lacks is blocked: verify still checks every
    signature, and says re-judging was not possible (explicitly accepted here)."""
    args = [str(issued.pdf), "--bundle", str(issued.bundle), "--trust",
            str(issued.pki.ca_cert_path), "--crl", str(issued.pki.crl_path), "--status",
            str(issued.pki.root / "status.json"), "--json"]
    code = ("import sys, json\n"
            f"for m in {HEAVY!r}: sys.modules[m] = None\n"
            "from conformance.cli.app import main\n"
            "main(['verify', *sys.argv[1:]])\n")
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                       timeout=120, check=False)
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr[-2000:]
    import json

    report = json.loads(p.stdout)
    assert report["bottom_line"].startswith("UNCHECKED")
    facts = {f["name"]: f for f in report["facts"]}
    assert facts["verdicts_reproduced"]["status"] == "unknown"
    assert "tokencert[verify,rejudge]" in facts["verdicts_reproduced"]["detail"]
    assert all(f["status"] == "pass" for n, f in facts.items() if n != "verdicts_reproduced")
    p = subprocess.run([sys.executable, "-c", code, *args, "--accept-unchecked", "rejudge"],
                       capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 0, p.stdout[-2000:]


def test_the_verifier_install_stays_light() -> None:
    import tomllib

    root = Path(__file__).resolve().parents[2]
    meta = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = " ".join(meta["dependencies"] + meta["optional-dependencies"]["verify"]).lower()
    for heavy in ("pytest", "scipy", "tokenizers", "uvicorn", "weasyprint", "httpx"):
        assert heavy not in core, heavy
    assert "rejudge" in meta["optional-dependencies"]
