"""Fraud gangs and their infrastructure: caller numbers, domains and URLs, fake apps, mule layers.

Most gangs run call centres abroad. Their local numbers and accounts come from card farmers
(:mod:`fanzha.sim.twocards`); international and spoofed numbers and the crypto OTC traders who
buy the stolen money are generated here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fanzha.model.enums import FraudType
from fanzha.model.values import InvalidValue, parse_msisdn
from fanzha.sim import catalog
from fanzha.sim.ids import BANKS, person_names
from fanzha.sim.rng import choice_weighted, stream
from fanzha.sim.truth import Truth
from fanzha.sim.twocards import Card, CardMarket, Need
from fanzha.sim.world import World

# (country, dialling prefix, digits after the prefix)
BASES: tuple[tuple[str, str, int], ...] = (
    ("柬埔寨", "+85596", 7),
    ("缅甸", "+959", 9),
    ("菲律宾", "+63917", 7),
    ("老挝", "+85620", 8),
    ("越南", "+8491", 7),
)
SPOOF_PREFIXES: tuple[str, ...] = ("+8610", "+8621", "+8623")

_DOMAIN_WORDS: dict[FraudType, tuple[str, ...]] = {
    FraudType.IMPERSONATING_AUTHORITIES: ("gjaq", "sfjd", "jcy-ajcx", "gaj-zfpt", "ajcx"),
    FraudType.ORDER_BRUSHING: ("dianzan", "renwu", "jianzhi", "fanli", "shuadan"),
    FraudType.FAKE_INVESTMENT: ("jinrong", "qihuo", "licai", "touzi", "huijin"),
    FraudType.ROMANCE: ("yuanfen", "xiangqin", "jiaoyou", "tongcheng", "aiqing"),
    FraudType.FAKE_LOAN: ("daikuan", "sudai", "jiekuan", "edu", "xinyong"),
    FraudType.FAKE_CUSTOMER_SERVICE: ("jd-tuikuan", "kefu", "lipei", "wuliu", "tb-shouhou"),
    FraudType.IMPERSONATING_ACQUAINTANCE: ("wenjian", "pan", "share"),
}
_TLDS = ("top", "cc", "xyz", "vip", "com", "net")
_PATHS = ("/#/login", "/download", "/h5/index.html", "/m/", "/app/reg", "/task")
# Fake apps per typology: (package stem, Chinese name stems, suffix)
_APPS: dict[FraudType, tuple[str, tuple[str, ...], str]] = {
    FraudType.FAKE_INVESTMENT: ("trade", ("鼎盛", "汇金", "华尔", "中鑫", "恒信"), "期货"),
    FraudType.ROMANCE: ("chat", ("蜜", "缘", "遇见", "心动", "知音"), "聊"),
    FraudType.FAKE_LOAN: ("loan", ("速", "易", "快", "安心", "宜"), "贷"),
    FraudType.ORDER_BRUSHING: ("task", ("优", "乐", "赚", "悦", "好"), "任务"),
    FraudType.IMPERSONATING_AUTHORITIES: ("safe", ("安全", "公安", "清查", "资金", "国安"), "防护"),
}
SCREEN_SHARE_APPS = tuple((a, n) for a, n, k in catalog.LEGIT_APPS if k == "screen_share")


@dataclass
class Mule:
    """An account in a gang's laundering network."""

    card: Card
    role: str  # "layer", "rebate"
    layer: int

    @property
    def account(self) -> str:
        """The account number."""
        return self.card.value


