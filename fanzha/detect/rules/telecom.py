"""Rules over calls and text messages."""

from __future__ import annotations

from pydantic import Field

from fanzha.detect.features import LONG_CALL_S
from fanzha.detect.frame import (
    F_ACCOUNT_IN_TEXT,
    F_FIXED,
    F_INTL,
    F_MOBILE,
    F_RESIDENT,
    F_SERVICE,
    F_URL,
    F_VIRTUAL,
    K,
)
from fanzha.detect.rules.base import Cols, RuleConfig, Target, has, no, rule, within
from fanzha.detect.text import SmsText
from fanzha.model.enums import FraudType

CALLS = (K.CALL, K.CALL_LIVE)
RISKY_NUMBER = F_INTL | F_VIRTUAL | F_FIXED
DAY = 86_400


class MinSeconds(RuleConfig):
    """A minimum call duration."""

    min_seconds: int = Field(default=180, ge=0, description="Shortest call that counts (s).")


class LiveCall(RuleConfig):
    """Still on the line after this long."""

    min_seconds: int = Field(default=900, ge=60, description="Call still going after (s).")


class Repeated(RuleConfig):
    """Repeated long calls with one number (long: at least five minutes, ``LONG_CALL_S``)."""

    min_calls: int = Field(default=3, ge=2, description="Long calls with the same number.")


class NewSim(RuleConfig):
    """A recently activated number reaching many people."""

    max_age_days: int = Field(default=30, ge=1, description="Activated at most this long ago.")
    min_subjects: int = Field(default=5, ge=1, description="Distinct residents reached.")
    min_seconds: int = Field(default=300, ge=0, description="Call at least this long (s).")


class NewSimBurst(RuleConfig):
    """A recently activated number reaching very many people."""

    max_age_days: int = Field(default=30, ge=1, description="Activated at most this long ago.")
    min_subjects: int = Field(default=8, ge=2, description="Distinct residents reached.")


class FreshLink(RuleConfig):
    """A link to a domain few people have seen, first seen recently."""

    max_age_days: int = Field(default=7, ge=1, description="Domain first seen at most … ago.")
    max_subjects: int = Field(default=200, ge=1, description="At most this many recipients.")


@rule(
    "call_flagged_number",
    family="intel",
    exposure=True,
    floor=0,
    kinds=CALLS,
    weight=50,
    zh="与涉诈号码通话",
    en="Call with a flagged number",
)
def call_flagged_number(x: Cols, cfg: RuleConfig) -> object:
    """A call with a number our intelligence flags as fraud or suspicious."""
    return x.intel >= 1


@rule(
    "call_long_flagged",
    family="intel",
    exposure=True,
    floor=3,
    kinds=CALLS,
    weight=60,
    config=MinSeconds(min_seconds=180),
    zh="与涉诈号码长时间通话",
    en="Long call with a flagged number",
)
def call_long_flagged(x: Cols, cfg: MinSeconds) -> object:
    """A call of several minutes with a flagged number: the script is being told."""
    return (x.intel >= 1) & (x.dur >= cfg.min_seconds)


@rule(
    "call_live_risky",
    family="call",
    exposure=False,
    floor=0,
    kinds=(K.CALL_LIVE,),
    weight=40,
    config=LiveCall(),
    zh="与境外/虚拟/异地固话号码通话持续中",
    en="Still on a call with a risky number",
)
def call_live_risky(x: Cols, cfg: LiveCall) -> object:
    """Still on the line after a quarter of an hour with an international, virtual-operator or fixed-line number that is not a resident's (the 'phone busy for an hour' case)."""
    return (x.dur >= cfg.min_seconds) & has(x.flags, RISKY_NUMBER) & no(has(x.flags, F_RESIDENT))


