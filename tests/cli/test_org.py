"""``fanzha org check|show`` and the org file (FANZHA_ORG_FILE) in the running platform:
its per-unit policies and routing rules are what dispatch uses."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from fanzha.cli.main import app
from fanzha.dispatch.instruction import instruction_id
from fanzha.dispatch.org import OrgError
from fanzha.dispatch.routing import Location
from fanzha.dispatching import Registry
from fanzha.service import App
from fanzha.settings import Settings
from fanzha.sim.params import preset
from fanzha.sim.world import build_geography
from fanzha.store.reference import OrgUnitRow

GEO = build_geography(preset("tiny"))
HOME_DISTRICT = str(GEO.district_code[0])
OTHER_COUNTY = str(GEO.district_name[-1])
COMMUNITY = str(GEO.community_code[0])  # in the first district
ORG = f"""\
defaults:
  高危: {{contact_within: 10m}}
routing: {{away: route}}
units:
  - {{code: "{HOME_DISTRICT}", policies: {{特危: {{contact_within: 3m}}}}}}
users:
  - {{username: li.wei, name: 李伟, unit: "{GEO.station_code[0]}", roles: [officer]}}
"""


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder whose registry holds the tiny city's units, and the org file beside it."""
    monkeypatch.setenv("FANZHA_DATA_DIR", str(tmp_path / "data"))
    with App(Settings(data_dir=tmp_path / "data")) as fz:
        rows = [OrgUnitRow(**r) for r in GEO.org_units().to_pylist()]
        fz.store.reference.upsert_org_units(rows)
    (tmp_path / "org.yaml").write_text(ORG, "utf-8")
    return tmp_path


def fanzha(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result


def test_check_accepts_a_good_file_and_locates_every_problem(data: Path) -> None:
    ok = json.loads(fanzha("org", "check", str(data / "org.yaml"), "--json").stdout)
    assert ok == {"ok": True, "units": len(GEO.org_units()), "users": 1}
    bad = data / "bad.yaml"
    bad.write_text(
        ORG + '  - {username: wang, name: 王, unit: "nowhere"}\n'
        "defaults_typo: 1\n"
        '  - {code: "x"}\n',
        "utf-8",
    )
    out = json.loads(fanzha("org", "check", str(bad), "--json", code=2).stdout)
    assert out["ok"] is False and out["problems"]
    assert all(str(bad) in p for p in out["problems"])
    table = fanzha("org", "check", str(bad), code=2).output
    assert "组织文件有" in table and "line" in table


def test_show_is_what_dispatch_uses(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = json.loads(fanzha("org", "show", "--json").stdout)
    monkeypatch.setenv("FANZHA_ORG_FILE", str(data / "org.yaml"))
    shown = json.loads(fanzha("org", "show", "--json").stdout)
    assert shown["routing"]["away"] == "route" and plain["routing"]["away"] == "copy"
    units = {u["code"]: u for u in shown["units"]}
    station = units[str(GEO.station_code[0])]
    assert station["parent"] == HOME_DISTRICT and station["users"] == ["li.wei"]
    assert station["policies"]["4"]["contact_within_s"] == 180  # the district's override
    assert station["policies"]["3"]["contact_within_s"] == 600  # the city-wide default
    before = {u["code"]: u for u in plain["units"]}[str(GEO.station_code[0])]
    assert before["policies"]["4"]["contact_within_s"] == 300
    assert shown["units"][0]["level"] == "city"  # depth first from the city


def test_the_platform_dispatches_with_the_org_files_policies_and_routing(data: Path) -> None:
    settings = Settings(data_dir=data / "data", org_file=data / "org.yaml")
    people = {f"50010119900101001{k}": f"+861380000000{k}" for k in (1, 2)}
    registry = Registry(dict.fromkeys(people, COMMUNITY))
    rows = [
        {"warning_id": f"W{k}", "subject": id_number, "id_number": id_number, "phone": phone}
        for k, (id_number, phone) in enumerate(people.items(), start=1)
    ]
    away = {rows[1]["phone"]: Location(county=OTHER_COUNTY)}  # the second one is elsewhere
    with App(settings) as fz:
        fz.dispatcher.dispatch_rows([{**r, "level": 4} for r in rows], registry, locations=away)
        home, elsewhere = (fz.instructions.get(instruction_id(f"W{k}")) for k in (1, 2))
    assert home is not None and elsewhere is not None
    # the home district's 特危 policy: first contact within 3 minutes (default 5)
    assert home.unit == str(GEO.station_code[0]) and home.route_reason == "home"
    assert home.deadlines.contact_by - home.created_at == dt.timedelta(minutes=3)
    # routing ``away: route``: the local district's duty desk acts, the home station is told
    assert elsewhere.unit == str(GEO.district_code[-1]) and elsewhere.route_reason == "away"
    assert elsewhere.copy_to == (str(GEO.station_code[0]),)
    assert elsewhere.deadlines.contact_by - elsewhere.created_at == dt.timedelta(minutes=5)


def test_a_broken_org_file_stops_the_platform_with_the_reason(data: Path) -> None:
    (data / "org.yaml").write_text("units: [{code: 1}", "utf-8")
    broken = Settings(data_dir=data / "data", org_file=data / "org.yaml")
    with App(broken) as fz, pytest.raises(OrgError, match=r"org\.yaml"):
        _ = fz.security
    missing = Settings(data_dir=data / "data", org_file=data / "missing.yaml")
    with App(missing) as fz, pytest.raises(OrgError, match=r"missing\.yaml"):
        _ = fz.dispatcher


def test_kpi_reads_the_org_the_platform_uses(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    district = fanzha("kpi", "--json", "--unit", HOME_DISTRICT)
    assert json.loads(district.stdout)["total"]["instructions"] == 0  # a known unit
    (data / "org.yaml").write_text("units: [{code: 1}", "utf-8")
    monkeypatch.setenv("FANZHA_ORG_FILE", str(data / "org.yaml"))
    broken = fanzha("kpi", "--json", code=2)
    [problem] = json.loads(broken.stdout)["problems"]
    assert "org.yaml" in problem
