"""What the engine asks of intelligence: vectorised verdicts per kind of value.

``IntelView`` layers the indicators added while the engine runs (from reports, from rules that
find fraud infrastructure) over the base snapshot loaded at start. Both are immutable
:class:`~fanzha.intel.index.IntelIndex` snapshots; a change builds a new overlay and swaps it in
at a micro-batch boundary, so every batch sees one consistent view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pyarrow as pa

from fanzha.detect.kernels import I64
from fanzha.intel.index import IntelIndex, Matches
from fanzha.intel.model import Indicator

Lookup = tuple[I64, I64]  # (verdict rank or -1, indicator number or -1)


class IntelView:
    """Base indicators plus an overlay of the ones learnt during the run."""

    def __init__(self, base: IntelIndex | None = None) -> None:
        self.base = base if base is not None else IntelIndex.build([])
        self.learnt: dict[tuple[str, str], Indicator] = {}
        self.overlay = IntelIndex.build([])
        self._dirty = False

    def indicator(self, number: int) -> Indicator:
        """The indicator behind a lookup's number (overlay numbers are offset past the base)."""
        size = len(self.base.indicators)
        if number < size:
            return self.base.indicator(number)
        return self.overlay.indicator(number - size)

    def learn(self, indicators: Iterable[Indicator]) -> list[Indicator]:
        """Add or upgrade indicators; returns those that are new or more severe than before."""
        changed = []
        for ind in indicators:
            old = self.learnt.get(ind.key)
            if old is None or ind.verdict.rank > old.verdict.rank:
                self.learnt[ind.key] = ind
                changed.append(ind)
        self._dirty = self._dirty or bool(changed)
        return changed

    def refresh(self) -> None:
        """Swap in the overlay with everything learnt so far (call at batch boundaries)."""
        if self._dirty:
            self.overlay = IntelIndex.build(list(self.learnt.values()))
            self._dirty = False

    def _both(
        self, pick: Callable[[IntelIndex], Callable[[pa.Array], Matches]], values: pa.Array
    ) -> Lookup:
        a = _pair(pick(self.base)(values))
        if not self.learnt:
            return a
        return self.combine(a, self._offset(pick(self.overlay)(values)))

    def lookup_base(self, kind: str, values: pa.Array) -> Lookup:
        """Verdicts of ``values`` in the base snapshot alone (``kind``: ``phones``, ``hosts``,
        ``urls``, ``accounts`` or ``apps``); they never change for a given base."""
        return _pair(getattr(self.base, kind)(values))

    def lookup_overlay(self, kind: str, values: pa.Array) -> Lookup:
        """Verdicts of ``values`` among the learnt indicators alone (numbers past the base)."""
        return self._offset(getattr(self.overlay, kind)(values))

    def _offset(self, m: Matches) -> Lookup:
        ib = np.asarray(m.indicator, np.int64)
        past = np.where(ib >= 0, ib + len(self.base.indicators), -1)
        return np.asarray(m.verdict, np.int64), past

    @staticmethod
    def combine(base: Lookup, overlay: Lookup) -> Lookup:
        """One verdict from the base's and the overlay's: allow (0) wins wherever either says
        allow; otherwise the more severe verdict (the base's on a tie)."""
        va, ia = base
        vb, ib = overlay
        allow = (va == 0) | (vb == 0)
        use_b = (vb > va) & ~(allow & (va == 0))
        verdict = np.where(allow, 0, np.maximum(va, vb))
        idx = np.where(use_b, ib, ia)
        idx = np.where(allow & (vb == 0) & (va != 0), ib, idx)
        return verdict.astype(np.int64), idx.astype(np.int64)

    def phones(self, values: pa.Array) -> Lookup:
        """Verdicts of phone numbers."""
        return self._both(lambda i: i.phones, values)

    def hosts(self, values: pa.Array) -> Lookup:
        """Verdicts of host names (domain walk)."""
        return self._both(lambda i: i.hosts, values)

    def urls(self, values: pa.Array) -> Lookup:
        """Verdicts of URLs (exact URL, then the host walk)."""
        return self._both(lambda i: i.urls, values)

    def accounts(self, values: pa.Array) -> Lookup:
        """Verdicts of bank accounts."""
        return self._both(lambda i: i.accounts, values)

    def apps(self, values: pa.Array) -> Lookup:
        """Verdicts of app package ids."""
        return self._both(lambda i: i.apps, values)


def _pair(m: Matches) -> Lookup:
    return np.asarray(m.verdict, np.int64), np.asarray(m.indicator, np.int64)
