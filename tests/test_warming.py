"""Warming compiles (or loads) every kernel the demo's work calls, on made-up rows."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fanzha import warming
from fanzha.jit import enabled

#: run in a fresh interpreter (the suite's other tests have run kernels in this one): the
#: kernels called from Python (not only from other kernels, which compile them into their own
#: code) that have not run, by the argument types their Numba dispatcher lists
CHECK = """
import importlib, json
from fanzha import warming
from fanzha.jit import Kernel
warming.warm_kernels()
kernels = {}
for name in ("fanzha.detect.kernels", "fanzha.detect.features", "fanzha.detect.registry",
             "fanzha.detect.retro",
             "fanzha.intel.keyset",
             "fanzha.funds.kernels"):
    for attr, value in vars(importlib.import_module(name)).items():
        if isinstance(value, Kernel):
            kernels[name + "." + attr] = value
inside = {n for k in kernels.values() for n in k.py.__code__.co_names}
outer = [n for n in kernels if n.rsplit(".", 1)[1] not in inside]
print(json.dumps({"kernels": len(kernels), "outer": len(outer),
                  "unrun": [n for n in outer if not kernels[n].compiled().signatures]}))
"""


@pytest.mark.skipif(not enabled(), reason="compiled loops are off (FANZHA_JIT=0)")
def test_every_kernel_called_from_python_has_run_after_warming() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=True, timeout=600
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["kernels"] > 30 and found["outer"] > 20
    assert found["unrun"] == []


def test_warming_says_what_it_did(capsys: pytest.CaptureFixture[str]) -> None:
    warming.main()
    captured = capsys.readouterr()
    assert "warming:" in captured.out + captured.err
