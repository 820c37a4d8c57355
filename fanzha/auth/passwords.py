"""Password hashes (argon2id) and the password policy.

Only hashes are stored. Verifying an unknown user still spends one hash computation (on a
dummy hash) so that response times do not tell which usernames exist.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from fanzha.i18n import pick

# A handful of passwords every guessing list starts with; the length and class rules catch
# most others. (No download of a breached-password list: everything works offline.)
_COMMON = frozenset(
    {
        "password",
        "password123",
        "passw0rd",
        "123456789012",
        "qwertyuiop",
        "1qaz2wsx3edc",
        "admin123456",
        "administrator",
        "fanzha123456",
        "iloveyou1234",
        "woaini1314",
        "a123456789",
    }
)

_LABELS = {
    "too_short": ("密码至少 {n} 位", "at least {n} characters"),
    "too_long": ("密码至多 {n} 位", "at most {n} characters"),
    "classes": (
        "需包含大写字母、小写字母、数字、符号中的至少 {n} 类(或使用 {long} 位以上的口令短语)",
        "use {n} of upper case, lower case, digits, symbols (or {long}+ characters)",
    ),
    "username": ("密码不能包含用户名", "must not contain the username"),
    "common": ("密码过于常见", "too common"),
}


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """What a password must be: long enough, varied or long, not the username, not common."""

    min_length: int = 12
    max_length: int = 256  # argon2 is fed the whole thing: bound the work an attacker can ask
    min_classes: int = 3
    passphrase_length: int = 20  # this long, any characters will do

    def problems(self, password: str, username: str = "", lang: str = "zh-CN") -> list[str]:
        """Everything wrong with ``password``, as sentences in ``lang``; empty when it passes."""
        found: list[str] = []
        if len(password) < self.min_length:
            found.append(pick(_LABELS, "too_short", lang, n=self.min_length))
        if len(password) > self.max_length:
            found.append(pick(_LABELS, "too_long", lang, n=self.max_length))
        if len(password) < self.passphrase_length and _classes(password) < self.min_classes:
            found.append(
                pick(_LABELS, "classes", lang, n=self.min_classes, long=self.passphrase_length)
            )
        if len(username) >= 3 and username.lower() in password.lower():
            found.append(pick(_LABELS, "username", lang))
        if password.lower() in _COMMON:
            found.append(pick(_LABELS, "common", lang))
        return found


def _classes(password: str) -> int:
    return sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )


def generate_password(length: int = 20) -> str:
    """A random password that passes the default policy (for first start and demos)."""
    alphabet = string.ascii_letters + string.digits + "-_.!@#%+="
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if _classes(candidate) == 4:
            return candidate


class Passwords:
    """argon2id hashing at the given cost (defaults: argon2-cffi's, RFC 9106 low-memory)."""

    def __init__(self, time_cost: int = 3, memory_kib: int = 65_536, parallelism: int = 4) -> None:
        # argon2 needs 8 KiB per lane: tiny test costs get fewer lanes rather than an error.
        lanes = max(1, min(parallelism, memory_kib // 8))
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=lanes
        )

    def hash(self, password: str) -> str:
        """An encoded argon2id hash (salt and parameters inside)."""
        return self._hasher.hash(password)

    def verify(self, encoded: str | None, password: str) -> bool:
        """Whether ``password`` matches; None (no such user) burns the same time and fails."""
        try:
            matched = self._hasher.verify(encoded or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return matched and encoded is not None

    def needs_rehash(self, encoded: str) -> bool:
        """Whether the hash was made with other parameters (rehash on the next login)."""
        try:
            return self._hasher.check_needs_rehash(encoded)
        except InvalidHashError:
            return True

    @cached_property
    def _dummy(self) -> str:
        return self._hasher.hash(secrets.token_urlsafe(16))
