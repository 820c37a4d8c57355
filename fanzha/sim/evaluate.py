"""Score the detector's warnings against a simulation's ground truth (``fanzha evaluate``).

Inputs: a warnings table (``fanzha.detect.schema.WARNINGS_SCHEMA``, one row per warning) and a
simulation folder ``DIR`` (``DIR/truth/*`` and ``DIR/manifest.json``). docs/evaluation.md
explains the figures for a reader; these are the exact definitions.

- **live / shadow**: warnings with ``shadow`` true come from shadow rules. The headline figures
  use live warnings only (``shadow`` false or null); the same figures on shadow warnings only
  are under ``shadow`` (null when there are none).
- **victims**: rows of truth ``victims`` with ``loss_fen > 0``. One person may appear as several
  ``victim_id`` (two scams): victims are counted by ``victim_id``; warnings are joined to them by
  ``id_number``.
- **targeted**: every ``id_number`` in truth ``victims``, whatever the outcome (contacted only,
  engaged, paid). Their ``phone`` values are the targeted phones.
- **first loss** of a victim: the earliest ``ts`` of its rows in truth ``payments``.
- **window** of a victim: from ``first_contact_ts − 1 day`` to the end of the simulation
  (manifest ``end``). A warning issued before the window (an old, unrelated one) never counts
  for that victim.
- **warned before first loss**: some live warning with the victim's ``id_number`` has
  ``first_contact_ts − 1 day ≤ first_at < first loss``. **Level ≥ 3 before first loss**: the
  same with ``level3_at`` in place of ``first_at``.
- **warned** / **warned_level3**: some live warning has ``first_at`` (``level3_at``) inside the
  window, before or after the first loss.
- **lead time** of a victim warned before first loss: first loss − the earliest ``first_at``
  that qualifies; ``median_lead_minutes`` is the median over those victims (null when none).
- **recall_before_loss** = warned_before_first_loss / victims (and the level ≥ 3 analogue);
  null when there are no victims.
- **subjects**: distinct ``subject`` values of live warnings; a subject's level is the highest
  ``level`` among its warnings. A warning is on a targeted person when its ``id_number`` is
  targeted or, when it has no ``id_number``, when its phone (``phone``, else the ``phone:``
  part of ``subject``) is a targeted phone. A subject is targeted when any of its warnings is.
- **precision_by_level[L]**: share of subjects of level L that are targeted (null when there
  is no subject of that level); **precision_level3plus**: the same over subjects of level ≥ 3.
- **false warnings**: live warnings whose subject is not targeted.
  ``false_per_10k_day`` = false warnings / (residents / 10,000) / days, with residents and days
  from the manifest's parameters; ``false_level3_per_10k_day`` counts only false warnings whose
  ``level`` ≥ 3.
- **by_type** (truth ``victims.fraud_type``): per type with at least one victim: victims,
  warned, warned_level3, warned_before_first_loss, warned_level3_before_first_loss,
  recall_before_loss, recall_level3_before_loss, median_lead_minutes, ``lost_fen`` (sum of
  the victims' ``loss_fen``) and ``lost_fen_after_warning``: the part of it paid strictly after
  the victim's earliest live warning in the window (the money a warning had the chance to save).

Everything is computed with Arrow joins and group-bys; tens of thousands of warnings and
victims take a fraction of a second.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fanzha.detect.schema import WARNINGS_SCHEMA
from fanzha.model.enums import FraudType
from fanzha.sim.truth import read_truth

DAY_US = 86_400 * 1_000_000
MINUTE_US = 60 * 1_000_000
LEVELS = (1, 2, 3, 4)
_NULL_STR = pa.scalar(None, pa.string())
_NULL_INT = pa.scalar(None, pa.int64())


class EvaluationError(ValueError):
    """The truth folder, its manifest or the warnings table cannot be scored."""


@dataclass
class LevelScore:
    """Subjects whose highest level is one level, and the warnings at that level."""

    subjects: int
    targeted_subjects: int
    precision: float | None
    warnings: int
    false_warnings: int


@dataclass
class TypeScore:
    """The recall figures for the victims of one fraud type."""

    victims: int
    warned: int
    warned_level3: int
    warned_before_first_loss: int
    warned_level3_before_first_loss: int
    recall_before_loss: float | None
    recall_level3_before_loss: float | None
    median_lead_minutes: float | None
    lost_fen: int
    lost_fen_after_warning: int


@dataclass
class Scorecard:
    """How well warnings anticipated the simulated victims (definitions: module docstring)."""

    victims: int
    warned: int
    warned_level3: int
    warned_before_first_loss: int
    warned_level3_before_first_loss: int
    recall_before_loss: float | None
    recall_level3_before_loss: float | None
    precision_by_level: dict[int, float | None]
    precision_level3plus: float | None
    false_warnings: int
    false_warnings_level3: int
    false_per_10k_day: float | None
    false_level3_per_10k_day: float | None
    median_lead_minutes: float | None
    warnings: int
    warned_subjects: int
    residents: int
    days: float
    by_type: dict[str, TypeScore] = field(default_factory=dict)
    levels: dict[int, LevelScore] = field(default_factory=dict)
    shadow: Scorecard | None = None

    def to_json(self) -> dict[str, Any]:
        """The scorecard as a JSON-ready dict (keys fixed; see docs/evaluation.md)."""
        return {
            "victims": self.victims,
            "warned": self.warned,
            "warned_level3": self.warned_level3,
            "warned_before_first_loss": self.warned_before_first_loss,
            "warned_level3_before_first_loss": self.warned_level3_before_first_loss,
            "recall_before_loss": self.recall_before_loss,
            "recall_level3_before_loss": self.recall_level3_before_loss,
            "precision_by_level": {str(k): v for k, v in self.precision_by_level.items()},
            "precision_level3plus": self.precision_level3plus,
            "false_per_10k_day": self.false_per_10k_day,
            "false_level3_per_10k_day": self.false_level3_per_10k_day,
            "median_lead_minutes": self.median_lead_minutes,
            "warnings": self.warnings,
            "warned_subjects": self.warned_subjects,
            "residents": self.residents,
            "days": self.days,
            "by_type": {k: asdict(v) for k, v in self.by_type.items()},
            "shadow": None if self.shadow is None else self.shadow.to_json(),
        }


@dataclass
class _Truth:
    """What the scorecard needs from a simulation folder, as arrays."""

    victims: pa.Table  # loss > 0: victim_id, id_number, fraud_type, loss_fen, contact_us, loss_us
    payments: pa.Table  # victim_id, ts_us, amount_fen
    targeted_ids: pa.Array
    targeted_phones: pa.Array
    residents: int
    days: float
    end_us: int


def evaluate(warnings: pa.Table, out_dir: Path) -> Scorecard:
    """Score ``warnings`` against the truth of the simulation folder ``out_dir``."""
    truth = load_truth(out_dir)
    table = conform_warnings(warnings)
    shadow = pc.fill_null(table["shadow"], False)
    card = _score(table.filter(pc.invert(shadow)), truth)
    shadow_rows = table.filter(shadow)
    if shadow_rows.num_rows:
        card.shadow = _score(shadow_rows, truth)
    return card


def conform_warnings(table: pa.Table) -> pa.Table:
    """The columns of ``WARNINGS_SCHEMA`` cast to its types; extra columns are dropped.

    Raises ``EvaluationError`` naming the missing columns, or a column whose type cannot be cast.
    """
    missing = [name for name in WARNINGS_SCHEMA.names if name not in table.column_names]
    if missing:
        raise EvaluationError(f"the warnings table has no column {', '.join(missing)}")
    columns = {}
    for fld in WARNINGS_SCHEMA:
        column = table[fld.name]
        try:
            columns[fld.name] = column if column.type == fld.type else column.cast(fld.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise EvaluationError(
                f"warnings column {fld.name} is {column.type}, expected {fld.type}: {exc}"
            ) from None
    return pa.table(columns)


def load_truth(out_dir: Path) -> _Truth:
    """Victims, first losses, payments, targeted people and the run's size from ``out_dir``."""
    if not (out_dir / "truth").is_dir():
        raise EvaluationError(f"no truth folder at {out_dir / 'truth'}")
    manifest_path = out_dir / "manifest.json"
    if not manifest_path.is_file():
        raise EvaluationError(f"no manifest.json in {out_dir}")
    try:
        manifest = json.loads(manifest_path.read_text("utf-8"))
        residents = int(manifest["parameters"]["residents"])
        days = float(manifest["parameters"]["days"])
        end = dt.datetime.fromisoformat(manifest["end"])
        if manifest["format"] not in ("parquet", "ndjson"):
            raise ValueError(f"unknown format {manifest['format']!r}")
    except (ValueError, KeyError, TypeError) as exc:
        raise EvaluationError(f"{manifest_path} is not a simulation manifest: {exc!r}") from None
    try:
        victims = read_truth(out_dir, "victims")
        payments = read_truth(out_dir, "payments")
    except (OSError, pa.ArrowInvalid) as exc:
        raise EvaluationError(f"cannot read the truth in {out_dir / 'truth'}: {exc}") from None
    pay = pa.table(
        {
            "victim_id": payments["victim_id"],
            "ts_us": payments["ts"].cast(pa.int64()),
            "amount_fen": payments["amount_fen"],
        }
    )
    first = pay.group_by("victim_id").aggregate([("ts_us", "min")])
    first = first.rename_columns(["victim_id", "loss_us"])
    lost = victims.filter(pc.greater(victims["loss_fen"], 0))
    lost = pa.table(
        {
            "victim_id": lost["victim_id"],
            "id_number": lost["id_number"],
            "fraud_type": pc.fill_null(lost["fraud_type"], FraudType.OTHER.value),
            "loss_fen": lost["loss_fen"],
            "contact_us": lost["first_contact_ts"].cast(pa.int64()),
        }
    ).join(first, "victim_id", join_type="left outer")
    return _Truth(
        victims=lost.sort_by("victim_id"),
        payments=pay,
        targeted_ids=_distinct(victims["id_number"]),
        targeted_phones=_distinct(victims["phone"]),
        residents=residents,
        days=days,
        end_us=int(end.timestamp()) * 1_000_000 + end.microsecond,
    )


