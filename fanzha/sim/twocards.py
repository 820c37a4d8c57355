"""Two cards (两卡): dealers recruit card farmers who open the accounts and SIMs gangs use.

Farmers are students, unemployed people and migrant workers, from the city or from elsewhere;
they favour lax branches and stores, which therefore open a disproportionate share of the
accounts that later turn into mules — the pattern branch accountability (倒查问责) looks for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fanzha.sim import catalog
from fanzha.sim.ids import BANK_BINS, BANKS, CARRIER_PREFIXES, CARRIER_ZH, id_numbers, person_names
from fanzha.sim.output import EventIds
from fanzha.sim.params import OCCUPATIONS, Occupation
from fanzha.sim.rng import choice_weighted, stream
from fanzha.sim.truth import Truth
from fanzha.sim.world import World

Emit = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class Card:
    """A bank account or SIM a farmer opened for a gang."""

    value: str
    opened: int  # epoch seconds
    holder: str
    farmer_id: str
    dealer_id: str
    bank: str = ""
    branch: str = ""
    event_id: str = ""


@dataclass
class Supply:
    """What the dealers of one gang delivered."""

    accounts: list[Card] = field(default_factory=list)
    virtual_sims: list[Card] = field(default_factory=list)
    mobile_sims: list[Card] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Need:
    """How many accounts and SIMs a gang needs."""

    gang_id: str
    accounts: int
    virtual_sims: int
    mobile_sims: int


@dataclass
class _Farmer:
    farmer_id: str
    dealer_id: str
    id_number: str
    name: str


class CardMarket:
    """Builds dealers and farmers and emits the openings (events + truth)."""

    def __init__(self, world: World, ids: EventIds, truth: Truth, emit: Emit) -> None:
        self.world = world
        self.ids = ids
        self.truth = truth
        self.emit = emit
        self.p = world.params.two_cards
        self.rng = stream(world.params.seed, "two_cards")
        self._people: set[str] = set()  # one person is one farmer (or dealer), never two
        self._record_places()

    def _record_places(self) -> None:
        inst, geo = self.world.inst, self.world.geo
        for i, code in enumerate(inst.branch_code):
            self.truth.add(
                "branches",
                code=str(code),
                name=str(inst.branch_name[i]),
                bank=BANKS[int(inst.branch_bank[i])],
                district=str(geo.district_code[inst.branch_district[i]]),
                lax=bool(inst.branch_lax[i]),
            )
        for i, code in enumerate(inst.store_code):
            self.truth.add(
                "stores",
                code=str(code),
                name=str(inst.store_name[i]),
                carrier=CARRIER_ZH[str(inst.store_carrier[i])],
                district=str(geo.district_code[inst.store_district[i]]),
                lax=bool(inst.store_lax[i]),
            )

    def supply(self, need: Need) -> Supply:
        """Recruit dealers and farmers for one gang until its needs are met."""
        out = Supply()
        dealers = [self._dealer(need.gang_id, k) for k in range(self.p.dealers_per_gang)]
        lo, hi = self.p.accounts_per_farmer
        k = 0
        while len(out.accounts) < need.accounts:
            farmer = self._farmer(dealers[k % len(dealers)], need.gang_id, k)
            count = int(self.rng.integers(lo, hi + 1))
            out.accounts += [self._open_account(farmer) for _ in range(count)]
            s_lo, s_hi = self.p.sims_per_farmer
            for _ in range(int(self.rng.integers(s_lo, s_hi + 1))):
                virtual = len(out.virtual_sims) < need.virtual_sims and (
                    len(out.mobile_sims) >= need.mobile_sims or self.rng.random() < 0.5
                )
                (out.virtual_sims if virtual else out.mobile_sims).append(
                    self._sim(farmer, virtual)
                )
            k += 1
        while len(out.virtual_sims) < need.virtual_sims or len(out.mobile_sims) < need.mobile_sims:
            farmer = self._farmer(dealers[k % len(dealers)], need.gang_id, k)
            virtual = len(out.virtual_sims) < need.virtual_sims
            (out.virtual_sims if virtual else out.mobile_sims).append(self._sim(farmer, virtual))
            k += 1
        out.accounts.sort(key=lambda c: c.opened)
        return out

    # -------------------------------------------------------------------------- people

    def _dealer(self, gang_id: str, k: int) -> str:
        res = self.world.residents
        adults = np.flatnonzero((res.age >= 25) & (res.age <= 45))
        who = int(adults[self.rng.integers(adults.size)])
        while str(res.id_number[who]) in self._people:
            who = int(adults[self.rng.integers(adults.size)])
        self._people.add(str(res.id_number[who]))
        dealer_id = f"{gang_id}-D{k + 1}"
        self.truth.add(
            "dealers",
            dealer_id=dealer_id,
            name=str(res.name[who]),
            id_number=str(res.id_number[who]),
            phone=str(res.phone[who]),
            gang_id=gang_id,
        )
        return dealer_id

    def _farmer(self, dealer_id: str, gang_id: str, k: int) -> _Farmer:
        farmer_id = f"{gang_id}-F{k + 1:03d}"
        occ_names = list(self.p.farmer_occupations)
        occ = occ_names[
            int(choice_weighted(self.rng, np.array(list(self.p.farmer_occupations.values())), 1)[0])
        ]
        local = bool(self.rng.random() < self.p.local_farmer_share)
        if local:
            res = self.world.residents
            pool = np.flatnonzero(res.occupation == OCCUPATIONS.index(Occupation(occ)))
            if pool.size == 0:
                pool = np.arange(res.n)
            who = int(pool[self.rng.integers(pool.size)])
            id_number, name = str(res.id_number[who]), str(res.name[who])
            if id_number in self._people:  # already recruited: take someone from elsewhere
                local = False
        if not local:
            id_number, name = self._outsider()
            while id_number in self._people:
                id_number, name = self._outsider()
        self._people.add(id_number)
        self.truth.add(
            "farmers",
            farmer_id=farmer_id,
            id_number=id_number,
            name=name,
            occupation=occ,
            local=local,
            dealer_id=dealer_id,
        )
        return _Farmer(farmer_id, dealer_id, id_number, name)

    def _outsider(self) -> tuple[str, str]:
        region = np.array(
            [catalog.OTHER_REGIONS[int(self.rng.integers(len(catalog.OTHER_REGIONS)))]]
        )
        year = self.world.params.start.year - int(self.rng.integers(18, 35))
        birth = np.array([f"{year}-01-01"], dtype="datetime64[D]") + int(self.rng.integers(0, 365))
        male = np.array([bool(self.rng.random() < 0.7)])
        number = str(id_numbers(region, birth, male)[0])
        name = str(person_names(self.rng, male)[0])
        return number, name

    # -------------------------------------------------------------------------- openings

    def _when(self) -> int:
        days = self.world.params.days
        if self.rng.random() < self.p.in_window_share:
            offset = self.rng.random() * days
        else:
            offset = -self.rng.random() * self.p.prehistory_days
        day = int(np.floor(offset))
        hour = 9 + float(self.rng.random()) * 8  # branches and stores keep office hours
        return self.world.day_start(day) + int(hour * 3600)

    def _pick(self, lax: np.ndarray, weight: float, allowed: np.ndarray) -> int:
        weights = np.where(lax, weight, 1.0) * allowed
        return int(choice_weighted(self.rng, weights, 1)[0])

    def _open_account(self, farmer: _Farmer) -> Card:
        inst = self.world.inst
        b = self._pick(inst.branch_lax, self.p.lax_branch_weight, np.ones(inst.branch_lax.size))
        bank = BANKS[int(inst.branch_bank[b])]
        bins = BANK_BINS[bank]
        account = str(self.world.cards.take(bins[int(self.rng.integers(len(bins)))], 1)[0])
        lax = bool(inst.branch_lax[b])
        clerk = f"{inst.branch_code[b]}-{1 if lax else int(self.rng.integers(1, 6))}"
        ts = self._when()
        event_id = self.ids.one("account_opened")
        self.emit(
            "account_opened",
            {
                "event_id": event_id,
                "ts": ts,
                "account": account,
                "holder_id_number": farmer.id_number,
                "holder_name": farmer.name,
                "bank": bank,
                "branch": str(inst.branch_code[b]),
                "clerk": clerk,
            },
        )
        return Card(
            account,
            ts,
            farmer.name,
            farmer.farmer_id,
            farmer.dealer_id,
            bank,
            str(inst.branch_code[b]),
            event_id,
        )

    def _sim(self, farmer: _Farmer, virtual: bool) -> Card:
        inst = self.world.inst
        allowed = (
            (inst.store_carrier == "virtual") if virtual else (inst.store_carrier != "virtual")
        )
        s = self._pick(inst.store_lax, self.p.lax_store_weight, allowed.astype(float))
        carrier = str(inst.store_carrier[s])
        msisdn = str(self.world.phones.take_mixed(self.rng, CARRIER_PREFIXES[carrier], 1)[0])
        lax = bool(inst.store_lax[s])
        ts = self._when()
        event_id = self.ids.one("sim_activated")
        self.emit(
            "sim_activated",
            {
                "event_id": event_id,
                "ts": ts,
                "msisdn": msisdn,
                "holder_id_number": farmer.id_number,
                "holder_name": farmer.name,
                "carrier": CARRIER_ZH[carrier],
                "store": str(inst.store_code[s]),
                "clerk": f"{inst.store_code[s]}-{1 if lax else int(self.rng.integers(1, 4))}",
            },
        )
        return Card(
            msisdn,
            ts,
            farmer.name,
            farmer.farmer_id,
            farmer.dealer_id,
            branch=str(inst.store_code[s]),
            event_id=event_id,
        )