@rule(
    "call_long_virtual",
    family="call",
    exposure=False,
    floor=0,
    kinds=(K.CALL,),
    weight=25,
    config=MinSeconds(min_seconds=600),
    zh="与虚拟运营商号码长时间通话",
    en="Long call with a virtual-operator number",
)
def call_long_virtual(x: Cols, cfg: MinSeconds) -> object:
    """A call of ten minutes or more with a virtual-operator number (170/171/162/165/167)."""
    return has(x.flags, F_VIRTUAL) & no(has(x.flags, F_RESIDENT)) & (x.dur >= cfg.min_seconds)


@rule(
    "call_long_international",
    family="call",
    exposure=True,
    floor=0,
    kinds=(K.CALL,),
    weight=35,
    config=MinSeconds(min_seconds=300),
    zh="与境外号码长时间通话",
    en="Long call with an international number",
)
def call_long_international(x: Cols, cfg: MinSeconds) -> object:
    """A call of five minutes or more with an international number."""
    return has(x.flags, F_INTL) & (x.dur >= cfg.min_seconds)


@rule(
    "call_long_fixed_line",
    family="call",
    exposure=True,
    floor=0,
    kinds=(K.CALL,),
    weight=30,
    config=MinSeconds(min_seconds=600),
    zh="与非居民固定电话长时间通话",
    en="Long call with a non-resident fixed line",
)
def call_long_fixed_line(x: Cols, cfg: MinSeconds) -> object:
    """A call of ten minutes or more with a fixed line that is not a resident's (spoofed 'police' and 'court' numbers)."""
    return has(x.flags, F_FIXED) & no(has(x.flags, F_RESIDENT)) & (x.dur >= cfg.min_seconds)


@rule(
    "call_repeated_risky",
    family="call",
    exposure=True,
    floor=0,
    kinds=(K.CALL,),
    weight=35,
    config=Repeated(),
    zh="与同一可疑号码反复长时间通话",
    en="Repeated long calls with one risky number",
)
def call_repeated_risky(x: Cols, cfg: Repeated) -> object:
    """The third or later call of five minutes or more with the same non-resident virtual, international or fixed-line number (grooming over days)."""
    return (
        (x.long_calls >= cfg.min_calls)
        & (x.dur >= LONG_CALL_S)
        & has(x.flags, RISKY_NUMBER)
        & no(has(x.flags, F_RESIDENT))
    )


@rule(
    "call_new_sim",
    family="call",
    exposure=True,
    floor=0,
    kinds=(K.CALL,),
    weight=35,
    config=NewSim(),
    zh="与新入网且大量外联号码通话",
    en="Call with a new SIM that reaches many people",
)
def call_new_sim(x: Cols, cfg: NewSim) -> object:
    """A call of five minutes or more with a number activated in the last month that has already reached several residents."""
    return (
        within(x.at, x.cp_born_at, cfg.max_age_days * DAY)
        & (x.cp_subjects >= cfg.min_subjects)
        & (x.dur >= cfg.min_seconds)
    )


@rule(
    "sms_flagged_sender",
    family="intel",
    exposure=True,
    floor=0,
    kinds=(K.SMS,),
    weight=45,
    zh="收到涉诈号码短信",
    en="Text from a flagged number",
)
def sms_flagged_sender(x: Cols, cfg: RuleConfig) -> object:
    """A text message from a number our intelligence flags."""
    return x.intel >= 1


@rule(
    "sms_flagged_link",
    family="intel",
    exposure=True,
    floor=0,
    kinds=(K.SMS,),
    weight=50,
    zh="短信含涉诈链接",
    en="Text with a flagged link",
)
def sms_flagged_link(x: Cols, cfg: RuleConfig) -> object:
    """A text message whose link points to a flagged domain."""
    return x.intel2 >= 1


