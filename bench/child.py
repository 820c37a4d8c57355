"""Running one measurement in its own process: ``python -m MODULE ARGS`` (one OpenMP thread,
its own memory for peak RSS), whose last line of output is its JSON result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any


def run_child(module: str, *args: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The JSON result of ``python -m MODULE ARGS`` (``env`` over ours, one OpenMP thread);
    a failure prints the child's errors and stops the bench."""
    out = subprocess.run(
        [sys.executable, "-m", module, *args],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"{module} {' '.join(args)} failed with exit status {out.returncode}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result
