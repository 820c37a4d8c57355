"""Builders of realistic ISO 20022 sample messages for the tests.

Each builder renders one message from a few parameters, in the element order of the official
XSD of the version asked for, so tests can vary a sample (leave an account out, change an
amount, add a transaction) and still get an otherwise realistic message:

* :func:`pacs008` for pacs.008.001.08 - .13 (one ``CdtTrfTxInf`` per :class:`PacsTx`);
* :func:`camt05x` for camt.053 / camt.054 .02, .04, .08 and .11 (one ``Ntry`` per
  :class:`CamtEntry`, one ``TxDtls`` per :class:`CamtTx`);
* :func:`envelope` wraps a ``Document`` with a ``head.001`` Business Application Header.

:data:`PACS_TXS` and :data:`CAMT_ACCOUNT` / :data:`CAMT_ENTRIES` are the realistic sample data
the tests use (Chinese names, IBANs and domestic account numbers, with and without UETR ...);
:func:`camt_mixed_entries` and :func:`camt_fee_entries` add the entries of a real statement that
are not account-to-account transfers (a bank fee, a card payment, interest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

PACS008_VERSIONS = ("08", "09", "10", "11", "12", "13")
CAMT_VERSIONS = ("02", "04", "08", "11")
HEAD_VERSIONS = ("01", "02", "03", "04")

_ISO = "urn:iso:std:iso:20022:tech:xsd:"


@dataclass(frozen=True, slots=True)
class Party:
    """A customer with an account at an agent (a bank).

    No ``iban`` and no ``other_id``: the account element is left out altogether.
    """

    name: str | None = None
    iban: str | None = None
    other_id: str | None = None  # Othr/Id, e.g. a domestic account or card number
    bic: str | None = None
    member_id: str | None = None  # ClrSysMmbId/MmbId, e.g. a 12-digit CNAPS bank code


@dataclass(frozen=True, slots=True)
class PacsTx:
    """One ``CdtTrfTxInf`` of a pacs.008."""

    debtor: Party
    creditor: Party
    amount: str = "100.00"
    currency: str = "CNY"
    end_to_end_id: str = "NOTPROVIDED"
    instr_id: str | None = None
    tx_id: str | None = None
    uetr: str | None = None
    accepted_at: str | None = None  # AccptncDtTm (AddtlDtTm/AccptncDtTm in .13)
    instructed_amount: str | None = None  # InstdAmt, same currency
    remittance: tuple[str, ...] = ()  # Ustrd lines


@dataclass(frozen=True, slots=True)
class CamtTx:
    """One ``TxDtls`` of a camt entry; ``counterparty`` is the other side of the entry.

    For a credit the counterparty is the debtor (``RltdPties/Dbtr``, ``DbtrAcct``,
    ``RltdAgts/DbtrAgt``), for a debit the creditor. ``amount=None`` leaves the transaction
    amount out (then a single ``TxDtls`` takes the entry amount).
    """

    counterparty: Party
    amount: str | None = None
    end_to_end_id: str | None = None
    instr_id: str | None = None
    tx_id: str | None = None
    uetr: str | None = None  # camt .08+ only
    acct_svcr_ref: str | None = None
    remittance: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CamtEntry:
    """One ``Ntry`` of a camt.053 statement or camt.054 notification."""

    direction: str  # "CRDT" or "DBIT", seen from the reported account
    amount: str
    txs: tuple[CamtTx, ...]
    currency: str = "CNY"
    status: str = "BOOK"  # BOOK, PDNG, INFO
    booked_at: str | None = None  # BookgDt/DtTm
    booked_on: str | None = None  # BookgDt/Dt
    value_date: str | None = None  # ValDt/Dt
    acct_svcr_ref: str | None = None
    reversal: bool = False
    # BkTxCd/Domn: domain, family, sub-family; None: PMNT/RCDT|ICDT/DMCT (a transfer)
    bank_tx_code: tuple[str, str, str] | None = None


# Bank transaction codes (ISO 20022 External Code Sets) of entries that are no transfer.
FEE_CODE = ("ACMT", "MDOP", "CHRG")  # account management / misc. debit / charges
INTEREST_CODE = ("ACMT", "MCOP", "INTR")  # account management / misc. credit / interest
CARD_POS_CODE = ("PMNT", "CCRD", "POSD")  # customer card / point-of-sale debit
ATM_CODE = ("PMNT", "CCRD", "CWDL")  # customer card / cash withdrawal


def _default_ns(namespace: str) -> Any:
    return {None: namespace}  # the lxml stubs do not allow a None (default) prefix


class _Builder:
    def __init__(self, namespace: str) -> None:
        self.ns = namespace

    def root(self, tag: str) -> etree._Element:
        return etree.Element(f"{{{self.ns}}}{tag}", nsmap=_default_ns(self.ns))

    def add(
        self,
        parent: etree._Element,
        tag: str,
        text: str | None = None,
        **attrib: str,
    ) -> etree._Element:
        el = etree.SubElement(parent, f"{{{self.ns}}}{tag}", attrib)
        if text is not None:
            el.text = text
        return el

    def path(self, parent: etree._Element, path: str, text: str) -> etree._Element:
        *steps, last = path.split("/")
        for step in steps:
            parent = self.add(parent, step)
        return self.add(parent, last, text)

    def agent(self, parent: etree._Element, tag: str, party: Party, *, old_bic: bool) -> None:
        if party.bic is None and party.member_id is None:
            return
        institution = self.add(self.add(parent, tag), "FinInstnId")
        if party.bic is not None:
            self.add(institution, "BIC" if old_bic else "BICFI", party.bic)
        if party.member_id is not None:
            member = self.add(institution, "ClrSysMmbId")
            self.path(member, "ClrSysId/Cd", "CNAPS")
            self.add(member, "MmbId", party.member_id)

    def account(self, parent: etree._Element, tag: str, party: Party) -> None:
        if party.iban is None and party.other_id is None:
            return
        ident = self.add(self.add(parent, tag), "Id")
        if party.iban is not None:
            self.add(ident, "IBAN", party.iban)
        else:
            assert party.other_id is not None
            other = self.add(ident, "Othr")
            self.add(other, "Id", party.other_id)
            self.path(other, "SchmeNm/Prtry", "CN-ACCT")


def _render(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --------------------------------------------------------------------------------------------
# pacs.008


def pacs008(
    version: str,
    txs: Sequence[PacsTx],
    *,
    msg_id: str = "FZ-PACS-20240506-0001",
    created: str = "2024-05-06T09:30:00+08:00",
    settlement_date: str = "2024-05-06",
    nb_of_txs: int | None = None,
    ctrl_sum: str | None = None,
    total_settled: tuple[str, str] | None = None,
) -> bytes:
    """A pacs.008.001.<version> FI-to-FI customer credit transfer."""
    if version not in PACS008_VERSIONS:
        raise ValueError(f"no pacs.008 builder for version {version}")
    b = _Builder(f"{_ISO}pacs.008.001.{version}")
    doc = b.root("Document")
    body = b.add(doc, "FIToFICstmrCdtTrf")
    hdr = b.add(body, "GrpHdr")
    b.add(hdr, "MsgId", msg_id)
    b.add(hdr, "CreDtTm", created)
    b.add(hdr, "NbOfTxs", str(len(txs) if nb_of_txs is None else nb_of_txs))
    if ctrl_sum is not None:
        b.add(hdr, "CtrlSum", ctrl_sum)
    if total_settled is not None:
        b.add(hdr, "TtlIntrBkSttlmAmt", total_settled[0], Ccy=total_settled[1])
    b.add(hdr, "IntrBkSttlmDt", settlement_date)
    settlement = b.add(hdr, "SttlmInf")
    b.add(settlement, "SttlmMtd", "CLRG")
    b.path(settlement, "ClrSys/Prtry", "CNAPS")
    if txs:
        b.agent(hdr, "InstgAgt", txs[0].debtor, old_bic=False)
        b.agent(hdr, "InstdAgt", txs[0].creditor, old_bic=False)
    for tx in txs:
        el = b.add(body, "CdtTrfTxInf")
        pmt = b.add(el, "PmtId")
        if tx.instr_id is not None:
            b.add(pmt, "InstrId", tx.instr_id)
        b.add(pmt, "EndToEndId", tx.end_to_end_id)
        if tx.tx_id is not None:
            b.add(pmt, "TxId", tx.tx_id)
        if tx.uetr is not None:
            b.add(pmt, "UETR", tx.uetr)
        b.add(el, "IntrBkSttlmAmt", tx.amount, Ccy=tx.currency)
        b.add(el, "IntrBkSttlmDt", settlement_date)
        if tx.accepted_at is not None:
            if version >= "13":
                b.path(el, "AddtlDtTm/AccptncDtTm", tx.accepted_at)
            else:
                b.add(el, "AccptncDtTm", tx.accepted_at)
        if tx.instructed_amount is not None:
            b.add(el, "InstdAmt", tx.instructed_amount, Ccy=tx.currency)
        b.add(el, "ChrgBr", "SLEV")
        debtor = b.add(el, "Dbtr")
        if tx.debtor.name is not None:
            b.add(debtor, "Nm", tx.debtor.name)
        b.account(el, "DbtrAcct", tx.debtor)
        b.agent(el, "DbtrAgt", tx.debtor, old_bic=False)
        b.agent(el, "CdtrAgt", tx.creditor, old_bic=False)
        creditor = b.add(el, "Cdtr")
        if tx.creditor.name is not None:
            b.add(creditor, "Nm", tx.creditor.name)
        b.account(el, "CdtrAcct", tx.creditor)
        if tx.remittance:
            rmt = b.add(el, "RmtInf")
            for line in tx.remittance:
                b.add(rmt, "Ustrd", line)
    return _render(doc)


# --------------------------------------------------------------------------------------------
# camt.053 / camt.054


def camt05x(
    kind: str,
    version: str,
    account: Party,
    entries: Sequence[CamtEntry],
    *,
    msg_id: str = "FZ-CAMT-20240506-0001",
    created: str = "2024-05-06T18:00:00+08:00",
    report_id: str = "STMT-755912345610801-20240506",
    currency: str = "CNY",
) -> bytes:
    """A camt.053.001.<version> statement (``kind="053"``) or camt.054 notification."""
    if kind not in ("053", "054"):
        raise ValueError(f"no camt builder for camt.{kind}")
    if version not in CAMT_VERSIONS:
        raise ValueError(f"no camt builder for version {version}")
    modern = version >= "08"  # Sts/Cd, Dbtr/Pty, UETR
    old_bic = version == "02"  # FinInstnId/BIC instead of BICFI
    b = _Builder(f"{_ISO}camt.{kind}.001.{version}")
    doc = b.root("Document")
    body = b.add(doc, "BkToCstmrStmt" if kind == "053" else "BkToCstmrDbtCdtNtfctn")
    hdr = b.add(body, "GrpHdr")
    b.add(hdr, "MsgId", msg_id)
    b.add(hdr, "CreDtTm", created)
    report = b.add(body, "Stmt" if kind == "053" else "Ntfctn")
    b.add(report, "Id", report_id)
    b.add(report, "CreDtTm", created)
    acct = b.add(report, "Acct")
    ident = b.add(acct, "Id")
    if account.iban is not None:
        b.add(ident, "IBAN", account.iban)
    else:
        b.path(ident, "Othr/Id", account.other_id or "")
    b.add(acct, "Ccy", currency)
    if account.name is not None:
        b.path(acct, "Ownr/Nm", account.name)
    b.agent(acct, "Svcr", account, old_bic=old_bic)
    if kind == "053":
        day = created[:10]
        for balance in ("OPBD", "CLBD"):
            bal = b.add(report, "Bal")
            b.path(bal, "Tp/CdOrPrtry/Cd", balance)
            b.add(bal, "Amt", "0.00", Ccy=currency)
            b.add(bal, "CdtDbtInd", "CRDT")
            b.path(bal, "Dt/Dt", day)
    for entry in entries:
        el = b.add(report, "Ntry")
        b.add(el, "Amt", entry.amount, Ccy=entry.currency)
        b.add(el, "CdtDbtInd", entry.direction)
        if entry.reversal:
            b.add(el, "RvslInd", "true")
        if modern:
            b.path(el, "Sts/Cd", entry.status)
        else:
            b.add(el, "Sts", entry.status)
        if entry.booked_at is not None:
            b.path(el, "BookgDt/DtTm", entry.booked_at)
        elif entry.booked_on is not None:
            b.path(el, "BookgDt/Dt", entry.booked_on)
        if entry.value_date is not None:
            b.path(el, "ValDt/Dt", entry.value_date)
        if entry.acct_svcr_ref is not None:
            b.add(el, "AcctSvcrRef", entry.acct_svcr_ref)
        domain, family_code, sub_family = entry.bank_tx_code or (
            "PMNT",
            "RCDT" if entry.direction == "CRDT" else "ICDT",
            "DMCT",
        )
        code = b.add(b.add(el, "BkTxCd"), "Domn")
        b.add(code, "Cd", domain)
        family = b.add(code, "Fmly")
        b.add(family, "Cd", family_code)
        b.add(family, "SubFmlyCd", sub_family)
        if entry.txs:
            details = b.add(el, "NtryDtls")
            for tx in entry.txs:
                _camt_tx(b, details, entry, tx, version, account)
    return _render(doc)


def _camt_tx(
    b: _Builder,
    details: etree._Element,
    entry: CamtEntry,
    tx: CamtTx,
    version: str,
    account: Party,
) -> None:
    modern = version >= "08"
    old_bic = version == "02"
    if tx.uetr is not None and not modern:
        raise ValueError(f"camt .{version} has no Refs/UETR")
    el = b.add(details, "TxDtls")
    refs = b.add(el, "Refs")
    for tag, value in (
        ("AcctSvcrRef", tx.acct_svcr_ref),
        ("InstrId", tx.instr_id),
        ("EndToEndId", tx.end_to_end_id),
        ("UETR", tx.uetr),
        ("TxId", tx.tx_id),
    ):
        if value is not None:
            b.add(refs, tag, value)
    if tx.amount is not None:
        if version == "02":
            b.path(el, "AmtDtls/TxAmt/Amt", tx.amount).set("Ccy", entry.currency)
        else:
            b.add(el, "Amt", tx.amount, Ccy=entry.currency)
            b.add(el, "CdtDbtInd", entry.direction)
    credit = (entry.direction == "CRDT") != entry.reversal
    debtor, creditor = (tx.counterparty, account) if credit else (account, tx.counterparty)
    parties = b.add(el, "RltdPties")
    for role, party in (("Dbtr", debtor), ("Cdtr", creditor)):
        if party.name is not None:
            holder = b.add(parties, role)
            b.path(holder, "Pty/Nm" if modern else "Nm", party.name)
        b.account(parties, f"{role}Acct", party)
    agents = b.add(el, "RltdAgts")
    b.agent(agents, "DbtrAgt", debtor, old_bic=old_bic)
    b.agent(agents, "CdtrAgt", creditor, old_bic=old_bic)
    if len(agents) == 0:
        el.remove(agents)
    if tx.remittance:
        rmt = b.add(el, "RmtInf")
        for line in tx.remittance:
            b.add(rmt, "Ustrd", line)


# --------------------------------------------------------------------------------------------
# Business Application Header envelope


def envelope(
    document: bytes | None,
    message_type: str,
    *,
    root: str = "BizMsg",
    header_version: str = "02",
    sender_bic: str = "ICBKCNBJXXX",
    receiver_bic: str = "CMBCCNBSXXX",
    biz_msg_id: str = "BAH-20240506-0001",
    created: str = "2024-05-06T01:30:00Z",
) -> bytes:
    """``<root>`` holding a head.001.001.<header_version> ``AppHdr`` and the ``Document``.

    ``document=None`` gives an envelope with a header and no Document.
    """
    if header_version not in HEAD_VERSIONS:
        raise ValueError(f"no head.001 builder for version {header_version}")
    outer = etree.Element(root)
    b = _Builder(f"{_ISO}head.001.001.{header_version}")
    hdr = etree.SubElement(outer, f"{{{b.ns}}}AppHdr", nsmap=_default_ns(b.ns))
    for side, bic in (("Fr", sender_bic), ("To", receiver_bic)):
        b.path(b.add(hdr, side), "FIId/FinInstnId/BICFI", bic)
    b.add(hdr, "BizMsgIdr", biz_msg_id)
    b.add(hdr, "MsgDefIdr", message_type)
    b.add(hdr, "CreDt", created)
    if document is not None:
        outer.append(etree.fromstring(document))
    return _render(outer)


# --------------------------------------------------------------------------------------------
# the realistic sample data

UETR_1 = "e8b1a5d2-3c4f-4a6b-9d8e-7f6a5b4c3d21"
UETR_3 = "0f3c9a7e-51b2-4c8d-a6e4-2b9d8c7f6e15"
UETR_5 = "7a2d4e6f-8b1c-4d3e-b5f7-9c0a1b2c3d4e"

ZHANG_WEI = Party(name="张伟", other_id="6222021001123456789", bic="ICBKCNBJXXX")
XINDA = Party(name="深圳市鑫达贸易有限公司", other_id="755912345610801", bic="CMBCCNBSXXX")
LI_NA = Party(name="李娜", iban="DE89370400440532013000", bic="COBADEFFXXX")
WANG_FANG = Party(name="王芳", other_id="6217000010012345678", member_id="105100000017")
CHEN_JIE = Party(name="陈杰", other_id="6228480012345678901", bic="ABOCCNBJ")
ALICE = Party(name="Alice Smith", iban="GB29NWBK60161331926819", bic="NWBKGB2L")
TANAKA = Party(name="田中太郎", other_id="1234567", bic="MHCBJPJT")
ANONYMOUS = Party(other_id="6230580000123456789", member_id="313584099990")

PACS_TXS: tuple[PacsTx, ...] = (
    PacsTx(
        debtor=ZHANG_WEI,
        creditor=XINDA,
        amount="50000.00",
        end_to_end_id="E2E-20240506-0001",
        instr_id="INSTR-0001",
        tx_id="TX-0001",
        uetr=UETR_1,
        accepted_at="2024-05-06T09:12:45+08:00",
        remittance=("货款", "合同号 HT-2024-0506"),
    ),
    PacsTx(
        debtor=LI_NA,
        creditor=WANG_FANG,
        amount="1234.56",
        currency="EUR",
        end_to_end_id="E2E-20240506-0002",
        instr_id="INSTR-0002",
        tx_id="TX-0002",
        instructed_amount="1234.56",
    ),
    PacsTx(
        debtor=CHEN_JIE,
        creditor=ALICE,
        amount="99.99",
        currency="USD",
        end_to_end_id="E2E-20240506-0003",
        uetr=UETR_3,
        accepted_at="2024-05-06T10:00:00",
        remittance=("Invoice 42",),
    ),
    PacsTx(
        debtor=TANAKA,
        creditor=ANONYMOUS,
        amount="150000",
        currency="JPY",
        end_to_end_id="NOTPROVIDED",
    ),
)
PACS_CTRL_SUM = "201334.55"

CAMT_ACCOUNT = XINDA

CAMT_ENTRIES: tuple[CamtEntry, ...] = (
    CamtEntry(
        direction="CRDT",
        amount="50000.00",
        booked_at="2024-05-06T09:13:02+08:00",
        value_date="2024-05-06",
        acct_svcr_ref="CMB-20240506-000101",
        txs=(
            CamtTx(
                counterparty=ZHANG_WEI,
                amount="50000.00",
                end_to_end_id="E2E-20240506-0001",
                tx_id="TX-0001",
                uetr=UETR_1,
                remittance=("货款",),
            ),
        ),
    ),
    CamtEntry(
        direction="CRDT",
        amount="30000.00",
        booked_on="2024-05-06",
        acct_svcr_ref="CMB-20240506-000102",
        txs=(
            CamtTx(
                counterparty=LI_NA,
                amount="18000.00",
                end_to_end_id="E2E-B-1",
                acct_svcr_ref="CMB-20240506-000102-1",
            ),
            CamtTx(
                counterparty=WANG_FANG,
                amount="12000.00",
                end_to_end_id="E2E-B-2",
                acct_svcr_ref="CMB-20240506-000102-2",
                remittance=("还款", "第二期"),
            ),
        ),
    ),
    CamtEntry(
        direction="DBIT",
        amount="47500.00",
        booked_at="2024-05-06T11:30:00",
        acct_svcr_ref="CMB-20240506-000103",
        txs=(CamtTx(counterparty=CHEN_JIE, end_to_end_id="E2E-OUT-0001"),),
    ),
    CamtEntry(
        direction="CRDT",
        amount="888.00",
        status="PDNG",
        acct_svcr_ref="CMB-20240506-000104",
        txs=(CamtTx(counterparty=ZHANG_WEI, amount="888.00"),),
    ),
    CamtEntry(
        direction="DBIT",
        amount="2000.00",
        booked_at="2024-05-06T15:45:10+08:00",
        acct_svcr_ref="CMB-20240506-000105",
        txs=(
            CamtTx(
                counterparty=ALICE,
                amount="2000.00",
                end_to_end_id="E2E-OUT-0002",
                uetr=UETR_5,
                remittance=("Consulting fee",),
            ),
        ),
    ),
)


def camt_entries(version: str) -> tuple[CamtEntry, ...]:
    """:data:`CAMT_ENTRIES` as the given camt version can carry them.

    .02 and .04 have no ``Refs/UETR``; .04 requires an amount on every ``TxDtls``.
    """
    out: list[CamtEntry] = []
    for entry in CAMT_ENTRIES:
        txs = tuple(
            CamtTx(
                counterparty=tx.counterparty,
                amount=tx.amount if tx.amount is not None or version != "04" else entry.amount,
                end_to_end_id=tx.end_to_end_id,
                instr_id=tx.instr_id,
                tx_id=tx.tx_id,
                uetr=tx.uetr if version >= "08" else None,
                acct_svcr_ref=tx.acct_svcr_ref,
                remittance=tx.remittance,
            )
            for tx in entry.txs
        )
        out.append(
            CamtEntry(
                direction=entry.direction,
                amount=entry.amount,
                txs=txs,
                currency=entry.currency,
                status=entry.status,
                booked_at=entry.booked_at,
                booked_on=entry.booked_on,
                value_date=entry.value_date,
                acct_svcr_ref=entry.acct_svcr_ref,
                reversal=entry.reversal,
                bank_tx_code=entry.bank_tx_code,
            )
        )
    return tuple(out)


# A merchant as a card statement shows it: a name, no account.
MEITUAN = Party(name="美团外卖 北京三快在线科技有限公司")


def camt_mixed_entries(version: str) -> tuple[CamtEntry, ...]:
    """A statement day as banks write it: a bank fee (no ``NtryDtls`` at all), a card payment
    (``TxDtls`` naming the merchant but no ``CdtrAcct``), a transfer in, a pending entry.
    """
    card_tx = CamtTx(
        counterparty=MEITUAN,
        amount="68.50",
        acct_svcr_ref="CMB-20240506-000202-1",
        remittance=("POS 消费 卡号 6225********1234",),
    )
    credit_tx = CamtTx(
        counterparty=ZHANG_WEI,
        amount="50000.00",
        end_to_end_id="E2E-20240506-0001",
        tx_id="TX-0001",
        uetr=UETR_1 if version >= "08" else None,
        remittance=("货款",),
    )
    return (
        CamtEntry(
            direction="DBIT",
            amount="15.00",
            booked_on="2024-05-06",
            acct_svcr_ref="CMB-20240506-000201",
            bank_tx_code=FEE_CODE,
            txs=(),
        ),
        CamtEntry(
            direction="DBIT",
            amount="68.50",
            booked_at="2024-05-06T12:31:07+08:00",
            acct_svcr_ref="CMB-20240506-000202",
            bank_tx_code=CARD_POS_CODE,
            txs=(card_tx,),
        ),
        CamtEntry(
            direction="CRDT",
            amount="50000.00",
            booked_at="2024-05-06T09:13:02+08:00",
            value_date="2024-05-06",
            acct_svcr_ref="CMB-20240506-000101",
            txs=(credit_tx,),
        ),
        CamtEntry(
            direction="CRDT",
            amount="888.00",
            status="PDNG",
            acct_svcr_ref="CMB-20240506-000104",
            txs=(CamtTx(counterparty=ZHANG_WEI, amount="888.00"),),
        ),
    )


def camt_fee_entries() -> tuple[CamtEntry, ...]:
    """A statement with no transfer at all: an account fee, an SMS fee and interest."""
    return (
        CamtEntry(
            direction="DBIT",
            amount="10.00",
            booked_on="2024-05-06",
            acct_svcr_ref="CMB-20240506-000301",
            bank_tx_code=FEE_CODE,
            txs=(),
        ),
        CamtEntry(
            direction="DBIT",
            amount="2.00",
            booked_on="2024-05-06",
            acct_svcr_ref="CMB-20240506-000302",
            bank_tx_code=FEE_CODE,
            txs=(),
        ),
        CamtEntry(
            direction="CRDT",
            amount="3.17",
            booked_on="2024-05-06",
            acct_svcr_ref="CMB-20240506-000303",
            bank_tx_code=INTEREST_CODE,
            txs=(),
        ),
    )
