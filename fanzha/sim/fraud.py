"""Fraud as scripted sequences of events: contact, engagement, payments, laundering, report.

Every day each typology contacts residents (chosen by its demographic affinity); some engage
(hooked) and run the typology's script over minutes to weeks; a hooked victim may stop on their
own, or pay once or several times (escalating, never beyond their savings). Payments go to the
gang's layer-1 mules and are laundered; victims who lost money report after a delay.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fanzha.model.enums import FraudType
from fanzha.sim.gangs import SCREEN_SHARE_APPS, Gang
from fanzha.sim.ids import BANKS
from fanzha.sim.launder import Launderer
from fanzha.sim.narratives import ReportFacts, narrative
from fanzha.sim.output import EventIds
from fanzha.sim.params import AGE_BANDS, OCCUPATIONS, TypologyParams
from fanzha.sim.rng import choice_weighted, lognormal, stream
from fanzha.sim.truth import Truth
from fanzha.sim.world import TZ, World

Emit = Callable[[str, dict[str, Any]], None]
MIN = 60
HOUR = 3600
DAY = 86_400

_SMS: dict[FraudType, tuple[str, ...]] = {
    FraudType.IMPERSONATING_AUTHORITIES: (
        "【{city}公安】您的身份信息涉嫌一起洗钱案件，请立即登录{url}查询案件详情，逾期将冻结名下账户。",
        "【检察院通知】您名下银行卡涉嫌违法犯罪，案件编号{code}，请登录{url}核实。",
    ),
    FraudType.ORDER_BRUSHING: (
        "【兼职招聘】在家动动手指，日结200-500元，点赞关注即可，详情{url}",
        "宝妈学生党福利：手机做任务，一单一结，佣金秒到，戳{url}",
    ),
    FraudType.FAKE_INVESTMENT: (
        "【财经内参】名师带你稳健理财，内部群免费学习，收益翻倍：{url}",
        "老师今日推荐牛股已涨停，加入VIP群领取明日代码：{url}",
    ),
    FraudType.ROMANCE: (
        "你好呀，我是上次在群里加你的，最近在做一个理财项目，你有兴趣可以看看{url}",
        "亲爱的，我舅舅在平台内部，这个机会很难得，你先注册{url}",
    ),
    FraudType.FAKE_LOAN: (
        "【普惠金融】您有一笔最高20万元的贷款额度待领取，无抵押秒到账：{url} 回T退订",
        "急用钱？身份证即可贷，当天放款，低息：{url}",
    ),
    FraudType.FAKE_CUSTOMER_SERVICE: (
        "【售后客服】您购买的商品存在质量问题，可为您办理三倍理赔，详询{url}",
        "【快递】您的包裹丢失，请点击{url}申请理赔退款。",
    ),
    FraudType.IMPERSONATING_ACQUAINTANCE: (
        "我是你王总，这是我新号码，明天上午到我办公室来一趟。",
        "老同学，我换号了，存一下这个号码。",
    ),
}
_URGENT_SMS = "我这边有个急事，需要先转笔钱给合作方，你先帮我转一下，账户{account}，户名{holder}。"
_REMITTANCE: dict[FraudType, tuple[str, ...]] = {
    FraudType.IMPERSONATING_AUTHORITIES: ("安全账户", "资金清查", ""),
    FraudType.ORDER_BRUSHING: ("任务充值", "垫付", ""),
    FraudType.FAKE_INVESTMENT: ("入金", "充值", ""),
    FraudType.ROMANCE: ("充值", "投资", ""),
    FraudType.FAKE_LOAN: ("手续费", "解冻金", "保证金"),
    FraudType.FAKE_CUSTOMER_SERVICE: ("退款验证", "理赔", ""),
    FraudType.IMPERSONATING_ACQUAINTANCE: ("货款", "往来款", ""),
}
_PRETEXT: dict[FraudType, str] = {
    FraudType.IMPERSONATING_AUTHORITIES: "公安局民警",
    FraudType.ORDER_BRUSHING: "某电商平台",
    FraudType.FAKE_INVESTMENT: "投资导师",
    FraudType.ROMANCE: "网友",
    FraudType.FAKE_LOAN: "贷款平台客服",
    FraudType.FAKE_CUSTOMER_SERVICE: "电商客服",
    FraudType.IMPERSONATING_ACQUAINTANCE: "单位领导",
}


@dataclass
class Step:
    """One scripted event of a victim's timeline (before any money moves)."""

    ts: int
    kind: str  # call, sms, visit, install
    data: dict[str, Any]


