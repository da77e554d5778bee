"""The full mutation matrix: every reference defect alone, with collateral, and the clean control.

    python benchmarks/mutation/matrix.py [--defects a,b] [--no-clean] \\
        [--write docs/mutation-matrix.md]

Prints one line per defect (its requirement's verdict, any other MUST requirement that failed,
seconds) and the markdown record. Exit 1 when a defect's requirement did not fail (other than
a known gap or a requirement without a suite) or the clean service failed a requirement.
The rows, overrides and CI groups are data in tests/mutation/mutation_matrix.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "mutation"))

from mutation_matrix import main

if __name__ == "__main__":
    raise SystemExit(main())
