"""Where indicators are kept: the :class:`IndicatorRepo` Protocol, the merging rules, and an
in-memory implementation for tests (the SQL one is :mod:`fanzha.store.intel`).

Merging (the same ``(kind, value)`` told again)
-----------------------------------------------

* **Verdict**: a feed can only raise it (allow 0 < suspicious 1 < fraud 2); telling a lower
  verdict is *refused* (counted, nothing about the verdict changes). A person (an actor named
  ``manual`` or ``manual:<who>``) decides: their verdict replaces the stored one, down to
  ``allow`` included. An ``allow`` set by a person is kept against every feed (allow-list
  entries win); an ``allow`` that came from a feed is raised by a later block entry like any
  other verdict.
* **Confidence**: the maximum (unless the new verdict was refused; then it is kept).
* **first_seen** the earliest, **last_seen** the latest; **expires** the later (no expiry is
  later than any date), except from a refused entry.
* **source** follows the verdict: it changes when the verdict changes; **note**: a new,
  different note replaces the old one.

Every change writes one audit row (:class:`Change`) with the fields before and after; an entry
that changes nothing writes none. ``changed_since(seq)`` gives the indicators touched by audit
rows after ``seq``: the detection engine reloads incrementally with it.
"""

from __future__ import annotations

import builtins
import datetime as dt
import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from fanzha.intel.model import Indicator, IndicatorKind, Verdict
from fanzha.model.clock import Clock, SystemClock

MUTABLE_FIELDS = ("verdict", "confidence", "source", "first_seen", "last_seen", "expires", "note")


class Action(enum.StrEnum):
    """What one audit row records."""

    ADDED = "added"
    UPGRADED = "upgraded"  # the verdict went up
    DOWNGRADED = "downgraded"  # a person lowered the verdict (not to allow)
    ALLOW = "allow"  # a person allowed it
    CONFIDENCE = "confidence"  # only the confidence changed (with seen times perhaps)
    NOTE = "note"  # the note changed
    SEEN = "seen"  # first / last seen, expiry or source widened
    EXPIRED = "expired"  # retired on purpose (``expire``)


ACTIONS = tuple(a.value for a in Action)


MAX_VALUE = 2048
MAX_SOURCE = 256
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def check_storable(indicator: Indicator) -> None:
    """Refuse (ValueError) what no store keeps faithfully: NUL, lone surrogates, control
    characters in the value, a value over 2048 or a source over 256 characters."""
    if len(indicator.value) > MAX_VALUE:
        raise ValueError(f"indicator value is {len(indicator.value)} characters; at most 2048")
    if len(indicator.source) > MAX_SOURCE:
        raise ValueError(f"indicator source is {len(indicator.source)} characters; at most 256")
    if _CONTROL.search(indicator.value) or _UNSTORABLE.search(indicator.value):
        raise ValueError(f"indicator value {indicator.value[:40]!r} has control characters")
    for name in ("source", "note"):
        text = getattr(indicator, name) or ""
        if _UNSTORABLE.search(text):
            raise ValueError(f"indicator {name} has a NUL or a lone surrogate")


def is_prefix(indicator: Indicator) -> bool:
    """Whether a phone indicator is a number prefix (``+86170*``) rather than a number."""
    return indicator.kind is IndicatorKind.PHONE and indicator.value.strip().endswith("*")


def is_manual(actor: str) -> bool:
    """Whether an actor is a person (``manual`` or ``manual:<who>``) rather than a feed."""
    return actor == "manual" or actor.startswith("manual:")


@dataclass(frozen=True, slots=True)
class Change:
    """One audit row: who changed which indicator, how, and from what to what."""

    seq: int
    kind: IndicatorKind
    value: str
    at: dt.datetime
    actor: str
    action: Action
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    reason: str


@dataclass
class UpsertReport:
    """What ``upsert_many`` did with each entry it was given (the counts add up to them)."""

    added: int = 0
    upgraded: int = 0  # an existing indicator changed (verdict, confidence, dates, note)
    unchanged: int = 0
    refused: int = 0  # a lower verdict from a feed, or a feed against a person's allow

    @property
    def total(self) -> int:
        """Entries seen."""
        return self.added + self.upgraded + self.unchanged + self.refused

    def add(self, other: UpsertReport) -> None:
        """Add another report's counts to this one."""
        self.added += other.added
        self.upgraded += other.upgraded
        self.unchanged += other.unchanged
        self.refused += other.refused

    def as_dict(self) -> dict[str, int]:
        """The counts as a dict."""
        return {
            "added": self.added,
            "upgraded": self.upgraded,
            "unchanged": self.unchanged,
            "refused": self.refused,
        }


