"""Vectorised makers of valid-looking identifiers: phone numbers, bank cards, ID numbers, names.

Uniqueness comes from construction, not from retries: each prefix (or BIN) keeps a counter and
maps it through an affine bijection modulo 10^k, so numbers look scattered yet never repeat.
"""

from __future__ import annotations

import numpy as np

from fanzha.model.banks import CARD_BINS

# Multipliers coprime with 10 make ``(c * A + B) mod 10^k`` a bijection on [0, 10^k).
_A8, _B8 = 73_939_133, 12_345_679
_A12, _B12 = 7_919_123_457, 104_729_000_003

CARRIER_PREFIXES: dict[str, tuple[str, ...]] = {
    "cmcc": (
        "134",
        "135",
        "136",
        "137",
        "138",
        "139",
        "147",
        "150",
        "151",
        "152",
        "157",
        "158",
        "159",
        "178",
        "182",
        "183",
        "184",
        "187",
        "188",
        "198",
    ),
    "unicom": ("130", "131", "132", "145", "155", "156", "166", "175", "176", "185", "186"),
    "telecom": ("133", "149", "153", "173", "177", "180", "181", "189", "191", "199"),
    "virtual": ("170", "171", "162", "165", "167"),
}
CARRIER_ZH: dict[str, str] = {
    "cmcc": "中国移动",
    "unicom": "中国联通",
    "telecom": "中国电信",
    "virtual": "虚拟运营商",
}

#: Bank short name -> its BINs in the embedded table (so the platform can name the bank).
BANK_BINS: dict[str, tuple[str, ...]] = {}
for _bin, _bank in sorted(CARD_BINS.items()):
    if _bin.startswith("62"):  # UnionPay debit ranges: 19-digit cards
        BANK_BINS.setdefault(_bank, ())
        BANK_BINS[_bank] = (*BANK_BINS[_bank], _bin)
BANKS: tuple[str, ...] = tuple(sorted(BANK_BINS))

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.array(list("10X98765432"))


