"""Pre-filling a report from its narrative: Simplified and Traditional, every way of writing
an amount, hostile and huge text, GB18030 bytes."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.funds.extract import MAX_NARRATIVE_BYTES, chinese_number, decode_narrative, extract
from fanzha.model.values import InvalidValue

AT = dt.datetime(2024, 5, 1, 6, 0, tzinfo=dt.UTC)  # 14:00 in Shanghai
SH = dt.timezone(dt.timedelta(hours=8))

SIMPLIFIED = (
    "报案人陈丽（81岁）来我所报案，自述：其于5月1日8时49分接到自称公安局民警的电话，"
    "要求其下载“向日葵远程控制”。随后其在5月1日9时27分向账户6214 6279 2007 4323 323汇款65665元，"
    "又于5月1日10:05向对方指定的账户转账三万五千元。对方联系号码：138-0940-2934。"
    "涉案网址为https://ajcx384.net/download。经核算，报案人共计损失100665元。"
)
TRADITIONAL = (
    "報案人陳媛稱：5月1日9時30分，其接到自稱公安局民警的電話。對方聯繫號碼：+8616773000300。"
    "涉案網址爲gaj-zfpt375.com/h5/index.html。其於5月1日10時00分向對方指定的賬戶"
    "6222021234567890128匯款人民幣3.5萬元。共計損失35000元。"
)


@pytest.mark.parametrize(
    ("text", "value"),
    [("三万五千", 35_000), ("十一", 11), ("一百零五", 105), ("两亿三千万", 230_000_000),
     ("十万", 100_000), ("一万零五百", 10_500), ("贰仟", 2_000), ("万", None), ("一二", None),
     ("abc", None)],
)  # fmt: skip
def test_chinese_numerals(text: str, value: int | None) -> None:
    assert chinese_number(text) == value


def test_a_simplified_narrative() -> None:
    found = extract(SIMPLIFIED, AT)
    assert found.accounts == ["6214627920074323323"]
    assert found.phones == ["+8613809402934"]
    assert found.urls == ["https://ajcx384.net/download"]
    assert found.apps == ["向日葵远程控制"]
    assert found.loss_fen == 10_066_500
    first, second = found.payments
    assert (first.account, first.amount_fen) == ("6214627920074323323", 6_566_500)
    assert first.paid_at == dt.datetime(2024, 5, 1, 9, 27, tzinfo=SH)
    assert (second.account, second.amount_fen) == (None, 3_500_000)
    assert second.paid_at == dt.datetime(2024, 5, 1, 10, 5, tzinfo=SH)


def test_a_traditional_narrative() -> None:
    found = extract(TRADITIONAL, AT)
    assert found.phones == ["+8616773000300"]
    assert found.accounts == ["6222021234567890128"]
    assert found.urls and "gaj-zfpt375.com" in found.urls[0]
    assert found.payments[0].amount_fen == 3_500_000
    assert found.loss_fen == 3_500_000


@pytest.mark.parametrize(
    ("text", "fen"),
    [("转账¥1,234.56", 123_456), ("转账￥88", 8_800), ("转账1.5万元", 1_500_000),
     ("转账两千块", 200_000), ("转账12元5角", 1_200), ("充值11万", 11_000_000),
     ("汇款1亿元", 10_000_000_000)],
)  # fmt: skip
def test_amounts(text: str, fen: int) -> None:
    assert extract(text, AT).payments[0].amount_fen == fen


def test_vague_and_impossible_amounts_are_not_proposed() -> None:
    assert extract("日赚数百元，转账1.234元", AT).amounts_fen == []


def test_an_id_number_is_not_an_account() -> None:
    found = extract("其身份证号500101196612260012，向6222021234567890128转账100元", AT)
    assert found.accounts == ["6222021234567890128"]


def test_a_time_without_year_is_never_after_the_report() -> None:
    found = extract("12月30日下午3点半转账100元", AT)
    assert found.times == [dt.datetime(2023, 12, 30, 15, 30, tzinfo=SH)]


def test_gb18030_and_utf8_bytes() -> None:
    assert decode_narrative(SIMPLIFIED.encode("gb18030")) == SIMPLIFIED
    assert decode_narrative(b"\xef\xbb\xbf" + SIMPLIFIED.encode()) == SIMPLIFIED
    assert "\ufffd" in decode_narrative(b"\x81\x30\xff")  # garbage is replaced, not fatal


def test_a_huge_narrative_is_refused_with_a_reason() -> None:
    with pytest.raises(InvalidValue, match="limit"):
        extract("转" * MAX_NARRATIVE_BYTES, AT)


@pytest.mark.parametrize(
    "hostile",
    ["1" * 60_000, "1 " * 30_000, "a" * 60_000, "三" * 20_000, "5月" * 10_000, "http://" * 8_000,
     "a." * 30_000, "“" * 20_000, "转账" + "9" * 10_000 + "元"],
)  # fmt: skip
def test_hostile_narratives_take_linear_time(hostile: str) -> None:
    began = time.perf_counter()
    extract(hostile, AT)
    assert time.perf_counter() - began < 2.0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_read_without_error(text: str) -> None:
    found = extract(text, AT)
    assert all(p.amount_fen > 0 for p in found.payments)


def test_an_account_after_the_amount_and_times_of_day() -> None:
    text = (
        "我于上午10点向工商银行账户6222 0202 0011 2233 445转账伍万元，"
        "又于10点20分转账20000元到6217000099990001111；下午3点半汇款500元至对方账户"
        "6217000099990002222。晚上9点又转账800元，对方说到账后联系13812345678。"
    )
    found = extract(text, AT)  # the report: 14:00 in Shanghai on 1 May
    got = [(p.account, p.amount_fen, p.paid_at) for p in found.payments]
    day = dt.datetime(2024, 5, 1, tzinfo=SH)
    assert got == [
        ("6222020200112233445", 5_000_000, day.replace(hour=10)),
        ("6217000099990001111", 2_000_000, day.replace(hour=10, minute=20)),
        ("6217000099990002222", 50_000, day.replace(hour=15, minute=30) - dt.timedelta(days=1)),
        (None, 80_000, day.replace(hour=21) - dt.timedelta(days=1)),  # a phone is no payee
    ]