@dataclass
class Script:
    """The contact steps and the payment opportunities of one victim."""

    steps: list[Step] = field(default_factory=list)
    pay_slots: list[int] = field(default_factory=list)
    callers: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    apps: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Contact:
    """Who contacts whom, when, and whether the person engages."""

    kind: FraudType
    rng: np.random.Generator
    gang: Gang
    t0: int
    hooked: bool
    tp: TypologyParams


class Typologies:
    """Builds the script of each typology for one victim (times relative to first contact)."""

    def __init__(self, world: World) -> None:
        self.world = world

    def build(
        self,
        kind: FraudType,
        rng: np.random.Generator,
        gang: Gang,
        t0: int,
        hooked: bool,
        tp: TypologyParams,
    ) -> Script:
        """The script of ``kind``; only the first contact when the person does not engage."""
        s = Script()
        builder = {
            FraudType.IMPERSONATING_AUTHORITIES: self._authorities,
            FraudType.ORDER_BRUSHING: self._brushing,
            FraudType.FAKE_INVESTMENT: self._long_con,
            FraudType.ROMANCE: self._long_con,
            FraudType.FAKE_LOAN: self._loan,
            FraudType.FAKE_CUSTOMER_SERVICE: self._customer_service,
            FraudType.IMPERSONATING_ACQUAINTANCE: self._acquaintance,
        }[kind]
        builder(s, Contact(kind, rng, gang, t0, hooked, tp))
        return s

    # ---------------------------------------------------------------- building blocks

    def _caller(
        self, rng: np.random.Generator, gang: Gang, ts: int, prefer: tuple[str, ...]
    ) -> str:
        callers = gang.callers_at(ts)
        preferred = [c for c in callers if c[1] in prefer] or callers
        return preferred[int(rng.integers(len(preferred)))][0]

    def _url(self, rng: np.random.Generator, gang: Gang, kind: FraudType) -> str:
        urls = gang.urls[kind]
        return urls[int(rng.integers(len(urls)))]

    def _app(self, rng: np.random.Generator, gang: Gang, kind: FraudType) -> tuple[str, str]:
        apps = gang.apps.get(kind) or list(SCREEN_SHARE_APPS)
        return apps[int(rng.integers(len(apps)))]

    def _call(self, s: Script, ts: int, caller: str, seconds: float) -> None:
        s.steps.append(Step(ts, "call", {"caller": caller, "duration_s": max(1, int(seconds))}))
        if caller not in s.callers:
            s.callers.append(caller)

    def _sms(self, s: Script, ts: int, sender: str, text: str, url: str | None = None) -> None:
        s.steps.append(Step(ts, "sms", {"sender": sender, "text": text}))
        if url and url not in s.urls:
            s.urls.append(url)
        if sender not in s.callers:
            s.callers.append(sender)

    def _visit(self, s: Script, ts: int, url: str) -> None:
        s.steps.append(Step(ts, "visit", {"url": url}))
        if url not in s.urls:
            s.urls.append(url)

    def _install(self, s: Script, ts: int, app: tuple[str, str]) -> None:
        s.steps.append(Step(ts, "install", {"app_id": app[0], "app_name": app[1]}))
        s.apps.append(app[1])

    def _lure(self, s: Script, c: Contact, prefer: tuple[str, ...]) -> str:
        """The opening SMS with a link (recruitment, ad, 'teacher'); returns the URL."""
        sender = self._caller(c.rng, c.gang, c.t0, prefer)
        url = self._url(c.rng, c.gang, c.kind)
        self._sms(s, c.t0, sender, self._text(c.rng, c.kind, url), url)
        return url

    def _text(self, rng: np.random.Generator, kind: FraudType, url: str) -> str:
        options = _SMS[kind]
        return options[int(rng.integers(len(options)))].format(
            url=url, city=self.world.geo.city_name, code=f"{int(rng.integers(10**8)):08d}"
        )

    def _slots(
        self, rng: np.random.Generator, first: int, gap_lo: int, gap_hi: int, count: int
    ) -> list[int]:
        slots, t = [], first
        for _ in range(count):
            slots.append(t)
            t += int(rng.integers(gap_lo, gap_hi + 1))
        return slots

    @staticmethod
    def _minutes(rng: np.random.Generator, median: float, sigma: float) -> float:
        return float(lognormal(rng, median, sigma, 1)[0]) * MIN

    # ---------------------------------------------------------------- typologies

    def _authorities(self, s: Script, c: Contact) -> None:
        """Long call from a spoofed or foreign number, case site, screen sharing, safe account."""
        kind, rng, gang, t0, hooked, tp = c.kind, c.rng, c.gang, c.t0, c.hooked, c.tp
        caller = self._caller(rng, gang, t0, ("spoofed", "international", "virtual"))
        if not hooked:
            self._call(s, t0, caller, self._minutes(rng, 0.8, 0.6))
            return
        self._call(s, t0, caller, self._minutes(rng, 50, 0.4))  # the phone is busy for an hour
        url = self._url(rng, gang, kind)
        self._sms(s, t0 + 5 * MIN, caller, self._text(rng, kind, url), url)
        self._visit(s, t0 + 7 * MIN + int(rng.integers(0, 120)), url)
        app = (
            self._app(rng, gang, kind)
            if rng.random() < 0.4
            else SCREEN_SHARE_APPS[int(rng.integers(len(SCREEN_SHARE_APPS)))]
        )
        self._install(s, t0 + 12 * MIN, app)
        s.pay_slots = self._slots(
            rng, t0 + int(rng.integers(25, 50)) * MIN, 10 * MIN, 30 * MIN, tp.max_payments
        )

    def _brushing(self, s: Script, c: Contact) -> None:
        """Recruitment SMS, task site and app, small rewarded tasks, then escalating deposits."""
        kind, rng, gang, t0, hooked, tp = c.kind, c.rng, c.gang, c.t0, c.hooked, c.tp
        url = self._lure(s, c, ("virtual", "mobile"))
        if not hooked:
            return
        t = t0 + int(rng.integers(5, 180)) * MIN
        self._visit(s, t, url)
        self._install(s, t + 5 * MIN, self._app(rng, gang, kind))
        span = int(tp.duration_days * DAY / max(1, tp.max_payments))
        s.pay_slots = self._slots(rng, t + 20 * MIN, 10 * MIN, max(11 * MIN, span), tp.max_payments)

    def _long_con(self, s: Script, c: Contact) -> None:
        """Weeks of contact, a fake app, escalating deposits (investment, romance)."""
        kind, rng, gang, t0, hooked, tp = c.kind, c.rng, c.gang, c.t0, c.hooked, c.tp
        url = self._lure(s, c, ("mobile", "virtual", "international"))
        if not hooked:
            return
        span = tp.duration_days * DAY
        groom = int(span * rng.uniform(0.2, 0.4))
        t = t0 + int(rng.integers(2, 12)) * HOUR
        while t < t0 + groom:  # grooming: evening calls every day or two
            self._call(
                s,
                t,
                self._caller(rng, gang, t, ("mobile", "virtual", "international")),
                self._minutes(rng, 20, 0.6),
            )
            t += int(rng.integers(18, 48)) * HOUR
        self._visit(s, t0 + groom, url)
        self._install(s, t0 + groom + 10 * MIN, self._app(rng, gang, kind))
        gap = int((span - groom) / max(1, tp.max_payments))
        s.pay_slots = self._slots(
            rng, t0 + groom + 2 * HOUR, max(HOUR, gap // 2), max(2 * HOUR, gap), tp.max_payments
        )

    def _loan(self, s: Script, c: Contact) -> None:
        """Loan ad, fake loan app, a 'customer service' call, fees to unlock the loan."""
        kind, rng, gang, t0, hooked, tp = c.kind, c.rng, c.gang, c.t0, c.hooked, c.tp
        url = self._lure(s, c, ("virtual", "mobile"))
        if not hooked:
            return
        t = t0 + int(rng.integers(1, 60)) * MIN
        self._visit(s, t, url)
        self._install(s, t + 10 * MIN, self._app(rng, gang, kind))
        self._call(
            s,
            t + 30 * MIN,
            self._caller(rng, gang, t, ("virtual", "mobile")),
            self._minutes(rng, 12, 0.4),
        )
        s.pay_slots = self._slots(rng, t + 45 * MIN, 20 * MIN, 60 * MIN, tp.max_payments)

    def _customer_service(self, s: Script, c: Contact) -> None:
        """Refund call, link, sometimes screen sharing, transfers within the hour."""
        kind, rng, gang, t0, hooked, tp = c.kind, c.rng, c.gang, c.t0, c.hooked, c.tp
        caller = self._caller(rng, gang, t0, ("virtual", "mobile", "international"))
        if not hooked:
            self._call(s, t0, caller, self._minutes(rng, 1, 0.6))
            return
        self._call(s, t0, caller, self._minutes(rng, 25, 0.4))
        url = self._url(rng, gang, kind)
        self._sms(s, t0 + 3 * MIN, caller, self._text(rng, kind, url), url)
        self._visit(s, t0 + 5 * MIN, url)
        if rng.random() < 0.5:
            self._install(
                s, t0 + 8 * MIN, SCREEN_SHARE_APPS[int(rng.integers(len(SCREEN_SHARE_APPS)))]
            )
        s.pay_slots = self._slots(
            rng, t0 + int(rng.integers(15, 40)) * MIN, 10 * MIN, 20 * MIN, tp.max_payments
        )

    def _acquaintance(self, s: Script, c: Contact) -> None:
        """A 'new number' of the boss or a friend, then an urgent transfer request."""
        kind, rng, gang, t0, hooked, tp = c.kind, c.rng, c.gang, c.t0, c.hooked, c.tp
        sender = self._caller(rng, gang, t0, ("mobile", "virtual"))
        self._sms(s, t0, sender, self._text(rng, kind, ""))
        if not hooked:
            return
        t = t0 + int(rng.integers(1, 20)) * HOUR
        s.steps.append(
            Step(t, "urgent", {"sender": sender})
        )  # text names the account, filled later
        s.pay_slots = self._slots(
            rng, t + int(rng.integers(10, 60)) * MIN, 20 * MIN, 2 * HOUR, tp.max_payments
        )


@dataclass
class Victim:
    """Bookkeeping of one contacted person while their script runs."""

    victim_id: str
    person: int
    kind: FraudType
    gang: Gang
    t0: int
    hooked: bool
    outcome: str = "not_engaged"
    loss: int = 0
    rebates: int = 0
    payments: list[tuple[int, int, str, str]] = field(default_factory=list)  # ts, fen, payee, event


class FraudPlanner:
    """Plans each day's fraud contacts and emits their events, laundering and reports."""

    def __init__(
        self,
        world: World,
        gangs: list[Gang],
        ids: EventIds,
        truth: Truth,
        emit: Emit,
        end_ts: int,
        dissuasions: Mapping[str, int] | None = None,
    ) -> None:
        self.world = world
        # resident ID number -> epoch second from which they refuse to pay (dissuaded)
        self.dissuasions = dict(dissuasions or {})
        self.gangs = gangs
        self.ids = ids
        self.truth = truth
        self.emit = emit
        self.end = end_ts
        self.p = world.params.fraud
        self.typologies = Typologies(world)
        self.launderer = Launderer(world, ids, truth, emit, end_ts)
        self.savings = world.residents.savings_fen.copy()
        self.rebate_balance: dict[str, int] = {}
        self.rebate_funded: dict[str, int] = {}  # when each rebate account got its money
        self._count = 0
        self._fund_rebates()

    def _fund_rebates(self) -> None:
        """Gangs stock their rebate accounts from an OTC account, so rebates are real money."""
        rng = stream(self.world.params.seed, "fraud", "funding")
        for gang in self.gangs:
            for mule in gang.rebate:
                ts = max(self.world.day_start(0) + 8 * HOUR, mule.card.opened + HOUR)
                if ts >= self.end:
                    continue
                fen = int(rng.integers(50, 200)) * 100_000
                otc, holder = gang.otc[int(rng.integers(len(gang.otc)))]
                event_id = self.launderer.transfer(
                    ts, otc, holder, mule.account, mule.card.holder, fen, remittance="往来款"
                )
                self.truth.add(
                    "transfer_roles", event_id=event_id, role="gang_funding", gang_id=gang.gang_id
                )
                self.rebate_balance[mule.account] = fen
                self.rebate_funded[mule.account] = ts

    def day(self, day: int) -> None:
        """Start today's fraud contacts and everything that follows from them."""
        seed = self.world.params.seed
        rng = stream(seed, "fraud", "contacts", day)
        shares = {k: t.contact_share for k, t in self.p.typologies.items()}
        total_share = sum(shares.values())
        base = (
            self.p.contacts_per_million_day * self.world.residents.n / 1e6 * self.p.incidence_scale
        )
        for kind, tp in self.p.typologies.items():
            n = int(rng.poisson(base * shares[kind] / total_share))
            if n == 0:
                continue
            weights = self._affinity(tp)
            people = choice_weighted(rng, weights, n)
            for person in people:
                self._run(rng, day, kind, tp, int(person), float(weights[person]))
        inno = stream(seed, "fraud", "innocent", day)
        for gang in self.gangs:
            self.launderer.innocent_day(inno, gang, day)

    def _affinity(self, tp: TypologyParams) -> np.ndarray:
        res = self.world.residents
        age = np.array([tp.age_affinity.get(b, 1.0) for b in AGE_BANDS])[res.age_band]
        occ = np.array([tp.occupation_affinity.get(o.value, 1.0) for o in OCCUPATIONS])[
            res.occupation
        ]
        return np.asarray(age * occ, dtype=np.float64)

    # ---------------------------------------------------------------- one victim

    def _run(
        self,
        rng: np.random.Generator,
        day: int,
        kind: FraudType,
        tp: TypologyParams,
        person: int,
        affinity: float,
    ) -> None:
        gangs = [g for g in self.gangs if kind in g.typologies]
        gang = gangs[int(rng.integers(len(gangs)))]
        t0 = self.world.day_start(day) + int(rng.integers(8 * HOUR, 22 * HOUR))
        hooked = bool(rng.random() < min(0.95, tp.hook * affinity))
        self._count += 1
        v = Victim(f"V{self.world.params.seed}-{self._count:07d}", person, kind, gang, t0, hooked)
        # Each victim draws from their own stream, so changing one victim's story (a dissuasion)
        # leaves every other victim's story byte-for-byte the same: a fair counterfactual.
        own = stream(self.world.params.seed, "fraud", "victim", self._count)
        script = self.typologies.build(kind, own, gang, t0, hooked, tp)
        self._emit_steps(v, script, own)
        if hooked:
            self._pay(v, script, own, tp)
        self._record(v, script, own)

    def _emit_steps(self, v: Victim, script: Script, rng: np.random.Generator) -> None:
        res = self.world.residents
        phone = str(res.phone[v.person])
        for step in script.steps:
            if step.ts >= self.end or step.kind == "urgent":
                continue
            d = step.data
            if step.kind == "call":
                type_name = "call"
                row = {
                    "caller": d["caller"],
                    "callee": phone,
                    "duration_s": d["duration_s"],
                    "direction": "originated",
                    "callee_imei": str(res.imei[v.person]),
                }
            elif step.kind == "sms":
                type_name, row = (
                    "sms",
                    {"sender": d["sender"], "recipient": phone, "text": d["text"]},
                )
            elif step.kind == "visit":
                type_name, row = "web_visit", {"subscriber": phone, "url": d["url"]}
            else:
                type_name = "app_install"
                row = {
                    "subscriber": phone,
                    "app_id": d["app_id"],
                    "app_name": d["app_name"],
                    "imei": str(res.imei[v.person]),
                }
            self._event(v, type_name, step.ts, step.kind, row)

    def _event(self, v: Victim, type_name: str, ts: int, step: str, row: dict[str, Any]) -> str:
        event_id = self.ids.one(type_name)
        self.emit(type_name, {"event_id": event_id, "ts": ts, **row})
        self.truth.add(
            "timeline",
            victim_id=v.victim_id,
            ts=ts * 1_000_000,
            step=step,
            event_type=type_name,
            event_id=event_id,
        )
        return event_id

    def _pay(self, v: Victim, script: Script, rng: np.random.Generator, tp: TypologyParams) -> None:
        if rng.random() >= tp.pay:
            v.outcome = "stopped_before_paying"
            return
        amount = float(
            lognormal(rng, tp.first_payment_yuan.median, tp.first_payment_yuan.sigma, 1)[0]
        )
        stop = self.dissuasions.get(str(self.world.residents.id_number[v.person]))
        for k, slot in enumerate(script.pay_slots):
            if stop is not None and slot >= stop:
                v.outcome = "dissuaded"
                return
            if slot >= self.end:
                v.outcome = "ongoing_at_end"
                return
            fen = min(int(amount * 100), int(self.savings[v.person]))
            if fen < 100:
                v.outcome = "no_money_left"
                return
            self._payment(v, script, rng, slot, fen, k)
            if k + 1 >= len(script.pay_slots) or rng.random() >= tp.more_payments:
                v.outcome = (
                    "saw_through" if rng.random() < self.p.stop_on_own_share else "scam_ended"
                )
                return
            amount *= tp.escalation
        v.outcome = "scam_ended"

    def _payment(
        self, v: Victim, script: Script, rng: np.random.Generator, ts: int, fen: int, k: int
    ) -> None:
        res = self.world.residents
        mules = v.gang.mules_at(1, ts)
        mule = mules[int(rng.integers(len(mules)))]
        if v.kind == FraudType.IMPERSONATING_ACQUAINTANCE and k == 0:
            sender = next(s.data["sender"] for s in script.steps if s.kind == "urgent")
            text = _URGENT_SMS.format(account=mule.account, holder=mule.card.holder)
            self._event(
                v,
                "sms",
                ts - int(rng.integers(3, 15)) * MIN,
                "urgent_request",
                {"sender": sender, "recipient": str(res.phone[v.person]), "text": text},
            )
        slot = int(np.floor(rng.random() * res.n_accounts[v.person]))
        payer = str(res.accounts[v.person, slot])
        notes = _REMITTANCE[v.kind]
        row = {
            "payer_account": payer,
            "payee_account": mule.account,
            "amount_fen": fen,
            "currency": "CNY",
            "payer_name": str(res.name[v.person]),
            "payee_name": mule.card.holder,
            "payer_bank": BANKS[int(res.account_bank[v.person, slot])],
            "payee_bank": mule.card.bank,
            "channel": "mobile",
            "remittance": notes[int(rng.integers(len(notes)))] or None,
        }
        event_id = self._event(v, "transfer", ts, "payment", row)
        self.truth.add(
            "payments",
            victim_id=v.victim_id,
            payment_no=k + 1,
            event_id=event_id,
            ts=ts * 1_000_000,
            payer_account=payer,
            payee_account=mule.account,
            amount_fen=fen,
        )
        self.truth.add(
            "transfer_roles", event_id=event_id, role="victim_payment", gang_id=v.gang.gang_id
        )
        self.savings[v.person] -= fen
        v.loss += fen
        v.payments.append((ts, fen, mule.account, event_id))
        self.launderer.launder(rng, v.gang, event_id, mule, ts, fen)
        if v.kind == FraudType.ORDER_BRUSHING and k < 2:
            self._rebate(v, rng, ts, fen, payer)

    def _rebate(self, v: Victim, rng: np.random.Generator, ts: int, fen: int, payee: str) -> None:
        """The first small tasks pay back more than was deposited, to build trust."""
        back = int(fen * rng.uniform(1.1, 1.3))
        when = ts + int(rng.integers(2, 10)) * MIN
        candidates = [
            m
            for m in v.gang.rebate
            if self.rebate_balance.get(m.account, 0) >= back
            and self.rebate_funded.get(m.account, self.end) < when
        ]
        if not candidates or when >= self.end:
            return
        mule = candidates[int(rng.integers(len(candidates)))]
        res = self.world.residents
        row = {
            "payer_account": mule.account,
            "payee_account": payee,
            "amount_fen": back,
            "currency": "CNY",
            "payer_name": mule.card.holder,
            "payee_name": str(res.name[v.person]),
            "channel": "mobile",
            "remittance": "佣金返还",
        }
        event_id = self._event(v, "transfer", when, "rebate", row)
        self.truth.add("transfer_roles", event_id=event_id, role="rebate", gang_id=v.gang.gang_id)
        self.rebate_balance[mule.account] -= back
        self.savings[v.person] += back
        v.rebates += back

    # ---------------------------------------------------------------- truth and report

    def _record(self, v: Victim, script: Script, rng: np.random.Generator) -> None:
        res, geo = self.world.residents, self.world.geo
        report_id, report_ts = self._report(v, script, rng)
        self.truth.add(
            "victims",
            victim_id=v.victim_id,
            id_number=str(res.id_number[v.person]),
            name=str(res.name[v.person]),
            phone=str(res.phone[v.person]),
            age=int(res.age[v.person]),
            occupation=OCCUPATIONS[int(res.occupation[v.person])].value,
            community=str(geo.community_code[res.community[v.person]]),
            fraud_type=v.kind.value,
            gang_id=v.gang.gang_id,
            first_contact_ts=v.t0 * 1_000_000,
            hooked=v.hooked,
            outcome=v.outcome,
            payments=len(v.payments),
            loss_fen=v.loss,
            rebates_fen=v.rebates,
            reported=report_id is not None,
            report_event_id=report_id,
            report_ts=None if report_ts is None else report_ts * 1_000_000,
        )

    def _report(
        self, v: Victim, script: Script, rng: np.random.Generator
    ) -> tuple[str | None, int | None]:
        rp = self.world.params.reports
        if v.loss > 0:
            chance, after = rp.report_probability, v.payments[-1][0]
        elif v.hooked:
            chance, after = rp.attempt_report_probability, max(s.ts for s in script.steps)
        else:
            return None, None
        if rng.random() >= chance:
            return None, None
        ts = (
            after
            + int(lognormal(rng, rp.delay_minutes.median, rp.delay_minutes.sigma, 1)[0] * MIN)
            + MIN
        )
        if ts >= self.end:
            return None, None
        return self._file_report(v, script, rng, ts), ts

    def _file_report(self, v: Victim, script: Script, rng: np.random.Generator, ts: int) -> str:
        rp = self.world.params.reports
        res, geo = self.world.residents, self.world.geo
        true_accounts = list(dict.fromkeys(p[2] for p in v.payments))
        named = {
            a: _typo(rng, a) if rng.random() < rp.account_typo else a
            for a in true_accounts
            if rng.random() < rp.remember_account
        }
        phones = [c for c in script.callers if rng.random() < rp.remember_phone]
        urls = [u for u in script.urls if rng.random() < rp.remember_url]
        apps = [a for a in script.apps if rng.random() < rp.remember_url]
        hotline = bool(rng.random() < rp.hotline_share)
        station = int(geo.community_station[res.community[v.person]])
        unit = geo.city_code if hotline else str(geo.station_code[station])
        traditional = bool(rng.random() < rp.traditional_share)
        facts = ReportFacts(
            fraud_type=v.kind,
            victim_name=str(res.name[v.person]),
            age=int(res.age[v.person]),
            first_contact=_when_text(v.t0),
            loss_yuan=(v.loss - v.rebates) // 100 if v.loss > v.rebates else 0,
            payments=tuple(
                (_when_text(t), fen // 100, named.get(acc, "")) for t, fen, acc, _ in v.payments
            ),
            phones=tuple(phones),
            urls=tuple(urls),
            apps=tuple(apps),
            pretext=_PRETEXT[v.kind],
        )
        text = narrative(facts, rng, traditional=traditional)
        event_id = self.ids.one("police_report")
        self.emit(
            "police_report",
            {
                "event_id": event_id,
                "ts": ts,
                "reporter_phone": str(res.phone[v.person]),
                "reporter_id_number": str(res.id_number[v.person]),
                "fraud_type": v.kind.value,
                "loss_fen": max(0, v.loss - v.rebates),
                "org_unit": unit,
                "narrative": text,
                "suspect_phones": phones,
                "suspect_accounts": list(named.values()),
                "suspect_urls": urls,
            },
        )
        self.truth.add(
            "timeline",
            victim_id=v.victim_id,
            ts=ts * 1_000_000,
            step="report",
            event_type="police_report",
            event_id=event_id,
        )
        self.truth.add(
            "reports",
            event_id=event_id,
            victim_id=v.victim_id,
            ts=ts * 1_000_000,
            unit=unit,
            channel="hotline" if hotline else "station",
            traditional=traditional,
            true_accounts=true_accounts,
            named_accounts=list(named.values()),
            named_phones=phones,
            named_urls=urls,
        )
        return event_id


def _typo(rng: np.random.Generator, account: str) -> str:
    """The account with one digit (after the bank prefix) remembered wrong."""
    pos = int(rng.integers(6, len(account)))
    digit = str((int(account[pos]) + int(rng.integers(1, 10))) % 10)
    return account[:pos] + digit + account[pos + 1 :]


def _when_text(ts: int) -> str:
    t = dt.datetime.fromtimestamp(ts, TZ)
    return f"{t.month}月{t.day}日{t.hour}时{t.minute:02d}分"