@dataclass
class Gang:
    """One gang and its infrastructure."""

    gang_id: str
    name: str
    base: str
    overseas: bool
    typologies: list[FraudType]
    callers: list[tuple[str, str, int]] = field(default_factory=list)  # number, kind, usable from
    domains: dict[FraudType, list[str]] = field(default_factory=dict)
    urls: dict[FraudType, list[str]] = field(default_factory=dict)
    apps: dict[FraudType, list[tuple[str, str]]] = field(default_factory=dict)
    layers: dict[int, list[Mule]] = field(default_factory=dict)
    rebate: list[Mule] = field(default_factory=list)
    otc: list[tuple[str, str]] = field(default_factory=list)  # account, holder name

    def callers_at(self, ts: int) -> list[tuple[str, str, int]]:
        """Caller numbers already activated at ``ts``."""
        return [c for c in self.callers if c[2] <= ts] or self.callers[:1]

    def mules_at(self, layer: int, ts: int) -> list[Mule]:
        """Mules of a layer opened at least an hour before ``ts`` (earliest one if none)."""
        pool = self.layers[layer]
        ready = [m for m in pool if m.card.opened + 3600 <= ts]
        return ready or [min(pool, key=lambda m: m.card.opened)]


def build_gangs(world: World, market: CardMarket, truth: Truth) -> list[Gang]:
    """Every gang with its numbers, sites, apps and mule layers (entities recorded as truth)."""
    p = world.params
    rng = stream(p.seed, "gangs")
    kinds = list(p.fraud.typologies)
    gangs = []
    for g in range(p.gangs.gangs):
        gang_id = f"G{g + 1:02d}"
        overseas = bool(rng.random() < p.gangs.overseas_share)
        base = BASES[int(rng.integers(len(BASES)))] if overseas else ("境内", "", 0)
        typologies = [
            kinds[(g * p.gangs.typologies_per_gang + k) % len(kinds)]
            for k in range(p.gangs.typologies_per_gang)
        ]
        gang = Gang(gang_id, f"{base[0]}{gang_id}团伙", base[0], overseas, typologies)
        truth.add(
            "gangs",
            gang_id=gang_id,
            name=gang.name,
            base=base[0],
            overseas=overseas,
            typologies=[t.value for t in typologies],
        )
        _callers(world, rng, market, gang, base, truth)
        _sites_and_apps(world, rng, gang, truth)
        gangs.append(gang)
    _ensure_coverage(gangs, kinds)
    return gangs


def _ensure_coverage(gangs: list[Gang], kinds: list[FraudType]) -> None:
    covered = {t for g in gangs for t in g.typologies}
    for k, kind in enumerate(t for t in kinds if t not in covered):
        gangs[k % len(gangs)].typologies.append(kind)


def _valid_number(rng: np.random.Generator, prefix: str, digits: int) -> str:
    while True:
        number = prefix + "".join(str(int(d)) for d in rng.integers(0, 10, digits))
        try:
            parse_msisdn(number)
        except InvalidValue:
            continue
        return number


def _callers(
    world: World,
    rng: np.random.Generator,
    market: CardMarket,
    gang: Gang,
    base: tuple[str, str, int],
    truth: Truth,
) -> None:
    gp = world.params.gangs
    mix = gp.caller_mix
    names = list(mix)
    kinds = [
        names[i] for i in choice_weighted(rng, np.array(list(mix.values())), gp.caller_numbers)
    ]
    need = Need(
        gang.gang_id,
        accounts=gp.layer1_mules
        + gp.mules_per_layer * (world.params.laundering.layers_max - 1)
        + gp.rebate_accounts,
        virtual_sims=kinds.count("virtual"),
        mobile_sims=kinds.count("mobile"),
    )
    supply = market.supply(need)
    for sim in supply.virtual_sims:
        gang.callers.append((sim.value, "virtual", sim.opened))
    for sim in supply.mobile_sims:
        gang.callers.append((sim.value, "mobile", sim.opened))
    for sim in supply.virtual_sims + supply.mobile_sims:
        truth.add(
            "sims",
            msisdn=sim.value,
            gang_id=gang.gang_id,
            farmer_id=sim.farmer_id,
            store=sim.branch,
            activated_event_id=sim.event_id,
            activated_ts=sim.opened * 1_000_000,
        )
    never = -(10**10)  # numbers from abroad and spoofed ones need no local activation
    for kind in kinds:
        if kind == "international":
            prefix, digits = (base[1], base[2]) if base[2] else (BASES[0][1], BASES[0][2])
            gang.callers.append((_valid_number(rng, prefix, digits), "international", never))
        elif kind == "spoofed":
            prefix = SPOOF_PREFIXES[int(rng.integers(len(SPOOF_PREFIXES)))]
            gang.callers.append((_valid_number(rng, prefix, 8), "spoofed", never))
    for number, kind, _ in gang.callers:
        truth.add(
            "entities", value=number, kind="phone", gang_id=gang.gang_id, role="caller", detail=kind
        )
    _mules(world, rng, gang, supply.accounts, truth)


