"""``fanzha demo``: write sample provider files (some records deliberately bad), ingest them
into the embedded profile, and show what landed and what was dead-lettered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from fanzha.i18n import t
from fanzha.ingest.pipeline import Request
from fanzha.lake.query import run_sql
from fanzha.service import App
from fanzha.settings import Settings

TZ = dt.timezone(dt.timedelta(hours=8))
START = dt.datetime(2024, 5, 1, 8, 0, tzinfo=TZ)

ORG_UNITS = [
    ("500000", "重庆市反诈中心", "city", None, "Chongqing anti-fraud centre"),
    ("500108", "南岸区反诈中心", "district", "500000", "Nan'an district centre"),
    ("500106", "沙坪坝区反诈中心", "district", "500000", "Shapingba district centre"),
    ("500108001", "南坪派出所", "station", "500108", "Nanping station"),
    ("500106001", "渝碚路派出所", "station", "500106", "Yubei Road station"),
    ("500108001001", "南坪东路社区", "community", "500108001", None),
    ("500106001001", "渝碚路社区", "community", "500106001", None),
]

PREFIXES = ["138", "139", "150", "186", "177", "170", "171", "165"]


def _msisdn(rng: random.Random) -> str:
    return rng.choice(PREFIXES) + f"{rng.randrange(10**8):08d}"


def _id_number(rng: random.Random, birth: dt.date) -> str:
    body = "500108" + birth.strftime("%Y%m%d") + f"{rng.randrange(1000):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    return body + check


def write_inputs(folder: Path, rows: int, seed: int = 7) -> list[Path]:
    """Write demo inputs in every supported format; return their paths."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    residents = [_msisdn(rng) for _ in range(max(50, rows // 40))]
    fraudsters = [_msisdn(rng) for _ in range(8)]
    return [
        _org_units(folder),
        _persons(folder, rng, residents),
        _calls_csv(folder, rng, residents, fraudsters, rows),
        _sichuan_voc(folder, rng, residents, rows // 10),
        _sms_ndjson(folder, rng, residents, fraudsters, rows // 4),
        _visits_parquet(folder, rng, residents, rows // 4),
        _transfers_xml(folder, rng),
    ]


def _org_units(folder: Path) -> Path:
    path = folder / "org_units.csv"
    lines = ["code,name,level,parent_code,name_en"]
    lines += [",".join(v or "" for v in unit) for unit in ORG_UNITS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _persons(folder: Path, rng: random.Random, phones: list[str]) -> Path:
    path = folder / "persons.ndjson"
    with path.open("w", encoding="utf-8") as fh:
        for i, phone in enumerate(phones[:40]):
            birth = dt.date(1940 + rng.randrange(60), 1 + rng.randrange(12), 1 + rng.randrange(28))
            record = {
                "id_number": _id_number(rng, birth),
                "name": rng.choice("王李张刘陈杨黄赵") + rng.choice(["伟", "芳", "娜", "敏", "静"]),
                "phones": [phone],
                "community": ORG_UNITS[5 + i % 2][0],
            }
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        fh.write('{"id_number": "500108199001011235", "name": "校验位错误"}\n')  # bad checksum
    return path


def _calls_csv(
    folder: Path, rng: random.Random, residents: list[str], fraudsters: list[str], rows: int
) -> Path:
    """Operator CDRs in GB18030 (as many Chinese exports are), with a few broken rows."""
    path = folder / "calls-operator.csv"
    lines = ["event_id,caller,callee,ts,duration_s,city,county,source"]
    for i in range(rows):
        caller = rng.choice(fraudsters if i % 50 == 0 else residents)
        callee = rng.choice(residents)
        ts = START + dt.timedelta(seconds=rng.randrange(7 * 86_400))
        lines.append(
            f"cdr-{i},{caller},{callee},{ts:%Y-%m-%d %H:%M:%S},{rng.randrange(900)},重庆,南岸区,"
            "联通"
        )
    lines.append("cdr-bad-1,13800138000,not-a-number,2024-05-01 10:00:00,30,重庆,南岸区,联通")
    lines.append("cdr-bad-2,13800138000,13900139000,2024-13-45 10:00:00,30,重庆,南岸区,联通")
    lines.append("cdr-bad-3,13800138000,13900139000")  # truncated line
    lines.append(lines[1])  # an exact duplicate
    path.write_bytes(("\n".join(lines) + "\n").encode("gb18030"))
    return path


def _sichuan_voc(folder: Path, rng: random.Random, residents: list[str], rows: int) -> Path:
    path = folder / "sichuan-voc.csv"

    def pseudo(phone: str) -> str:
        return hashlib.sha256(phone.encode()).hexdigest()

    lines = [
        "phone_no_m,opposite_no_m,calltype_id,start_datetime,call_dur,city_name,county_name,imei_m"
    ]
    for _ in range(rows):
        ts = START + dt.timedelta(seconds=rng.randrange(7 * 86_400))
        lines.append(
            f"{pseudo(rng.choice(residents))},{pseudo(rng.choice(residents))},"
            f"{rng.choice('123')},{ts:%Y-%m-%d %H:%M:%S},{rng.randrange(600)},成都,锦江区,"
            f"{rng.randrange(10**14, 10**15)}"
        )
    lines.append(f"{pseudo('x')},{pseudo('y')},9,2024-05-02 10:00:00,5,成都,锦江区,1")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _sms_ndjson(
    folder: Path, rng: random.Random, residents: list[str], fraudsters: list[str], rows: int
) -> Path:
    path = folder / "sms.ndjson"
    texts = ["您的快递已到,请到驿站领取", "恭喜您获得兼职刷单返利机会,日赚500元", "晚上一起吃饭吗"]
    with path.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            ts = START + dt.timedelta(seconds=rng.randrange(7 * 86_400))
            record = {
                "sender": rng.choice(fraudsters if i % 20 == 0 else residents),
                "recipient": rng.choice(residents),
                "ts": ts.isoformat(),
                "text": rng.choice(texts),
                "source": "移动",
            }
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        fh.write('{"sender": "13800138000", "recipient": "13900139000", "ts": \n')  # truncated
    return path


def _visits_parquet(folder: Path, rng: random.Random, residents: list[str], rows: int) -> Path:
    path = folder / "web_visits.parquet"
    hosts = [
        "https://www.taobao.com/item",
        "http://qihuo-touzi.example.cn/app",
        "https://百度.com/s",
    ]
    ts = [START + dt.timedelta(seconds=rng.randrange(7 * 86_400)) for _ in range(rows)]
    table = pa.table(
        {
            "subscriber": [rng.choice(residents) for _ in range(rows)],
            "url": [rng.choice(hosts) for _ in range(rows)],
            "ts": pa.array(ts, pa.timestamp("us", tz="Asia/Shanghai")),
            "source": ["isp"] * rows,
        }
    )
    pq.write_table(table, path)
    return path


def _transfers_xml(folder: Path, rng: random.Random) -> Path:
    """A pacs.008.001.08 credit transfer with a few transactions."""
    path = folder / "transfers-pacs008.xml"
    txs = []
    for i in range(5):
        amount = f"{rng.randrange(1_000, 200_000)}.{rng.randrange(100):02d}"
        txs.append(
            f"""<CdtTrfTxInf><PmtId><InstrId>I{i}</InstrId><EndToEndId>E2E{i}</EndToEndId>
<UETR>{uuid.UUID(int=rng.getrandbits(128), version=4)}</UETR></PmtId>
<IntrBkSttlmAmt Ccy="CNY">{amount}</IntrBkSttlmAmt><ChrgBr>SLEV</ChrgBr>
<Dbtr><Nm>王芳</Nm></Dbtr><DbtrAcct><Id><Othr><Id>6222020200112233{i:03d}</Id></Othr></Id></DbtrAcct>
<DbtrAgt><FinInstnId><BICFI>ICBKCNBJ</BICFI></FinInstnId></DbtrAgt>
<CdtrAgt><FinInstnId><BICFI>ABOCCNBJ</BICFI></FinInstnId></CdtrAgt>
<Cdtr><Nm>某某商贸有限公司</Nm></Cdtr><CdtrAcct><Id><Othr><Id>62284800{i:08d}</Id></Othr></Id></CdtrAcct>
<RmtInf><Ustrd>投资款</Ustrd></RmtInf></CdtTrfTxInf>"""
        )
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"><FIToFICstmrCdtTrf>
<GrpHdr><MsgId>DEMO-MSG-1</MsgId><CreDtTm>2024-05-03T10:15:00+08:00</CreDtTm>
<NbOfTxs>{len(txs)}</NbOfTxs><SttlmInf><SttlmMtd>CLRG</SttlmMtd></SttlmInf></GrpHdr>
{"".join(txs)}
</FIToFICstmrCdtTrf></Document>
"""
    path.write_text(xml, encoding="utf-8")
    return path


def run_demo(settings: Settings, folder: Path | None, rows: int, console: Console) -> None:
    """Write, ingest and summarise the demo data."""
    lang = settings.lang
    folder = folder or settings.data_dir / "demo-inputs"
    console.rule(t("demo_title", lang))
    paths = write_inputs(folder, rows)
    console.print(t("demo_written", lang, path=folder))
    with App(settings) as fz:
        for path in paths:
            profile = "sichuan-voc" if path.name.startswith("sichuan-voc") else None
            report = fz.ingest(Request([path], profile=profile))
            console.print(
                f"  {path.name:<24} {t('accepted', lang)} {report.accepted:>7,}  "
                f"{t('rejected', lang)} {report.rejected:>3}  "
                f"{t('duplicates', lang)} {report.duplicates:>5,}  ({report.seconds:.2f}s)"
            )
        letters = fz.store.dead_letters.list(limit=20)
    counts = run_sql(
        fz.lake,
        "SELECT 'call' AS type, count(*) AS n FROM call UNION ALL "
        "SELECT 'sms', count(*) FROM sms UNION ALL SELECT 'web_visit', count(*) FROM web_visit "
        "UNION ALL SELECT 'transfer', count(*) FROM transfer",
    )
    table = Table(title=t("events_in_lake", lang))
    table.add_column(t("type", lang))
    table.add_column(t("count", lang), justify="right")
    for row in counts.to_pylist():
        table.add_row(row["type"], f"{row['n']:,}")
    console.print(table)
    dl = Table(title=t("dead_letters", lang))
    for key in ("id", "source", "location", "reason"):
        dl.add_column(t(key, lang), overflow="fold")
    for r in letters:
        dl.add_row(str(r.id), Path(r.letter.source).name, r.letter.location, r.letter.reason)
    console.print(dl)
    console.print(
        'fanzha sql "SELECT caller, count(*) FROM call GROUP BY 1 ORDER BY 2 DESC LIMIT 5"'
    )