class IndicatorRepo(Protocol):
    """Indicators and their audit trail."""

    def upsert_many(
        self, indicators: Sequence[Indicator], *, actor: str, reason: str
    ) -> UpsertReport:
        """Add or merge indicators (rules in the module doc), one audit row per change."""
        ...

    def all(
        self, kind: IndicatorKind | None = None, *, active_at: dt.datetime | None = None
    ) -> list[Indicator]:
        """Every indicator (of one kind), by kind and value; only those in force at
        ``active_at`` when given."""
        ...

    def get(self, kind: IndicatorKind, value: str) -> Indicator | None:
        """One indicator by its normalised value."""
        ...

    def get_many(
        self, keys: Iterable[tuple[IndicatorKind, str]], *, active_at: dt.datetime | None = None
    ) -> list[Indicator]:
        """The indicators stored under these (kind, normalised value) keys, by kind and value
        (keys not stored are left out); only those in force at ``active_at`` when given."""
        ...

    def phone_prefixes(self, *, active_at: dt.datetime | None = None) -> list[Indicator]:
        """Every phone indicator that is a number prefix (its value ends with ``*``, as
        :meth:`fanzha.intel.index.IntelIndex.build` reads it), by value; only those in force
        at ``active_at`` when given."""
        ...

    def history(self, kind: IndicatorKind, value: str) -> list[Change]:
        """Its audit rows, oldest first."""
        ...

    def changed_since(self, seq: int) -> tuple[list[Indicator], int]:
        """Indicators with an audit row after ``seq``, and the latest row's seq (``seq`` when
        there is none)."""
        ...

    def changes_since(self, seq: int) -> list[Change]:
        """The audit rows after ``seq``, oldest first."""
        ...

    def expire(
        self, kind: IndicatorKind, value: str, *, at: dt.datetime, actor: str, reason: str
    ) -> bool:
        """Make an indicator expire at ``at`` (if it would not already); whether it changed."""
        ...

    def adjust_confidence(
        self, kind: IndicatorKind, value: str, delta: float, *, actor: str, reason: str
    ) -> Indicator | None:
        """Move an indicator's confidence by ``delta`` (kept within 0–1; an officer's
        feedback on a warning it caused); the indicator after, None when not stored."""
        ...


# --------------------------------------------------------------------------- merging


@dataclass(frozen=True, slots=True)
class Merged:
    """The result of telling ``new`` about an indicator stored as ``old``."""

    indicator: Indicator
    action: Action | None  # None: nothing changed
    refused: bool
    old: dict[str, Any] | None
    new: dict[str, Any] | None


def snapshot(indicator: Indicator, names: Iterable[str] | None = None) -> dict[str, Any]:
    """The named fields (default: every mutable one) as JSON values (times in ISO 8601)."""
    if names is None:
        ind = indicator
        return {
            "verdict": ind.verdict.value,
            "confidence": ind.confidence,
            "source": ind.source,
            "first_seen": None if ind.first_seen is None else ind.first_seen.isoformat(),
            "last_seen": None if ind.last_seen is None else ind.last_seen.isoformat(),
            "expires": None if ind.expires is None else ind.expires.isoformat(),
            "note": ind.note,
        }
    out: dict[str, Any] = {}
    for name in names:
        item = getattr(indicator, name)
        if isinstance(item, dt.datetime):
            item = item.isoformat()
        elif isinstance(item, Verdict):
            item = item.value
        out[name] = item
    return out


def rewind(indicators: Iterable[Indicator], changes: Sequence[Change]) -> list[Indicator]:
    """The indicators as they were before ``changes`` (audit rows, oldest first): every
    changed field back to its old value, one added by them left out."""
    by_key = {(i.kind, i.value): i for i in indicators}
    for change in reversed(changes):
        key = (change.kind, change.value)
        if change.old is None:  # added by this row
            by_key.pop(key, None)
            continue
        current = by_key.get(key)
        if current is not None:
            # the snapshot's fields (ISO times, verdict names) validated back over the rest
            by_key[key] = Indicator.model_validate(current.model_dump() | change.old)
    return list(by_key.values())


