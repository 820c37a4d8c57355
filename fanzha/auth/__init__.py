"""PURE security core: roles and permissions, principals and jurisdiction, masking, passwords,
API tokens, sessions and the hash-chained audit log. See ``docs/security.md``.

Nothing here imports an adapter; storage is reached through the Protocols of
:mod:`fanzha.auth.repo` and :mod:`fanzha.auth.audit`.
"""

from __future__ import annotations

from fanzha.auth.masking import PiiKind, mask, mask_fields
from fanzha.auth.principal import Forbidden, Grant, OutOfScope, Principal, PrincipalKind, Scope
from fanzha.auth.roles import PERMISSIONS, Permission, Role

__all__ = [
    "PERMISSIONS",
    "Forbidden",
    "Grant",
    "OutOfScope",
    "Permission",
    "PiiKind",
    "Principal",
    "PrincipalKind",
    "Role",
    "Scope",
    "mask",
    "mask_fields",
]
