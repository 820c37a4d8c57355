"""Intel and rules for the pages: look an indicator up with its history, add or allow-list
one with a reason, and list the rules with their docstrings, versions and hit counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fanzha.auth import Principal
from fanzha.detect.rules import RULES
from fanzha.intel.model import Indicator, IndicatorKind, Verdict, normalise_value
from fanzha.intel.repo import Change
from fanzha.store.views import rule_hits

if TYPE_CHECKING:
    from fanzha.service import App

KINDS = [k.value for k in IndicatorKind]
VERDICTS = [v.value for v in Verdict]


@dataclass
class Lookup:
    """An indicator search: the normalised value, the indicator if flagged, its changes."""

    value: str = ""
    indicator: Indicator | None = None
    changes: list[Change] = field(default_factory=list)
    error: str = ""


def lookup(fz: App, kind: str, raw: str) -> Lookup | None:
    """The indicator ``raw`` of ``kind`` as stored (None when nothing was asked)."""
    if not raw.strip():
        return None
    try:
        k = IndicatorKind(kind)
        value = normalise_value(k, raw.strip())
    except ValueError as exc:
        return Lookup(error=str(exc))
    return Lookup(value, fz.intel.get(k, value), fz.intel.history(k, value))


def add(fz: App, principal: Principal, kind: str, raw: str, verdict: str, reason: str) -> str:
    """Add (fraud, suspicious) or allow-list an indicator; returns its normalised value.
    The reason goes into the indicator's own audit trail and the security audit chain."""
    if len(reason.strip()) < 2:
        raise ValueError("a reason is needed / 请填写理由")
    k = IndicatorKind(kind)
    value = normalise_value(k, raw.strip())
    made = Indicator(
        kind=k,
        value=value,
        verdict=Verdict(verdict),
        confidence=0.9,
        source=f"manual:{principal.name}",
    )
    fz.intel.upsert_many([made], actor=f"manual:{principal.name}", reason=reason.strip())
    fz.security.record(
        principal,
        "intel.upsert",
        object_type="indicator",
        object_id=f"{k.value}:{value}",
        reason=reason.strip(),
        details={"verdict": verdict},
    )
    return value


def rules(fz: App, lang: str) -> list[dict[str, Any]]:
    """Every rule with its docstring, version, weight and live / shadow hits."""
    hits = rule_hits(fz.store.sessions)
    en = lang.startswith("en")
    return [
        {
            "id": r.id,
            "key": r.key,
            "title": r.title_en if en else r.title_zh,
            "doc": r.doc,
            "version": r.version,
            "weight": r.weight,
            "floor": r.floor,
            "family": r.family,
            "live": hits.get(r.id, (0, 0))[0],
            "shadow": hits.get(r.id, (0, 0))[1],
        }
        for r in RULES
    ]