def _score(warnings: pa.Table, truth: _Truth) -> Scorecard:
    recall = _recall(warnings, truth)
    subjects, false_rows, false3_rows, levels = _precision(warnings, truth)
    by_level = {lvl: levels[lvl].precision for lvl in LEVELS}
    per_10k_day = truth.residents / 10_000 * truth.days
    high = pc.fill_null(pc.greater_equal(subjects["level"], 3), False)
    n_high = _count(high)
    n_high_targeted = _count(pc.and_(high, subjects["targeted"]))
    totals = _type_score(recall, np.ones(len(recall["victim_id"]), dtype=bool))
    by_type: dict[str, TypeScore] = {}
    types = recall["fraud_type"]
    for kind in sorted(set(types.tolist()), key=_type_order):
        by_type[kind] = _type_score(recall, types == kind)
    return Scorecard(
        victims=totals.victims,
        warned=totals.warned,
        warned_level3=totals.warned_level3,
        warned_before_first_loss=totals.warned_before_first_loss,
        warned_level3_before_first_loss=totals.warned_level3_before_first_loss,
        recall_before_loss=totals.recall_before_loss,
        recall_level3_before_loss=totals.recall_level3_before_loss,
        precision_by_level=by_level,
        precision_level3plus=n_high_targeted / n_high if n_high else None,
        false_warnings=false_rows,
        false_warnings_level3=false3_rows,
        false_per_10k_day=false_rows / per_10k_day if per_10k_day > 0 else None,
        false_level3_per_10k_day=false3_rows / per_10k_day if per_10k_day > 0 else None,
        median_lead_minutes=totals.median_lead_minutes,
        warnings=warnings.num_rows,
        warned_subjects=subjects.num_rows,
        residents=truth.residents,
        days=int(truth.days) if truth.days.is_integer() else truth.days,
        by_type=by_type,
        levels=levels,
    )


