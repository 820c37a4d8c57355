"""The stop-payment desk's content (止付专岗): the report form and its narrative pre-fill, the
form turned into a report, cases and orders as the pages show them (masked), extended
stop-payment proposals, and the dashboard's funds tiles.

Pure of HTTP: the routes in :mod:`fanzha.web.funds_pages` read forms and call these.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from fanzha.auth.masking import mask_account, mask_name, mask_phone
from fanzha.funds import kpi
from fanzha.funds.extract import extract
from fanzha.funds.orders import Case, Order, OrderKind, OrderState, order_id
from fanzha.model import values
from fanzha.model.enums import FraudType

#: rows the form shows at least (empty ones are ignored on confirmation)
MIN_ROWS = 2
#: a CSS class per order state (the badge colour)
STATE_CSS = {
    OrderState.DRAFT: "muted",
    OrderState.SENT: "pending",
    OrderState.EXECUTED: "held",
    OrderState.PARTIAL: "held partial",
    OrderState.FAILED: "failed",
    OrderState.EXPIRED: "muted",
    OrderState.RELEASED: "muted",
}


@dataclass
class PayRow:
    """One payment as typed: account, bank, amount in yuan, time (``YYYY-MM-DDTHH:MM``)."""

    account: str = ""
    bank: str = ""
    amount: str = ""
    at: str = ""

    @property
    def empty(self) -> bool:
        """Nothing typed in the row."""
        return not (self.account.strip() or self.amount.strip())


@dataclass
class Draft:
    """The report form as the officer has filled it so far (the mirror screen shows the
    payments and the loss of exactly this)."""

    narrative: str = ""
    fraud_type: str = FraudType.OTHER.value
    victim_name: str = ""
    victim_phone: str = ""
    loss: str = ""
    payments: list[PayRow] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    apps: list[str] = field(default_factory=list)

    def padded(self) -> Draft:
        """The draft with at least :data:`MIN_ROWS` payment rows and one of each suspect kind
        (empty inputs for the officer to fill)."""
        rows = self.payments + [PayRow() for _ in range(MIN_ROWS - len(self.payments))]
        return Draft(
            self.narrative,
            self.fraud_type,
            self.victim_name,
            self.victim_phone,
            self.loss,
            rows,
            self.phones or [""],
            self.urls or [""],
            self.apps or [""],
        )


# ---------------------------------------------------------------------- money and time


def yuan_to_fen(text: str) -> int | None:
    """``"1,234.5"`` → 123450; None when it is not an amount (exact: no float)."""
    cleaned = text.strip().replace(",", "").replace("，", "").lstrip("¥￥")
    if not cleaned:
        return None
    try:
        fen = Decimal(cleaned) * 100
    except InvalidOperation:
        return None
    return int(fen) if fen == fen.to_integral_value() and fen >= 0 else None


def fen_to_yuan(fen: int) -> str:
    """123450 → ``"1,234.50"``."""
    return f"{fen / 100:,.2f}"


def local_input(at: dt.datetime | None, tz: str) -> str:
    """A moment as a ``datetime-local`` input value in the city's time zone."""
    return "" if at is None else at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")


def from_input(text: str, tz: str) -> dt.datetime | None:
    """A ``datetime-local`` value (city time) as an aware moment; None when empty or bad."""
    try:
        naive = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return naive if naive.tzinfo else naive.replace(tzinfo=ZoneInfo(tz))


# ---------------------------------------------------------------------- the form


def prefill(narrative: str, now: dt.datetime, tz: str, draft: Draft) -> Draft:
    """The draft with what the narrative names added as editable rows (the officer
    confirms): payments (account, amount, time), suspect phones, URLs and apps."""
    found = extract(narrative, now.astimezone(ZoneInfo(tz)))
    rows = [r for r in draft.payments if not r.empty]
    typed = {r.account for r in rows}
    for p in found.payments:
        if p.account is not None and p.account in typed:
            continue
        rows.append(
            PayRow(
                p.account or "",
                _bank(p.account),
                _plain_yuan(p.amount_fen),
                local_input(p.paid_at, tz),
            )
        )
    for account in found.accounts:  # accounts named without an amount: the officer adds it
        if account not in typed and all(r.account != account for r in rows):
            rows.append(PayRow(account, _bank(account)))
    loss = draft.loss or (_plain_yuan(found.loss_fen) if found.loss_fen else "")
    return Draft(
        narrative,
        draft.fraud_type,
        draft.victim_name,
        draft.victim_phone,
        loss,
        rows,
        _merge(draft.phones, found.phones),
        _merge(draft.urls, found.urls),
        _merge(draft.apps, found.apps),
    )


