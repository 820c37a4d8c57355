"""The process's memory policy: NumPy's large arrays in small (4 KiB) pages.

NumPy asks the kernel for transparent huge pages (``madvise``) on every array of 4 MiB or more.
On the virtual machines Fanzha is measured on, faulting memory in costs 2–3.6 s of system time
per GB in huge pages against 0.55–0.75 s in small ones, and a detection run faults its batch
temporaries and growing state in over and over: the city replay's system time fell from
3.8 to 1.4–1.7 s with small pages (user time unchanged; random gathers measured as fast in
either). Huge pages may pay elsewhere: ``FANZHA_HUGEPAGES=1`` keeps NumPy's default, and an
explicit ``NUMPY_MADVISE_HUGEPAGE`` (NumPy's own switch) is always obeyed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

import numpy as np


def _switch() -> Callable[[bool], bool] | None:
    """NumPy's hugepage switch (it returns the previous setting), where this NumPy has one."""
    for name in ("_core", "core"):
        multiarray = getattr(getattr(np, name, None), "multiarray", None)
        switch = getattr(multiarray, "_set_madvise_hugepage", None)
        if switch is not None:
            return switch  # type: ignore[no-any-return]
    return None


def wants_hugepages(env: Mapping[str, str]) -> bool | None:
    """Whether NumPy should ask for huge pages (None: NumPy's own switch is set, leave it)."""
    if "NUMPY_MADVISE_HUGEPAGE" in env:
        return None
    return env.get("FANZHA_HUGEPAGES", "0").strip().lower() in ("1", "true", "yes", "on")


def use_process_policy(env: Mapping[str, str] | None = None) -> bool | None:
    """Apply the policy (from ``env``, the process's environment by default); returns whether
    NumPy now asks for huge pages (None: left to NumPy)."""
    wanted = wants_hugepages(os.environ if env is None else env)
    switch = _switch()
    if wanted is None or switch is None:
        return None
    switch(wanted)
    return wanted


__all__ = ["use_process_policy", "wants_hugepages"]
