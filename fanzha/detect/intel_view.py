"""What the engine asks of intelligence: vectorised verdicts per kind of value.

``IntelView`` layers the indicators added while the engine runs (from reports, from rules that
find fraud infrastructure) over the base snapshot loaded at start. Both are immutable
:class:`~fanzha.intel.index.IntelIndex` snapshots; a change builds a new overlay and swaps it in
at a micro-batch boundary, so every batch sees one consistent view.

The overlay is one index per group of kinds that lookups read together (numbers; accounts;
URLs and domains, for the host walk; apps; devices): a batch that learns a number rebuilds the
numbers' index alone, and a lookup of a kind nothing was learnt for reads no overlay at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import numpy as np
import pyarrow as pa

from fanzha.detect.kernels import I64
from fanzha.intel.index import IntelIndex, Matches
from fanzha.intel.model import Indicator, IndicatorKind

Lookup = tuple[I64, I64]  # (verdict rank or -1, indicator number or -1)

#: Overlay groups: the kinds each lookup reads (lookups of one group never read another's).
GROUPS: Final = (
    (IndicatorKind.PHONE,),
    (IndicatorKind.ACCOUNT,),
    (IndicatorKind.URL, IndicatorKind.DOMAIN),
    (IndicatorKind.APP,),
    (IndicatorKind.DEVICE,),
)
_GROUP_OF_KIND: Final = {kind: g for g, kinds in enumerate(GROUPS) for kind in kinds}
#: The overlay group each lookup reads.
_GROUP_OF_LOOKUP: Final = {"phones": 0, "accounts": 1, "urls": 2, "hosts": 2, "apps": 3}
#: Overlay indicator numbers: past the base, ``STRIDE`` apart per group (stable while a group
#: is rebuilt: its indicators keep their order).
STRIDE: Final = 1 << 40


class IntelView:
    """Base indicators plus an overlay of the ones learnt during the run."""

    def __init__(self, base: IntelIndex | None = None) -> None:
        self.base = base if base is not None else IntelIndex.build([])
        self.learnt: dict[tuple[str, str], Indicator] = {}
        self._overlays: list[IntelIndex | None] = [None] * len(GROUPS)
        self._changed: set[int] = set()  # groups learnt into since the last refresh
        self._versions = [0] * len(GROUPS)  # bumped on every rebuild of a group's overlay

    def indicator(self, number: int) -> Indicator:
        """The indicator behind a lookup's number (overlay numbers are offset past the base)."""
        size = len(self.base.indicators)
        if number < size:
            return self.base.indicator(number)
        group, i = divmod(number - size, STRIDE)
        overlay = self._overlays[group]
        if overlay is None:
            raise IndexError(f"no learnt indicator {number}")
        return overlay.indicator(i)

    def learn(self, indicators: Iterable[Indicator]) -> list[Indicator]:
        """Add or upgrade indicators; returns those that are new or more severe than before."""
        changed = []
        for ind in indicators:
            old = self.learnt.get(ind.key)
            if old is None or ind.verdict.rank > old.verdict.rank:
                self.learnt[ind.key] = ind
                changed.append(ind)
                self._changed.add(_GROUP_OF_KIND[ind.kind])
        return changed

    def refresh(self) -> None:
        """Swap in the overlay with everything learnt so far (call at batch boundaries): the
        index of each group something was learnt into is rebuilt."""
        if not self._changed:
            return
        for group in sorted(self._changed):
            kinds = GROUPS[group]
            mine = [i for i in self.learnt.values() if i.kind in kinds]
            self._overlays[group] = IntelIndex.build(mine)
            self._versions[group] += 1
        self._changed.clear()

    def lookup_base(self, kind: str, values: pa.Array) -> Lookup:
        """Verdicts of ``values`` in the base snapshot alone (``kind``: ``phones``, ``hosts``,
        ``urls``, ``accounts`` or ``apps``); they never change for a given base."""
        return _pair(getattr(self.base, kind)(values))

    def has_overlay(self, kind: str) -> bool:
        """Whether anything learnt can match a lookup of ``kind``."""
        return self._overlays[_GROUP_OF_LOOKUP[kind]] is not None

    def overlay_version(self, kind: str) -> int:
        """A number that changes whenever the overlay a lookup of ``kind`` reads changes."""
        return self._versions[_GROUP_OF_LOOKUP[kind]]

    def lookup_overlay(self, kind: str, values: pa.Array) -> Lookup:
        """Verdicts of ``values`` among the learnt indicators alone (numbers past the base)."""
        group = _GROUP_OF_LOOKUP[kind]
        overlay = self._overlays[group]
        if overlay is None:
            none = np.full(len(values), -1, np.int64)
            return none, none.copy()
        m: Matches = getattr(overlay, kind)(values)
        ib = np.asarray(m.indicator, np.int64)
        past = np.where(ib >= 0, ib + len(self.base.indicators) + group * STRIDE, -1)
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

    def lookup(self, kind: str, values: pa.Array) -> Lookup:
        """Verdicts of ``values``: the base's and the overlay's combined."""
        base = self.lookup_base(kind, values)
        if not self.has_overlay(kind):
            return base
        return self.combine(base, self.lookup_overlay(kind, values))

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


def _pair(m: Matches) -> Lookup:
    return np.asarray(m.verdict, np.int64), np.asarray(m.indicator, np.int64)