def _type_order(kind: str) -> tuple[int, str]:
    order = [ft.value for ft in FraudType]
    return (order.index(kind) if kind in order else len(order), kind)


def _recall(warnings: pa.Table, truth: _Truth) -> dict[str, np.ndarray]:
    """Per victim (sorted by victim_id): the warned flags, lead time and loss after warning."""
    v = truth.victims
    w = pa.table(
        {
            "id_number": warnings["id_number"],
            "first_us": warnings["first_at"].cast(pa.int64()),
            "l3_us": warnings["level3_at"].cast(pa.int64()),
        }
    )
    pairs = v.select(["victim_id", "id_number", "contact_us", "loss_us"]).join(
        w, "id_number", join_type="inner"
    )
    lo = pc.subtract(pairs["contact_us"], DAY_US)
    first, l3, loss = pairs["first_us"], pairs["l3_us"], pairs["loss_us"]
    in_window = pc.and_(pc.greater_equal(first, lo), pc.less_equal(first, truth.end_us))
    in_window3 = pc.and_(pc.greater_equal(l3, lo), pc.less_equal(l3, truth.end_us))
    before = pc.and_(in_window, pc.less(first, loss))
    before3 = pc.and_(in_window3, pc.less(l3, loss))
    flags = pa.table(
        {
            "victim_id": pairs["victim_id"],
            "warned": in_window,
            "warned3": in_window3,
            "before": before,
            "before3": before3,
            "lead_from": pc.if_else(pc.fill_null(before, False), first, _NULL_INT),
            "earliest": pc.if_else(pc.fill_null(in_window, False), first, _NULL_INT),
        }
    )
    agg = flags.group_by("victim_id").aggregate(
        [
            ("warned", "any"),
            ("warned3", "any"),
            ("before", "any"),
            ("before3", "any"),
            ("lead_from", "min"),
            ("earliest", "min"),
        ]
    )
    agg = agg.rename_columns(["victim_id", "warned", "warned3", "before", "before3", "lead", "at"])
    per = v.join(agg, "victim_id", join_type="left outer").sort_by("victim_id")

    paid = truth.payments.join(
        per.select(["victim_id", "at"]).filter(pc.is_valid(per["at"])), "victim_id"
    )
    after = paid.filter(pc.greater(paid["ts_us"], paid["at"]))
    after_sum = after.group_by("victim_id").aggregate([("amount_fen", "sum")])
    per = per.join(after_sum, "victim_id", join_type="left outer").sort_by("victim_id")

    def flag(name: str) -> np.ndarray:
        return np.asarray(pc.fill_null(per[name], False).to_numpy(zero_copy_only=False), bool)

    lead_us = pc.subtract(per["loss_us"], per["lead"])
    return {
        "victim_id": np.asarray(per["victim_id"].to_pylist(), dtype=object),
        "fraud_type": np.asarray(per["fraud_type"].to_pylist(), dtype=object),
        "warned": flag("warned"),
        "warned3": flag("warned3"),
        "before": flag("before"),
        "before3": flag("before3"),
        "lead_minutes": np.asarray(
            pc.fill_null(lead_us.cast(pa.float64()), np.nan).to_numpy(zero_copy_only=False)
        )
        / MINUTE_US,
        "loss_fen": np.asarray(per["loss_fen"].to_numpy(zero_copy_only=False), np.int64),
        "lost_after": np.asarray(
            pc.fill_null(per["amount_fen_sum"], 0).to_numpy(zero_copy_only=False), np.int64
        ),
    }


