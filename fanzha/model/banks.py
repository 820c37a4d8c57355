"""Card BIN (issuer identification number) table for well-known Chinese banks.

A small embedded table so that a card number can be labelled with its issuing bank without
any download. It is deliberately partial: an unknown BIN means "not in this table", never
"not a real card". Keys are 6-digit prefixes (8-digit keys may be added; the longest wins).
"""

from __future__ import annotations

from typing import Final

ICBC: Final = "工商银行"
ABC: Final = "农业银行"
BOC: Final = "中国银行"
CCB: Final = "建设银行"
BOCOM: Final = "交通银行"
CMB: Final = "招商银行"
PSBC: Final = "邮储银行"
CIB: Final = "兴业银行"
CITIC: Final = "中信银行"
SPDB: Final = "浦发银行"
CMBC: Final = "民生银行"
PINGAN: Final = "平安银行"
CEB: Final = "光大银行"
CGB: Final = "广发银行"
HXB: Final = "华夏银行"


def _bins(bank: str, *prefixes: str) -> dict[str, str]:
    return dict.fromkeys(prefixes, bank)


# Prefix -> bank (short zh name). Built per bank so that a prefix is easy to audit.
CARD_BINS: Final[dict[str, str]] = {
    **_bins(ICBC, "622202", "622208", "621226", "621225", "622200", "621558", "621559"),
    **_bins(ICBC, "622230", "622235", "622210", "622215", "621288"),
    **_bins(ABC, "622848", "622845", "621282", "622846", "622849", "622841", "621336"),
    **_bins(BOC, "621661", "621785", "601382", "621660", "621663", "456351", "622760"),
    **_bins(BOC, "621756"),
    **_bins(CCB, "621700", "622700", "436742", "436745", "622280", "621284", "621081"),
    **_bins(BOCOM, "622262", "622260", "622261", "622258", "622259", "601428", "405512"),
    **_bins(CMB, "622588", "621483", "621286", "621485", "621486", "622575", "622576"),
    **_bins(CMB, "410062"),
    **_bins(PSBC, "621799", "622188", "621098", "620062", "622150", "622151", "621285"),
    **_bins(CIB, "622908", "622909", "438588", "438589", "966666"),
    **_bins(CITIC, "622690", "622691", "622692", "622696", "622698", "621768", "433670"),
    **_bins(CITIC, "442729"),
    **_bins(SPDB, "622516", "622518", "622521", "621791", "621792", "456418", "498451"),
    **_bins(CMBC, "622622", "622615", "622617", "622619", "415599", "421393", "421865"),
    **_bins(CMBC, "621691"),
    **_bins(PINGAN, "622155", "622156", "622525", "622526", "621626", "623058", "622986"),
    **_bins(PINGAN, "622989"),
    **_bins(CEB, "622660", "622662", "622663", "622666", "620518", "621489", "621492"),
    **_bins(CGB, "622568", "621462", "685800", "622558", "622559", "622560"),
    **_bins(HXB, "622630", "622631", "622632", "622633", "621222", "623020"),
}

_PREFIX_LENGTHS: Final = tuple(sorted({len(k) for k in CARD_BINS}, reverse=True))


def bank_for_card(number: str) -> str | None:
    """Issuing bank of a card number by its longest known BIN prefix, or None."""
    for length in _PREFIX_LENGTHS:
        bank = CARD_BINS.get(number[:length])
        if bank is not None:
            return bank
    return None
