"""The synthetic city: its units, residents, calling circles and institutions (columnar).

Everything is held as NumPy arrays indexed by resident, community, branch… so that a million
residents fit in memory and daily life can be drawn a day at a time without Python loops.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from fanzha.model.events import OrgUnit, Person
from fanzha.model.schema import arrow_schema
from fanzha.sim import catalog
from fanzha.sim.ids import (
    BANKS,
    CARRIER_PREFIXES,
    CardFactory,
    PhoneFactory,
    id_numbers,
    imeis,
    person_names,
)
from fanzha.sim.params import AGE_BANDS, AGE_BOUNDS, OCCUPATIONS, Occupation, SimParams
from fanzha.sim.rng import choice_weighted, lognormal, stream

TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


@dataclass
class Geography:
    """City → districts → stations → communities, with codes and Chinese names."""

    city_code: str
    city_name: str
    district_code: np.ndarray  # str, six-digit region codes
    district_name: np.ndarray
    district_name_en: np.ndarray
    station_code: np.ndarray
    station_name: np.ndarray
    station_district: np.ndarray  # int
    community_code: np.ndarray
    community_name: np.ndarray
    community_station: np.ndarray  # int
    community_rural: np.ndarray  # bool

    @property
    def community_district(self) -> np.ndarray:
        """District index of each community."""
        return np.asarray(self.station_district[self.community_station])

    def org_units(self) -> pa.Table:
        """The registry of units in the ``org_unit`` reference schema."""
        rows: list[dict[str, object]] = [
            {
                "code": self.city_code,
                "name": f"{self.city_name}公安局反诈中心",
                "level": "city",
                "parent_code": None,
                "name_en": "City anti-fraud centre",
            }
        ]
        for code, name, en in zip(
            self.district_code, self.district_name, self.district_name_en, strict=True
        ):
            rows.append(
                {
                    "code": str(code),
                    "name": f"{name}反诈中心",
                    "level": "district",
                    "parent_code": self.city_code,
                    "name_en": f"{en} district centre",
                }
            )
        for code, name, d in zip(
            self.station_code, self.station_name, self.station_district, strict=True
        ):
            rows.append(
                {
                    "code": str(code),
                    "name": str(name),
                    "level": "station",
                    "parent_code": str(self.district_code[d]),
                    "name_en": None,
                }
            )
        for code, name, s in zip(
            self.community_code, self.community_name, self.community_station, strict=True
        ):
            rows.append(
                {
                    "code": str(code),
                    "name": str(name),
                    "level": "community",
                    "parent_code": str(self.station_code[s]),
                    "name_en": None,
                }
            )
        return pa.Table.from_pylist(rows, schema=arrow_schema(OrgUnit))


@dataclass
class Residents:
    """Adult residents, one row per person."""

    id_number: np.ndarray
    name: np.ndarray
    male: np.ndarray
    birth: np.ndarray  # datetime64[D]
    age: np.ndarray
    age_band: np.ndarray  # index into AGE_BANDS
    occupation: np.ndarray  # index into OCCUPATIONS
    community: np.ndarray
    district: np.ndarray
    phone: np.ndarray  # primary number, E.164
    phone2: np.ndarray  # second number or ""
    imei: np.ndarray  # the handset of the primary number
    accounts: np.ndarray  # (n, 3) card numbers, "" when absent
    account_bank: np.ndarray  # (n, 3) index into BANKS, -1 when absent
    n_accounts: np.ndarray
    savings_fen: np.ndarray
    contacts_ptr: np.ndarray  # CSR: contacts of i are contacts[ptr[i]:ptr[i+1]]
    contacts: np.ndarray

    @property
    def n(self) -> int:
        """Number of residents."""
        return int(self.id_number.size)

    def occupation_is(self, *occupations: Occupation) -> np.ndarray:
        """Mask of residents in any of the given occupations."""
        idx = [OCCUPATIONS.index(o) for o in occupations]
        return np.isin(self.occupation, idx)

    def persons(self, geo: Geography) -> pa.Table:
        """The registry of residents in the ``person`` reference schema."""
        phones = [
            [str(a)] if not b else [str(a), str(b)]
            for a, b in zip(self.phone, self.phone2, strict=True)
        ]
        accounts = [[str(x) for x in row if x] for row in self.accounts]
        return pa.Table.from_arrays(
            [
                pa.array(self.id_number.tolist(), pa.string()),
                pa.array(self.name.tolist(), pa.string()),
                pa.array(self.birth.astype("datetime64[D]"), pa.date32()),
                pa.array(phones, pa.list_(pa.string())),
                pa.array(accounts, pa.list_(pa.string())),
                pa.array(geo.community_code[self.community].tolist(), pa.string()),
            ],
            schema=arrow_schema(Person),
        )


@dataclass
class Institutions:
    """Bank branches, operator stores, merchants, employers, brokers and business numbers."""

    branch_code: np.ndarray
    branch_name: np.ndarray
    branch_bank: np.ndarray  # index into BANKS
    branch_district: np.ndarray
    branch_lax: np.ndarray
    store_code: np.ndarray
    store_name: np.ndarray
    store_carrier: np.ndarray  # key of CARRIER_PREFIXES
    store_district: np.ndarray
    store_lax: np.ndarray
    merchant_name: np.ndarray
    merchant_account: np.ndarray
    merchant_gold: np.ndarray  # gold shops double as cash-out points
    employer_name: np.ndarray
    employer_account: np.ndarray
    employer_of: np.ndarray  # resident -> employer index, -1 when none
    landlord_of: np.ndarray  # resident -> landlord resident index, -1 when not renting
    broker_name: np.ndarray
    broker_account: np.ndarray
    large_payee_name: np.ndarray
    large_payee_account: np.ndarray
    business_phone: np.ndarray


@dataclass
class World:
    """The whole static world, plus the number factories that keep identifiers unique."""

    params: SimParams
    geo: Geography
    residents: Residents
    inst: Institutions
    phones: PhoneFactory = field(repr=False)
    cards: CardFactory = field(repr=False)

    @property
    def start(self) -> dt.datetime:
        """Local midnight of the first simulated day."""
        return dt.datetime.combine(self.params.start, dt.time(), TZ)

    def day_start(self, day: int) -> int:
        """Epoch seconds of local midnight of day ``day`` (negative days: the prehistory)."""
        return int(self.start.timestamp()) + day * 86_400


# ------------------------------------------------------------------------------ geography


def build_geography(params: SimParams) -> Geography:
    """Units of the city, named from fixed word lists (deterministic, no randomness)."""
    g = params.geo
    d_names = [catalog.DISTRICT_NAMES[i % len(catalog.DISTRICT_NAMES)] for i in range(g.districts)]
    base = int(g.city_code)
    district_code = np.array([f"{base + i + 1:06d}" for i in range(g.districts)])
    words = catalog.PLACE_WORDS
    st_code, st_name, st_district = [], [], []
    for d in range(g.districts):
        for s in range(g.stations_per_district):
            st_code.append(f"{district_code[d]}{s + 1:02d}")
            st_name.append(f"{words[(d * 7 + s * 3) % len(words)]}派出所")
            st_district.append(d)
    n_comm = len(st_code) * g.communities_per_station
    rural_rng = stream(params.seed, "geo", "rural")
    rural = rural_rng.random(n_comm) < g.rural_share
    c_code, c_name, c_station = [], [], []
    for s, code in enumerate(st_code):
        for c in range(g.communities_per_station):
            k = s * g.communities_per_station + c
            word = words[(k * 5 + s) % len(words)] + words[(k * 11 + 3) % len(words)][0]
            c_code.append(f"{code}{c + 1:03d}")
            c_name.append(word + ("村" if rural[k] else "社区"))
            c_station.append(s)
    return Geography(
        city_code=g.city_code,
        city_name=g.city_name,
        district_code=district_code,
        district_name=np.array([n for n, _ in d_names]),
        district_name_en=np.array([e for _, e in d_names]),
        station_code=np.array(st_code),
        station_name=np.array(st_name),
        station_district=np.array(st_district, dtype=np.int32),
        community_code=np.array(c_code),
        community_name=np.array(c_name),
        community_station=np.array(c_station, dtype=np.int32),
        community_rural=rural,
    )


# ------------------------------------------------------------------------------ residents


def _ages(params: SimParams, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    shares = np.array([params.population.age_band_shares[b] for b in AGE_BANDS])
    band = choice_weighted(rng, shares, n).astype(np.int8)
    lo = np.array([a for a, _ in AGE_BOUNDS])[band]
    hi = np.array([b for _, b in AGE_BOUNDS])[band]
    age = (lo + np.floor(rng.random(n) * (hi - lo + 1))).astype(np.int16)
    return age, band


def _occupations(
    params: SimParams, rng: np.random.Generator, band: np.ndarray, rural: np.ndarray
) -> np.ndarray:
    out = np.zeros(band.size, dtype=np.int8)
    boost = params.population.rural_occupation_boost
    for b, name in enumerate(AGE_BANDS):
        mix = params.population.occupation_by_age[name]
        base = np.array([mix.get(o.value, 0.0) for o in OCCUPATIONS])
        rural_w = base.copy()
        for o in (Occupation.FARMER, Occupation.MIGRANT_WORKER):
            rural_w[OCCUPATIONS.index(o)] *= boost
        for is_rural, weights in ((False, base), (True, rural_w)):
            rows = np.flatnonzero((band == b) & (rural == is_rural))
            if rows.size:
                out[rows] = choice_weighted(rng, weights, rows.size)
    return out


def _phones(
    params: SimParams, rng: np.random.Generator, factory: PhoneFactory, n: int
) -> np.ndarray:
    shares = params.population.carrier_shares
    carriers = list(CARRIER_PREFIXES)
    which = choice_weighted(rng, np.array([shares.get(c, 0.0) for c in carriers]), n)
    out = np.empty(n, dtype="U14")
    for k, carrier in enumerate(carriers):
        rows = np.flatnonzero(which == k)
        if rows.size:
            out[rows] = factory.take_mixed(rng, CARRIER_PREFIXES[carrier], rows.size)
    return out


def _accounts(
    params: SimParams, rng: np.random.Generator, cards: CardFactory, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    count = choice_weighted(rng, np.array(params.population.accounts_per_person), n) + 1
    # Different banks per person: a random permutation prefix of the bank list.
    banks = np.argsort(rng.random((n, len(BANKS))), axis=1)[:, :3].astype(np.int16)
    banks[np.arange(3)[None, :] >= count[:, None]] = -1
    accounts = np.full((n, 3), "", dtype="U19")
    for j in range(3):
        rows = np.flatnonzero(banks[:, j] >= 0)
        accounts[rows, j] = cards.take_at_banks(rng, banks[rows, j])
    return accounts, banks, count.astype(np.int8)


def _savings(params: SimParams, rng: np.random.Generator, occupation: np.ndarray) -> np.ndarray:
    out = np.zeros(occupation.size, dtype=np.int64)
    for k, occ in enumerate(OCCUPATIONS):
        rows = np.flatnonzero(occupation == k)
        dist = params.population.savings_yuan[occ.value]
        out[rows] = np.round(lognormal(rng, dist.median, dist.sigma, rows.size) * 100).astype(
            np.int64
        )
    return out


def _contacts(
    params: SimParams, rng: np.random.Generator, community: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A symmetric calling graph: family and neighbours in the community, friends city-wide."""
    n = community.size
    life = params.life
    half = max(1.0, life.contacts_per_person / 2)
    degree = np.maximum(1, rng.poisson(half, n))
    src = np.repeat(np.arange(n, dtype=np.int64), degree)
    order = np.argsort(community, kind="stable")
    sorted_comm = community[order]
    starts = np.searchsorted(sorted_comm, np.arange(community.max() + 1))
    sizes = np.bincount(community, minlength=community.max() + 1)
    local = rng.random(src.size) < life.family_share
    dst = rng.integers(0, n, src.size)
    c = community[src[local]]
    dst[local] = order[starts[c] + (rng.random(c.size) * sizes[c]).astype(np.int64)]
    keep = dst != src
    a = np.concatenate([src[keep], dst[keep]])
    b = np.concatenate([dst[keep], src[keep]])
    key = np.sort(a * n + b)  # np.unique hashes, which is far slower at this size
    key = key[np.concatenate(([True], key[1:] != key[:-1]))]
    a, b = key // n, key % n
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(a, minlength=n), out=ptr[1:])
    return ptr, b.astype(np.int32)


