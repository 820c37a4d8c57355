"""The simulator's ground truth is consistent with its events, and runs are deterministic."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from fanzha.model.enums import FraudType
from fanzha.model.events import EVENT_TYPES
from fanzha.model.schema import arrow_schema
from fanzha.model.values import parse_id_number, parse_msisdn, parse_url
from fanzha.sim.engine import SimResult, simulate
from fanzha.sim.params import preset
from fanzha.sim.truth import read_truth

SEED = 11


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> SimResult:
    return simulate(preset("tiny", seed=SEED), tmp_path_factory.mktemp("sim") / "out")


def events(run: SimResult, type_name: str) -> pa.Table:
    files = sorted((run.out_dir / "events" / type_name).glob("*.parquet"))
    if not files:
        return arrow_schema(EVENT_TYPES[type_name]).empty_table()
    return pa.concat_tables(pq.read_table(f) for f in files)


def truth(run: SimResult, name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = read_truth(run.out_dir, name).to_pylist()
    return rows


def by_id(table: pa.Table) -> dict[str, dict[str, Any]]:
    return {str(r["event_id"]): r for r in table.to_pylist()}


# ------------------------------------------------------------------------- shape


def test_manifest_counts_match_the_files(run: SimResult) -> None:
    manifest = json.loads((run.out_dir / "manifest.json").read_text("utf-8"))
    for type_name in EVENT_TYPES:
        assert events(run, type_name).num_rows == manifest["counts"][type_name], type_name
    assert manifest["seed"] == SEED
    assert manifest["parameters"]["residents"] == 2_000


def test_every_file_has_the_event_schema_and_is_sorted_by_time(run: SimResult) -> None:
    for type_name in EVENT_TYPES:
        for path in (run.out_dir / "events" / type_name).glob("*.parquet"):
            table = pq.read_table(path)
            assert table.schema.equals(arrow_schema(EVENT_TYPES[type_name])), path
            ts = table.column("ts").cast(pa.int64()).to_numpy()
            assert (ts[1:] >= ts[:-1]).all(), path
            assert path.name.startswith(f"{type_name}-")  # `fanzha ingest` infers the type


def test_event_ids_are_unique(run: SimResult) -> None:
    for type_name in EVENT_TYPES:
        ids = events(run, type_name).column("event_id")
        assert pc.count_distinct(ids).as_py() == len(ids), type_name


def test_residents_have_valid_unique_identifiers(run: SimResult) -> None:
    persons = pq.read_table(run.out_dir / "registry" / "person.parquet").to_pylist()
    assert len(persons) == 2_000
    ids = [str(p["id_number"]) for p in persons]
    assert len(set(ids)) == len(ids)
    units = {
        str(u["code"])
        for u in pq.read_table(run.out_dir / "registry" / "org_unit.parquet").to_pylist()
    }
    for person in persons[:300]:
        parsed = parse_id_number(str(person["id_number"]))
        assert parsed.region_code.startswith("5001")  # the city's districts
        assert parsed.birth_date == person["birth_date"]
        assert person["community"] in units
        assert 1 <= len(person["phones"]) <= 2
        assert 1 <= len(person["accounts"]) <= 3
        for phone in person["phones"]:
            parse_msisdn(phone)
    phones = [ph for p in persons for ph in p["phones"]]
    accounts = [a for p in persons for a in p["accounts"]]
    assert len(set(phones)) == len(phones)
    assert len(set(accounts)) == len(accounts)


def test_org_tree_has_three_tiers_below_the_city(run: SimResult) -> None:
    units = pq.read_table(run.out_dir / "registry" / "org_unit.parquet").to_pylist()
    by_code = {u["code"]: u for u in units}
    levels = {u["level"] for u in units}
    assert levels == {"city", "district", "station", "community"}
    for unit in units:
        if unit["level"] != "city":
            parent = by_code[unit["parent_code"]]
            expected = {"district": "city", "station": "district", "community": "station"}
            assert parent["level"] == expected[str(unit["level"])]
    names = [str(u["name"]) for u in units if u["level"] == "community"]
    assert any(n.endswith("村") for n in names) and any(n.endswith("社区") for n in names)


# ------------------------------------------------------------------------- money


def test_every_victim_payment_is_a_real_transfer(run: SimResult) -> None:
    transfers = by_id(events(run, "transfer"))
    payments = truth(run, "payments")
    assert payments, "the tiny preset must contain losses"
    for p in payments:
        t = transfers[str(p["event_id"])]
        assert (t["payer_account"], t["payee_account"], t["amount_fen"], t["ts"]) == (
            p["payer_account"],
            p["payee_account"],
            p["amount_fen"],
            p["ts"],
        )


def test_victim_losses_are_the_sum_of_their_payments(run: SimResult) -> None:
    paid: dict[str, int] = defaultdict(int)
    for p in truth(run, "payments"):
        paid[str(p["victim_id"])] += int(p["amount_fen"])
    for v in truth(run, "victims"):
        assert v["loss_fen"] == paid.get(str(v["victim_id"]), 0)
        assert (v["loss_fen"] > 0) == (v["payments"] > 0)
        if not v["hooked"]:
            assert v["loss_fen"] == 0


def test_laundering_flows_are_real_transfers(run: SimResult) -> None:
    transfers = by_id(events(run, "transfer"))
    flows = truth(run, "flows")
    assert flows
    for f in flows:
        t = transfers[str(f["event_id"])]
        assert (t["payer_account"], t["payee_account"], t["amount_fen"], t["ts"]) == (
            f["from_account"],
            f["to_account"],
            f["amount_fen"],
            f["ts"],
        )


def test_money_is_conserved_and_only_leaves_after_it_arrived(run: SimResult) -> None:
    """Per payment: every account's balance of that victim's money never goes below zero, and
    what was paid equals what was cashed out plus what is still held, to the fen."""
    flows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in truth(run, "flows"):
        flows[str(f["root_event_id"])].append(f)
    for p in truth(run, "payments"):
        root = str(p["event_id"])
        held: dict[str, int] = defaultdict(int)
        held[str(p["payee_account"])] = int(p["amount_fen"])
        cashed = 0
        for f in sorted(flows[root], key=lambda f: (f["ts"], f["event_id"])):
            assert f["ts"] > p["ts"]
            src, fen = str(f["from_account"]), int(f["amount_fen"])
            held[src] -= fen
            assert held[src] >= 0, f"{root}: {src} sent money it did not hold"
            if str(f["kind"]).startswith("cash_out"):
                cashed += fen
            else:
                held[str(f["to_account"])] += fen
        assert cashed + sum(held.values()) == p["amount_fen"]


def test_mule_balances_never_go_negative(run: SimResult) -> None:
    """Replaying every transfer in time order, no mule ever pays out money it does not have."""
    mules = {str(m["account"]) for m in truth(run, "mules")}
    balance: dict[str, int] = defaultdict(int)
    table = events(run, "transfer").to_pylist()
    for t in sorted(table, key=lambda t: (t["ts"], str(t["event_id"]))):
        payer, payee, fen = str(t["payer_account"]), str(t["payee_account"]), int(t["amount_fen"])
        balance[payee] += fen
        balance[payer] -= fen
        if payer in mules:
            assert balance[payer] >= 0, f"{payer} went negative at {t['ts']}"


def test_mules_carry_innocent_traffic_too(run: SimResult) -> None:
    roles = {str(r["role"]) for r in truth(run, "transfer_roles")}
    assert {"victim_payment", "laundering", "cash_out", "mule_innocent_in"} <= roles


def test_laundering_crosses_several_layers_within_minutes(run: SimResult) -> None:
    flows = truth(run, "flows")
    assert max(int(f["hop"]) for f in flows) >= 2
    kinds = {str(f["kind"]) for f in flows}
    assert kinds & {"cash_out_atm", "cash_out_gold", "cash_out_otc"}
    payments = {str(p["event_id"]): p for p in truth(run, "payments")}
    first_hops = defaultdict(list)
    for f in flows:
        if f["hop"] == 1:
            first_hops[str(f["root_event_id"])].append(f)
    delays = sorted(
        (min(h["ts"] for h in hops) - payments[root]["ts"]).total_seconds()
        for root, hops in first_hops.items()
    )
    median = delays[len(delays) // 2]
    assert 120 <= median <= 900, median  # most money leaves a layer-1 mule within 3–10 minutes


# ------------------------------------------------------------------------- two cards


def test_every_mule_account_was_opened_by_a_farmer_at_a_branch(run: SimResult) -> None:
    opened = by_id(events(run, "account_opened"))
    farmers = {str(f["farmer_id"]): f for f in truth(run, "farmers")}
    branches = {str(b["code"]) for b in truth(run, "branches")}
    first_use: dict[str, Any] = {}
    for f in truth(run, "flows"):
        first_use.setdefault(str(f["from_account"]), f["ts"])
    for m in truth(run, "mules"):
        event = opened[str(m["opened_event_id"])]
        farmer = farmers[str(m["farmer_id"])]
        assert event["account"] == m["account"]
        assert event["holder_id_number"] == farmer["id_number"]
        assert event["branch"] == m["branch"] and m["branch"] in branches
        used = first_use.get(str(m["account"]))
        if used is not None:
            assert event["ts"] < used


def test_lax_branches_open_a_disproportionate_share_of_mule_accounts(run: SimResult) -> None:
    branches = truth(run, "branches")
    lax = {str(b["code"]) for b in branches if b["lax"]}
    mules = truth(run, "mules")
    share_at_lax = sum(str(m["branch"]) in lax for m in mules) / len(mules)
    assert share_at_lax > 1.5 * len(lax) / len(branches)


def test_gang_sims_were_activated_at_stores(run: SimResult) -> None:
    activated = by_id(events(run, "sim_activated"))
    for s in truth(run, "sims"):
        event = activated[str(s["activated_event_id"])]
        assert event["msisdn"] == s["msisdn"] and event["store"] == s["store"]


# ------------------------------------------------------------------------- fraud and reports


def test_every_typology_contacts_people_and_some_lose_money(run: SimResult) -> None:
    victims = truth(run, "victims")
    kinds = {str(v["fraud_type"]) for v in victims}
    assert kinds == {
        t.value
        for t in (
            FraudType.ORDER_BRUSHING,
            FraudType.FAKE_INVESTMENT,
            FraudType.ROMANCE,
            FraudType.FAKE_LOAN,
            FraudType.FAKE_CUSTOMER_SERVICE,
            FraudType.IMPERSONATING_AUTHORITIES,
            FraudType.IMPERSONATING_ACQUAINTANCE,
        )
    }
    outcomes = {str(v["outcome"]) for v in victims}
    assert {"not_engaged", "stopped_before_paying"} <= outcomes
    assert sum(int(v["payments"]) > 1 for v in victims) > 0


def test_timeline_events_exist(run: SimResult) -> None:
    tables = {t: by_id(events(run, t)) for t in EVENT_TYPES}
    for step in truth(run, "timeline"):
        event = tables[str(step["event_type"])][str(step["event_id"])]
        assert event["ts"] == step["ts"]


def test_reports_name_real_payees_or_one_digit_slips(run: SimResult) -> None:
    payees = set(events(run, "transfer").column("payee_account").to_pylist())
    reports = by_id(events(run, "police_report"))
    assert truth(run, "reports")
    for r in truth(run, "reports"):
        true_accounts = [str(a) for a in r["true_accounts"]]
        assert set(true_accounts) <= payees
        event = reports[str(r["event_id"])]
        assert event["suspect_accounts"] == r["named_accounts"]
        for named in r["named_accounts"]:
            slips = [sum(a != b for a, b in zip(named, t, strict=True)) for t in true_accounts]
            assert min(slips) <= 1
            assert named in event["narrative"] or r["traditional"]


def test_report_urls_and_phones_belong_to_the_gangs(run: SimResult) -> None:
    entities = {str(e["value"]) for e in truth(run, "entities")}
    for r in truth(run, "reports"):
        for url in r["named_urls"]:
            assert url in entities
            parse_url(str(url))
        for phone in r["named_phones"]:
            assert phone in entities


# ------------------------------------------------------------------------- look-alikes


def test_ordinary_life_contains_look_alikes_of_fraud(run: SimResult) -> None:
    gang_numbers = {str(e["value"]) for e in truth(run, "entities") if e["kind"] == "phone"}
    calls = events(run, "call")
    normal = calls.filter(pc.invert(pc.is_in(calls["caller"], pa.array(sorted(gang_numbers)))))
    assert pc.max(normal["duration_s"]).as_py() > 1_200  # long ordinary calls
    installs = set(events(run, "app_install").column("app_id").to_pylist())
    assert {"com.tencent.wemeet.app", "com.oray.sunlogin", "com.todesk"} & installs
    remits = set(events(run, "transfer").column("remittance").to_pylist())
    assert "定金" in remits  # large payments to brand-new payees


# ------------------------------------------------------------------------- determinism


def test_same_seed_same_bytes_other_seed_other_bytes(run: SimResult, tmp_path: Path) -> None:
    again = simulate(preset("tiny", seed=SEED), tmp_path / "again")
    assert again.manifest["content_sha256"] == run.manifest["content_sha256"]
    for rel in ("events/transfer", "truth", "registry"):
        for path in sorted((run.out_dir / rel).iterdir()):
            assert path.read_bytes() == (tmp_path / "again" / rel / path.name).read_bytes(), path
    other = simulate(preset("tiny", seed=SEED + 1), tmp_path / "other")
    assert other.manifest["content_sha256"] != run.manifest["content_sha256"]


def test_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("keep me", "utf-8")
    with pytest.raises(FileExistsError):
        simulate(preset("tiny"), tmp_path)
    assert (tmp_path / "x").read_text("utf-8") == "keep me"


def test_a_dissuaded_victim_stops_paying_and_nobody_else_changes(
    run: SimResult, tmp_path: Path
) -> None:
    victims = truth(run, "victims")
    target = next(v for v in victims if v["payments"] >= 2)
    payments = [p for p in truth(run, "payments") if p["victim_id"] == target["victim_id"]]
    second = sorted(payments, key=lambda p: p["ts"])[1]["ts"]
    when = int(second.timestamp())  # talked out of it just before the second payment
    again = simulate(
        preset("tiny", seed=SEED),
        tmp_path / "counterfactual",
        dissuasions={target["id_number"]: when},
    )
    after = {v["victim_id"]: v for v in read_truth(again.out_dir, "victims").to_pylist()}
    changed = after[target["victim_id"]]
    assert changed["outcome"] == "dissuaded"
    assert changed["payments"] == 1 and changed["loss_fen"] == payments[0]["amount_fen"]

    def story(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted(
            (p["victim_id"], p["ts"], p["payer_account"], p["payee_account"], p["amount_fen"])
            for p in rows
            if p["victim_id"] != target["victim_id"]
        )

    assert story(truth(run, "payments")) == story(read_truth(again.out_dir, "payments").to_pylist())
