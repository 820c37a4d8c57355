"""Compiled loops: the compiled form answers what the plain Python answers; kernels call
kernels; ``FANZHA_JIT=0`` runs the plain form."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha import jit
from fanzha.detect import kernels
from fanzha.jit import Kernel, Native, kernel, native, plain

I64 = np.int64


@kernel
def _total(values: np.ndarray) -> int:
    """Sum of the values."""
    out = 0
    for v in values:
        out += v
    return out


@kernel
def _twice_total(values: np.ndarray, out: np.ndarray) -> None:
    """``out[0]``: twice the sum (through another kernel)."""
    out[0] = 2 * _total(values)


def test_kernel_compiles_and_calls_kernels() -> None:
    values = np.arange(10, dtype=I64)
    out = np.zeros(1, I64)
    _twice_total(values, out)
    assert out[0] == 90
    assert isinstance(_twice_total, Kernel)
    assert jit.enabled()
    assert type(_twice_total.compiled()).__module__.startswith("numba")
    out[0] = 0
    plain(_twice_total)(values, out)  # the plain form calls the (compiled) kernel it names
    assert out[0] == 90


def test_jit_off_runs_plain_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANZHA_JIT", "0")
    assert not jit.enabled()
    k = Kernel(plain(_total))
    assert k.compiled() is plain(_total)
    assert k(np.array([1, 2, 3], I64)) == 6


def _doubled_compiled() -> Any:
    import numba

    @numba.njit
    def doubled(x: int) -> int:
        return 2 * x

    return doubled


@native(_doubled_compiled)
def _doubled(x: int) -> int:
    """Twice ``x``."""
    return x + x


@kernel
def _doubled_total(values: np.ndarray) -> int:
    """Twice the sum, a value at a time (through the native step)."""
    out = 0
    for v in values:
        out += _doubled(v)
    return out


def test_native_is_the_numba_function_compiled_and_its_plain_form_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert isinstance(_doubled, Native)
    assert type(_doubled.compiled()).__module__.startswith("numba")
    assert _doubled_total(np.arange(4, dtype=I64)) == 12  # a kernel calls it compiled
    assert plain(_doubled)(5) == _doubled(5) == 10
    monkeypatch.setenv("FANZHA_JIT", "0")
    off = Native(plain(_doubled), _doubled_compiled)
    assert off.compiled() is plain(_doubled)


def test_plain_of_a_function_is_itself() -> None:
    def f() -> int:
        return 1

    assert plain(f) is f


_FREE = kernels._FREE


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 40), max_size=60),
    st.lists(st.integers(-5, 5), max_size=60),
    st.integers(4, 7),
)
def test_hash_loops_compiled_equal_plain(keys: list[int], at: list[int], bits: int) -> None:
    """The IntMap probe and insert loops, compiled and plain, on the same tables."""
    n = min(len(keys), len(at), (1 << bits) // 2)
    k = np.array(keys[:n], I64) * 1_000_003
    t = np.array(at[:n], I64)
    mask = (1 << bits) - 1
    home = (k * 7) & mask
    runs = []
    for form in (kernels._first_seen, plain(kernels._first_seen)):
        table, values = np.full(1 << bits, _FREE, I64), np.zeros(1 << bits, I64)
        out, added = np.zeros(n, I64), np.zeros(n, np.bool_)
        added_n = form(table, values, home, k, t, mask, out, added)
        pos, got = np.zeros(n, I64), np.zeros(n, I64)
        plain(kernels._lookup)(table, values, home, k, mask, -9, pos, got)
        slots = np.zeros(n, I64)
        kernels._probe(table, home, k, mask, slots)
        runs.append((added_n, out.tolist(), added.tolist(), table.tolist(), got.tolist()))
        assert (slots == pos).all()
        assert (got == out).all()  # every key is in now, holding its first row's time
    assert runs[0] == runs[1]
    first: dict[int, int] = {}
    for key, time in zip(k.tolist(), t.tolist(), strict=True):
        first.setdefault(key, time)
    assert runs[0][1] == [first[key] for key in k.tolist()]
    assert runs[0][0] == len(first)


def test_preload_imports_numba_only_when_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    jit.preload()
    assert "numba" in sys.modules
    monkeypatch.setenv("FANZHA_JIT", "off")
    monkeypatch.delitem(sys.modules, "numba")
    jit.preload()
    assert "numba" not in sys.modules
