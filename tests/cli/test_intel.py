"""``fanzha intel``, run in-process with Typer's CliRunner against a fresh data folder."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from factories import workbook
from typer.testing import CliRunner, Result

from fanzha.cli.main import app
from fanzha.intel.feeds import guess_kind
from fanzha.intel.model import Indicator, IndicatorKind, Verdict
from fanzha.service import App
from fanzha.settings import Settings

SCAM_LIST = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "data"
    / "domain_blocklists"
    / "blocklistproject"
    / "scam.txt"
)
POLICE = (
    "类型,值,研判结论,置信度,来源,发现时间,有效期至,备注\n"
    "号码,13800138000,涉诈,高,市局反诈中心,2026-05-01 09:30,2099-12-31,冒充公检法\n"
    "域名,例子.中国,可疑,85,,,,\n"
    "网址,hxxp://pay[.]fake-bank.example/login,涉诈,0.9,,,,\n"
    "银行卡,6222021001123456789,涉诈,,,,,\n"
    "卫星,x,涉诈,,,,,\n"
)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh FANZHA_DATA_DIR, English labels."""
    folder = tmp_path / "data"
    monkeypatch.setenv("FANZHA_DATA_DIR", str(folder))
    monkeypatch.setenv("FANZHA_LANG", "en")
    return folder


