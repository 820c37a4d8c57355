"""Risk levels, channels and the per-level dispatch policy (who acts, how, and how fast).

The defaults follow the Chongqing grading (特危 / 高危 / 中危 / 低危): a critical warning is
phoned at once and visited by the station, contact within 5 minutes; high within 15 minutes;
medium is phoned by the district centre within 2 hours; low gets a templated 12381-style SMS
within 10 minutes. All of it is configuration: a unit may override any level for itself and
the units under it.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from fanzha.model.enums import OrgLevel


class RiskLevel(enum.IntEnum):
    """Warning level: 4 特危 (purple) … 1 低危 (blue)."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label_zh(self) -> str:
        """Chinese label (特危 / 高危 / 中危 / 低危)."""
        return _LEVEL_ZH[self]

    @property
    def label_en(self) -> str:
        """English label (critical / high / medium / low)."""
        return self.name.lower()

    @property
    def colour(self) -> str:
        """Shenzhen colour of the level (purple / red / yellow / blue)."""
        return _LEVEL_COLOUR[self]


_LEVEL_ZH = {
    RiskLevel.CRITICAL: "特危",
    RiskLevel.HIGH: "高危",
    RiskLevel.MEDIUM: "中危",
    RiskLevel.LOW: "低危",
}
_LEVEL_COLOUR = {
    RiskLevel.CRITICAL: "purple",
    RiskLevel.HIGH: "red",
    RiskLevel.MEDIUM: "yellow",
    RiskLevel.LOW: "blue",
}
_LEVEL_ALIASES: dict[str, RiskLevel] = {
    **{str(int(lv)): lv for lv in RiskLevel},
    **{lv.label_en: lv for lv in RiskLevel},
    **{lv.label_zh: lv for lv in RiskLevel},
    **{lv.colour: lv for lv in RiskLevel},
    **{zh: lv for lv, zh in {RiskLevel.CRITICAL: "紫", RiskLevel.HIGH: "红"}.items()},
    **{zh: lv for lv, zh in {RiskLevel.MEDIUM: "黄", RiskLevel.LOW: "蓝"}.items()},
}


def parse_level(value: object) -> RiskLevel:
    """A level from 1–4, an English or Chinese name, or a colour."""
    if isinstance(value, RiskLevel):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 4:
        return RiskLevel(value)
    if isinstance(value, str) and value.strip().lower() in _LEVEL_ALIASES:
        return _LEVEL_ALIASES[value.strip().lower()]
    raise ValueError(f"unknown risk level {value!r}: use 1–4, 特危/高危/中危/低危 or critical…low")


class Channel(enum.StrEnum):
    """How the person is contacted."""

    PHONE = "phone"
    SMS = "sms"
    VISIT = "visit"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return {Channel.PHONE: "电话劝阻", Channel.SMS: "短信预警", Channel.VISIT: "上门劝阻"}[self]


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: object) -> dt.timedelta:
    """A positive duration from seconds (a number) or text such as ``90s``, ``5m``, ``2h``."""
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        unit = match.group(2).lower() if match.group(2) else None
        seconds = float(match.group(1)) * _UNIT_SECONDS[unit]
    else:
        raise ValueError(f"not a duration: {value!r} (use seconds, or 90s / 5m / 2h / 1d)")
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, got {value!r}")
    return dt.timedelta(seconds=seconds)


Duration = Annotated[
    dt.timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda d: d.total_seconds(), return_type=float),
]


class LevelPolicy(BaseModel):
    """What one level asks of the unit that gets the instruction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channels: tuple[Channel, ...] = Field(min_length=1, description="How to reach the person.")
    handled_by: OrgLevel = Field(description="Which tier acts: station, district or city.")
    sign_within: Duration = Field(description="签收 deadline after issue.")
    contact_within: Duration = Field(description="First contact (call, SMS, visit) deadline.")
    outcome_within: Duration = Field(description="Deadline to record the outcome.")
    sms_template: str | None = Field(default=None, description="12381-style template id.")


DEFAULT_POLICIES: dict[RiskLevel, LevelPolicy] = {
    RiskLevel.CRITICAL: LevelPolicy(
        channels=(Channel.PHONE, Channel.VISIT),
        handled_by=OrgLevel.STATION,
        sign_within=dt.timedelta(minutes=2),
        contact_within=dt.timedelta(minutes=5),
        outcome_within=dt.timedelta(hours=2),
    ),
    RiskLevel.HIGH: LevelPolicy(
        channels=(Channel.PHONE,),
        handled_by=OrgLevel.STATION,
        sign_within=dt.timedelta(minutes=5),
        contact_within=dt.timedelta(minutes=15),
        outcome_within=dt.timedelta(hours=4),
    ),
    RiskLevel.MEDIUM: LevelPolicy(
        channels=(Channel.PHONE,),
        handled_by=OrgLevel.DISTRICT,
        sign_within=dt.timedelta(minutes=30),
        contact_within=dt.timedelta(hours=2),
        outcome_within=dt.timedelta(hours=24),
    ),
    RiskLevel.LOW: LevelPolicy(
        channels=(Channel.SMS,),
        handled_by=OrgLevel.CITY,
        sign_within=dt.timedelta(minutes=10),
        contact_within=dt.timedelta(minutes=10),
        outcome_within=dt.timedelta(hours=24),
        sms_template="12381-general",
    ),
}

#: Policy for a re-dispatched home visit (上门劝阻): the station goes to the person's home.
#: Contact means arriving: an hour, since a drive out to a village takes half of it or more.
DEFAULT_VISIT_POLICY = LevelPolicy(
    channels=(Channel.VISIT,),
    handled_by=OrgLevel.STATION,
    sign_within=dt.timedelta(minutes=5),
    contact_within=dt.timedelta(hours=1),
    outcome_within=dt.timedelta(hours=4),
)


class PolicyOverride(BaseModel):
    """Some fields of a level policy, replaced for one unit and the units under it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channels: tuple[Channel, ...] | None = Field(default=None, min_length=1)
    handled_by: OrgLevel | None = None
    sign_within: Duration | None = None
    contact_within: Duration | None = None
    outcome_within: Duration | None = None
    sms_template: str | None = None

    def apply(self, base: LevelPolicy) -> LevelPolicy:
        """``base`` with the fields this override sets."""
        return override_policy(base, self.model_dump(exclude_none=True))


def override_policy(base: LevelPolicy, changes: Mapping[str, Any]) -> LevelPolicy:
    """``base`` with some fields replaced, validated."""
    return LevelPolicy.model_validate({**base.model_dump(), **changes})