def build_residents(
    params: SimParams, geo: Geography, phones: PhoneFactory, cards: CardFactory
) -> Residents:
    """Draw every resident (vectorised; about ten seconds for a million)."""
    n = params.residents
    rng = stream(params.seed, "residents")
    n_comm = geo.community_code.size
    community = np.sort(rng.integers(0, n_comm, n)).astype(np.int32)
    district = geo.community_district[community]
    age, band = _ages(params, rng, n)
    male = rng.random(n) < params.population.male_share
    year0 = params.start.year
    birth = np.array([f"{year0}-01-01"], dtype="datetime64[D]") - (
        age.astype(np.int64) * 365 + rng.integers(0, 365, n)
    ).astype("timedelta64[D]")
    occupation = _occupations(params, rng, band, geo.community_rural[community])
    ids = id_numbers(geo.district_code[district], birth, male)
    names = person_names(rng, male)
    phone = _phones(params, rng, phones, n)
    second = rng.random(n) < params.population.second_phone_share
    phone2 = np.full(n, "", dtype="U14")
    phone2[second] = _phones(params, rng, phones, int(second.sum()))
    accounts, banks, count = _accounts(params, rng, cards, n)
    ptr, contacts = _contacts(params, rng, community)
    return Residents(
        id_number=ids,
        name=names,
        male=male,
        birth=birth,
        age=age,
        age_band=band,
        occupation=occupation,
        community=community,
        district=district,
        phone=phone,
        phone2=phone2,
        imei=imeis(rng, n),
        accounts=accounts,
        account_bank=banks,
        n_accounts=count,
        savings_fen=_savings(params, rng, occupation),
        contacts_ptr=ptr,
        contacts=contacts,
    )


