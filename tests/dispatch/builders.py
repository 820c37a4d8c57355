"""A tiny city for dispatch tests: 江州市 → 江北区, 城关区 → three stations → communities."""

from __future__ import annotations

from dataclasses import dataclass

from fanzha.dispatch.org import OrgTree, OrgUnit, Role, User
from fanzha.model.enums import OrgLevel

CITY = "500100"
JIANGBEI = "500101"
CHENGGUAN = "500103"
NANPING = "50010101"  # station in 江北区
XINHUA = "50010102"  # station in 江北区
SHENGLI = "50010301"  # station in 城关区
NANPING_GRID = "50010101001"
SHENGLI_GRID = "50010301001"


@dataclass(frozen=True)
class Row:
    """An org unit as ingestion stores it (the shape of ``OrgUnitRow``)."""

    code: str
    name: str
    level: str
    parent_code: str | None = None
    name_en: str | None = None


ROWS = [
    Row(CITY, "江州市公安局反诈中心", "city", None, "City anti-fraud centre"),
    Row(JIANGBEI, "江北区反诈中心", "district", CITY, "Jiangbei district centre"),
    Row(CHENGGUAN, "城关区反诈中心", "district", CITY),
    Row(NANPING, "南坪派出所", "station", JIANGBEI),
    Row(XINHUA, "新华派出所", "station", JIANGBEI),
    Row(SHENGLI, "胜利派出所", "station", CHENGGUAN),
    Row(NANPING_GRID, "南坪社区", "community", NANPING),
    Row(SHENGLI_GRID, "胜利村", "community", SHENGLI),
]


def units() -> list[OrgUnit]:
    """The tiny city's units."""
    return [
        OrgUnit(code=r.code, name=r.name, level=OrgLevel(r.level), parent=r.parent_code)
        for r in ROWS
    ]


def tree() -> OrgTree:
    """The tiny city with one officer per station and a duty officer in the city."""
    users = [
        User(username="li", name="李伟", unit=NANPING),
        User(username="wang", name="王芳", unit=NANPING),
        User(username="zhao", name="赵强", unit=SHENGLI),
        User(username="duty", name="值班员", unit=CITY, roles=(Role.DUTY_OFFICER,)),
    ]
    return OrgTree(units(), users)
