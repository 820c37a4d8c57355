"""Fraud types as desks write them: the id, the police taxonomy's label, the short names."""

from __future__ import annotations

import pytest

from fanzha.model import values
from fanzha.model.enums import FraudType
from fanzha.model.events import parse_fraud_type


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("impersonating_authorities", FraudType.IMPERSONATING_AUTHORITIES),
        ("Impersonating_Authorities ", FraudType.IMPERSONATING_AUTHORITIES),
        ("冒充公检法及政府机关", FraudType.IMPERSONATING_AUTHORITIES),
        ("冒充公检法及政府机关类诈骗", FraudType.IMPERSONATING_AUTHORITIES),
        ("公检法", FraudType.IMPERSONATING_AUTHORITIES),
        ("刷单类", FraudType.ORDER_BRUSHING),
        ("网贷诈骗", FraudType.FAKE_LOAN),
        ("冒充客服", FraudType.FAKE_CUSTOMER_SERVICE),
        ("注销校园贷", FraudType.FAKE_CREDIT_REPAIR),
        ("网络婚恋交友", FraudType.ROMANCE),
        ("其他", FraudType.OTHER),
    ],
)
def test_every_usual_spelling_names_its_type(written: str, expected: FraudType) -> None:
    assert parse_fraud_type(written) is expected


def test_every_label_is_accepted() -> None:
    for fraud_type in FraudType:
        assert parse_fraud_type(fraud_type.label_zh) is fraud_type


@pytest.mark.parametrize("written", ["", "诈骗", "杀猪盘", "公检", "x" * 1000])
def test_anything_else_is_refused_with_the_choices(written: str) -> None:
    with pytest.raises(values.InvalidValue, match="expected one of order_brushing"):
        parse_fraud_type(written)
