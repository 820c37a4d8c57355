"""The warning scorecard against hand-made truth (exact figures) and a real tiny simulation."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from evaluation_world import (
    LIVE,
    PAYMENTS,
    VICTIMS,
    A,
    at,
    payment,
    story_warnings,
    victim,
    warning,
    warnings_table,
    write_world,
)

from fanzha.detect.schema import WARNINGS_SCHEMA, empty_warnings
from fanzha.sim.engine import SimResult, simulate
from fanzha.sim.evaluate import EvaluationError, Scorecard, conform_warnings, evaluate
from fanzha.sim.params import preset
from fanzha.sim.truth import read_truth

KEYS = {
    "victims",
    "warned",
    "warned_level3",
    "warned_before_first_loss",
    "warned_level3_before_first_loss",
    "recall_before_loss",
    "recall_level3_before_loss",
    "precision_by_level",
    "precision_level3plus",
    "false_per_10k_day",
    "false_level3_per_10k_day",
    "median_lead_minutes",
    "warnings",
    "warned_subjects",
    "residents",
    "days",
    "by_type",
    "shadow",
}


@pytest.fixture
def world(tmp_path: Path) -> Path:
    return write_world(tmp_path / "sim")


@pytest.fixture
def card(world: Path) -> dict[str, Any]:
    result: dict[str, Any] = evaluate(story_warnings(), world).to_json()
    return result


# ----------------------------------------------------------------- the story, exactly


def test_json_has_exactly_the_documented_keys(card: dict[str, Any]) -> None:
    assert set(card) == KEYS
    assert set(card["shadow"]) == KEYS
    assert json.loads(json.dumps(card)) == card  # plain JSON values only


def test_recall_counts_victims_warned_before_their_first_loss(card: dict[str, Any]) -> None:
    assert card["victims"] == 4  # V1–V4 lost money; V5 and V6 did not
    assert card["warned"] == 3  # V1, V2 (after the loss), V4; V3's warning is too old
    assert card["warned_level3"] == 2  # V1, V4
    assert card["warned_before_first_loss"] == 2  # V1 (10 min), V4 (30 min)
    assert card["warned_level3_before_first_loss"] == 2
    assert card["recall_before_loss"] == 0.5
    assert card["recall_level3_before_loss"] == 0.5
    assert card["median_lead_minutes"] == 20.0  # median of 10 and 30


def test_precision_by_the_subjects_highest_level(card: dict[str, Any]) -> None:
    assert card["warnings"] == 9
    assert card["warned_subjects"] == 8  # D has two warnings
    assert card["precision_by_level"] == {
        "1": 0.5,  # B's phone (true), an untargeted phone (false)
        "2": 1.0,  # B
        "3": pytest.approx(2 / 3),  # A, E (targeted, no loss) true; F false
        "4": 1.0,  # C (old warning, still targeted), D (highest of its two warnings)
    }
    assert card["precision_level3plus"] == 0.8


def test_false_warnings_per_10k_residents_per_day(card: dict[str, Any]) -> None:
    assert card["residents"] == 20_000 and card["days"] == 2
    assert card["false_per_10k_day"] == 0.5  # F and the unknown phone: 2 / 2 / 2
    assert card["false_level3_per_10k_day"] == 0.25  # F only


def test_figures_per_fraud_type(card: dict[str, Any]) -> None:
    by_type = card["by_type"]
    assert list(by_type) == ["order_brushing", "fake_loan", "fake_customer_service"]
    assert by_type["fake_customer_service"] == {
        "victims": 1,
        "warned": 1,
        "warned_level3": 1,
        "warned_before_first_loss": 1,
        "warned_level3_before_first_loss": 1,
        "recall_before_loss": 1.0,
        "recall_level3_before_loss": 1.0,
        "median_lead_minutes": 10.0,
        "lost_fen": 10_000,
        "lost_fen_after_warning": 10_000,
    }
    assert by_type["order_brushing"] == {
        "victims": 2,  # V2, V3 (V5 lost nothing)
        "warned": 1,
        "warned_level3": 0,
        "warned_before_first_loss": 0,
        "warned_level3_before_first_loss": 0,
        "recall_before_loss": 0.0,
        "recall_level3_before_loss": 0.0,
        "median_lead_minutes": None,
        "lost_fen": 14_000,
        "lost_fen_after_warning": 2_000,  # V2's second payment, after its warning
    }
    assert by_type["fake_loan"]["median_lead_minutes"] == 30.0
    assert by_type["fake_loan"]["lost_fen_after_warning"] == 3_000


def test_shadow_warnings_are_scored_apart(card: dict[str, Any]) -> None:
    shadow = card["shadow"]
    assert shadow["warnings"] == 2 and shadow["warned_subjects"] == 2
    assert shadow["victims"] == 4
    assert shadow["warned"] == 1 and shadow["warned_before_first_loss"] == 1  # B
    assert shadow["recall_before_loss"] == 0.25
    assert shadow["median_lead_minutes"] == 30.0
    assert shadow["precision_by_level"] == {"1": None, "2": 0.0, "3": 1.0, "4": None}
    assert shadow["precision_level3plus"] == 1.0
    assert shadow["false_per_10k_day"] == 0.25 and shadow["false_level3_per_10k_day"] == 0.0
    assert shadow["by_type"]["order_brushing"]["lost_fen_after_warning"] == 7_000
    assert shadow["shadow"] is None


def test_without_shadow_warnings_shadow_is_null(world: Path) -> None:
    card = evaluate(warnings_table(LIVE), world)
    assert card.shadow is None and card.to_json()["shadow"] is None
    assert card.warnings == 9


def test_per_level_counts_for_the_tables(world: Path) -> None:
    levels = evaluate(story_warnings(), world).levels
    assert {lvl: (s.subjects, s.targeted_subjects, s.warnings) for lvl, s in levels.items()} == {
        1: (2, 1, 3),  # D's second warning is level 1, D's highest level is 4
        2: (1, 1, 1),
        3: (3, 2, 3),
        4: (2, 2, 2),
    }
    assert [levels[lvl].false_warnings for lvl in (1, 2, 3, 4)] == [1, 0, 1, 0]


# ----------------------------------------------------------------- edges


def one_victim(tmp_path: Path) -> Path:
    """V1 alone: contacted at +1h, first payment at +1h30."""
    return write_world(tmp_path / "one", VICTIMS[:1], PAYMENTS[:2])


def test_a_warning_at_the_moment_of_the_first_payment_is_not_before_it(tmp_path: Path) -> None:
    card = evaluate(warnings_table([warning(A, 3, at(1, 30))]), one_victim(tmp_path))
    assert card.warned == 1 and card.warned_before_first_loss == 0
    assert card.median_lead_minutes is None
    assert card.by_type["fake_customer_service"].lost_fen_after_warning == 4_000


def test_the_window_opens_one_day_before_first_contact(tmp_path: Path) -> None:
    out = one_victim(tmp_path)
    inside = evaluate(warnings_table([warning(A, 1, at(1, days=-1))]), out)
    outside = evaluate(warnings_table([warning(A, 1, at(0, 59, days=-1))]), out)
    assert inside.warned_before_first_loss == 1 and inside.median_lead_minutes == 24 * 60 + 30
    assert outside.warned == 0 and outside.warned_before_first_loss == 0
    assert outside.precision_by_level[1] == 1.0  # A was targeted all the same


def test_level3_before_loss_uses_the_moment_it_reached_level3(tmp_path: Path) -> None:
    late = warning(A, 3, at(1, 10), level3_at=at(1, 45))  # issued before, high only after
    card = evaluate(warnings_table([late]), one_victim(tmp_path))
    assert card.warned_before_first_loss == 1 and card.warned_level3_before_first_loss == 0
    assert card.warned_level3 == 1 and card.recall_level3_before_loss == 0.0


def test_a_person_with_two_victim_ids_is_counted_twice(tmp_path: Path) -> None:
    victims = [
        victim("X1", A, "fake_loan", at(1), 1_000, 1),
        victim("X2", A, "order_brushing", at(10), 2_000, 1),
    ]
    payments = [payment("X1", 1, at(2), 1_000), payment("X2", 1, at(11), 2_000)]
    out = write_world(tmp_path / "two", victims, payments)
    card = evaluate(warnings_table([warning(A, 3, at(1, 50))]), out)
    assert card.victims == 2 and card.warned_subjects == 1
    assert card.warned_before_first_loss == 2  # the same warning precedes both first losses
    assert card.median_lead_minutes == (10 + 9 * 60 + 10) / 2


def test_no_warnings(world: Path) -> None:
    card = evaluate(empty_warnings(), world)
    assert card.victims == 4 and card.warned == 0 and card.recall_before_loss == 0.0
    assert card.precision_by_level == {1: None, 2: None, 3: None, 4: None}
    assert card.precision_level3plus is None and card.median_lead_minutes is None
    assert card.false_per_10k_day == 0.0 and card.shadow is None


def test_no_victims(tmp_path: Path) -> None:
    out = write_world(tmp_path / "calm", [], [])
    card = evaluate(story_warnings(), out)
    assert card.victims == 0 and card.recall_before_loss is None and card.by_type == {}
    assert card.precision_level3plus == 0.0  # nobody was targeted
    assert card.false_per_10k_day == 9 / 2 / 2


def test_ndjson_truth(tmp_path: Path) -> None:
    out = write_world(tmp_path / "nd", fmt="ndjson")
    card = evaluate(story_warnings(), out).to_json()
    assert card["recall_before_loss"] == 0.5 and card["median_lead_minutes"] == 20.0
    assert card["false_per_10k_day"] == 0.5


def test_the_warnings_schema_is_checked(world: Path) -> None:
    with pytest.raises(EvaluationError, match="no column level3_at"):
        evaluate(story_warnings().drop_columns(["level3_at"]), world)
    bad = story_warnings().set_column(4, "level", pa.array(["high"] * 11))
    with pytest.raises(EvaluationError, match="level"):
        evaluate(bad, world)
    loose = story_warnings().cast(pa.schema([f.with_nullable(True) for f in WARNINGS_SCHEMA]))
    wider = loose.set_column(4, "level", loose["level"].cast(pa.int64())).append_column(
        "extra", pa.array([1] * 11)
    )
    assert conform_warnings(wider).schema.names == WARNINGS_SCHEMA.names
    assert evaluate(wider, world).to_json() == evaluate(story_warnings(), world).to_json()


def test_missing_truth_or_manifest(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="no truth folder"):
        evaluate(empty_warnings(), tmp_path)
    out = write_world(tmp_path / "sim")
    (out / "manifest.json").unlink()
    with pytest.raises(EvaluationError, match="manifest"):
        evaluate(empty_warnings(), out)


def test_tens_of_thousands_take_well_under_a_second(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n_victims, n_warnings = 20_000, 50_000
    ids = [f"5001011980{i:08d}" for i in range(60_000)]
    contact = [at(float(h)) for h in rng.uniform(0, 40, n_victims)]
    victims = [
        victim(f"V{i}", ids[i], "order_brushing", contact[i], 1_000, 1) for i in range(n_victims)
    ]
    payments = [
        payment(f"V{i}", 1, contact[i] + dt.timedelta(hours=1), 1_000) for i in range(n_victims)
    ]
    out = write_world(tmp_path / "big", victims, payments)
    who = rng.integers(0, len(ids), n_warnings)
    hours = rng.uniform(-24, 48, n_warnings)
    rows = [warning(ids[w], int(w % 4) + 1, at(float(h))) for w, h in zip(who, hours, strict=True)]
    table = warnings_table(rows)
    started = time.perf_counter()
    card = evaluate(table, out)
    assert time.perf_counter() - started < 1.0
    assert card.victims == n_victims and card.warnings == n_warnings


# ----------------------------------------------------------------- a real simulation


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> SimResult:
    return simulate(preset("tiny", seed=3), tmp_path_factory.mktemp("eval") / "tiny")


def perfect_warnings(out: Path) -> pa.Table:
    """One level-3 warning per victim, one minute before its first payment."""
    victims = read_truth(out, "victims")
    first = read_truth(out, "payments").group_by("victim_id").aggregate([("ts", "min")])
    lost = victims.join(first, "victim_id").filter(pc.field("loss_fen") > 0)
    rows = [
        warning(
            r["id_number"],
            3,
            r["ts_min"] - dt.timedelta(minutes=1),
            phone=r["phone"],
            fraud_type=r["fraud_type"],
        )
        for r in lost.to_pylist()
    ]
    return warnings_table(rows)


def test_warning_exactly_the_victims_of_a_tiny_city(tiny: SimResult) -> None:
    victims = read_truth(tiny.out_dir, "victims")
    lost = victims.filter(pc.field("loss_fen") > 0)
    assert lost.num_rows > 0
    card: Scorecard = evaluate(perfect_warnings(tiny.out_dir), tiny.out_dir)
    assert card.victims == lost.num_rows
    assert card.warned_before_first_loss == lost.num_rows
    assert card.recall_before_loss == 1.0 and card.recall_level3_before_loss == 1.0
    assert card.precision_by_level[3] == 1.0 and card.precision_level3plus == 1.0
    assert card.false_per_10k_day == 0.0 and card.false_level3_per_10k_day == 0.0
    assert card.median_lead_minutes == 1.0
    assert card.warned_subjects == len(set(lost["id_number"].to_pylist()))
    assert card.residents == 2_000 and card.days == 2
    assert sum(t.victims for t in card.by_type.values()) == lost.num_rows
    assert (
        sum(t.lost_fen_after_warning for t in card.by_type.values())
        == pc.sum(lost["loss_fen"]).as_py()
    )
