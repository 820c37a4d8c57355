"""Events: immutable facts from data providers, and the reference entities of the registry.

Every event has ``event_id`` (idempotency key), ``source`` and ``ts`` (timezone-aware event
time). ``docs/events.md`` is generated from these classes (``fanzha docs events``).
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from fanzha.model import values
from fanzha.model.enums import FRAUD_TYPE_ALIASES, CallDirection, FraudType, OrgLevel
from fanzha.model.fields import (
    AccountList,
    AccountNo,
    Currency,
    Day,
    DomainStr,
    EventId,
    Fen,
    FieldMeta,
    IdNo,
    Kind,
    Label,
    Phone,
    PhoneList,
    Seconds,
    Text,
    Timestamp,
    UrlList,
    UrlStr,
)


def parse_fraud_type(value: object) -> FraudType:
    """A fraud type by its id or its Chinese label (刷单返利 …)."""
    text = str(value).strip()
    found = FRAUD_TYPE_ALIASES.get(text) or FRAUD_TYPE_ALIASES.get(text.lower())
    if found is None:
        choices = ", ".join(ft.value for ft in FraudType)
        raise values.InvalidValue(f"unknown fraud type {text[:40]!r}; expected one of {choices}")
    return found


def parse_direction(value: object) -> CallDirection:
    """A call direction by name."""
    text = str(value).strip().lower()
    try:
        return CallDirection(text)
    except ValueError:
        choices = ", ".join(d.value for d in CallDirection)
        raise values.InvalidValue(f"unknown direction {text[:40]!r}; expected {choices}") from None


FraudTypeField = Annotated[FraudType, FieldMeta(Kind.ENUM), BeforeValidator(parse_fraud_type)]
DirectionField = Annotated[CallDirection, FieldMeta(Kind.ENUM), BeforeValidator(parse_direction)]


class Event(BaseModel):
    """Common fields of every event."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    #: Stable name of the event type (partition name in the lake, ``--type`` on the CLI).
    type_name: ClassVar[str] = "event"
    #: Fields that identify the fact when the source gives no ``event_id``.
    identity: ClassVar[tuple[str, ...]] = ()

    event_id: EventId = Field(
        description="Stable id from the source; derived from the identity fields when absent."
    )
    source: Label = Field(description="Data provider that sent the event (e.g. an operator).")
    ts: Timestamp = Field(description="When it happened; no offset means the configured zone.")


class CallRecord(Event):
    """A voice call between two numbers (operator CDR)."""

    type_name: ClassVar[str] = "call"
    identity: ClassVar[tuple[str, ...]] = ("caller", "callee", "ts", "duration_s")

    caller: Phone = Field(description="Calling number, E.164 or pseudonym.")
    callee: Phone = Field(description="Called number, E.164 or pseudonym.")
    duration_s: Seconds = Field(description="Talk time; 0 for unanswered calls.")
    direction: DirectionField | None = Field(
        default=None, description="Direction seen by the subscriber the export was made for."
    )
    caller_imei: Label | None = Field(default=None, description="Device of the caller.")
    callee_imei: Label | None = Field(default=None, description="Device of the callee.")
    city: Label | None = Field(default=None, description="City where the call was handled.")
    county: Label | None = Field(default=None, description="County / district of the call.")


class SmsRecord(Event):
    """A text message between two numbers."""

    type_name: ClassVar[str] = "sms"
    identity: ClassVar[tuple[str, ...]] = ("sender", "recipient", "ts", "text")

    sender: Phone = Field(description="Sending number, E.164, service number or pseudonym.")
    recipient: Phone = Field(description="Receiving number.")
    text: Text | None = Field(default=None, description="Message text, Simplified Chinese.")


class WebVisit(Event):
    """A subscriber visited a URL (from an operator or internet company)."""

    type_name: ClassVar[str] = "web_visit"
    identity: ClassVar[tuple[str, ...]] = ("subscriber", "url", "ts")

    subscriber: Phone = Field(description="Number of the visiting subscriber.")
    url: UrlStr = Field(description="Visited URL, normalised (punycode host).")
    domain: DomainStr | None = Field(
        default=None, description="Registered domain of the URL; derived when absent."
    )


class AppInstall(Event):
    """A subscriber installed an app (e.g. a screen-sharing or fake investment app)."""

    type_name: ClassVar[str] = "app_install"
    identity: ClassVar[tuple[str, ...]] = ("subscriber", "app_id", "ts")

    subscriber: Phone = Field(description="Number of the subscriber.")
    app_id: Label = Field(description="Package name or store id of the app.")
    app_name: Label | None = Field(default=None, description="Displayed app name.")
    imei: Label | None = Field(default=None, description="Device it was installed on.")