# ------------------------------------------------------------------------------ institutions


def _branches(params: SimParams, geo: Geography, rng: np.random.Generator) -> dict[str, np.ndarray]:
    per = params.geo.bank_branches_per_district
    n = per * geo.district_code.size
    district = np.repeat(np.arange(geo.district_code.size), per)
    bank = rng.integers(0, len(BANKS), n).astype(np.int16)
    code = np.array([f"BR{geo.district_code[d]}{i:03d}" for i, d in enumerate(district)])
    place = np.array(catalog.PLACE_WORDS)[rng.integers(0, len(catalog.PLACE_WORDS), n)]
    name = np.char.add(np.char.add(np.array(BANKS)[bank], place), "支行")
    lax = rng.random(n) < params.two_cards.lax_branch_share
    lax[np.argmax(rng.random(n))] = True  # at least one lax branch, so the story exists
    return {"code": code, "name": name, "bank": bank, "district": district, "lax": lax}


def _stores(params: SimParams, geo: Geography, rng: np.random.Generator) -> dict[str, np.ndarray]:
    per = params.geo.phone_stores_per_district
    n = per * geo.district_code.size
    district = np.repeat(np.arange(geo.district_code.size), per)
    carriers = np.array(["cmcc", "unicom", "telecom", "virtual"])
    carrier = carriers[choice_weighted(rng, np.array([0.4, 0.2, 0.2, 0.2]), n)]
    code = np.array([f"ST{geo.district_code[d]}{i:03d}" for i, d in enumerate(district)])
    place = np.array(catalog.PLACE_WORDS)[rng.integers(0, len(catalog.PLACE_WORDS), n)]
    zh = {
        "cmcc": "中国移动",
        "unicom": "中国联通",
        "telecom": "中国电信",
        "virtual": "虚拟运营商代理",
    }
    name = np.char.add(np.char.add(np.array([zh[c] for c in carrier]), place), "营业厅")
    lax = rng.random(n) < params.two_cards.lax_store_share
    lax[np.argmax(rng.random(n))] = True
    return {"code": code, "name": name, "carrier": carrier, "district": district, "lax": lax}


