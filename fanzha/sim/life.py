"""Ordinary life, one day at a time, fully vectorised: calls, SMS, web, apps, transfers, openings.

Ordinary life deliberately contains look-alikes of fraud — long calls, calls from virtual-range
courier numbers, visits to small fresh sites, loan and screen-sharing app installs, large
payments to brand-new payees, broker deposits, new accounts — so that detection is not trivial.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from fanzha.sim import catalog
from fanzha.sim.ids import BANKS, CARRIER_PREFIXES, CARRIER_ZH
from fanzha.sim.output import DayEvents, EventIds
from fanzha.sim.params import OCCUPATIONS, LifeParams, Occupation
from fanzha.sim.rng import choice_weighted, lognormal, stream
from fanzha.sim.world import World

#: Relative activity per hour of the local day (calls, SMS, visits, payments).
DIURNAL = np.array(
    [
        0.2,
        0.1,
        0.05,
        0.05,
        0.05,
        0.2,
        0.6,
        1.2,
        1.8,
        2.0,
        2.0,
        1.9,
        1.6,
        1.6,
        1.8,
        1.9,
        1.9,
        1.8,
        1.7,
        1.8,
        1.9,
        1.6,
        1.0,
        0.5,
    ]
)
_ACTIVITY = {Occupation.BUSINESS_OWNER: 2.0, Occupation.RETIREE: 0.7, Occupation.STUDENT: 0.9}


@dataclass
class Catalogue:
    """Pre-rendered pools that ordinary life draws from by index."""

    url: np.ndarray
    url_domain: np.ndarray
    url_weight: np.ndarray
    app_id: np.ndarray
    app_name: np.ndarray
    app_kind: np.ndarray
    notification_text: np.ndarray
    marketing_text: np.ndarray
    activity: np.ndarray  # per resident


def build_catalogue(world: World) -> Catalogue:
    """Render the URL, app and SMS pools once per run."""
    rng = stream(world.params.seed, "catalogue")
    urls, domains, weights = [], [], []
    for domain, weight in catalog.POPULAR_DOMAINS:
        for path in catalog.URL_PATHS:
            urls.append(f"https://www.{domain}{path}")
            domains.append(domain)
            weights.append(weight / len(catalog.URL_PATHS))
    popular_total = sum(weights)
    fresh = world.params.life.fresh_domain_share
    n_fresh = 300
    for k in range(n_fresh):
        words = catalog.FRESH_WORDS
        name = f"{words[k % len(words)]}{words[(k * 7 + 3) % len(words)]}{k}"
        domain = name + catalog.FRESH_TLDS[k % len(catalog.FRESH_TLDS)]
        urls.append(f"http://{domain}/")
        domains.append(domain)
        weights.append(popular_total * fresh / (1 - fresh) / n_fresh)
    apps = catalog.LEGIT_APPS
    notif = [_render(t, rng) for t in catalog.NOTIFICATION_SMS for _ in range(40)]
    market = [_render(t, rng) for t in catalog.MARKETING_SMS for _ in range(20)]
    occ = world.residents.occupation
    activity = np.ones(world.residents.n)
    for o, w in _ACTIVITY.items():
        activity[occ == OCCUPATIONS.index(o)] = w
    return Catalogue(
        url=np.array(urls),
        url_domain=np.array(domains),
        url_weight=np.array(weights),
        app_id=np.array([a for a, _, _ in apps]),
        app_name=np.array([n for _, n, _ in apps]),
        app_kind=np.array([k for _, _, k in apps]),
        notification_text=np.array(notif),
        marketing_text=np.array(market),
        activity=activity,
    )


def _render(template: str, rng: np.random.Generator) -> str:
    return template.format(
        bank=BANKS[int(rng.integers(len(BANKS)))],
        tail=f"{int(rng.integers(10_000)):04d}",
        mm=int(rng.integers(1, 13)),
        dd=int(rng.integers(1, 29)),
        amt=f"{float(rng.lognormal(4, 1)):.2f}",
        code=f"{int(rng.integers(1_000_000)):06d}",
        place=catalog.PLACE_WORDS[int(rng.integers(len(catalog.PLACE_WORDS)))],
        shop=catalog.SHOP_NAMES[int(rng.integers(len(catalog.SHOP_NAMES)))],
    )


class DailyLife:
    """Draws one day of ordinary life into a :class:`DayEvents`."""

    def __init__(self, world: World, ids: EventIds) -> None:
        self.world = world
        self.ids = ids
        self.cat = build_catalogue(world)
        self.p: LifeParams = world.params.life

    def times(self, rng: np.random.Generator, day: int, n: int) -> np.ndarray:
        """Epoch seconds of ``n`` moments of a day, following the diurnal curve."""
        hours = choice_weighted(rng, DIURNAL, n)
        return self.world.day_start(day) + hours * 3600 + rng.integers(0, 3600, n)

    def people(self, rng: np.random.Generator, rate: float) -> np.ndarray:
        """Residents acting today, drawn by activity, with ``rate`` acts per resident."""
        n = int(rng.poisson(rate * self.world.residents.n))
        return choice_weighted(rng, self.cat.activity, n)

    def day(self, day: int, out: DayEvents) -> None:
        """Everything ordinary that happens on simulated day ``day`` (0-based)."""
        seed = self.world.params.seed
        self.calls(stream(seed, "life", "calls", day), day, out)
        self.sms(stream(seed, "life", "sms", day), day, out)
        self.visits(stream(seed, "life", "web", day), day, out)
        self.apps(stream(seed, "life", "apps", day), day, out)
        self.transfers(stream(seed, "life", "transfers", day), day, out)
        self.openings(stream(seed, "life", "openings", day), day, out)

    # -------------------------------------------------------------------------- telecom

    def _contact_of(self, rng: np.random.Generator, who: np.ndarray) -> np.ndarray:
        res = self.world.residents
        start = res.contacts_ptr[who]
        degree = res.contacts_ptr[who + 1] - start
        pick = start + np.floor(rng.random(who.size) * degree).astype(np.int64)
        return np.where(degree > 0, res.contacts[np.minimum(pick, res.contacts.size - 1)], who)

    def _phone_of(self, rng: np.random.Generator, who: np.ndarray) -> np.ndarray:
        res = self.world.residents
        second = (res.phone2[who] != "") & (rng.random(who.size) < 0.15)
        return np.asarray(np.where(second, res.phone2[who], res.phone[who]))

    def calls(self, rng: np.random.Generator, day: int, out: DayEvents) -> None:
        """Calls along the social graph, to and from businesses, and long chats."""
        res, p, geo = self.world.residents, self.p, self.world.geo
        caller = self.people(rng, p.calls_per_day)
        n = caller.size
        to_contact = rng.random(n) < p.contact_call_share
        callee = self._contact_of(rng, caller)
        a = self._phone_of(rng, caller)
        b = self._phone_of(rng, callee)
        biz = self.world.inst.business_phone[
            rng.integers(0, self.world.inst.business_phone.size, n)
        ]
        inbound = rng.random(n) < 0.6  # couriers and shops mostly call residents
        b = np.where(to_contact, b, np.where(inbound, a, biz))
        a = np.where(to_contact | ~inbound, a, biz)
        duration = lognormal(rng, p.call_duration_s.median, p.call_duration_s.sigma, n)
        long = rng.random(n) < p.long_call_share
        duration[long] = lognormal(rng, p.long_call_s.median, p.long_call_s.sigma, int(long.sum()))
        duration[rng.random(n) < p.unanswered_share] = 0
        district = res.district[caller]
        away = rng.random(n) < p.travel_share
        district = np.where(away, rng.integers(0, geo.district_code.size, n), district)
        out.add_columns(
            "call",
            {
                "event_id": self.ids.many("call", n),
                "ts": self.times(rng, day, n),
                "caller": a,
                "callee": b,
                "duration_s": np.round(duration).astype(np.int64),
                "direction": np.full(n, "originated"),
                "caller_imei": res.imei[caller],
                "city": np.full(n, geo.city_name),
                "county": geo.district_name[district],
            },
        )

    def sms(self, rng: np.random.Generator, day: int, out: DayEvents) -> None:
        """Notifications, marketing and person-to-person messages."""
        res, p, cat = self.world.residents, self.p, self.cat
        for kind, rate in (
            ("notify", p.notification_sms_per_day),
            ("market", p.marketing_sms_per_day),
            ("p2p", p.p2p_sms_per_day),
        ):
            who = self.people(rng, rate)
            n = who.size
            if kind == "p2p":
                sender = self._phone_of(rng, who)
                recipient = self._phone_of(rng, self._contact_of(rng, who))
                text = np.array(catalog.P2P_SMS)[rng.integers(0, len(catalog.P2P_SMS), n)]
            else:
                pool = catalog.SERVICE_SENDERS if kind == "notify" else catalog.SP_SENDERS
                sender = np.array(pool)[rng.integers(0, len(pool), n)]
                recipient = res.phone[who]
                texts = cat.notification_text if kind == "notify" else cat.marketing_text
                text = texts[rng.integers(0, texts.size, n)]
            out.add_columns(
                "sms",
                {
                    "event_id": self.ids.many("sms", n),
                    "ts": self.times(rng, day, n),
                    "sender": sender,
                    "recipient": recipient,
                    "text": text,
                },
            )

    def visits(self, rng: np.random.Generator, day: int, out: DayEvents) -> None:
        """Web visits to popular sites and to small fresh ones (look-alikes of fraud domains)."""
        res, cat = self.world.residents, self.cat
        who = self.people(rng, self.p.web_visits_per_day)
        pick = choice_weighted(rng, cat.url_weight, who.size)
        out.add_columns(
            "web_visit",
            {
                "event_id": self.ids.many("web_visit", who.size),
                "ts": self.times(rng, day, who.size),
                "subscriber": res.phone[who],
                "url": cat.url[pick],
                "domain": cat.url_domain[pick],
            },
        )

    def apps(self, rng: np.random.Generator, day: int, out: DayEvents) -> None:
        """App installs, including legitimate loan and screen-sharing apps."""
        res, cat, p = self.world.residents, self.cat, self.p
        who = self.people(rng, p.app_installs_per_day)
        weights = np.where(
            cat.app_kind == "loan", p.loan_app_share / max(1, (cat.app_kind == "loan").sum()), 0.0
        )
        weights += np.where(
            cat.app_kind == "screen_share",
            p.screen_share_app_share / max(1, (cat.app_kind == "screen_share").sum()),
            0.0,
        )
        rest = 1 - p.loan_app_share - p.screen_share_app_share
        other = ~np.isin(cat.app_kind, ["loan", "screen_share"])
        weights[other] = max(rest, 0.0) / max(1, other.sum())
        pick = choice_weighted(rng, weights, who.size)
        out.add_columns(
            "app_install",
            {
                "event_id": self.ids.many("app_install", who.size),
                "ts": self.times(rng, day, who.size),
                "subscriber": res.phone[who],
                "app_id": cat.app_id[pick],
                "app_name": cat.app_name[pick],
                "imei": res.imei[who],
            },
        )

    # -------------------------------------------------------------------------- money

    def _account_of(
        self, rng: np.random.Generator, who: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        res = self.world.residents
        slot = np.floor(rng.random(who.size) * res.n_accounts[who]).astype(np.int64)
        return res.accounts[who, slot], res.account_bank[who, slot]

    def _pay(
        self,
        rng: np.random.Generator,
        day: int,
        out: DayEvents,
        payer: np.ndarray,
        payee_account: np.ndarray,
        payee_name: np.ndarray,
        fen: np.ndarray,
        channel: str,
        remittance: str | None,
        ts: np.ndarray | None = None,
    ) -> None:
        n = payer.size
        if n == 0:
            return
        account, bank = self._account_of(rng, payer)
        out.add_columns(
            "transfer",
            {
                "event_id": self.ids.many("transfer", n),
                "ts": self.times(rng, day, n) if ts is None else ts,
                "payer_account": account,
                "payee_account": payee_account,
                "amount_fen": np.maximum(fen, 1).astype(np.int64),
                "currency": np.full(n, "CNY"),
                "payer_name": self.world.residents.name[payer],
                "payee_name": payee_name,
                "payer_bank": np.array(BANKS)[bank],
                "channel": np.full(n, channel),
                "remittance": None if remittance is None else np.full(n, remittance),
            },
        )

    def _yuan(self, rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
        return np.round(lognormal(rng, median, sigma, n) * 100).astype(np.int64)

    def transfers(self, rng: np.random.Generator, day: int, out: DayEvents) -> None:
        """Shopping, family, large new payees, broker deposits, salaries and rent."""
        res, inst, p = self.world.residents, self.world.inst, self.p
        who = self.people(rng, p.shopping_per_day)
        m = rng.zipf(1.6, who.size) % inst.merchant_account.size
        self._pay(
            rng,
            day,
            out,
            who,
            inst.merchant_account[m],
            inst.merchant_name[m],
            self._yuan(rng, p.shopping_yuan.median, p.shopping_yuan.sigma, who.size),
            "POS",
            None,
        )
        who = self.people(rng, p.family_transfers_per_day)
        kin = self._contact_of(rng, who)
        kin_account, _ = self._account_of(rng, kin)
        self._pay(
            rng,
            day,
            out,
            who,
            kin_account,
            res.name[kin],
            self._yuan(rng, p.family_yuan.median, p.family_yuan.sigma, who.size),
            "mobile",
            "转账",
        )
        who = self.people(rng, p.large_new_payee_per_day)
        k = rng.integers(0, inst.large_payee_account.size, who.size)
        self._pay(
            rng,
            day,
            out,
            who,
            inst.large_payee_account[k],
            inst.large_payee_name[k],
            self._yuan(rng, p.large_new_payee_yuan.median, p.large_new_payee_yuan.sigma, who.size),
            "mobile",
            "定金",
        )
        who = self.people(rng, p.investment_per_day)
        k = rng.integers(0, inst.broker_account.size, who.size)
        self._pay(
            rng,
            day,
            out,
            who,
            inst.broker_account[k],
            inst.broker_name[k],
            self._yuan(rng, p.investment_yuan.median, p.investment_yuan.sigma, who.size),
            "mobile",
            "银证转账",
        )
        date = self.world.params.start + dt.timedelta(days=day)
        if date.day == p.salary_day:
            self._salaries(rng, day, out)
        if date.day == p.rent_day:
            renters = np.flatnonzero(inst.landlord_of >= 0)
            landlord = inst.landlord_of[renters]
            acc = res.accounts[landlord, 0]
            self._pay(
                rng,
                day,
                out,
                renters,
                acc,
                res.name[landlord],
                self._yuan(rng, p.rent_yuan.median, p.rent_yuan.sigma, renters.size),
                "mobile",
                "房租",
            )

    def _salaries(self, rng: np.random.Generator, day: int, out: DayEvents) -> None:
        res, inst, p = self.world.residents, self.world.inst, self.p
        paid = np.flatnonzero(inst.employer_of >= 0)
        fen = np.zeros(paid.size, dtype=np.int64)
        occ = res.occupation[paid]
        for name, dist in p.salary_yuan.items():
            rows = occ == OCCUPATIONS.index(Occupation(name))
            fen[rows] = self._yuan(rng, dist.median, dist.sigma, int(rows.sum()))
        employer = inst.employer_of[paid]
        ts = self.world.day_start(day) + 9 * 3600 + rng.integers(0, 3 * 3600, paid.size)
        out.add_columns(
            "transfer",
            {
                "event_id": self.ids.many("transfer", paid.size),
                "ts": ts,
                "payer_account": inst.employer_account[employer],
                "payee_account": res.accounts[paid, 0],
                "amount_fen": np.maximum(fen, 1),
                "payer_name": inst.employer_name[employer],
                "payee_name": res.name[paid],
                "channel": np.full(paid.size, "batch"),
                "remittance": np.full(paid.size, "工资"),
            },
        )

    def openings(self, rng: np.random.Generator, day: int, out: DayEvents) -> None:
        """Ordinary new bank accounts and SIM cards (the background of two-cards analysis)."""
        res, inst, world = self.world.residents, self.world.inst, self.world
        who = self.people(rng, self.p.new_account_per_day)
        careful = np.flatnonzero(~inst.branch_lax)
        branch = careful[rng.integers(0, careful.size, who.size)]
        bank = inst.branch_bank[branch]
        out.add_columns(
            "account_opened",
            {
                "event_id": self.ids.many("account_opened", who.size),
                "ts": self.times(rng, day, who.size),
                "account": world.cards.take_at_banks(rng, bank),
                "holder_id_number": res.id_number[who],
                "holder_name": res.name[who],
                "bank": np.array(BANKS)[bank],
                "branch": inst.branch_code[branch],
                "clerk": np.char.add(
                    np.char.add(inst.branch_code[branch], "-"),
                    rng.integers(1, 6, who.size).astype(str),
                ),
            },
        )
        who = self.people(rng, self.p.new_sim_per_day)
        stores = np.flatnonzero(~inst.store_lax & (inst.store_carrier != "virtual"))
        store = stores[rng.integers(0, stores.size, who.size)]
        numbers = np.empty(who.size, dtype="U14")
        for carrier in ("cmcc", "unicom", "telecom"):
            rows = np.flatnonzero(inst.store_carrier[store] == carrier)
            if rows.size:
                numbers[rows] = world.phones.take_mixed(rng, CARRIER_PREFIXES[carrier], rows.size)
        out.add_columns(
            "sim_activated",
            {
                "event_id": self.ids.many("sim_activated", who.size),
                "ts": self.times(rng, day, who.size),
                "msisdn": numbers,
                "holder_id_number": res.id_number[who],
                "holder_name": res.name[who],
                "carrier": np.array([CARRIER_ZH[c] for c in inst.store_carrier[store]], dtype=str),
                "store": inst.store_code[store],
                "clerk": np.char.add(
                    np.char.add(inst.store_code[store], "-"),
                    rng.integers(1, 4, who.size).astype(str),
                ),
            },
        )
