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