def _earliest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _later_expiry(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return None if a is None or b is None else max(a, b)


def merge(old: Indicator | None, new: Indicator, *, manual: bool, sticky: bool) -> Merged:
    """Merge ``new`` into the stored ``old`` (None: not stored yet).

    ``manual``: the actor is a person. ``sticky``: ``old`` is an allow set by a person.
    """
    if old is None:
        return Merged(new, Action.ADDED, False, None, snapshot(new))
    if manual:
        verdict, refused = new.verdict, False
    elif old.verdict is Verdict.ALLOW and sticky:
        verdict, refused = old.verdict, new.verdict is not Verdict.ALLOW
    elif new.verdict.rank < old.verdict.rank:
        verdict, refused = old.verdict, True
    else:
        verdict, refused = new.verdict, False
    changes: dict[str, Any] = {
        "first_seen": _earliest(old.first_seen, new.first_seen),
        "last_seen": _latest(old.last_seen, new.last_seen),
    }
    if not refused:
        changes["verdict"] = verdict
        changes["confidence"] = max(old.confidence, new.confidence)
        changes["expires"] = _later_expiry(old.expires, new.expires)
        if verdict is not old.verdict:
            changes["source"] = new.source
        if new.note and new.note != old.note:
            changes["note"] = new.note
    diff = [n for n in MUTABLE_FIELDS if n in changes and changes[n] != getattr(old, n)]
    if manual and verdict is Verdict.ALLOW and not sticky and "verdict" not in diff:
        # A person confirms an allow that came from a feed: it becomes theirs (sticky), and
        # the audit row says so.
        diff.insert(0, "verdict")
    if not diff:
        return Merged(old, None, refused, None, None)
    merged = old.model_copy(update={name: changes[name] for name in diff})
    action = Action.ALLOW if manual and verdict is Verdict.ALLOW else _action(old, merged, diff)
    return Merged(merged, action, refused, snapshot(old, diff), snapshot(merged, diff))


def _action(old: Indicator, new: Indicator, diff: Sequence[str]) -> Action:
    if "verdict" in diff:
        if new.verdict is Verdict.ALLOW:
            return Action.ALLOW
        return Action.UPGRADED if new.verdict.rank > old.verdict.rank else Action.DOWNGRADED
    if "confidence" in diff:
        return Action.CONFIDENCE
    if "note" in diff:
        return Action.NOTE
    return Action.SEEN


@dataclass
class Pending:
    """A change worked out in memory, to be written as an audit row."""

    kind: IndicatorKind
    value: str
    action: Action
    old: dict[str, Any] | None
    new: dict[str, Any] | None


@dataclass
class Fold:
    """Entries merged one after another into a working state of stored indicators."""

    state: dict[tuple[str, str], Indicator]
    sticky: set[tuple[str, str]]
    report: UpsertReport = field(default_factory=UpsertReport)
    changes: list[Pending] = field(default_factory=list)
    touched: set[tuple[str, str]] = field(default_factory=set)

    def apply(self, entries: Iterable[Indicator], *, manual: bool) -> None:
        """Merge each entry into the state, counting and recording what changed."""
        for entry in entries:
            key = entry.key
            result = merge(self.state.get(key), entry, manual=manual, sticky=key in self.sticky)
            if result.action is Action.ADDED:
                self.report.added += 1
            elif result.refused:
                self.report.refused += 1
            elif result.action is None:
                self.report.unchanged += 1
            else:
                self.report.upgraded += 1
            if result.action is None:
                continue
            self.state[key] = result.indicator
            self.touched.add(key)
            if manual and result.indicator.verdict is Verdict.ALLOW:
                self.sticky.add(key)
            elif result.indicator.verdict is not Verdict.ALLOW:
                self.sticky.discard(key)
            self.changes.append(
                Pending(entry.kind, entry.value, result.action, result.old, result.new)
            )


def expired(old: Indicator, at: dt.datetime) -> Merged:
    """``old`` made to expire at ``at`` (unchanged when it already expires by then)."""
    if old.expires is not None and old.expires <= at:
        return Merged(old, None, False, None, None)
    new = old.model_copy(update={"expires": at})
    before, after = snapshot(old, ["expires"]), snapshot(new, ["expires"])
    return Merged(new, Action.EXPIRED, False, before, after)


def adjusted(old: Indicator, delta: float) -> Merged:
    """``old`` with its confidence moved by ``delta`` within 0–1 (unchanged at a bound)."""
    confidence = round(min(1.0, max(0.0, old.confidence + delta)), 6)
    if confidence == old.confidence:
        return Merged(old, None, False, None, None)
    new = old.model_copy(update={"confidence": confidence})
    before, after = snapshot(old, ["confidence"]), snapshot(new, ["confidence"])
    return Merged(new, Action.CONFIDENCE, False, before, after)


# --------------------------------------------------------------------------- in memory


class MemoryIndicatorRepo:
    """Indicators in a dict, audit rows in a list: the contract, for tests."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._items: dict[tuple[str, str], Indicator] = {}
        self._changes: list[Change] = []
        self._sticky: set[tuple[str, str]] = set()

    def upsert_many(
        self, indicators: Sequence[Indicator], *, actor: str, reason: str
    ) -> UpsertReport:
        """Add or merge indicators (see the module doc)."""
        for indicator in indicators:
            check_storable(indicator)
        fold = Fold(self._items, self._sticky)
        fold.apply(indicators, manual=is_manual(actor))
        self._record(fold.changes, actor, reason)
        return fold.report

    def _record(self, pending: Iterable[Pending], actor: str, reason: str) -> None:
        at = self._clock.now()
        for p in pending:
            seq = len(self._changes) + 1
            self._changes.append(
                Change(seq, p.kind, p.value, at, actor, p.action, p.old, p.new, reason)
            )

    def all(
        self, kind: IndicatorKind | None = None, *, active_at: dt.datetime | None = None
    ) -> builtins.list[Indicator]:
        """Every indicator (of one kind), by kind and value."""
        return [
            ind
            for _key, ind in sorted(self._items.items())
            if (kind is None or ind.kind is kind) and (active_at is None or ind.active(active_at))
        ]

    def get(self, kind: IndicatorKind, value: str) -> Indicator | None:
        """One indicator."""
        return self._items.get((kind.value, value))

    def get_many(
        self, keys: Iterable[tuple[IndicatorKind, str]], *, active_at: dt.datetime | None = None
    ) -> builtins.list[Indicator]:
        """The indicators stored under these keys, by kind and value."""
        wanted = sorted({(kind.value, value) for kind, value in keys})
        found = (self._items.get(key) for key in wanted)
        return [i for i in found if i is not None and (active_at is None or i.active(active_at))]

    def phone_prefixes(self, *, active_at: dt.datetime | None = None) -> builtins.list[Indicator]:
        """Every phone number prefix (``+86170*``), by value."""
        return [i for i in self.all(IndicatorKind.PHONE, active_at=active_at) if is_prefix(i)]

    def history(self, kind: IndicatorKind, value: str) -> builtins.list[Change]:
        """Its audit rows, oldest first."""
        return [c for c in self._changes if c.kind is kind and c.value == value]

    def changed_since(self, seq: int) -> tuple[builtins.list[Indicator], int]:
        """Indicators touched after ``seq`` and the latest seq."""
        later = [c for c in self._changes if c.seq > seq]
        keys = sorted({(c.kind.value, c.value) for c in later})
        return [self._items[k] for k in keys], max((c.seq for c in later), default=seq)

    def changes_since(self, seq: int) -> builtins.list[Change]:
        """The audit rows after ``seq``, oldest first."""
        return [c for c in self._changes if c.seq > seq]

    def expire(
        self, kind: IndicatorKind, value: str, *, at: dt.datetime, actor: str, reason: str
    ) -> bool:
        """Make an indicator expire at ``at``."""
        old = self.get(kind, value)
        if old is None:
            return False
        result = expired(old, at)
        if result.action is None:
            return False
        self._items[old.key] = result.indicator
        self._record([Pending(kind, value, Action.EXPIRED, result.old, result.new)], actor, reason)
        return True

    def adjust_confidence(
        self, kind: IndicatorKind, value: str, delta: float, *, actor: str, reason: str
    ) -> Indicator | None:
        """Move the confidence by ``delta`` within 0–1."""
        old = self.get(kind, value)
        if old is None:
            return None
        result = adjusted(old, delta)
        if result.action is not None:
            self._items[old.key] = result.indicator
            pending = Pending(kind, value, Action.CONFIDENCE, result.old, result.new)
            self._record([pending], actor, reason)
        return result.indicator