@rule(
    "sms_link_from_person",
    family="sms",
    exposure=True,
    floor=0,
    kinds=(K.SMS,),
    weight=25,
    zh="个人号码发送的含链接短信",
    en="Link sent from a personal number",
)
def sms_link_from_person(x: Cols, cfg: RuleConfig) -> object:
    """A link sent from a personal (mobile, virtual, international or fixed) number that is not a resident's; legitimate services send links from registered 106/95 numbers."""
    return (
        has(x.flags, F_URL)
        & has(x.flags, F_MOBILE | F_VIRTUAL | F_INTL | F_FIXED)
        & no(has(x.flags, F_RESIDENT))
    )


@rule(
    "sms_fraud_script",
    family="sms",
    exposure=True,
    floor=0,
    kinds=(K.SMS,),
    weight=30,
    zh="短信含诈骗话术",
    en="Text with a fraud script",
)
def sms_fraud_script(x: Cols, cfg: RuleConfig) -> object:
    """A text with the wording of a known fraud script (安全账户, 刷单返利, 无抵押秒到账 …) from a number that is not a registered service."""
    return (
        (x.text >= int(SmsText.AUTHORITIES))
        & (x.text <= int(SmsText.CUSTOMER_SERVICE))
        & no(has(x.flags, F_SERVICE))
    )


@rule(
    "sms_new_number_claim",
    family="sms",
    exposure=True,
    floor=0,
    kinds=(K.SMS,),
    weight=35,
    fraud_type=FraudType.IMPERSONATING_ACQUAINTANCE,
    zh="陌生号码自称领导熟人换号",
    en="Unknown number claims to be a boss or friend",
)
def sms_new_number_claim(x: Cols, cfg: RuleConfig) -> object:
    """A non-resident number claims to be the boss, a teacher or an old friend with a 'new number'."""
    return (
        (x.text == int(SmsText.ACQUAINTANCE))
        & no(has(x.flags, F_RESIDENT))
        & no(has(x.flags, F_SERVICE))
    )


@rule(
    "sms_transfer_request",
    family="sms",
    exposure=True,
    floor=3,
    kinds=(K.SMS,),
    weight=50,
    fraud_type=FraudType.IMPERSONATING_ACQUAINTANCE,
    zh="陌生号码短信要求转账",
    en="Unknown number asks for a transfer",
)
def sms_transfer_request(x: Cols, cfg: RuleConfig) -> object:
    """A non-resident, non-service number asks for money to be sent, or names an account to pay."""
    return (
        ((x.text == int(SmsText.TRANSFER_REQUEST)) | has(x.flags, F_ACCOUNT_IN_TEXT))
        & no(has(x.flags, F_RESIDENT))
        & no(has(x.flags, F_SERVICE))
    )


@rule(
    "sms_fresh_link",
    family="sms",
    exposure=False,
    floor=0,
    kinds=(K.SMS,),
    weight=15,
    config=FreshLink(),
    zh="短信链接指向新出现的小众域名",
    en="Link to a freshly seen domain",
)
def sms_fresh_link(x: Cols, cfg: FreshLink) -> object:
    """A link to a domain first seen in the last week that few people have received."""
    return (
        has(x.flags, F_URL)
        & no(has(x.flags, F_SERVICE))
        & within(x.at, x.cp2_first_at, cfg.max_age_days * DAY)
        & (x.cp2_subjects <= cfg.max_subjects)
    )


@rule(
    "number_new_sim_burst",
    family="intel",
    exposure=False,
    floor=0,
    kinds=(K.CALL, K.SMS),
    weight=0,
    target=Target.INDICATOR,
    config=NewSimBurst(),
    zh="新入网号码短时大量外联",
    en="New SIM contacting many residents",
)
def number_new_sim_burst(x: Cols, cfg: NewSimBurst) -> object:
    """A number activated in the last month that has already contacted many distinct residents becomes a suspicious number (and everyone it reached is looked at again)."""
    return (
        within(x.at, x.cp_born_at, cfg.max_age_days * DAY)
        & (x.cp_subjects >= cfg.min_subjects)
        & no(has(x.flags, F_RESIDENT))
    )
