"""Re-judge the evidence inside a bundle: the bundle's evidence and declaration, this
installation's published catalog and profile, the library's verdict functions.

The verdict path needs scipy (confidence bounds) and the run package (httpx, psutil); it is
imported only here, so a `tokencert[verify]` install without them still checks every
signature and reports this fact as not checked (`tokencert[verify,rejudge]` re-judges).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from conformance.bundle import layout
from conformance.bundle.zipio import UnsafeZipError, ZipLimits, read_zip


def rejudge_bundle(data: bytes, limits: ZipLimits | None = None) -> tuple[bool | None, str]:
    """(reproduced, detail); None when re-judging is not possible in this installation."""
    try:
        import conformance.report.results  # noqa: F401  (the verdict path, scipy included)
        from conformance.report.rejudge import differences, rejudge
    except ImportError as exc:
        return None, (f"re-judging needs the verdict dependencies ({exc.name} is not "
                      "installed: pip install 'tokencert[verify,rejudge]')")
    try:
        files = read_zip(data, limits)
    except UnsafeZipError as exc:
        return False, str(exc)
    try:
        stored = json.loads(files[layout.RESULTS])
        decl = json.loads(files[layout.DECLARATION]) if layout.DECLARATION in files else None
    except (KeyError, ValueError) as exc:
        return False, f"the bundle's results or declaration is unreadable ({exc})"
    if not isinstance(stored, dict) or (decl is not None and not isinstance(decl, dict)):
        return False, "the bundle's results or declaration is not a JSON object"
    if decl is None:
        return False, "no declaration in the bundle: the plan cannot be re-derived"
    with tempfile.TemporaryDirectory(prefix="tokencert-rejudge-") as tmp:
        run = Path(tmp)
        for name, content in files.items():
            if name.startswith(layout.EVIDENCE_PREFIX) and not name.endswith("/"):
                target = run / name  # names passed read_zip's traversal checks
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
        again = rejudge(run, decl)
    if again.problems or again.results is None:
        return False, "; ".join(again.problems[:5]) or "the evidence cannot be re-judged"
    diffs = differences(stored, again.results)
    if diffs:
        return False, (f"{len(diffs)} difference(s) between the certified results and the "
                       "evidence: " + "; ".join(diffs[:5]))
    n = len(again.results["requirements"])
    return True, (f"{n} verdicts recomputed from the evidence with catalog "
                  f"{again.results['spec']['edition']} and profile "
                  f"{again.results['profile']['id']}; identical")
