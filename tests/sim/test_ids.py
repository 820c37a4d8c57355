"""Identifier makers: valid, unique by construction, and recognised by the platform's parsers."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fanzha.model.values import PhoneKind, parse_account, parse_id_number, parse_msisdn
from fanzha.sim.ids import (
    BANKS,
    CARRIER_PREFIXES,
    CardFactory,
    PhoneFactory,
    id_numbers,
    imeis,
    luhn_check,
    person_names,
)
from fanzha.sim.rng import split_amount, stream


def test_phone_numbers_are_unique_and_parse_with_their_kind() -> None:
    phones = PhoneFactory()
    rng = stream(1, "t")
    mobile = phones.take_mixed(rng, CARRIER_PREFIXES["cmcc"], 5_000)
    virtual = phones.take("170", 500)
    assert len(set(mobile.tolist()) | set(virtual.tolist())) == 5_500
    assert parse_msisdn(str(mobile[0])).kind == PhoneKind.CN_MOBILE
    assert all(parse_msisdn(str(v)).kind == PhoneKind.CN_VIRTUAL for v in virtual[:50])
    assert (
        len(set(phones.take("170", 10).tolist()) & set(virtual.tolist())) == 0
    )  # counters continue


def test_cards_have_valid_luhn_and_name_their_bank() -> None:
    cards = CardFactory()
    rng = stream(2, "t")
    banks = rng.integers(0, len(BANKS), 3_000)
    numbers = cards.take_at_banks(rng, banks)
    assert len(set(numbers.tolist())) == 3_000
    for number, bank in zip(numbers[:200], banks[:200], strict=True):
        parsed = parse_account(str(number))
        assert parsed.luhn_valid is True
        assert parsed.bank == BANKS[int(bank)]


def test_luhn_check_digit_of_a_known_number() -> None:
    digits = np.array([[int(c) for c in "7992739871"]], dtype=np.uint8)
    assert luhn_check(digits).tolist() == [3]  # the textbook example 79927398713


def test_id_numbers_are_valid_unique_and_carry_sex_and_birth() -> None:
    rng = stream(3, "t")
    n = 2_000
    region = np.array(["500101", "500102"])[rng.integers(0, 2, n)]
    birth = np.datetime64("1990-01-01") + rng.integers(0, 3, n).astype("timedelta64[D]")
    male = rng.random(n) < 0.5
    ids = id_numbers(region, birth, male)
    assert len(set(ids.tolist())) == n  # many people share region, birth date and sex
    for k in range(0, n, 97):
        parsed = parse_id_number(str(ids[k]))
        assert parsed.region_code == region[k]
        assert parsed.sex == ("M" if male[k] else "F")
        assert np.datetime64(parsed.birth_date) == birth[k]


def test_imeis_pass_the_luhn_check() -> None:
    for imei in imeis(stream(4, "t"), 100):
        digits = np.array([[int(c) for c in imei[:14]]], dtype=np.uint8)
        assert len(imei) == 15 and int(imei[14]) == int(luhn_check(digits)[0])


def test_names_are_chinese_and_two_or_three_characters() -> None:
    names = person_names(stream(5, "t"), np.array([True, False] * 500))
    assert all(2 <= len(n) <= 4 for n in names)  # 欧阳 makes four possible
    assert all("\u4e00" <= ch <= "\u9fff" for n in names for ch in n)


def test_streams_are_independent_and_repeatable() -> None:
    assert stream(7, "a", 1).random() == stream(7, "a", 1).random()
    assert stream(7, "a", 1).random() != stream(7, "a", 2).random()
    assert stream(7, "a").random() != stream(8, "a").random()


@given(
    total=st.integers(min_value=1, max_value=10**12),
    parts=st.integers(1, 6),
    seed=st.integers(0, 999),
)
def test_split_amount_is_exact_and_positive(total: int, parts: int, seed: int) -> None:
    shares = split_amount(stream(seed, "split"), total, parts)
    assert sum(shares) == total
    assert all(s >= 1 for s in shares)
    assert len(shares) == (parts if total >= parts else 1)
