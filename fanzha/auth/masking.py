"""Personal identifiers masked by default (138****1234), revealed only with a reason.

Masking keeps just enough to tell records apart on screen and to confirm a number with the
person on the phone (the last digits), and nothing that identifies them on its own.
Revealing is a deliberate act: it needs the permission and a reason, and the service writes
it to the audit chain (see :func:`reveal_event`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from fanzha.auth.principal import Principal
from fanzha.auth.roles import Permission

MASK = "*"
MIN_REASON_CHARS = 2  # "核实" is a reason; an empty string or "." is not
MAX_REASON_CHARS = 500


class PiiKind(enum.StrEnum):
    """Kinds of personal identifier."""

    PHONE = "phone"
    ID_NUMBER = "id_number"
    ACCOUNT = "account"
    NAME = "name"


class RevealRefused(PermissionError):
    """A reveal without the permission or without a usable reason."""


def _keep(value: str, head: int, tail: int) -> str:
    """``value`` with all but ``head`` leading and ``tail`` trailing characters masked.

    Short values keep less, so that at least a third of the characters are always hidden.
    """
    n = len(value)
    while head + tail > n - max(1, n // 3) and (head or tail):
        if head >= tail and head:
            head -= 1
        else:
            tail -= 1
    return value[:head] + MASK * (n - head - tail) + (value[n - tail :] if tail else "")


def mask_phone(value: str) -> str:
    """13812341234 → 138****1234; +8613812341234 → +86138****1234."""
    if value.startswith("+86") and len(value) == 14:
        return "+86" + _keep(value[3:], 3, 4)
    return _keep(value, 3, 4)


def mask_id_number(value: str) -> str:
    """110101199001011234 → 110***********1234 (no birth date, no region below province)."""
    return _keep(value, 3, 4)


def mask_account(value: str) -> str:
    """6222021234567890123 → 6222***********0123 (the bank's BIN stays readable)."""
    return _keep(value.replace(" ", ""), 4, 4)


def mask_name(value: str) -> str:
    """张三 → 张*; 欧阳娜娜 → 欧***; Li Wei → L* W**."""
    words = value.split(" ")
    if len(words) > 1:
        return " ".join(w[:1] + MASK * (len(w) - 1) for w in words)
    if len(value) <= 1:
        return MASK * len(value)
    return value[0] + MASK * (len(value) - 1)


_MASKERS = {
    PiiKind.PHONE: mask_phone,
    PiiKind.ID_NUMBER: mask_id_number,
    PiiKind.ACCOUNT: mask_account,
    PiiKind.NAME: mask_name,
}


def mask(kind: PiiKind, value: str | None) -> str | None:
    """``value`` masked as a ``kind`` (None stays None)."""
    if value is None or value == "":
        return value
    return _MASKERS[kind](value)


def mask_fields(record: Mapping[str, Any], fields: Mapping[str, PiiKind]) -> dict[str, Any]:
    """A copy of ``record`` with the named fields masked (lists of values too)."""
    out = dict(record)
    for name, kind in fields.items():
        value = out.get(name)
        if isinstance(value, str):
            out[name] = mask(kind, value)
        elif isinstance(value, list | tuple):
            out[name] = [mask(kind, v) if isinstance(v, str) else v for v in value]
    return out


def check_reveal(principal: Principal, reason: str) -> str:
    """The cleaned reason, or :class:`RevealRefused` (no permission, or no real reason)."""
    if not principal.can(Permission.PII_REVEAL):
        raise RevealRefused(f"{principal.role.value} may not reveal personal identifiers")
    cleaned = " ".join(reason.split())
    if len(cleaned) < MIN_REASON_CHARS:
        raise RevealRefused("a reason is needed to reveal a personal identifier")
    if len(cleaned) > MAX_REASON_CHARS:
        raise RevealRefused(f"the reason is longer than {MAX_REASON_CHARS} characters")
    return cleaned
