"""Banks: how orders reach them and how their answers come back.

A :class:`BankAdapter` takes orders (``submit``) and gives back the answers that are ready
(``answers``). Two kinds exist: the simulated bank (:mod:`fanzha.sim.bank`, which executes
against the ledger) and the liaison desk (:class:`LiaisonDesk`: a bank's liaison reads its
pending orders over HTTP and posts each result, so nothing is pushed and nothing polled).

Banks are named in many ways (``ICBC``, ``工商银行``, ``中国工商银行``); :func:`bank_key`
gives the one name used to match an order's bank to a liaison's token.
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Protocol

from fanzha.funds.orders import BankAnswer, Order
from fanzha.model import banks

#: codes and long names → the short Chinese name the card BIN table uses
ALIASES: Final[dict[str, str]] = {
    "ICBC": banks.ICBC,
    "ABC": banks.ABC,
    "BOC": banks.BOC,
    "CCB": banks.CCB,
    "BOCOM": banks.BOCOM,
    "BCM": banks.BOCOM,
    "CMB": banks.CMB,
    "PSBC": banks.PSBC,
    "CIB": banks.CIB,
    "CITIC": banks.CITIC,
    "SPDB": banks.SPDB,
    "CMBC": banks.CMBC,
    "PAB": banks.PINGAN,
    "PINGAN": banks.PINGAN,
    "CEB": banks.CEB,
    "CGB": banks.CGB,
    "HXB": banks.HXB,
}
_LONG: Final = {"中国" + v: v for v in ALIASES.values()}
_LONG.update({"中国邮政储蓄银行": banks.PSBC, "邮政储蓄银行": banks.PSBC})


def bank_key(name: str | None) -> str:
    """The canonical name of a bank (``ICBC`` and ``中国工商银行`` → ``工商银行``); other names
    are kept as given (trimmed); an unknown bank is ``""``."""
    if not name:
        return ""
    text = name.strip()
    return ALIASES.get(text.upper()) or _LONG.get(text) or text


class BankAdapter(Protocol):
    """A bank's side of orders."""

    def submit(self, order: Order, at: dt.datetime) -> None:
        """Hand over a sent order (at most once per order id matters: repeats are ignored)."""
        ...

    def answers(self, until: dt.datetime) -> list[tuple[str, BankAnswer]]:
        """``(order_id, answer)`` for every answer ready by ``until`` not given before."""
        ...


class LiaisonDesk:
    """Orders are read and answered by the bank's liaison over HTTP: nothing to push."""

    def submit(self, order: Order, at: dt.datetime) -> None:
        """The order waits in the store until the liaison reads it."""

    def answers(self, until: dt.datetime) -> list[tuple[str, BankAnswer]]:
        """Answers arrive through the API, not here."""
        return []
