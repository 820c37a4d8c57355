"""The indicators that could match a few values, and a small index over them.

Checking a handful of values (``fanzha intel check``) needs no index of the whole store:
only the indicators a value could match are fetched (:func:`candidate_keys`), and an
:class:`~fanzha.intel.index.IntelIndex` built over those gives the same answers as one over
everything, since the index answers from the keys a value looks up and nothing else:

- **hosts** (domains and the hosts of URLs): the host and every parent domain, down to the
  last label (fetching a public suffix too is harmless: the index refuses to hold one);
- **URLs**: the normalised URL, plus its host as above;
- **phones**: the number, plus every number prefix of the store (few: they are ranges, and
  stored as written, so they cannot be looked up by key);
- **accounts**, **apps**, **devices**: the normalised value.

Values are normalised the way :meth:`IntelIndex.check` normalises them, and stored
indicators are looked up by their stored value, which every writer normalises
(:func:`~fanzha.intel.model.normalise_value`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from fanzha.intel import hosts as hostlib
from fanzha.intel.index import IntelIndex
from fanzha.intel.model import Indicator, IndicatorKind, normalise_value
from fanzha.intel.repo import IndicatorRepo
from fanzha.model.values import InvalidValue

Key = tuple[IndicatorKind, str]


@dataclass
class Candidates:
    """What to fetch: indicators by key, and whether the number prefixes are needed."""

    keys: set[Key] = field(default_factory=set)
    phone_prefixes: bool = False


def candidate_keys(values: Iterable[tuple[IndicatorKind, str]]) -> Candidates:
    """The keys of every indicator that could match one of these (kind, raw value) pairs;
    invalid values need none."""
    by_kind: dict[IndicatorKind, list[str]] = {}
    for kind, raw in values:
        try:
            value = normalise_value(kind, raw)
        except InvalidValue:
            continue
        by_kind.setdefault(kind, []).append(value)
    out = Candidates()
    for kind, normalised in by_kind.items():
        if kind is IndicatorKind.DOMAIN:
            out.keys.update(_walk_keys(hostlib.normalise_hosts(normalised)))
        elif kind is IndicatorKind.URL:
            out.keys.update((kind, url) for url in normalised)
            out.keys.update(_walk_keys(hostlib.hosts_of_urls(normalised)))
        elif kind is IndicatorKind.APP:
            # what IntelIndex.apps looks up
            keys = pc.utf8_lower(pc.utf8_trim_whitespace(pa.array(normalised, pa.string())))
            out.keys.update((kind, str(key)) for key in keys.to_pylist())
        else:
            out.keys.update((kind, value) for value in normalised)
            out.phone_prefixes |= kind is IndicatorKind.PHONE
    return out


def _walk_keys(hosts: pa.Array) -> Iterable[Key]:
    """The host and each of its parent domains (each suffix after a dot) as domain keys.

    IP addresses are walked too (the index looks them up exactly; the parents are a few
    extra keys that match nothing the walk would not)."""
    for host in hosts.to_pylist():
        if not host:
            continue
        labels = host.split(".")
        for i in range(len(labels)):
            suffix = ".".join(labels[i:])
            if suffix:
                yield (IndicatorKind.DOMAIN, suffix)


def index_for(
    repo: IndicatorRepo,
    values: Sequence[tuple[IndicatorKind, str]],
    *,
    at: dt.datetime | None = None,
) -> IntelIndex:
    """An index over only the indicators in force at ``at`` (default: now) that could match
    these (kind, raw value) pairs: for them it answers as the index of the whole store."""
    moment = at or dt.datetime.now(dt.UTC)
    wanted = candidate_keys(values)
    found: dict[tuple[str, str], Indicator] = {}
    for ind in repo.get_many(wanted.keys, active_at=moment):
        found[ind.key] = ind
    if wanted.phone_prefixes:
        for ind in repo.phone_prefixes(active_at=moment):
            found[ind.key] = ind
    # In the store's order (by kind and value), as IntelIndex.build sees the whole store: of
    # two entries that normalise to one key it keeps the first of equal verdicts.
    return IntelIndex.build([found[key] for key in sorted(found)], at=moment)
