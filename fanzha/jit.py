"""Compiled loops: the few kernels whose work is one pass of data-dependent steps (a hash-table
probe, a walk of a sorted run), which NumPy can only do in many whole-array rounds.

A function marked :func:`kernel` is plain Python over NumPy arrays and scalars. Numba compiles
it on its first call (Numba itself is imported then, not before: it takes a second, and most
commands never run a kernel) and keeps the machine code in ``__pycache__`` for the next
process. ``FANZHA_JIT=0`` runs the plain Python instead — the same answers, slowly; the tests
compare the two. A kernel may call another kernel: when it is compiled, the kernels it names
are compiled first and it sees their compiled forms. A step that Python has no word for but
the machine has an instruction for (a word's trailing zeros) is marked :func:`native`: its
plain form is Python, its compiled form a Numba function that uses the instruction.

Kernels take and return NumPy arrays and plain numbers only; they never allocate large
arrays (the caller passes the outputs), so memory stays under the process's
:mod:`fanzha.memory` policy.
"""

from __future__ import annotations

import functools
import os
import types
from collections.abc import Callable
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])


def enabled() -> bool:
    """Whether kernels run compiled (``FANZHA_JIT=0``: as plain Python)."""
    return os.environ.get("FANZHA_JIT", "1").strip().lower() not in {"0", "false", "no", "off"}


def preload() -> None:
    """Import Numba and ready its compiler now (about two seconds: the import, then the
    first kernel a process loads sets up LLVM's code generator), so that a kernel's first call
    later costs only its own loading (milliseconds): for long-lived processes at start-up and
    for measurements that should time the work, not the library. Nothing when compiling is
    off."""
    if enabled():
        _identity(0)


class Kernel:
    """A plain-Python loop and, once called, its compiled form."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.py = fn
        self._compiled: Callable[..., Any] | None = None
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any) -> Any:
        return (self._compiled or self.compiled())(*args)

    def compile(self) -> Callable[..., Any]:
        """The compiled form (the plain function when compiling is off)."""
        if not enabled():
            return self.py
        import numba  # a second to import: only once a kernel runs

        fn = self.py
        names = fn.__code__.co_names
        used = {n: fn.__globals__[n] for n in names if isinstance(fn.__globals__.get(n), Kernel)}
        if used:  # the kernels it calls, compiled: Numba cannot call a Python object
            scope = dict(fn.__globals__)
            scope.update({n: k.compiled() for n, k in used.items()})
            fn = types.FunctionType(fn.__code__, scope, fn.__name__, fn.__defaults__)
            fn.__qualname__ = self.py.__qualname__
            fn.__module__ = self.py.__module__
        return cast(Callable[..., Any], numba.njit(cache=True, nogil=True)(fn))

    def compiled(self) -> Callable[..., Any]:
        """The compiled form, made now if not yet."""
        if self._compiled is None:
            self._compiled = self.compile()
        return self._compiled


def kernel(fn: F) -> F:
    """Mark ``fn`` as a loop to compile on its first call."""
    return cast(F, Kernel(fn))


class Native(Kernel):
    """A step that Python has no word for but the machine has an instruction for (counting a
    word's trailing zeros): compiled, the Numba function ``make()`` returns; plain, ``fn``."""

    def __init__(self, fn: Callable[..., Any], make: Callable[[], Callable[..., Any]]) -> None:
        super().__init__(fn)
        self._make = make

    def compile(self) -> Callable[..., Any]:
        """The Numba function (the plain one when compiling is off)."""
        return self._make() if enabled() else self.py


def native(make: Callable[[], Callable[..., Any]]) -> Callable[[F], F]:
    """Mark ``fn`` as the plain form of the Numba function ``make()`` returns (called once,
    at the first use: it may import Numba); kernels that call ``fn`` call that compiled."""

    def mark(fn: F) -> F:
        return cast(F, Native(fn, make))

    return mark


@kernel
def _identity(value: int) -> int:
    """The value (the smallest kernel: loading it readies the compiler)."""
    return value


def plain(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The plain-Python form of a kernel (for tests that compare the two)."""
    return fn.py if isinstance(fn, Kernel) else fn


__all__ = ["Kernel", "Native", "enabled", "kernel", "native", "plain", "preload"]