def fanzha(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(app, ["intel", *args])
    assert result.exit_code == code, (result.output, result.exception)
    return result


def summary(*args: str, code: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(fanzha("import", *args, "--json", code=code).stdout)
    return out


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def stored(data_dir: Path) -> list[tuple[str, str, str]]:
    with App(Settings(data_dir=data_dir)) as fz:
        return [(i.kind.value, i.value, i.verdict.value) for i in fz.intel.all()]


# --------------------------------------------------------------------------- import


def test_import_a_plain_list(data_dir: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "phones.txt", "# numbers\n13800138000\n139 0000 0000\nnot a number\n")
    out = summary(str(path), "--kind", "phone", "--verdict", "suspicious", "--confidence", "0.7")
    [f] = out["files"]
    assert (f["format"], f["read"], f["added"], f["problems"]) == ("plain", 3, 2, 1)
    assert out["totals"]["added"] == 2
    assert out["problems"][0] == {
        "file": str(path),
        "line": 4,
        "field": "value",
        "reason": out["problems"][0]["reason"],
        "text": "not a number",
    }
    assert stored(data_dir) == [
        ("phone", "+8613800138000", "suspicious"),
        ("phone", "+8613900000000", "suspicious"),
    ]
    again = summary(str(path), "--kind", "phone", "--verdict", "suspicious", "--confidence", "0.7")
    assert (again["totals"]["added"], again["totals"]["unchanged"]) == (0, 2)
    raised = summary(str(path), "--kind", "phone")  # the default verdict is fraud
    assert raised["totals"]["upgraded"] == 2


def test_import_hosts_and_adblock_guessed(data_dir: Path, tmp_path: Path) -> None:
    hosts = write(tmp_path / "hosts", "127.0.0.1 localhost\n0.0.0.0 a.example b.example\n")
    adblock = write(
        tmp_path / "list.txt",
        "[Adblock Plus 2.0]\n! x\n||c.example^\n@@||good.example^\n##.ad\n",
    )
    out = summary(str(hosts), str(adblock))
    formats = [(f["format"], f["added"], f["unsupported"]) for f in out["files"]]
    assert formats == [("hosts", 2, 0), ("adblock", 2, 1)]
    assert ("domain", "good.example", "allow") in stored(data_dir)


def test_import_csv_with_a_map(data_dir: Path, tmp_path: Path) -> None:
    path = write(
        tmp_path / "feed.csv", "域名;结论;置信度\nfraud.example;涉诈;90\ngrey.example;可疑;\n"
    )
    out = summary(
        str(path), "--kind", "domain", "--map", "value=域名,verdict=结论,confidence=置信度"
    )
    assert out["files"][0]["format"] == "csv" and out["totals"]["added"] == 2
    assert stored(data_dir) == [
        ("domain", "fraud.example", "fraud"),
        ("domain", "grey.example", "suspicious"),
    ]


def test_import_a_gb18030_police_feed_without_kind(data_dir: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "police.csv", POLICE, "gb18030")
    out = summary(str(path))
    [f] = out["files"]
    assert (f["format"], f["encoding"], f["added"], f["problems"]) == ("police", "gb18030", 4, 1)
    assert out["problems"][0]["line"] == 6 and out["problems"][0]["field"] == "kind"
    kinds = {k for k, _, _ in stored(data_dir)}
    assert kinds == {"phone", "domain", "url", "account"}
    with App(Settings(data_dir=data_dir)) as fz:
        phone = fz.intel.get(IndicatorKind.PHONE, "+8613800138000")
    assert phone is not None and phone.source == "市局反诈中心" and phone.confidence == 0.9


def test_import_a_police_workbook_sheet_by_sheet(data_dir: Path, tmp_path: Path) -> None:
    """A police list as Excel: a title row, one sheet per kind, numbers typed as numbers,
    an empty sheet; each sheet reported on its own, problems at their sheet rows."""
    path = workbook(
        tmp_path / "通报.xlsx",
        {
            "涉诈电话": [
                ["序号", "涉诈号码", "号码类型", "发现时间", "备注"],
                [1, 13800138000, "手机", dt.date(2026, 3, 1), "冒充客服\n第二行"],
                [2, "+86 571 8888 8888", "固话", dt.datetime(2026, 3, 2, 9, 30), None],
                [3, 8.6138001380012e18, "手机", None, None],
            ],
            "空": [],
            "涉诈网址": [["序号", "涉诈网址", "研判结论"], [1, "http://[bad", "涉诈"]],
        },
        title="涉诈号码通报（第12期）",
    )
    out = summary(str(path))
    files = {f["path"].rsplit(":", 1)[1]: f for f in out["files"]}
    assert set(files) == {"涉诈电话", "涉诈网址"}
    assert (files["涉诈电话"]["format"], files["涉诈电话"]["added"]) == ("police", 2)
    assert files["涉诈网址"]["added"] == 0 and files["涉诈网址"]["problems"] == 1
    where = {(p["file"].rsplit(":", 1)[1], p["line"], p["field"]) for p in out["problems"]}
    assert where == {("涉诈电话", 5, None), ("涉诈网址", 2, "value")}
    with App(Settings(data_dir=data_dir)) as fz:
        phone = fz.intel.get(IndicatorKind.PHONE, "+8613800138000")
        fixed = fz.intel.get(IndicatorKind.PHONE, "+8657188888888")
    assert phone is not None and phone.note == "冒充客服 第二行"
    assert phone.first_seen == dt.datetime(2026, 2, 28, 16, tzinfo=dt.UTC)  # 00:00 in Shanghai
    assert fixed is not None
    damaged = write(tmp_path / "坏.xlsx", "PK\x03\x04 broken")
    failed = summary(str(damaged), code=2)
    assert failed["files"][0]["error"].startswith("cannot read the workbook: ")


def test_a_table_report_shows_problems_with_file_and_line(data_dir: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "d.txt", "a.example\n[red]bad[/red]\n")
    result = fanzha("import", str(path), "--kind", "domain")
    assert "Indicator import" in result.stdout and "First 1 problems" in result.stdout
    assert "d.txt:2" in result.stdout
    assert "[red]bad[/red]" in result.stdout  # shown as written, not as markup


def test_chinese_labels_by_default(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FANZHA_LANG")
    path = write(tmp_path / "d.txt", "a.example\n")
    result = fanzha("import", str(path), "--kind", "domain")
    assert "情报导入结果" in result.stdout and "新增" in result.stdout
    check = fanzha("check", "a.example")
    assert "情报核查" in check.stdout and "涉诈" in check.stdout


def test_a_folder_imports_every_feed_in_it(data_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "feeds"
    (folder / "sub").mkdir(parents=True)
    write(folder / "one.txt", "0.0.0.0 one.example\n")
    write(folder / "sub" / "two.txt", "0.0.0.0 two.example\n")
    write(folder / "LICENSE", "This is free and unencumbered software.\n")
    write(folder / "README.md", "# lists\n")
    write(folder / ".hidden", "0.0.0.0 hidden.example\n")
    out = summary(str(folder))
    assert [Path(f["path"]).name for f in out["files"]] == ["one.txt", "two.txt"]
    assert sorted(Path(p).name for p in out["skipped_files"]) == [".hidden", "LICENSE", "README.md"]
    assert out["totals"]["added"] == 2


def test_exit_codes(data_dir: Path, tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.txt", "not a host\n")
    assert summary(str(bad), "--kind", "domain", code=1)["totals"]["problems"] == 1
    empty = write(tmp_path / "empty.txt", "")
    fanzha("import", str(empty), "--kind", "domain", code=1)
    fanzha("import", str(tmp_path / "missing.txt"), "--kind", "domain", code=2)
    fanzha("import", str(bad), "--kind", "planet", code=2)
    fanzha("import", str(bad), "--kind", "domain", "--format", "xml", code=2)
    fanzha("import", str(bad), "--kind", "domain", "--map", "valeur=x", code=2)
    fanzha("import", str(bad), "--kind", "domain", "--verdict", "maybe", code=2)
    plain = write(tmp_path / "plain.txt", "a.example\n")
    out = summary(str(plain), code=2)  # a plain list without --kind
    assert "--kind" in out["files"][0]["error"]


@pytest.mark.skipif(not SCAM_LIST.is_file(), reason=f"real block list not at {SCAM_LIST}")
def test_import_a_real_block_list(data_dir: Path) -> None:
    out = summary(str(SCAM_LIST))
    [f] = out["files"]
    assert f["format"] == "hosts" and f["added"] > 8000 and f["problems"] == 0
    first = next(
        line.split()[1]
        for line in SCAM_LIST.read_text("utf-8").splitlines()
        if line.startswith("0.0.0.0 ")
    )
    [answer] = [json.loads(x) for x in fanzha("check", first, "--json").stdout.splitlines()]
    assert answer["verdict"] == "fraud" and answer["source"] == "scam.txt"


# --------------------------------------------------------------------------- check


def test_check_json_lines(data_dir: Path, tmp_path: Path) -> None:
    feed = write(tmp_path / "police.csv", POLICE)
    fanzha("import", str(feed))
    result = fanzha(
        "check",
        "13800138000",
        "www.例子.中国",
        "http://pay.fake-bank.example/login?x=1",
        "6222021001123456789",
        "innocent.example",
        "not a host",
    )
    assert "Indicator check" in result.stdout
    lines = fanzha(
        "check", "13800138000", "www.例子.中国", "innocent.example", "bad host", "--json"
    ).stdout.splitlines()
    answers = [json.loads(line) for line in lines]
    assert all(
        {"value", "verdict", "matched", "reason", "kind", "source", "confidence"} <= set(a)
        for a in answers
    )
    assert [(a["value"], a["kind"], a["verdict"]) for a in answers] == [
        ("13800138000", "phone", "fraud"),
        ("www.例子.中国", "domain", "suspicious"),
        ("innocent.example", "domain", "none"),
        ("bad host", "domain", "invalid"),
    ]
    assert answers[0]["matched"] == "+8613800138000" and answers[0]["source"] == "市局反诈中心"
    assert answers[1]["matched"] == "xn--fsqu00a.xn--fiqs8s"


def test_check_a_file_with_a_kind(data_dir: Path, tmp_path: Path) -> None:
    fanzha("add", "account", "6222021001123456789", "--reason", "victim report")
    values = write(
        tmp_path / "values.txt", "# to check\n6222021001123456789\n\n6217000000000000000\n"
    )
    lines = fanzha(
        "check", "--file", str(values), "--kind", "account", "--json"
    ).stdout.splitlines()
    assert [json.loads(x)["verdict"] for x in lines] == ["fraud", "none"]
    fanzha("check", code=2)
    fanzha("check", "--file", str(tmp_path / "missing"), code=2)


def test_check_reads_only_what_could_match_and_answers_as_the_full_index(
    data_dir: Path, tmp_path: Path
) -> None:
    feed = write(tmp_path / "block.txt", "example.com\nshop.co.uk\nevil.example.org\n")
    fanzha("import", str(feed), "--kind", "domain")
    fanzha("allow", "domain", "good.example.com", "--reason", "our own site")
    fanzha("add", "url", "http://pay.example.net/login", "--verdict", "suspicious")
    fanzha("add", "phone", "13800138000")
    with App(Settings(data_dir=data_dir)) as fz:
        prefixes = [
            Indicator(kind=IndicatorKind.PHONE, value="+86170*", verdict=Verdict.SUSPICIOUS),
            Indicator(kind=IndicatorKind.PHONE, value="+861701*", verdict=Verdict.ALLOW),
        ]
        fz.intel.upsert_many(prefixes, actor="import:ranges", reason="ranges")
    values = ["WWW.Example.COM.", "a.good.example.com", "http://u:p@x.shop.co.uk:8080/a",
              "http://pay.example.net/login", "https://pay.example.net/other", "co.uk",
              "+86 138-0013-8000", "17099998888", "17011112222", "innocent.example",
              "1.2.3.4"]  # fmt: skip
    lines = fanzha("check", *values, "--json").stdout.splitlines()
    got = [json.loads(line) for line in lines]
    with App(Settings(data_dir=data_dir)) as fz:
        full = fz.intel_index()
        small = fz.intel_index_for([(guess_kind(v), v) for v in values])
    assert len(small) == 7 < len(full) == 8  # evil.example.org is not read
    want = [full.check(guess_kind(v), [v])[0] for v in values]
    assert [(a["verdict"], a["matched"], a["reason"]) for a in got] == [
        (w.verdict, w.matched, w.reason) for w in want
    ]
    assert [a["verdict"] for a in got] == ["fraud", "allow", "fraud", "suspicious", "none",
        "none", "fraud", "suspicious", "allow", "none", "none"]  # fmt: skip


def test_check_reasons_in_chinese_by_default(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fanzha("add", "domain", "scam.example", "--reason", "r")
    monkeypatch.delenv("FANZHA_LANG")
    [line] = fanzha("check", "scam.example", "--json").stdout.splitlines()
    answer = json.loads(line)
    assert answer["verdict"] == "fraud" and "黑名单" in answer["reason"]


# --------------------------------------------------------------------------- export


def test_export_then_import_into_a_fresh_store_gives_the_same(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fanzha("import", str(write(tmp_path / "police.csv", POLICE)))
    fanzha("import", str(write(tmp_path / "ad.txt", "||c.example^\n@@||ok.example^\n")))
    fanzha("add", "app", "<script>alert(1)</script>", "--note", '引号 "x"\n换行', "--reason", "r")
    fanzha("allow", "domain", "bank.example", "--reason", "our bank")
    exported = tmp_path / "out" / "intel.csv"
    fanzha("export", "--out", str(exported))
    with App(Settings(data_dir=data_dir)) as fz:
        before = fz.intel.all()
    assert len(before) == 8
    fresh = tmp_path / "fresh"
    monkeypatch.setenv("FANZHA_DATA_DIR", str(fresh))
    out = summary(str(exported))
    assert out["files"][0]["format"] == "csv" and out["totals"]["added"] == 8
    with App(Settings(data_dir=fresh)) as fz:
        assert fz.intel.all() == before
    again = tmp_path / "again.csv"
    fanzha("export", "--out", str(again))
    assert again.read_bytes() == exported.read_bytes()


@pytest.mark.parametrize("fmt", ["json", "stix"])
def test_export_formats_round_trip(
    fmt: str, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fanzha("import", str(write(tmp_path / "police.csv", POLICE)))
    out = tmp_path / f"intel.{fmt}"
    fanzha("export", "--format", fmt, "--out", str(out))
    monkeypatch.setenv("FANZHA_DATA_DIR", str(tmp_path / "fresh"))
    assert summary(str(out))["totals"]["added"] == 4


def test_export_to_stdout_by_kind_and_hosts(data_dir: Path, tmp_path: Path) -> None:
    fanzha("import", str(write(tmp_path / "police.csv", POLICE)))
    plain = fanzha("export", "--kind", "phone", "--format", "plain").stdout
    assert plain == "+8613800138000\n"
    hosts = fanzha("export", "--format", "hosts").stdout
    assert hosts == "0.0.0.0 xn--fsqu00a.xn--fiqs8s\n"
    rows = [json.loads(x) for x in fanzha("export", "--format", "json").stdout.splitlines()]
    assert {r["kind"] for r in rows} == {"phone", "domain", "url", "account"}
    assert set(rows[0]) == {
        "kind",
        "value",
        "verdict",
        "confidence",
        "source",
        "first_seen",
        "last_seen",
        "expires",
        "note",
    }
    fanzha("export", "--format", "xml", code=2)


# --------------------------------------------------------------------------- one indicator


def test_add_allow_show_and_expire(data_dir: Path, tmp_path: Path) -> None:
    feed = write(tmp_path / "hosts.txt", "0.0.0.0 shop.example\n")
    fanzha("import", str(feed))
    allowed = fanzha("allow", "domain", "SHOP.example", "--reason", "a real shop, checked")
    assert "upgraded 1" in allowed.stdout
    again = summary(str(feed))
    assert again["totals"]["refused"] == 1  # a feed cannot undo a person's allow
    [answer] = [
        json.loads(x) for x in fanzha("check", "shop.example", "--json").stdout.splitlines()
    ]
    assert answer["verdict"] == "allow"
    shown = fanzha("show", "domain", "shop.example")
    assert "History" in shown.stdout and "allow" in shown.stdout
    record = json.loads(fanzha("show", "domain", "shop.example", "--json").stdout)
    assert record["verdict"] == "allow"
    assert [h["action"] for h in record["history"]] == ["added", "allow"]
    assert record["history"][0]["actor"] == "import:hosts.txt"
    assert record["history"][1]["actor"].startswith("manual:")
    assert record["history"][1]["reason"] == "a real shop, checked"
    fanzha("expire", "domain", "shop.example", "--reason", "closed")
    fanzha("expire", "domain", "shop.example", "--reason", "closed", code=1)
    assert fanzha("export").stdout.splitlines()[1:] == []
    fanzha("show", "domain", "nowhere.example", code=1)
    fanzha("show", "domain", "not a host", code=2)
    fanzha("add", "planet", "mars", code=2)
    fanzha("allow", "domain", "x.example", code=2)  # --reason is required


def test_kinds_may_be_named_in_chinese(data_dir: Path) -> None:
    fanzha("add", "号码", "13800138000", "--reason", "报案")
    [line] = fanzha("check", "13800138000", "--kind", "电话", "--json").stdout.splitlines()
    assert json.loads(line)["verdict"] == "fraud"


def test_a_person_can_lower_a_verdict(data_dir: Path) -> None:
    fanzha("add", "phone", "13800138000", "--reason", "report 1")
    lowered = fanzha("add", "phone", "13800138000", "--verdict", "suspicious", "--reason", "unsure")
    assert "upgraded 1" in lowered.stdout
    with App(Settings(data_dir=data_dir)) as fz:
        found = fz.intel.get(IndicatorKind.PHONE, "+8613800138000")
        history = fz.intel.history(IndicatorKind.PHONE, "+8613800138000")
    assert found is not None and found.verdict is Verdict.SUSPICIOUS
    assert [c.action.value for c in history] == ["added", "downgraded"]