def _plain_yuan(fen: int) -> str:
    return f"{fen // 100}" if fen % 100 == 0 else f"{fen / 100:.2f}"


def _bank(account: str | None) -> str:
    if not account:
        return ""
    try:
        return values.parse_account(account).bank or ""
    except values.InvalidValue:
        return ""


def _merge(typed: list[str], found: list[str]) -> list[str]:
    kept = [t for t in typed if t.strip()]
    return kept + [f for f in found if f not in kept]


def draft_of(form: Any) -> Draft:
    """The draft from a submitted form (repeated fields keep their rows aligned)."""
    accounts, banks = form.getlist("pay_account"), form.getlist("pay_bank")
    amounts, times = form.getlist("pay_amount"), form.getlist("pay_time")
    rows = [
        PayRow(str(a), _at(banks, i), _at(amounts, i), _at(times, i))
        for i, a in enumerate(accounts)
    ]
    return Draft(
        narrative=str(form.get("narrative") or ""),
        fraud_type=str(form.get("fraud_type") or FraudType.OTHER.value),
        victim_name=str(form.get("victim_name") or ""),
        victim_phone=str(form.get("victim_phone") or ""),
        loss=str(form.get("loss") or ""),
        payments=rows,
        phones=[str(v) for v in form.getlist("phone")],
        urls=[str(v) for v in form.getlist("url")],
        apps=[str(v) for v in form.getlist("app")],
    )


def _at(items: list[Any], i: int) -> str:
    return str(items[i]) if i < len(items) else ""


def report_data(
    draft: Draft, *, report_id: str, unit: str, taken_by: str, now: dt.datetime, tz: str
) -> dict[str, Any]:
    """What :func:`fanzha.funds.report.parse_report` takes, from the confirmed draft; a bad
    amount or time is passed on as typed so that the report's validation names its row."""
    payments = []
    for row in draft.payments:
        if row.empty:
            continue
        fen = yuan_to_fen(row.amount)
        payment: dict[str, Any] = {
            "account": row.account.strip(),
            "amount_fen": row.amount if fen is None else fen,
            "channel": "desk",
        }
        if row.bank.strip():
            payment["bank"] = row.bank.strip()
        if row.at.strip():
            payment["paid_at"] = from_input(row.at, tz) or row.at
        payments.append(payment)
    data: dict[str, Any] = {
        "report_id": report_id,
        "unit": unit,
        "received_at": now,
        "taken_by": taken_by,
        "source": "desk",
        "fraud_type": draft.fraud_type,
        "narrative": draft.narrative,
        "payments": payments,
        "suspect_phones": [p.strip() for p in draft.phones if p.strip()],
        "suspect_urls": [u.strip() for u in draft.urls if u.strip()],
        "suspect_apps": [a.strip() for a in draft.apps if a.strip()],
    }
    loss = yuan_to_fen(draft.loss)
    if draft.loss.strip():
        data["loss_fen"] = draft.loss if loss is None else loss
    if draft.victim_name.strip():
        data["victim_name"] = draft.victim_name.strip()
    if draft.victim_phone.strip():
        data["victim_phone"] = draft.victim_phone.strip()
    return data


# ---------------------------------------------------------------------- the mirror screen