def _companies(
    rng: np.random.Generator, cards: CardFactory, count: int, words: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    count = max(1, count)
    place = np.array(catalog.PLACE_WORDS)[rng.integers(0, len(catalog.PLACE_WORDS), count)]
    kind = np.array(words)[rng.integers(0, len(words), count)]
    name = np.char.add(place, kind)
    account = cards.take_at_banks(rng, rng.integers(0, len(BANKS), count))
    return name, account


def build_institutions(
    params: SimParams, geo: Geography, res: Residents, phones: PhoneFactory, cards: CardFactory
) -> Institutions:
    """Branches, stores, merchants, employers, landlords, brokers and business numbers."""
    rng = stream(params.seed, "institutions")
    life = params.life
    branches = _branches(params, geo, rng)
    stores = _stores(params, geo, rng)
    n_merch = int(res.n * life.merchants_per_10k / 10_000)
    m_name, m_account = _companies(rng, cards, n_merch, catalog.MERCHANT_WORDS)
    m_name = m_name.astype("U32")  # room for the gold-shop names
    gold = rng.random(m_name.size) < 0.05
    gold[0] = True
    gold_words = np.array(catalog.GOLD_SHOP_WORDS)[
        rng.integers(0, len(catalog.GOLD_SHOP_WORDS), int(gold.sum()))
    ]
    m_name[gold] = np.char.add(np.array([s[:2] for s in m_name[gold]]), gold_words)
    e_name, e_account = _companies(
        rng, cards, int(res.n * life.employers_per_10k / 10_000), catalog.EMPLOYER_WORDS
    )
    employed = res.occupation_is(
        Occupation.OFFICE_WORKER,
        Occupation.FACTORY_WORKER,
        Occupation.MIGRANT_WORKER,
        Occupation.FINANCE_STAFF,
    )
    employer_of = np.where(employed, rng.integers(0, e_name.size, res.n), -1)
    renting = (res.age_band <= 2) & (rng.random(res.n) < life.renter_share)
    landlord_of = np.where(renting, rng.integers(0, res.n, res.n), -1)
    landlord_of[landlord_of == np.arange(res.n)] = -1
    b_name = np.array(catalog.BROKER_NAMES)
    b_account = cards.take_at_banks(rng, rng.integers(0, len(BANKS), b_name.size))
    l_name, l_account = _companies(rng, cards, max(20, res.n // 500), catalog.LARGE_PAYEE_WORDS)
    virtual = rng.random(life.business_numbers) < life.business_virtual_share
    biz = np.empty(life.business_numbers, dtype="U14")
    biz[virtual] = phones.take_mixed(rng, CARRIER_PREFIXES["virtual"], int(virtual.sum()))
    biz[~virtual] = phones.take_mixed(
        rng, CARRIER_PREFIXES["cmcc"] + CARRIER_PREFIXES["telecom"], int((~virtual).sum())
    )
    return Institutions(
        branch_code=branches["code"],
        branch_name=branches["name"],
        branch_bank=branches["bank"],
        branch_district=branches["district"],
        branch_lax=branches["lax"],
        store_code=stores["code"],
        store_name=stores["name"],
        store_carrier=stores["carrier"],
        store_district=stores["district"],
        store_lax=stores["lax"],
        merchant_name=m_name,
        merchant_account=m_account,
        merchant_gold=gold,
        employer_name=e_name,
        employer_account=e_account,
        employer_of=employer_of,
        landlord_of=landlord_of,
        broker_name=b_name,
        broker_account=b_account,
        large_payee_name=l_name,
        large_payee_account=l_account,
        business_phone=biz,
    )


def build_world(params: SimParams) -> World:
    """The static world for a parameter set (same parameters ⇒ same world)."""
    phones, cards = PhoneFactory(), CardFactory()
    geo = build_geography(params)
    residents = build_residents(params, geo, phones, cards)
    inst = build_institutions(params, geo, residents, phones, cards)
    return World(params, geo, residents, inst, phones, cards)
