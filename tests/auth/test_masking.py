"""Masked by default; a reveal needs the permission and a reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanzha.auth.masking import (
    MASK,
    PiiKind,
    RevealRefused,
    check_reveal,
    mask,
    mask_account,
    mask_fields,
    mask_id_number,
    mask_name,
    mask_phone,
)
from fanzha.auth.roles import Role

from .builders import NANPING, principal


def test_the_usual_forms() -> None:
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("+8613812341234") == "+86138****1234"
    assert mask_id_number("11010119900101123X") == "110***********123X"
    assert mask_account("6222 0212 3456 7890 123") == "6222***********0123"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("Li Wei") == "L* W**"
    assert mask_name("张") == "*"
    assert mask(PiiKind.PHONE, None) is None and mask(PiiKind.NAME, "") == ""


@given(st.text(alphabet="0123456789", min_size=1, max_size=40))
def test_a_third_is_always_hidden(value: str) -> None:
    for masker in (mask_phone, mask_id_number, mask_account):
        out = masker(value)
        assert len(out) == len(value)
        assert out.count(MASK) >= max(1, len(value) // 3)


def test_mask_fields_masks_values_and_lists() -> None:
    record = {"phone": "13812341234", "phones": ["13812341234"], "name": "张三", "n": 1}
    out = mask_fields(
        record, {"phone": PiiKind.PHONE, "phones": PiiKind.PHONE, "name": PiiKind.NAME}
    )
    assert out == {"phone": "138****1234", "phones": ["138****1234"], "name": "张*", "n": 1}
    assert record["phone"] == "13812341234"  # the input is untouched


def test_reveal_needs_permission_and_reason() -> None:
    officer = principal(Role.STATION_OFFICER, NANPING)
    assert check_reveal(officer, "  回访   核实 ") == "回访 核实"
    for reason in ("", " ", "x"):
        with pytest.raises(RevealRefused, match="reason"):
            check_reveal(officer, reason)
    with pytest.raises(RevealRefused, match="longer"):
        check_reveal(officer, "x" * 501)
    with pytest.raises(RevealRefused, match="may not reveal"):
        check_reveal(principal(Role.BANK_LIAISON, bank="ICBC"), "核实身份")