def mirror_rows(draft: Draft | None) -> dict[str, Any]:
    """What the victim sees: each payment's account (in groups of four digits), bank, amount
    and time, and the loss — nothing else from the form."""
    if draft is None:
        return {"rows": [], "loss": ""}
    rows = []
    for r in draft.payments:
        if r.empty:
            continue
        fen = yuan_to_fen(r.amount)
        rows.append(
            {
                "account": _grouped(r.account),
                "bank": r.bank.strip() or _bank(r.account.strip()),
                "amount": r.amount.strip() if fen is None else fen_to_yuan(fen),
                "at": r.at.replace("T", " "),
            }
        )
    loss = yuan_to_fen(draft.loss)
    return {"rows": rows, "loss": "" if loss is None else fen_to_yuan(loss)}


def _grouped(account: str) -> str:
    digits = account.replace(" ", "").replace("-", "")
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


# ---------------------------------------------------------------------- cases and orders


def case_view(case: Case, tz: str, lang: str) -> dict[str, Any]:
    """A case for the pages: victim identifiers masked, amounts in yuan."""
    r = case.report
    return {
        "case_id": case.case_id,
        "unit": case.unit,
        "state": case.state.value,
        "escalated": case.escalated,
        "received": r.received_at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M"),
        "fraud_type": r.fraud_type.value if lang.startswith("en") else r.fraud_type.label_zh,
        "loss": fen_to_yuan(r.loss_fen),
        "victim_name": mask_name(r.victim_name) if r.victim_name else "",
        "victim_phone": mask_phone(r.victim_phone) if r.victim_phone else "",
        "payments": [
            {
                "account": mask_account(p.account),
                "bank": p.bank or "",
                "amount": fen_to_yuan(p.amount_fen),
                "at": ""
                if p.paid_at is None
                else p.paid_at.astimezone(ZoneInfo(tz)).strftime("%m-%d %H:%M"),
            }
            for p in r.payments
        ],
        "phones": [mask_phone(p) for p in r.suspect_phones],
        "urls": list(r.suspect_urls),
        "apps": list(r.suspect_apps),
        "returned": fen_to_yuan(case.returned_fen),
    }


def order_view(order: Order, tz: str, lang: str) -> dict[str, Any]:
    """An order for the pages (the account masked)."""
    zone = ZoneInfo(tz)

    def when(at: dt.datetime | None) -> str:
        return "" if at is None else at.astimezone(zone).strftime("%m-%d %H:%M:%S")

    return {
        "order_id": order.order_id,
        "account": mask_account(order.account),
        "bank": order.bank or "",
        "kind": order.kind.label(lang),
        "hop": order.hop,
        "amount": fen_to_yuan(order.amount_fen),
        "held": fen_to_yuan(order.held_fen),
        "state": order.state.value,
        "state_label": order.state.label(lang),
        "css": STATE_CSS[order.state],
        "sent": when(order.sent_at),
        "answered": when(order.answered_at),
        "can_send": order.state is OrderState.DRAFT,
        "can_convert": order.kind is OrderKind.STOP_PAYMENT and order.state.holding,
    }


def proposals(case: Case, ordered: set[str]) -> list[dict[str, Any]]:
    """The extended stop-payment proposals not yet ordered, most money first; each keyed by
    the id its order will have (so that no account number goes into the page)."""
    found = [
        (fen, hop, account)
        for account, (fen, hop) in case.proposals.items()
        if account not in ordered
    ]
    found.sort(key=lambda x: (-x[0], x[1], x[2]))
    return [
        {
            "key": order_id(case.case_id, account, OrderKind.STOP_PAYMENT),
            "account": mask_account(account),
            "hop": hop,
            "amount": fen_to_yuan(fen),
        }
        for fen, hop, account in found
    ]


def proposal_account(case: Case, key: str) -> str | None:
    """The proposed account whose order id is ``key``."""
    for account in case.proposals:
        if order_id(case.case_id, account, OrderKind.STOP_PAYMENT) == key:
            return account
    return None


# ---------------------------------------------------------------------- dashboard tiles


def rate60(cases: list[Case], orders: list[Order]) -> float | None:
    """The 60-minute stop-payment rate of ``cases`` (the funds KPI); None: no case with an
    order yet."""
    card = kpi.scorecard(cases, orders)
    return card.stopped_60min / card.cases_with_orders if card.cases_with_orders else None
