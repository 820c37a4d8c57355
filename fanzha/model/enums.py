"""Enumerations shared across the model: fraud types, org levels, risk levels."""

from __future__ import annotations

import enum


class FraudType(enum.StrEnum):
    """Police case taxonomy of telecom fraud (stable English ids, Chinese labels)."""

    ORDER_BRUSHING = "order_brushing"
    FAKE_INVESTMENT = "fake_investment"
    FAKE_LOAN = "fake_loan"
    FAKE_CUSTOMER_SERVICE = "fake_customer_service"
    IMPERSONATING_AUTHORITIES = "impersonating_authorities"
    FAKE_CREDIT_REPAIR = "fake_credit_repair"
    FAKE_SHOPPING = "fake_shopping"
    IMPERSONATING_ACQUAINTANCE = "impersonating_acquaintance"
    GAME_TRADING = "game_trading"
    ROMANCE = "romance"
    OTHER = "other"

    @property
    def label_zh(self) -> str:
        """The Chinese label used by the police taxonomy."""
        return _FRAUD_ZH[self]


_FRAUD_ZH: dict[FraudType, str] = {
    FraudType.ORDER_BRUSHING: "刷单返利",
    FraudType.FAKE_INVESTMENT: "虚假网络投资理财",
    FraudType.FAKE_LOAN: "虚假网络贷款",
    FraudType.FAKE_CUSTOMER_SERVICE: "冒充电商物流客服",
    FraudType.IMPERSONATING_AUTHORITIES: "冒充公检法及政府机关",
    FraudType.FAKE_CREDIT_REPAIR: "虚假征信",
    FraudType.FAKE_SHOPPING: "虚假购物服务",
    FraudType.IMPERSONATING_ACQUAINTANCE: "冒充领导熟人",
    FraudType.GAME_TRADING: "网络游戏产品虚假交易",
    FraudType.ROMANCE: "网络婚恋交友",
    FraudType.OTHER: "其他",
}

#: The short names desks write for the police taxonomy's labels (with or without 类/诈骗).
_FRAUD_SHORT_ZH: dict[str, FraudType] = {
    "刷单": FraudType.ORDER_BRUSHING,
    "兼职刷单": FraudType.ORDER_BRUSHING,
    "投资理财": FraudType.FAKE_INVESTMENT,
    "虚假投资理财": FraudType.FAKE_INVESTMENT,
    "网络投资理财": FraudType.FAKE_INVESTMENT,
    "贷款": FraudType.FAKE_LOAN,
    "网贷": FraudType.FAKE_LOAN,
    "网络贷款": FraudType.FAKE_LOAN,
    "虚假贷款": FraudType.FAKE_LOAN,
    "冒充客服": FraudType.FAKE_CUSTOMER_SERVICE,
    "冒充电商客服": FraudType.FAKE_CUSTOMER_SERVICE,
    "冒充电商物流客服": FraudType.FAKE_CUSTOMER_SERVICE,
    "公检法": FraudType.IMPERSONATING_AUTHORITIES,
    "冒充公检法": FraudType.IMPERSONATING_AUTHORITIES,
    "征信": FraudType.FAKE_CREDIT_REPAIR,
    "注销校园贷": FraudType.FAKE_CREDIT_REPAIR,
    "虚假购物": FraudType.FAKE_SHOPPING,
    "冒充熟人": FraudType.IMPERSONATING_ACQUAINTANCE,
    "冒充领导": FraudType.IMPERSONATING_ACQUAINTANCE,
    "游戏交易": FraudType.GAME_TRADING,
    "虚假游戏交易": FraudType.GAME_TRADING,
    "婚恋交友": FraudType.ROMANCE,
    "网络交友": FraudType.ROMANCE,
}


def _spellings(name: str) -> tuple[str, ...]:
    """A Chinese name with the suffixes reports add (…类, …诈骗, …类诈骗)."""
    return (name, f"{name}类", f"{name}诈骗", f"{name}类诈骗")


#: Accepted spellings of a fraud type: the id, the Chinese label and the desks' short names.
FRAUD_TYPE_ALIASES: dict[str, FraudType] = {
    **{ft.value: ft for ft in FraudType},
    **{spelled: ft for ft, zh in _FRAUD_ZH.items() for spelled in _spellings(zh)},
    **{spelled: ft for zh, ft in _FRAUD_SHORT_ZH.items() for spelled in _spellings(zh)},
}


class OrgLevel(enum.StrEnum):
    """Tier of an organisation unit: city centre → district → station → community grid."""

    CITY = "city"
    DISTRICT = "district"
    STATION = "station"
    COMMUNITY = "community"


class CallDirection(enum.StrEnum):
    """How a call record reached the subscriber it was exported for."""

    ORIGINATED = "originated"
    RECEIVED = "received"
    FORWARDED = "forwarded"