def _mules(
    world: World, rng: np.random.Generator, gang: Gang, cards: list[Card], truth: Truth
) -> None:
    gp, lp = world.params.gangs, world.params.laundering
    order = [cards[i] for i in rng.permutation(len(cards))]
    sizes = [(1, gp.layer1_mules)] + [(k, gp.mules_per_layer) for k in range(2, lp.layers_max + 1)]
    pos = 0
    for layer, size in sizes:
        gang.layers[layer] = [Mule(c, "layer", layer) for c in order[pos : pos + size]]
        pos += size
    gang.rebate = [Mule(c, "rebate", 0) for c in order[pos : pos + gp.rebate_accounts]]
    for mule in [m for ms in gang.layers.values() for m in ms] + gang.rebate:
        c = mule.card
        truth.add(
            "mules",
            account=c.value,
            gang_id=gang.gang_id,
            role=mule.role,
            layer=mule.layer,
            farmer_id=c.farmer_id,
            dealer_id=c.dealer_id,
            bank=c.bank,
            branch=c.branch,
            opened_event_id=c.event_id,
            opened_ts=c.opened * 1_000_000,
        )
        truth.add(
            "entities",
            value=c.value,
            kind="account",
            gang_id=gang.gang_id,
            role=f"layer{mule.layer}" if mule.role == "layer" else "rebate",
            detail=c.bank,
        )
    banks = rng.integers(0, len(BANKS), gp.otc_accounts)
    accounts = world.cards.take_at_banks(rng, banks)
    holders = person_names(rng, rng.random(gp.otc_accounts) < 0.7)
    gang.otc = [(str(a), str(h)) for a, h in zip(accounts, holders, strict=True)]
    for account, _ in gang.otc:
        truth.add(
            "entities", value=account, kind="account", gang_id=gang.gang_id, role="otc", detail=""
        )


def _sites_and_apps(world: World, rng: np.random.Generator, gang: Gang, truth: Truth) -> None:
    per = max(1, world.params.gangs.domains // max(1, len(gang.typologies)))
    n = int(gang.gang_id[1:])
    for t in FraudType:
        if t not in _DOMAIN_WORDS:
            continue
        words = _DOMAIN_WORDS[t]
        domains = [
            f"{words[int(rng.integers(len(words)))]}{n}{int(rng.integers(10, 999))}"
            f".{_TLDS[int(rng.integers(len(_TLDS)))]}"
            for _ in range(per)
        ]
        gang.domains[t] = domains
        gang.urls[t] = [f"https://{d}{_PATHS[int(rng.integers(len(_PATHS)))]}" for d in domains]
        for d, u in zip(domains, gang.urls[t], strict=True):
            truth.add(
                "entities", value=d, kind="domain", gang_id=gang.gang_id, role=t.value, detail=""
            )
            truth.add(
                "entities", value=u, kind="url", gang_id=gang.gang_id, role=t.value, detail=""
            )
        if t in _APPS:
            stem, names, suffix = _APPS[t]
            apps = []
            for k in range(max(1, world.params.gangs.apps // 2)):
                word = _DOMAIN_WORDS[t][k % len(_DOMAIN_WORDS[t])].replace("-", "")
                name = names[int(rng.integers(len(names)))] + suffix
                apps.append((f"com.{word}{n}{k}.{stem}", name))
            gang.apps[t] = apps
            for app_id, name in apps:
                truth.add(
                    "entities",
                    value=app_id,
                    kind="app",
                    gang_id=gang.gang_id,
                    role=t.value,
                    detail=name,
                )