def _type_score(recall: dict[str, np.ndarray], sel: np.ndarray) -> TypeScore:
    n = int(sel.sum())
    before = int(recall["before"][sel].sum())
    before3 = int(recall["before3"][sel].sum())
    leads = recall["lead_minutes"][sel & recall["before"]]
    return TypeScore(
        victims=n,
        warned=int(recall["warned"][sel].sum()),
        warned_level3=int(recall["warned3"][sel].sum()),
        warned_before_first_loss=before,
        warned_level3_before_first_loss=before3,
        recall_before_loss=before / n if n else None,
        recall_level3_before_loss=before3 / n if n else None,
        median_lead_minutes=float(np.median(leads)) if len(leads) else None,
        lost_fen=int(recall["loss_fen"][sel].sum()),
        lost_fen_after_warning=int(recall["lost_after"][sel].sum()),
    )


def _precision(
    warnings: pa.Table, truth: _Truth
) -> tuple[pa.Table, int, int, dict[int, LevelScore]]:
    """Subjects (subject, level, targeted), false warnings (all, level ≥ 3), per-level counts."""
    subject = warnings["subject"]
    prefixed = pc.starts_with(subject, "phone:")
    phone = pc.coalesce(
        warnings["phone"], pc.if_else(prefixed, pc.utf8_slice_codeunits(subject, 6), _NULL_STR)
    )
    on_target = pc.if_else(
        pc.is_valid(warnings["id_number"]),
        pc.is_in(warnings["id_number"], value_set=truth.targeted_ids),
        pc.is_in(phone, value_set=truth.targeted_phones),
    )
    rows = pa.table(
        {"subject": subject, "level": warnings["level"], "targeted": pc.fill_null(on_target, False)}
    )
    subjects = rows.group_by("subject").aggregate([("level", "max"), ("targeted", "any")])
    subjects = subjects.rename_columns(["subject", "level", "targeted"])
    subjects = subjects.set_column(2, "targeted", pc.fill_null(subjects["targeted"], False))
    hit = _distinct(subjects.filter(subjects["targeted"])["subject"])
    false = pc.invert(pc.is_in(rows["subject"], value_set=hit))
    high = pc.fill_null(pc.greater_equal(rows["level"], 3), False)
    false3 = pc.and_(false, high)
    levels: dict[int, LevelScore] = {}
    top = subjects["level"]
    for lvl in LEVELS:
        at = pc.fill_null(pc.equal(top, lvl), False)
        n = _count(at)
        hits = _count(pc.and_(at, subjects["targeted"]))
        row_at = pc.fill_null(pc.equal(rows["level"], lvl), False)
        levels[lvl] = LevelScore(
            subjects=n,
            targeted_subjects=hits,
            precision=hits / n if n else None,
            warnings=_count(row_at),
            false_warnings=_count(pc.and_(row_at, false)),
        )
    return subjects, _count(false), _count(false3), levels


def _distinct(column: pa.ChunkedArray) -> pa.Array:
    """The distinct non-null values of a string column, as one array."""
    return pc.unique(column.combine_chunks().drop_null())


def _count(mask: pa.ChunkedArray | pa.Array) -> int:
    return int(pc.sum(pc.fill_null(mask, False).cast(pa.int64())).as_py() or 0)