def digits_matrix(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers, one row per value (uint8 0–9)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values.astype(np.int64)[:, None] // powers) % 10).astype(np.uint8)


def ascii_strings(digits: np.ndarray) -> np.ndarray:
    """Rows of digit values (0–9) as a unicode string array."""
    if digits.shape[0] == 0:
        return np.array([], dtype="U1")
    chars = np.ascontiguousarray(digits + ord("0"), dtype=np.uint8)
    return chars.view(f"S{digits.shape[1]}").ravel().astype(str)


def luhn_check(digits: np.ndarray) -> np.ndarray:
    """Luhn check digit for each row of digits (the digit to append)."""
    rev = digits[:, ::-1].astype(np.int64)
    doubled = rev[:, 0::2] * 2
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    total = doubled.sum(axis=1) + rev[:, 1::2].sum(axis=1)
    return np.asarray((10 - total % 10) % 10, dtype=np.uint8)


class PhoneFactory:
    """Hands out unique Chinese mobile numbers (E.164) by prefix."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def take(self, prefix: str, count: int) -> np.ndarray:
        """``count`` new numbers with a 3-digit prefix such as ``138``."""
        start = self._next.get(prefix, 0)
        if start + count > 10**8:
            raise ValueError(f"prefix {prefix} is exhausted")
        self._next[prefix] = start + count
        counters = np.arange(start, start + count, dtype=np.int64)
        offset = int(prefix) * 7_654_321  # so that prefixes do not share their first suffixes
        suffix = (counters * _A8 + _B8 + offset) % 10**8
        return np.char.add(f"+86{prefix}", ascii_strings(digits_matrix(suffix, 8)))

    def take_mixed(
        self, rng: np.random.Generator, prefixes: tuple[str, ...], count: int
    ) -> np.ndarray:
        """``count`` numbers spread at random over ``prefixes`` (order is random too)."""
        which = rng.integers(0, len(prefixes), count)
        out = np.empty(count, dtype="U14")
        for i, prefix in enumerate(prefixes):
            rows = np.flatnonzero(which == i)
            if rows.size:
                out[rows] = self.take(prefix, rows.size)
        return out


class CardFactory:
    """Hands out unique 19-digit UnionPay debit card numbers with valid Luhn check digits."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def take(self, bin6: str, count: int) -> np.ndarray:
        """``count`` new card numbers under a 6-digit BIN."""
        start = self._next.get(bin6, 0)
        self._next[bin6] = start + count
        counters = np.arange(start, start + count, dtype=np.int64)
        body = (counters * _A12 + _B12) % 10**12
        digits = np.concatenate(
            [
                np.tile(np.array([int(c) for c in bin6], dtype=np.uint8), (count, 1)),
                digits_matrix(body, 12),
            ],
            axis=1,
        )
        full = np.concatenate([digits, luhn_check(digits)[:, None]], axis=1)
        return ascii_strings(full)

    def take_at_banks(self, rng: np.random.Generator, banks: np.ndarray) -> np.ndarray:
        """One new card per entry of ``banks`` (indices into :data:`BANKS`), random BIN."""
        out = np.empty(banks.size, dtype="U19")
        for b, bank in enumerate(BANKS):
            rows = np.flatnonzero(banks == b)
            if not rows.size:
                continue
            bins = BANK_BINS[bank]
            which = rng.integers(0, len(bins), rows.size)
            for k, bin6 in enumerate(bins):
                sub = rows[which == k]
                if sub.size:
                    out[sub] = self.take(bin6, sub.size)
        return out


_TACS = np.array(["35875809", "86123404", "35328211", "86971703", "35420310", "86769504"])


def imeis(rng: np.random.Generator, count: int) -> np.ndarray:
    """Device IMEIs: a type allocation code, a random serial and a Luhn check digit."""
    tac = _TACS[rng.integers(0, _TACS.size, count)]
    serial = rng.integers(0, 10**6, count)
    body = np.concatenate(
        [_tac_digits(tac), digits_matrix(serial, 6)],
        axis=1,
    )
    return ascii_strings(np.concatenate([body, luhn_check(body)[:, None]], axis=1))


def _tac_digits(tac: np.ndarray) -> np.ndarray:
    return (tac.astype("S8").view(np.uint8).reshape(-1, 8) - ord("0")).astype(np.uint8)


def id_numbers(region: np.ndarray, birth: np.ndarray, male: np.ndarray) -> np.ndarray:
    """18-character resident ID numbers, unique for distinct inputs, with correct check characters.

    ``region`` holds 6-digit codes (str), ``birth`` dates (datetime64[D]), ``male`` booleans.
    The sequence number is the rank within (region, birth date, sex), odd for men.
    """
    n = region.size
    if n == 0:
        return np.array([], dtype="U18")
    birth_int = np.char.replace(np.datetime_as_string(birth, unit="D"), "-", "").astype(np.int64)
    region_int = region.astype(np.int64)
    order = np.lexsort((male, birth_int, region_int))
    keys = np.stack([region_int[order], birth_int[order], male[order].astype(np.int64)], axis=1)
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = np.any(keys[1:] != keys[:-1], axis=1)
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - group_start
    if rank.max(initial=0) >= 500:
        raise ValueError("more than 500 people share a region, birth date and sex")
    seq = rank * 2 + male.astype(np.int64)
    first17 = np.concatenate(
        [digits_matrix(region_int, 6), digits_matrix(birth_int, 8), digits_matrix(seq, 3)], axis=1
    )
    check = _ID_CHECK[(first17.astype(np.int64) @ _ID_WEIGHTS) % 11]
    return np.char.add(ascii_strings(first17), check)


SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.1),
    ("李", 7.0),
    ("张", 6.8),
    ("刘", 5.4),
    ("陈", 4.5),
    ("杨", 3.1),
    ("黄", 2.4),
    ("赵", 2.3),
    ("吴", 2.0),
    ("周", 1.9),
    ("徐", 1.5),
    ("孙", 1.5),
    ("马", 1.4),
    ("朱", 1.3),
    ("胡", 1.3),
    ("郭", 1.2),
    ("何", 1.2),
    ("林", 1.1),
    ("高", 1.1),
    ("罗", 1.1),
    ("郑", 1.0),
    ("梁", 1.0),
    ("谢", 0.8),
    ("宋", 0.8),
    ("唐", 0.8),
    ("许", 0.7),
    ("韩", 0.7),
    ("冯", 0.7),
    ("邓", 0.7),
    ("曹", 0.7),
    ("彭", 0.6),
    ("曾", 0.6),
    ("肖", 0.6),
    ("田", 0.6),
    ("董", 0.5),
    ("袁", 0.5),
    ("潘", 0.5),
    ("于", 0.5),
    ("蒋", 0.5),
    ("蔡", 0.5),
    ("余", 0.5),
    ("杜", 0.5),
    ("叶", 0.5),
    ("程", 0.5),
    ("苏", 0.4),
    ("魏", 0.4),
    ("吕", 0.4),
    ("丁", 0.4),
    ("任", 0.4),
    ("沈", 0.4),
    ("姚", 0.4),
    ("卢", 0.4),
    ("姜", 0.4),
    ("崔", 0.4),
    ("钟", 0.4),
    ("谭", 0.4),
    ("陆", 0.3),
    ("汪", 0.3),
    ("范", 0.3),
    ("金", 0.3),
    ("石", 0.3),
    ("廖", 0.3),
    ("贾", 0.3),
    ("夏", 0.3),
    ("韦", 0.3),
    ("付", 0.3),
    ("方", 0.3),
    ("白", 0.3),
    ("邹", 0.3),
    ("孟", 0.3),
    ("熊", 0.3),
    ("秦", 0.3),
    ("邱", 0.3),
    ("江", 0.3),
    ("尹", 0.3),
    ("薛", 0.3),
    ("欧阳", 0.1),
)
GIVEN_MALE = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林阳晨锋建国志文博海峰亮"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞燕玲桂英红梅琳雪颖婷慧莹倩洁琴云莉萍晶秀兰珍凤佳欣怡悦媛雅"


def person_names(rng: np.random.Generator, male: np.ndarray) -> np.ndarray:
    """Chinese full names: a surname by frequency and one or two given characters by sex."""
    n = male.size
    surnames = np.array([s for s, _ in SURNAMES])
    weights = np.array([w for _, w in SURNAMES])
    out = surnames[rng.choice(len(surnames), n, p=weights / weights.sum())]
    pools = (np.array(list(GIVEN_FEMALE)), np.array(list(GIVEN_MALE)))
    for sex in (0, 1):
        rows = np.flatnonzero(male == bool(sex))
        pool = pools[sex]
        first = pool[rng.integers(0, pool.size, rows.size)]
        second = pool[rng.integers(0, pool.size, rows.size)]
        two = rng.random(rows.size) < 0.7  # most given names have two characters
        given = np.where(two, np.char.add(first, second), first)
        out[rows] = np.char.add(out[rows], given)
    return out
