"""What the engine asks of intelligence: vectorised verdicts per kind of value, and the record
of indicators it learnt while running.

The verdicts come from the base snapshot loaded at start (an immutable
:class:`~fanzha.intel.index.IntelIndex`: a reload sets a new one). Indicators learnt during the run
(from police reports, from rules that find fraud infrastructure) are kept in :attr:`learnt`
and act through retro-correlation signals only (``fanzha.detect.engine``), never through the
frame's verdicts: that is what keeps the warnings independent of where batches start and end.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from fanzha.detect.kernels import I64
from fanzha.intel.index import IntelIndex, Matches
from fanzha.intel.model import Indicator

Lookup = tuple[I64, I64]  # (verdict rank or -1, indicator number or -1)


class IntelView:
    """The base indicators, and the ones learnt during the run."""

    def __init__(self, base: IntelIndex | None = None) -> None:
        self.base = base if base is not None else IntelIndex.build([])
        self.learnt: dict[tuple[str, str], Indicator] = {}

    def indicator(self, number: int) -> Indicator:
        """The indicator behind a lookup's number."""
        return self.base.indicator(number)

    def learn(self, indicators: Iterable[Indicator]) -> list[Indicator]:
        """Add or upgrade indicators; returns those that are new or more severe than before."""
        changed = []
        for ind in indicators:
            old = self.learnt.get(ind.key)
            if old is None or ind.verdict.rank > old.verdict.rank:
                self.learnt[ind.key] = ind
                changed.append(ind)
        return changed

    def raised_since(self, old: IntelIndex, kind: str, values: pa.Array) -> tuple[I64, I64]:
        """Positions of ``values`` this view blocks more severely than ``old`` did (a new or
        upgraded block entry, no allow entry), and the indicator that blocks each."""
        was = np.asarray(getattr(old, kind)(values).verdict, np.int64)
        now, number = self.lookup(kind, values)
        up = np.flatnonzero((now > 0) & (now > np.maximum(was, 0)))
        return up, number[up]

    def lookup(self, kind: str, values: pa.Array) -> Lookup:
        """Verdicts of ``values`` (``kind``: ``phones``, ``hosts``, ``urls``, ``accounts`` or
        ``apps``); they never change for a given base."""
        m: Matches = getattr(self.base, kind)(values)
        return np.asarray(m.verdict, np.int64), np.asarray(m.indicator, np.int64)

    def phones(self, values: pa.Array) -> Lookup:
        """Verdicts of phone numbers."""
        return self.lookup("phones", values)

    def hosts(self, values: pa.Array) -> Lookup:
        """Verdicts of host names (domain walk)."""
        return self.lookup("hosts", values)

    def urls(self, values: pa.Array) -> Lookup:
        """Verdicts of URLs (exact URL, then the host walk)."""
        return self.lookup("urls", values)

    def accounts(self, values: pa.Array) -> Lookup:
        """Verdicts of bank accounts."""
        return self.lookup("accounts", values)

    def apps(self, values: pa.Array) -> Lookup:
        """Verdicts of app package ids."""
        return self.lookup("apps", values)
