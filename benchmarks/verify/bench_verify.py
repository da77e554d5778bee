"""How long does third-party verification of a certificate + evidence bundle take?

Builds a throw-away PKI and a synthesized run (results.json valid against its schema,
EVIDENCE_MB of JSONL evidence), certifies it, then times `verify_certificate` (in process)
and `tokencert verify` (a fresh process, as a third party runs it). Target: < 2 s.

    python benchmarks/verify/bench_verify.py [--evidence-mb 20] [--repeats 15]
        [--png docs/images/certificate.png]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "certificate"))

from tokencert_testkit import decide_manual, make_pki, make_run_dir  # noqa: E402

from conformance.certificate import Registry, certify  # noqa: E402
from conformance.verify import load_trust_root, verify_certificate  # noqa: E402


def _evidence(run: Path, mb: int) -> None:
    rng = random.Random(7)  # realistic entropy: timings are noisy, so they compress poorly
    line: dict[str, object] = {"request_id": "", "phase": "sustained", "status": 200}
    size, i = 0, 0
    with (run / "evidence" / "sustained.jsonl").open("w") as fh:
        while size < mb * 1024 * 1024:
            line["request_id"] = f"sustained-{i}"
            line["ttft_ns"] = rng.randrange(80_000_000, 900_000_000)
            line["chunks"] = [[rng.randrange(10**9, 10**10), rng.randrange(1, 4)]
                              for _ in range(40)]
            text = json.dumps(line) + "\n"
            fh.write(text)
            size += len(text)
            i += 1


def _stats(xs: list[float]) -> str:
    xs = sorted(xs)
    return (f"median {statistics.median(xs) * 1000:7.1f} ms   "
            f"p95 {xs[int(0.95 * (len(xs) - 1))] * 1000:7.1f} ms   max {xs[-1] * 1000:7.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--evidence-mb", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--png", type=Path, default=None, help="render page 1 here (pdftoppm)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        run = make_run_dir(tmp)
        _evidence(run, args.evidence_mb)
        decide_manual(run)
        pki = make_pki(tmp)
        t0 = time.perf_counter()
        cert = certify(run, pki.signing, tmp / "out", Registry(tmp / "registry.json"))
        t_certify = time.perf_counter() - t0
        pdf, bundle = cert.pdf.read_bytes(), cert.bundle.read_bytes()
        root = load_trust_root(pki.ca_cert_path)
        crl = [pki.crl_path.read_bytes()]
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            report = verify_certificate(pdf, root, bundle, crl)
            times.append(time.perf_counter() - t0)
            assert report.valid, report.bottom_line
        cmd = [sys.executable, "-m", "conformance", "verify", str(cert.pdf), "--bundle",
               str(cert.bundle), "--trust", str(pki.ca_cert_path), "--crl",
               str(pki.crl_path), "--json"]
        cli_times = []
        for _ in range(max(3, args.repeats // 3)):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, timeout=120)
            cli_times.append(time.perf_counter() - t0)
        print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
        print(f"bundle: {len(bundle) / 1e6:.2f} MB zipped ({args.evidence_mb} MB evidence), "
              f"PDF {len(pdf) / 1e3:.0f} kB")
        print(f"certify (bundle + render + sign), once: {t_certify * 1000:.0f} ms")
        print(f"verify_certificate in process, n={len(times)}:  {_stats(times)}")
        print(f"tokencert verify, fresh process, n={len(cli_times)}: {_stats(cli_times)}")
        worst = max(max(times), max(cli_times))
        verdict = "met" if worst < 2.0 else "MISSED"
        print(f"target < 2000 ms: {verdict} (worst {worst * 1000:.0f} ms)")
        if args.png:
            if shutil.which("pdftoppm") is None:
                sys.exit("pdftoppm not found (apt-get install poppler-utils)")
            args.png.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["pdftoppm", "-r", "110", "-png", "-singlefile", "-f", "1", "-l",
                            "1", str(cert.pdf), str(args.png.with_suffix(""))], check=True)
            print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