class Transfer(Event):
    """Money moved from one account to another."""

    type_name: ClassVar[str] = "transfer"
    identity: ClassVar[tuple[str, ...]] = (
        "payer_account",
        "payee_account",
        "amount_fen",
        "currency",
        "ts",
    )

    payer_account: AccountNo = Field(description="Debtor account or card number.")
    payee_account: AccountNo = Field(description="Creditor account or card number.")
    amount_fen: Fen = Field(description="Amount in fen; input may give `amount` in yuan.")
    currency: Currency = Field(default="CNY", description="ISO 4217 currency code.")
    payer_name: Label | None = Field(default=None, description="Debtor name.")
    payee_name: Label | None = Field(default=None, description="Creditor name.")
    payer_bank: Label | None = Field(default=None, description="Debtor agent (BIC or bank).")
    payee_bank: Label | None = Field(default=None, description="Creditor agent (BIC or bank).")
    channel: Label | None = Field(default=None, description="Channel: counter, mobile, ATM …")
    uetr: Label | None = Field(default=None, description="ISO 20022 UETR, where known.")
    end_to_end_id: Label | None = Field(default=None, description="End-to-end reference.")
    remittance: Text | None = Field(default=None, description="Payment note.")


class AccountOpened(Event):
    """A bank account was opened (for two-cards and branch accountability analysis)."""

    type_name: ClassVar[str] = "account_opened"
    identity: ClassVar[tuple[str, ...]] = ("account", "ts")

    account: AccountNo = Field(description="The new account or card number.")
    holder_id_number: IdNo | None = Field(default=None, description="Holder's resident ID.")
    holder_name: Label | None = Field(default=None, description="Holder's name.")
    bank: Label | None = Field(default=None, description="Bank name or code.")
    branch: Label | None = Field(default=None, description="Branch (网点) code where opened.")
    clerk: Label | None = Field(default=None, description="Clerk who opened it.")


class SimActivated(Event):
    """A SIM card / phone number was activated (for two-cards analysis)."""

    type_name: ClassVar[str] = "sim_activated"
    identity: ClassVar[tuple[str, ...]] = ("msisdn", "ts")

    msisdn: Phone = Field(description="The activated number.")
    holder_id_number: IdNo | None = Field(default=None, description="Holder's resident ID.")
    holder_name: Label | None = Field(default=None, description="Holder's name.")
    carrier: Label | None = Field(default=None, description="Operator.")
    store: Label | None = Field(default=None, description="Store (营业厅) code where activated.")
    clerk: Label | None = Field(default=None, description="Clerk who activated it.")
    imei: Label | None = Field(default=None, description="First device seen with the SIM.")


class PoliceReport(Event):
    """A fraud report received by the police (警情), naming what the fraudsters used."""

    type_name: ClassVar[str] = "police_report"
    identity: ClassVar[tuple[str, ...]] = ("reporter_phone", "ts", "narrative")

    reporter_phone: Phone | None = Field(default=None, description="Victim's phone.")
    reporter_id_number: IdNo | None = Field(default=None, description="Victim's resident ID.")
    fraud_type: FraudTypeField = Field(
        default=FraudType.OTHER,
        description="Case type: id, Chinese label or a usual short name (公检法, 刷单, 网贷 …).",
    )
    loss_fen: Fen = Field(default=0, description="Reported loss in fen; `loss` in yuan.")
    org_unit: Label | None = Field(default=None, description="Unit that took the report.")
    narrative: Text | None = Field(default=None, description="What happened, as told.")
    suspect_phones: PhoneList = Field(default_factory=list, description="Numbers named.")
    suspect_accounts: AccountList = Field(default_factory=list, description="Accounts named.")
    suspect_urls: UrlList = Field(default_factory=list, description="URLs / apps named.")


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type_name: cls
    for cls in (
        CallRecord,
        SmsRecord,
        WebVisit,
        AppInstall,
        Transfer,
        AccountOpened,
        SimActivated,
        PoliceReport,
    )
}


class Person(BaseModel):
    """A resident in the registry: identity, phones, accounts and home community."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)
    type_name: ClassVar[str] = "person"

    id_number: IdNo = Field(description="Resident identity number (18 characters).")
    name: Label = Field(description="Full name.")
    birth_date: Day | None = Field(default=None, description="Derived from the ID when absent.")
    phones: PhoneList = Field(default_factory=list, description="Phone numbers, E.164.")
    accounts: AccountList = Field(default_factory=list, description="Bank accounts.")
    community: Label | None = Field(default=None, description="Org-unit code of residence.")


class OrgUnit(BaseModel):
    """A unit of the hierarchy: city centre, district centre, police station, community."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)
    type_name: ClassVar[str] = "org_unit"

    code: Label = Field(description="Stable unit code.")
    name: Label = Field(description="Chinese name.")
    level: OrgLevel = Field(description="city, district, station or community.")
    parent_code: Label | None = Field(default=None, description="Code of the parent unit.")
    name_en: Label | None = Field(default=None, description="English name.")


REFERENCE_TYPES: dict[str, type[BaseModel]] = {"person": Person, "org_unit": OrgUnit}
