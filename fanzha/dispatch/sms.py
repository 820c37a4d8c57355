"""Templated warning SMS (12381-style) and the outbox they go through.

A warning SMS is chosen by the instruction's level (特危/高危 get the urgent heading) and fraud
type (one line of advice that fits the scam), rendered without any personal data (the number
it goes to is the only identifier), and handed to an :class:`SmsGateway`: an outbox that keeps
every message with its delivery status (queued → sent → delivered, or failed). A real gateway
(an operator's SMS platform, a webhook) reads the outbox and reports back; the file outbox in
:mod:`fanzha.outbox` and :class:`MemoryOutbox` here are the two implementations.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from typing import Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from fanzha.dispatch.levels import RiskLevel
from fanzha.model.enums import FraudType

MAX_SMS_CHARS = 300  # a long SMS is sent in parts; ours stay well under this


class SmsStatus(enum.StrEnum):
    """Where a message stands."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return _STATUS_ZH[self]


_STATUS_ZH = {
    SmsStatus.QUEUED: "待发送",
    SmsStatus.SENT: "已发送",
    SmsStatus.DELIVERED: "已送达",
    SmsStatus.FAILED: "发送失败",
}
#: Statuses a message never leaves.
FINAL_STATUSES = frozenset({SmsStatus.DELIVERED, SmsStatus.FAILED})

_HEAD_URGENT = "【12381紧急预警】"
_HEAD = "【12381预警】"
_BODY = (
    "您好，公安机关监测到您可能正在遭遇电信网络诈骗。{advice}"
    "请勿向陌生账户转账，勿下载陌生App，勿开启屏幕共享。如有疑问请拨打96110。"
)
_ADVICE: dict[FraudType | None, str] = {
    FraudType.ORDER_BRUSHING: "凡是要求先垫付的刷单、点赞返利都是诈骗。",
    FraudType.FAKE_INVESTMENT: "凡是推荐内幕消息、稳赚不赔的投资平台都是诈骗。",
    FraudType.FAKE_LOAN: "放款前要求交保证金、解冻费的网贷都是诈骗。",
    FraudType.FAKE_CUSTOMER_SERVICE: "自称客服要求退款、关闭百万保障并转账的都是诈骗。",
    FraudType.IMPERSONATING_AUTHORITIES: "公检法机关不会电话办案，更没有“安全账户”。",
    FraudType.FAKE_CREDIT_REPAIR: "征信无法花钱修复，称能“消除不良记录”的都是诈骗。",
    FraudType.FAKE_SHOPPING: "低价代购、私下交易要求先付款的多是诈骗。",
    FraudType.IMPERSONATING_ACQUAINTANCE: "领导、熟人借钱汇款，请当面或打原号码核实。",
    FraudType.GAME_TRADING: "游戏账号、装备私下交易要求先转账的多是诈骗。",
    FraudType.ROMANCE: "网恋对象带您投资、博彩或借钱的都是诈骗。",
    FraudType.OTHER: "",
    None: "",
}


def template_id(level: RiskLevel, fraud_type: FraudType | None) -> str:
    """The template for a level and fraud type: ``12381-<urgent|general>-<type>``."""
    head = "urgent" if level >= RiskLevel.HIGH else "general"
    return f"12381-{head}-{(fraud_type or FraudType.OTHER).value}"


def render(template: str) -> str:
    """The text of a template id (see :func:`template_id`); ValueError for an unknown one."""
    parts = template.split("-", 2)
    if len(parts) != 3 or parts[0] != "12381" or parts[1] not in ("urgent", "general"):
        raise ValueError(f"unknown SMS template {template!r}: expected 12381-urgent|general-TYPE")
    try:
        fraud = FraudType(parts[2])
    except ValueError:
        raise ValueError(f"unknown SMS template {template!r}: no fraud type {parts[2]!r}") from None
    head = _HEAD_URGENT if parts[1] == "urgent" else _HEAD
    return head + _BODY.format(advice=_ADVICE[fraud])


TEMPLATES: dict[str, str] = {
    template_id(level, fraud): render(template_id(level, fraud))
    for level in (RiskLevel.HIGH, RiskLevel.LOW)
    for fraud in FraudType
}


class SmsMessage(BaseModel):
    """One warning SMS and where it stands."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message_id: str = Field(min_length=1, max_length=64)
    instruction_id: str = Field(min_length=1, max_length=32)
    phone: str = Field(min_length=3, max_length=32)
    template: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=MAX_SMS_CHARS)
    created_at: AwareDatetime
    status: SmsStatus = SmsStatus.QUEUED
    status_at: AwareDatetime
    detail: str = Field(default="", max_length=500)

    @classmethod
    def compose(
        cls,
        instruction_id: str,
        phone: str,
        level: RiskLevel,
        fraud_type: FraudType | None,
        at: dt.datetime,
        seq: int = 0,
    ) -> SmsMessage:
        """A queued message for an instruction (``seq`` tells apart several for one)."""
        template = template_id(level, fraud_type)
        digest = hashlib.blake2b(f"{instruction_id}|{seq}".encode(), digest_size=8).hexdigest()
        return cls(
            message_id="M" + digest,
            instruction_id=instruction_id,
            phone=phone,
            template=template,
            text=render(template),
            created_at=at,
            status_at=at,
        )


class SmsStatusError(ValueError):
    """A status change the message's status does not allow (a final status is final)."""


def moved(message: SmsMessage, status: SmsStatus, at: dt.datetime, detail: str = "") -> SmsMessage:
    """The message in a new status; a delivered or failed message does not move."""
    if message.status in FINAL_STATUSES and status is not message.status:
        raise SmsStatusError(
            f"message {message.message_id} is {message.status.value}: it cannot become"
            f" {status.value}"
        )
    return message.model_copy(update={"status": status, "status_at": at, "detail": detail})


class SmsGateway(Protocol):
    """Where warning SMS go: an outbox that keeps each message with its delivery status.

    A webhook or an operator's SMS platform sits behind it; :mod:`fanzha.outbox` keeps the
    messages in a file, :class:`MemoryOutbox` in memory."""

    def send(self, message: SmsMessage) -> SmsMessage:
        """Accept a message for sending; returns it as stored (queued or sent)."""
        ...

    def update(
        self, message_id: str, status: SmsStatus, at: dt.datetime, detail: str = ""
    ) -> SmsMessage:
        """Record a delivery report; KeyError for an unknown message, SmsStatusError for a
        final one."""
        ...

    def messages(self) -> list[SmsMessage]:
        """Every message in its latest status, oldest first."""
        ...


class MemoryOutbox:
    """Messages in a dict (tests, simulation)."""

    def __init__(self) -> None:
        self._messages: dict[str, SmsMessage] = {}

    def send(self, message: SmsMessage) -> SmsMessage:
        """Keep the message (sending it again changes nothing)."""
        return self._messages.setdefault(message.message_id, message)

    def update(
        self, message_id: str, status: SmsStatus, at: dt.datetime, detail: str = ""
    ) -> SmsMessage:
        """Move a message to a new status."""
        new = moved(self._messages[message_id], status, at, detail)
        self._messages[message_id] = new
        return new

    def messages(self) -> list[SmsMessage]:
        """Every message, oldest first."""
        return sorted(self._messages.values(), key=lambda m: (m.created_at, m.message_id))
