"""How long does third-party verification of a quick-profile certificate + bundle take?

Makes one real run (quick profile, a few requirements, the reference service over TLS), a
throw-away body PKI (root, TSA, status signer, evaluator) and a certificate over it, then
times `tokencert verify` as a third party runs it — a fresh process — with re-judging (the
default) and with --no-rejudge, and `verify_certificate` in process. Target: < 5 s for the
fresh process with re-judging.

    python benchmarks/verify/bench_verify.py [--repeats 5] [--png docs/images/certificate.png]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "certificate"))

from tokencert_testkit import issue  # noqa: E402

from conformance.verify import load_trust_root, verify_certificate  # noqa: E402

TARGET_S = 5.0


def _stats(xs: list[float]) -> str:
    xs = sorted(xs)
    return (f"median {statistics.median(xs) * 1000:7.0f} ms   "
            f"max {xs[-1] * 1000:7.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--png", type=Path, default=None, help="render page 1 here (pdftoppm)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        t0 = time.perf_counter()
        cert = issue(tmp)  # real run + PKI + certify (gate opened: a quick run)
        status = cert.pki.status("publish")
        t_make = time.perf_counter() - t0
        pdf, bundle = cert.pdf.read_bytes(), cert.bundle.read_bytes()
        root = load_trust_root(cert.pki.ca_cert_path)
        crl = [cert.pki.crl_path.read_bytes()]
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            report = verify_certificate(pdf, root, bundle, crl, status)
            times.append(time.perf_counter() - t0)
            assert report.valid, report.bottom_line
        cmd = [sys.executable, "-m", "conformance", "verify", str(cert.pdf), "--bundle",
               str(cert.bundle), "--trust", str(cert.pki.ca_cert_path), "--crl",
               str(cert.pki.crl_path), "--status", str(status), "--json"]
        fresh, fast = [], []
        for _ in range(args.repeats):
            for extra, into in (([], fresh), (["--no-rejudge", "--accept-unchecked",
                                               "rejudge"], fast)):
                t0 = time.perf_counter()
                subprocess.run([*cmd, *extra], check=True, capture_output=True, timeout=120)
                into.append(time.perf_counter() - t0)
        print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
        print(f"bundle: {len(bundle) / 1e3:.0f} kB zipped, PDF {len(pdf) / 1e3:.0f} kB; "
              f"run + PKI + certify once: {t_make:.1f} s")
        print(f"verify_certificate in process (re-judging), n={len(times)}: {_stats(times)}")
        print(f"tokencert verify, fresh process, re-judging, n={len(fresh)}: {_stats(fresh)}")
        print(f"tokencert verify, fresh process, --no-rejudge, n={len(fast)}: {_stats(fast)}")
        worst = max(fresh)
        verdict = "met" if worst < TARGET_S else "MISSED"
        print(f"target < {TARGET_S * 1000:.0f} ms (fresh process, re-judging): {verdict} "
              f"(worst {worst * 1000:.0f} ms)")
        if args.png:
            if shutil.which("pdftoppm") is None:
                sys.exit("pdftoppm not found (apt-get install poppler-utils)")
            args.png.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["pdftoppm", "-r", "110", "-png", "-singlefile", "-f", "1", "-l",
                            "1", str(cert.pdf), str(args.png.with_suffix(""))], check=True)
            print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
