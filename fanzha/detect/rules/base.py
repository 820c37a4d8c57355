"""What a rule is: a stable id, a version, the row kinds it reads, a validated config, a weight
for scoring, and a pure predicate ``(rows, config) -> mask`` with a one-sentence docstring that
analysts see.

A predicate uses only element-wise operations (comparisons, ``&``, ``|``, :func:`no`,
:func:`has`), so the very same function runs over a whole micro-batch of NumPy columns and,
in the reference engine, over one event's scalars. Never use ``~`` or ``not`` on a condition:
``~True`` is ``-2`` in Python; write ``no(cond)``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from fanzha.detect.frame import K
from fanzha.model.enums import FraudType

Cols = Any  # a row view: NumPy columns of a batch, or one event's scalars


class Target(enum.StrEnum):
    """What a hit means: a signal about the subject, or a new indicator about the counterparty."""

    SUBJECT = "subject"
    INDICATOR = "indicator"


class RuleConfig(BaseModel):
    """Base of every rule's config (validated, no unknown keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoConfig(RuleConfig):
    """A rule without settings."""


@dataclass(frozen=True)
class Rule:
    """One detection rule."""

    id: str
    version: int
    kinds: tuple[K, ...]
    predicate: Callable[[Cols, Any], Any]
    config: RuleConfig
    weight: float
    title_zh: str
    title_en: str
    stage: int = 1  # 1: reads the event and the state; 2: also reads ``exposed_at``
    exposure: bool = False  # a hit counts as a fraud contact for later rules
    floor: int = 0  # the least risk level a hit implies (0: none)
    target: Target = Target.SUBJECT
    fraud_type: FraudType | None = None
    family: str = "other"  # evidence family: the score takes the strongest hit per family

    @property
    def doc(self) -> str:
        """The one-sentence description analysts see."""
        return (self.predicate.__doc__ or "").strip()

    @property
    def key(self) -> str:
        """``id@version``."""
        return f"{self.id}@{self.version}"

    def evaluate(self, rows: Cols, config: RuleConfig | None = None) -> Any:
        """The predicate over ``rows`` with ``config`` (the rule's default when None)."""
        return self.predicate(rows, config or self.config)

    def with_config(self, **changes: Any) -> Rule:
        """A copy with config fields changed (validated)."""
        cfg = type(self.config).model_validate({**self.config.model_dump(), **changes})
        return dataclasses.replace(self, config=cfg)


def rule(
    id: str,
    *,
    kinds: tuple[K, ...],
    weight: float,
    zh: str,
    en: str,
    config: RuleConfig | None = None,
    version: int = 1,
    stage: int = 1,
    exposure: bool = False,
    floor: int = 0,
    target: Target = Target.SUBJECT,
    fraud_type: FraudType | None = None,
    family: str = "other",
) -> Callable[[Callable[[Cols, Any], Any]], Rule]:
    """Declare a rule from its predicate function."""

    def wrap(fn: Callable[[Cols, Any], Any]) -> Rule:
        if not (fn.__doc__ or "").strip():
            raise ValueError(f"rule {id} needs a one-sentence docstring")
        return Rule(
            id=id,
            version=version,
            kinds=kinds,
            predicate=fn,
            config=config or NoConfig(),
            weight=weight,
            title_zh=zh,
            title_en=en,
            stage=stage,
            exposure=exposure,
            floor=floor,
            target=target,
            fraud_type=fraud_type,
            family=family,
        )

    return wrap


def has(flags: Any, bit: int) -> Any:
    """Whether ``bit`` is set (element-wise)."""
    return (flags & bit) != 0


def no(cond: Any) -> Any:
    """Element-wise negation that is also right for Python booleans."""
    return np.logical_not(cond)


def within(at: Any, then: Any, seconds: int) -> Any:
    """``then`` happened at most ``seconds`` before ``at`` (and not after it)."""
    return (then <= at) & (then >= at - seconds)  # no subtraction of sentinels: no overflow
