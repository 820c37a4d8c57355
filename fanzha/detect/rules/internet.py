"""Rules over web visits and app installs."""

from __future__ import annotations

from pydantic import Field

from fanzha.detect.frame import F_SCREEN, K
from fanzha.detect.rules.base import Cols, RuleConfig, has, no, rule, within

DAY = 86_400
HOUR = 3_600


class Fresh(RuleConfig):
    """First seen recently by few people."""

    max_age_days: int = Field(default=7, ge=1, description="First seen at most this long ago.")
    max_subjects: int = Field(default=50, ge=1, description="At most this many people so far.")


class AfterContact(RuleConfig):
    """Soon after a fraud contact."""

    within_hours: int = Field(default=24, ge=1, description="Hours after the fraud contact.")


class AfterContactFresh(RuleConfig):
    """Soon after a fraud contact, and rare."""

    within_hours: int = Field(default=24, ge=1, description="Hours after the fraud contact.")
    max_subjects: int = Field(default=200, ge=1, description="At most this many installs.")


@rule(
    "visit_flagged_site",
    family="intel",
    exposure=True,
    floor=0,
    kinds=(K.VISIT,),
    weight=50,
    zh="访问涉诈网站",
    en="Visit to a flagged site",
)
def visit_flagged_site(x: Cols, cfg: RuleConfig) -> object:
    """A visit to a URL or domain our intelligence flags."""
    return x.intel >= 1


@rule(
    "visit_fresh_domain",
    family="web",
    exposure=False,
    floor=0,
    kinds=(K.VISIT,),
    weight=10,
    config=Fresh(),
    zh="访问新出现的小众域名",
    en="Visit to a freshly seen domain",
)
def visit_fresh_domain(x: Cols, cfg: Fresh) -> object:
    """A visit to a domain first seen in the last week and visited by few people."""
    return within(x.at, x.cp_first_at, cfg.max_age_days * DAY) & (x.cp_subjects <= cfg.max_subjects)


@rule(
    "visit_link_from_text",
    family="web",
    exposure=True,
    floor=0,
    kinds=(K.VISIT,),
    weight=30,
    zh="打开陌生短信中的链接",
    en="Opened a link from a text",
)
def visit_link_from_text(x: Cols, cfg: RuleConfig) -> object:
    """A visit to a domain the person received in a text message (the link was followed)."""
    return x.link_at <= x.at


@rule(
    "visit_after_contact",
    family="web",
    exposure=False,
    floor=0,
    kinds=(K.VISIT,),
    weight=25,
    stage=2,
    config=AfterContact(),
    zh="涉诈接触后访问小众网站",
    en="Rare site visited after a fraud contact",
)
def visit_after_contact(x: Cols, cfg: AfterContact) -> object:
    """A visit to a rarely visited domain within a day of a fraud contact."""
    return within(x.at, x.exposed_at, cfg.within_hours * HOUR) & (x.cp_subjects <= 200)


@rule(
    "install_flagged_app",
    family="intel",
    exposure=True,
    floor=3,
    kinds=(K.INSTALL,),
    weight=55,
    zh="安装涉诈应用",
    en="Install of a flagged app",
)
def install_flagged_app(x: Cols, cfg: RuleConfig) -> object:
    """An install of an app our intelligence flags."""
    return x.intel >= 1


@rule(
    "install_rare_app",
    family="app",
    exposure=False,
    floor=0,
    kinds=(K.INSTALL,),
    weight=15,
    config=Fresh(max_subjects=30),
    zh="安装新出现的小众应用",
    en="Install of a rare new app",
)
def install_rare_app(x: Cols, cfg: Fresh) -> object:
    """An install of an app first seen in the last week on few devices (fake investment, loan and task apps are not in the stores)."""
    return (
        within(x.at, x.cp_first_at, cfg.max_age_days * DAY)
        & (x.cp_subjects <= cfg.max_subjects)
        & no(has(x.flags, F_SCREEN))
    )


@rule(
    "install_screen_share_after_contact",
    family="app",
    exposure=True,
    floor=4,
    kinds=(K.INSTALL,),
    weight=50,
    stage=2,
    config=AfterContact(within_hours=3),
    zh="涉诈接触后安装屏幕共享软件",
    en="Screen sharing installed after a fraud contact",
)
def install_screen_share_after_contact(x: Cols, cfg: AfterContact) -> object:
    """A screen-sharing or remote-control app installed within hours of a fraud contact: the fraudster is about to watch the bank app."""
    return has(x.flags, F_SCREEN) & within(x.at, x.exposed_at, cfg.within_hours * HOUR)


@rule(
    "install_app_after_contact",
    family="app",
    exposure=True,
    floor=0,
    kinds=(K.INSTALL,),
    weight=30,
    stage=2,
    config=AfterContactFresh(),
    zh="涉诈接触后安装小众应用",
    en="Rare app installed after a fraud contact",
)
def install_app_after_contact(x: Cols, cfg: AfterContactFresh) -> object:
    """A rarely installed app within a day of a fraud contact (the fake platform)."""
    return (
        no(has(x.flags, F_SCREEN))
        & within(x.at, x.exposed_at, cfg.within_hours * HOUR)
        & (x.cp_subjects <= cfg.max_subjects)
    )
