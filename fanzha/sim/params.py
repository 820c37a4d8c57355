"""Every number the simulator uses, named, documented and (where a public figure exists) calibrated.

Each parameter is a pydantic field whose description says what it is and whose ``calibration``
(in ``json_schema_extra``) cites the public figure it was set from; ``docs/simulation.md`` is
generated from these models (``fanzha docs simulation``), so the documentation cannot drift.
Presets (``tiny``, ``demo``, ``city``) only change sizes and the incidence scale.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fanzha.model.enums import FraudType


def P(default: Any, description: str, calibration: str | None = None, **kw: Any) -> Any:  # noqa: N802
    """A documented parameter: default, meaning and the public figure it is calibrated to."""
    extra: dict[str, Any] | None = {"calibration": calibration} if calibration else None
    return Field(default, description=description, json_schema_extra=cast(Any, extra), **kw)


class _Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Occupation(enum.StrEnum):
    """Occupation groups of residents (victim susceptibility and two-cards recruitment)."""

    STUDENT = "student"
    OFFICE_WORKER = "office_worker"
    FACTORY_WORKER = "factory_worker"
    MIGRANT_WORKER = "migrant_worker"
    FARMER = "farmer"
    BUSINESS_OWNER = "business_owner"
    FINANCE_STAFF = "finance_staff"
    RETIREE = "retiree"
    UNEMPLOYED = "unemployed"


OCCUPATION_ZH: dict[Occupation, str] = {
    Occupation.STUDENT: "学生",
    Occupation.OFFICE_WORKER: "职员",
    Occupation.FACTORY_WORKER: "工人",
    Occupation.MIGRANT_WORKER: "务工人员",
    Occupation.FARMER: "农民",
    Occupation.BUSINESS_OWNER: "个体经营者",
    Occupation.FINANCE_STAFF: "财务人员",
    Occupation.RETIREE: "退休人员",
    Occupation.UNEMPLOYED: "无业",
}

AGE_BANDS: tuple[str, ...] = ("16-24", "25-39", "40-59", "60-69", "70+")
AGE_BOUNDS: tuple[tuple[int, int], ...] = ((16, 24), (25, 39), (40, 59), (60, 69), (70, 90))
OCCUPATIONS: tuple[Occupation, ...] = tuple(Occupation)


class LogNormal(_Params):
    """A log-normal distribution given by its median and the sigma of its logarithm."""

    median: float = Field(gt=0)
    sigma: float = Field(ge=0)


# ---------------------------------------------------------------------------------- world


class GeoParams(_Params):
    """The city and its three-tier organisation (city → district → station → community)."""

    city_name: str = P("江州市", "Chinese name of the (fictional) city.")
    city_code: str = P(
        "500100",
        "Six-digit administrative code of the city; districts get codes under it, and residents'"
        " ID numbers carry their district's code.",
    )
    districts: int = P(
        6, "Number of districts (区/县), each with a district anti-fraud centre.", ge=1, le=40
    )
    stations_per_district: int = P(4, "Police stations (派出所) per district.", ge=1, le=60)
    communities_per_station: int = P(
        5, "Communities / villages (社区/村) per station.", ge=1, le=60
    )
    rural_share: float = P(
        0.36,
        "Share of communities that are rural villages.",
        "7th national census 2020: urbanisation 63.89 %, so about 36 % rural",
        ge=0,
        le=1,
    )
    bank_branches_per_district: int = P(
        10, "Bank branches (网点) per district where accounts are opened.", ge=1
    )
    phone_stores_per_district: int = P(
        6, "Operator stores (营业厅) per district where SIMs are activated.", ge=1
    )


class PopulationParams(_Params):
    """Residents: age, sex, occupation, phones, accounts, savings."""

    age_band_shares: dict[str, float] = P(
        {"16-24": 0.12, "25-39": 0.27, "40-59": 0.37, "60-69": 0.13, "70+": 0.11},
        "Share of adult residents (16+) per age band.",
        "7th national census 2020: 60+ is 18.70 % of the whole population (23.4 % of adults)",
    )
    male_share: float = P(0.512, "Share of men.", "7th national census 2020: 51.24 % male")
    occupation_by_age: dict[str, dict[str, float]] = P(
        {
            "16-24": {
                "student": 0.55,
                "office_worker": 0.12,
                "factory_worker": 0.1,
                "migrant_worker": 0.1,
                "unemployed": 0.08,
                "business_owner": 0.02,
                "farmer": 0.03,
            },
            "25-39": {
                "office_worker": 0.3,
                "factory_worker": 0.18,
                "migrant_worker": 0.18,
                "business_owner": 0.1,
                "finance_staff": 0.05,
                "farmer": 0.09,
                "unemployed": 0.1,
            },
            "40-59": {
                "office_worker": 0.22,
                "factory_worker": 0.15,
                "migrant_worker": 0.15,
                "business_owner": 0.14,
                "finance_staff": 0.04,
                "farmer": 0.2,
                "unemployed": 0.1,
            },
            "60-69": {"retiree": 0.7, "farmer": 0.2, "business_owner": 0.05, "unemployed": 0.05},
            "70+": {"retiree": 0.85, "farmer": 0.15},
        },
        "Occupation mix within each age band (rows sum to 1).",
    )
    rural_occupation_boost: float = P(
        3.0, "Weight multiplier of farmers and migrant workers in rural villages.", ge=1
    )
    second_phone_share: float = P(
        0.2,
        "Share of residents with a second phone number.",
        "MIIT 2023: 1.73 billion mobile subscriptions for 1.41 billion people (≈1.2 per person)",
        ge=0,
        le=1,
    )
    carrier_shares: dict[str, float] = P(
        {"cmcc": 0.56, "telecom": 0.24, "unicom": 0.19, "virtual": 0.01},
        "Share of residents' numbers per operator (virtual = MVNO ranges 170/171/162/165/167).",
        "2023 operator reports: China Mobile ≈991 M, China Telecom ≈425 M, China Unicom ≈333 M"
        " mobile subscribers; MVNOs about 1 %",
    )
    accounts_per_person: tuple[float, float, float] = P(
        (0.45, 0.35, 0.2),
        "Probability of holding 1, 2 or 3 bank accounts (at different banks).",
        "PBoC payment statistics: ≈6.7 bank cards per person nationally; the issue caps at 3",
    )
    savings_yuan: dict[str, LogNormal] = P(
        {
            "student": LogNormal(median=3_000, sigma=1.0),
            "office_worker": LogNormal(median=60_000, sigma=1.0),
            "factory_worker": LogNormal(median=30_000, sigma=0.9),
            "migrant_worker": LogNormal(median=25_000, sigma=0.9),
            "farmer": LogNormal(median=20_000, sigma=1.0),
            "business_owner": LogNormal(median=300_000, sigma=1.2),
            "finance_staff": LogNormal(median=80_000, sigma=0.9),
            "retiree": LogNormal(median=150_000, sigma=1.1),
            "unemployed": LogNormal(median=5_000, sigma=1.2),
        },
        "Liquid savings per occupation; a victim never pays more than this in total.",
        "PBoC 2019 urban household survey: median financial assets ≈¥160k per household",
    )


class LifeParams(_Params):
    """Normal life: calls, SMS, web, apps, transfers, new accounts and SIMs."""

    calls_per_day: float = P(
        1.5,
        "Mean outgoing calls per resident per day.",
        "MIIT 2023: ≈2.3 trillion mobile call minutes a year over 1.73 billion subscriptions"
        " (≈3.6 min a day, about 1.5 calls at the mean duration)",
        gt=0,
    )
    contacts_per_person: int = P(
        12, "Mean size of a resident's calling circle (family, friends, colleagues).", ge=1
    )
    family_share: float = P(
        0.4,
        "Share of a calling circle that lives in the same community (family, neighbours).",
        ge=0,
        le=1,
    )
    contact_call_share: float = P(
        0.8,
        "Share of calls placed to the calling circle; the rest go to businesses, couriers and"
        " strangers.",
        ge=0,
        le=1,
    )
    call_duration_s: LogNormal = P(
        LogNormal(median=45, sigma=1.0), "Duration of an ordinary answered call (seconds)."
    )
    long_call_share: float = P(
        0.02,
        "Share of calls that are long chats (family, business): a look-alike of fraud calls.",
        ge=0,
        le=1,
    )
    long_call_s: LogNormal = P(
        LogNormal(median=1_500, sigma=0.5), "Duration of a long chat (seconds)."
    )
    unanswered_share: float = P(0.15, "Share of calls not answered (duration 0).", ge=0, le=1)
    business_virtual_share: float = P(
        0.3,
        "Share of business / courier numbers in virtual-operator ranges (privacy numbers of"
        " delivery platforms): a look-alike of fraud callers.",
        ge=0,
        le=1,
    )
    business_numbers: int = P(
        400, "Size of the pool of business, courier and service numbers that call residents.", ge=1
    )
    travel_share: float = P(
        0.03, "Share of calls made while away from home (another county in the CDR).", ge=0, le=1
    )
    notification_sms_per_day: float = P(
        1.0,
        "Verification codes, bank and courier notifications per resident per day.",
        "MIIT 2023: ≈1.7 trillion SMS a year, overwhelmingly application-to-person",
        ge=0,
    )
    marketing_sms_per_day: float = P(0.6, "Marketing SMS per resident per day.", ge=0)
    p2p_sms_per_day: float = P(0.15, "Person-to-person SMS per resident per day.", ge=0)
    web_visits_per_day: float = P(
        1.0,
        "Web visits per resident per day that the operator shares (a sample of DPI records).",
        ge=0,
    )
    fresh_domain_share: float = P(
        0.05,
        "Share of visits to small, recently registered but harmless sites: a look-alike of"
        " fraud domains.",
        ge=0,
        le=1,
    )
    app_installs_per_day: float = P(0.03, "App installs per resident per day.", ge=0)
    loan_app_share: float = P(
        0.06, "Share of installs that are legitimate loan / credit apps (look-alike).", ge=0, le=1
    )
    screen_share_app_share: float = P(
        0.03,
        "Share of installs that are legitimate meeting / remote-desktop apps (look-alike of the"
        " screen sharing fraudsters ask for).",
        ge=0,
        le=1,
    )
    shopping_per_day: float = P(0.6, "Payments to merchants per resident per day.", ge=0)
    shopping_yuan: LogNormal = P(LogNormal(median=60, sigma=1.1), "Amount of a merchant payment.")
    family_transfers_per_day: float = P(
        0.05, "Transfers to family and friends per resident per day.", ge=0
    )
    family_yuan: LogNormal = P(LogNormal(median=500, sigma=1.2), "Amount of a family transfer.")
    large_new_payee_per_day: float = P(
        0.001,
        "Large payments to a brand-new payee (car, decoration, deposit) per resident per day:"
        " a look-alike of a fraud payment.",
        ge=0,
    )
    large_new_payee_yuan: LogNormal = P(
        LogNormal(median=40_000, sigma=0.9), "Amount of a large payment to a new payee."
    )
    investment_per_day: float = P(
        0.003, "Deposits into a licensed broker or fund per resident per day (look-alike).", ge=0
    )
    investment_yuan: LogNormal = P(
        LogNormal(median=20_000, sigma=1.0), "Amount of a broker deposit."
    )
    salary_day: int = P(10, "Day of the month salaries are paid.", ge=1, le=28)
    salary_yuan: dict[str, LogNormal] = P(
        {
            "office_worker": LogNormal(median=8_000, sigma=0.4),
            "factory_worker": LogNormal(median=5_500, sigma=0.3),
            "migrant_worker": LogNormal(median=5_000, sigma=0.3),
            "finance_staff": LogNormal(median=9_000, sigma=0.4),
        },
        "Monthly salary per employed occupation.",
        "NBS 2023: average urban private-sector wage ≈¥68,340 a year (≈¥5,700 a month)",
    )
    rent_day: int = P(1, "Day of the month rent is paid.", ge=1, le=28)
    renter_share: float = P(
        0.25, "Share of working-age residents who pay rent to a landlord.", ge=0, le=1
    )
    rent_yuan: LogNormal = P(LogNormal(median=1_800, sigma=0.4), "Monthly rent.")
    merchants_per_10k: float = P(60, "Merchants (with an account) per 10,000 residents.", gt=0)
    employers_per_10k: float = P(30, "Employers paying salaries per 10,000 residents.", gt=0)
    new_account_per_day: float = P(
        0.0004,
        "Ordinary new bank accounts per resident per day (look-alike of card farming).",
        ge=0,
    )
    new_sim_per_day: float = P(0.0003, "Ordinary new SIM activations per resident per day.", ge=0)


# ---------------------------------------------------------------------------------- fraud


class TypologyParams(_Params):
    """One fraud typology: how often, whom, how victims are drawn in and how much they pay."""

    contact_share: float = P(0.1, "Share of all fraud contacts that use this typology.", ge=0)
    hook: float = P(0.1, "Base probability that a contacted person engages.", ge=0, le=1)
    pay: float = P(0.6, "Probability that an engaged person pays at least once.", ge=0, le=1)
    more_payments: float = P(
        0.5, "Probability of each further payment after one (the victim keeps paying).", ge=0, le=1
    )
    max_payments: int = P(4, "Most payments one victim makes in this typology.", ge=1)
    first_payment_yuan: LogNormal = P(LogNormal(median=5_000, sigma=1.0), "First payment.")
    escalation: float = P(
        1.6, "Each further payment is this many times the previous one (escalating deposits).", ge=1
    )
    age_affinity: dict[str, float] = P(
        {}, "Targeting and susceptibility multipliers per age band (missing = 1)."
    )
    occupation_affinity: dict[str, float] = P(
        {}, "Targeting and susceptibility multipliers per occupation (missing = 1)."
    )
    duration_days: float = P(
        0.1, "Typical span of the script from first contact to the last payment (days).", ge=0
    )


def _typologies() -> dict[FraudType, TypologyParams]:
    def ln(median: float, sigma: float) -> LogNormal:
        return LogNormal(median=median, sigma=sigma)

    return {
        FraudType.ORDER_BRUSHING: TypologyParams(
            contact_share=0.33,
            hook=0.12,
            pay=0.7,
            more_payments=0.7,
            max_payments=6,
            first_payment_yuan=ln(300, 0.6),
            escalation=2.2,
            duration_days=1.5,
            age_affinity={"16-24": 2.0, "25-39": 1.6, "60-69": 0.4, "70+": 0.2},
            occupation_affinity={"student": 2.0, "unemployed": 1.8, "office_worker": 1.2},
        ),
        FraudType.FAKE_INVESTMENT: TypologyParams(
            contact_share=0.15,
            hook=0.08,
            pay=0.6,
            more_payments=0.7,
            max_payments=6,
            first_payment_yuan=ln(20_000, 0.9),
            escalation=1.8,
            duration_days=14,
            age_affinity={"40-59": 1.5, "60-69": 1.4, "16-24": 0.3},
            occupation_affinity={"business_owner": 2.0, "retiree": 1.5, "office_worker": 1.2},
        ),
        FraudType.ROMANCE: TypologyParams(
            contact_share=0.08,
            hook=0.06,
            pay=0.6,
            more_payments=0.65,
            max_payments=5,
            first_payment_yuan=ln(8_000, 0.9),
            escalation=1.7,
            duration_days=20,
            age_affinity={"25-39": 1.4, "40-59": 1.4, "70+": 0.5},
            occupation_affinity={"migrant_worker": 1.3, "business_owner": 1.3},
        ),
        FraudType.FAKE_LOAN: TypologyParams(
            contact_share=0.12,
            hook=0.1,
            pay=0.7,
            more_payments=0.55,
            max_payments=4,
            first_payment_yuan=ln(2_000, 0.6),
            escalation=1.5,
            duration_days=1,
            age_affinity={"25-39": 1.6, "40-59": 1.2, "70+": 0.2},
            occupation_affinity={"migrant_worker": 1.8, "unemployed": 1.8, "business_owner": 1.4},
        ),
        FraudType.FAKE_CUSTOMER_SERVICE: TypologyParams(
            contact_share=0.12,
            hook=0.08,
            pay=0.65,
            more_payments=0.35,
            max_payments=3,
            first_payment_yuan=ln(15_000, 0.9),
            escalation=1.3,
            duration_days=0.05,
            age_affinity={"25-39": 1.4, "16-24": 1.2},
            occupation_affinity={"office_worker": 1.3, "student": 1.2},
        ),
        FraudType.IMPERSONATING_AUTHORITIES: TypologyParams(
            contact_share=0.10,
            hook=0.07,
            pay=0.6,
            more_payments=0.4,
            max_payments=3,
            first_payment_yuan=ln(80_000, 1.0),
            escalation=1.2,
            duration_days=0.08,
            age_affinity={"60-69": 2.0, "70+": 2.2, "16-24": 0.5},
            occupation_affinity={"retiree": 2.0, "student": 1.3},
        ),
        FraudType.IMPERSONATING_ACQUAINTANCE: TypologyParams(
            contact_share=0.10,
            hook=0.08,
            pay=0.7,
            more_payments=0.25,
            max_payments=2,
            first_payment_yuan=ln(50_000, 0.8),
            escalation=1.5,
            duration_days=0.05,
            age_affinity={"40-59": 1.5},
            occupation_affinity={"finance_staff": 3.0, "business_owner": 2.5},
        ),
    }


class FraudParams(_Params):
    """How much fraud reaches the city, and the typologies it uses."""

    contacts_per_million_day: float = P(
        200.0,
        "Fraud contacts that get through (answered call, delivered SMS) per million residents"
        " per day, before the incidence scale.",
        "Chongqing 2021 Q1: 455,000 warnings in a quarter for ≈32 million people ≈158 per"
        " million per day",
        gt=0,
    )
    incidence_scale: float = P(
        1.0,
        "Multiplier on fraud contacts so that a small simulated city shows enough cases to"
        " evaluate (presets set it; 1 = the real rate).",
        gt=0,
    )
    typologies: dict[FraudType, TypologyParams] = P(
        _typologies(),
        "Per-typology parameters.",
        "MPS press conferences 2023: order brushing (刷单返利) is about a third of cases; fake"
        " investment (虚假网络投资理财) causes about a third of losses",
    )
    stop_on_own_share: float = P(
        0.25,
        "Share of engaged victims who see through the fraud on their own before the next step.",
        "Henan 2023: 邱某 paid ¥100,000 of ¥500,000, then grew suspicious and called a friend",
        ge=0,
        le=1,
    )


class GangParams(_Params):
    """Fraud gangs (mostly overseas) and their infrastructure."""

    gangs: int = P(6, "Number of gangs targeting the city.", ge=1)
    overseas_share: float = P(
        0.8, "Share of gangs operating from abroad (call centres in South-East Asia).", ge=0, le=1
    )
    typologies_per_gang: int = P(2, "Typologies each gang runs.", ge=1)
    caller_numbers: int = P(
        24, "Caller numbers per gang (rotated; burned numbers are replaced).", ge=1
    )
    caller_mix: dict[str, float] = P(
        {"virtual": 0.45, "international": 0.25, "spoofed": 0.1, "mobile": 0.2},
        "Kinds of caller numbers: virtual-operator ranges, international, spoofed fixed lines"
        " (look like government numbers), ordinary mobiles bought from card farmers.",
    )
    domains: int = P(8, "Fraud domains per gang.", ge=1)
    apps: int = P(3, "Fake apps per gang (investment, loan, chat).", ge=1)
    layer1_mules: int = P(10, "Layer-1 mule accounts per gang (receive victims' payments).", ge=1)
    mules_per_layer: int = P(14, "Mule accounts per gang in each deeper layer.", ge=1)
    otc_accounts: int = P(4, "Crypto OTC traders' accounts per gang (cash-out).", ge=1)
    rebate_accounts: int = P(2, "Accounts per gang that pay order-brushing rebates.", ge=1)


class LaunderingParams(_Params):
    """How stolen money moves through the mule layers to cash-out."""

    layers_min: int = P(2, "Fewest mule layers a payment crosses.", ge=1)
    layers_max: int = P(5, "Most mule layers a payment crosses.", ge=1)
    hop_delay_s: LogNormal = P(
        LogNormal(median=300, sigma=0.35),
        "Time money rests in a mule account before it moves on (seconds).",
        "Issue statement and Shenzhen 2021 (“four layers in half an hour”): most money leaves an"
        " account within 3–10 minutes",
    )
    min_hop_delay_s: int = P(60, "Shortest time money rests in a mule account (seconds).", ge=1)
    fan_out_weights: tuple[float, ...] = P(
        (0.35, 0.35, 0.2, 0.1), "Probability of splitting into 1, 2, 3 or 4 onward transfers."
    )
    retain_probability: float = P(
        0.1,
        "Probability that a mule keeps part of a deposit for hours (a freezable balance).",
        ge=0,
        le=1,
    )
    retain_share: tuple[float, float] = P(
        (0.05, 0.3), "Range of the share kept when a mule keeps some."
    )
    retain_hours: LogNormal = P(
        LogNormal(median=6, sigma=0.8), "How long a kept share stays (hours)."
    )
    cash_out_mix: dict[str, float] = P(
        {"atm": 0.3, "merchant_gold": 0.2, "crypto_otc": 0.5},
        "How the last layer cashes out: ATM withdrawals, gold / merchant purchases, crypto OTC.",
    )
    atm_max_yuan: int = P(20_000, "Largest single ATM withdrawal (daily card limits).", gt=0)
    mule_innocent_per_day: float = P(
        0.3,
        "Innocent incoming transfers per mule account per day (the farmer's own life), so"
        " accounts mix clean and stolen money.",
        ge=0,
    )
    mule_innocent_yuan: LogNormal = P(
        LogNormal(median=300, sigma=1.0), "Amount of innocent traffic."
    )


class TwoCardsParams(_Params):
    """Card dealers (卡头/卡商), card farmers (卡农), and the branches and stores they use."""

    dealers_per_gang: int = P(2, "Card dealers supplying each gang.", ge=1)
    farmers_per_dealer: int = P(8, "Card farmers recruited by each dealer.", ge=1)
    farmer_occupations: dict[str, float] = P(
        {"student": 0.4, "unemployed": 0.35, "migrant_worker": 0.2, "farmer": 0.05},
        "Occupations of card farmers.",
        "Henan 2023: banks told to vet account opening by the elderly, migrant workers,"
        " students and out-of-town applicants",
    )
    local_farmer_share: float = P(
        0.6,
        "Share of farmers who are residents of the city (others come from elsewhere).",
        ge=0,
        le=1,
    )
    accounts_per_farmer: tuple[int, int] = P((1, 4), "Range of accounts one farmer opens.")
    sims_per_farmer: tuple[int, int] = P((1, 3), "Range of SIMs one farmer activates.")
    lax_branch_share: float = P(
        0.1, "Share of bank branches that open accounts without due care.", ge=0, le=1
    )
    lax_branch_weight: float = P(
        8.0,
        "How much more likely a farmer is to use a lax branch than a careful one.",
        "Henan 2023: branches are held accountable (倒查问责) for accounts later used in fraud",
        ge=1,
    )
    lax_store_share: float = P(
        0.1, "Share of operator stores that activate SIMs without due care.", ge=0, le=1
    )
    lax_store_weight: float = P(8.0, "How much more likely a farmer is to use a lax store.", ge=1)
    prehistory_days: int = P(
        45, "Days before the simulated window in which farmers open the accounts and SIMs.", ge=1
    )
    in_window_share: float = P(
        0.15, "Share of mule accounts opened inside the simulated window (fresh cards).", ge=0, le=1
    )


class ReportParams(_Params):
    """Victims' reports (警情): whether, when, where, and what they remember."""

    report_probability: float = P(
        0.8, "Probability that a victim who lost money reports it.", ge=0, le=1
    )
    attempt_report_probability: float = P(
        0.05, "Probability that an engaged person who paid nothing reports the attempt.", ge=0, le=1
    )
    delay_minutes: LogNormal = P(
        LogNormal(median=180, sigma=1.6),
        "Delay between the last payment (or realising) and the report (minutes to days).",
        "Chongqing 2021: 陈先生 reported when the platform refused a withdrawal; Shenzhen's"
        " 60-minute stop-payment rate of 87 % implies most reports come within hours",
    )
    hotline_share: float = P(
        0.3, "Share of reports by the 96110 / 110 hotline rather than at a station.", ge=0, le=1
    )
    traditional_share: float = P(
        0.1, "Share of narratives written in Traditional characters.", ge=0, le=1
    )
    remember_account: float = P(
        0.85, "Probability a payee account is named in the report.", ge=0, le=1
    )
    account_typo: float = P(0.08, "Probability a named account has one digit wrong.", ge=0, le=1)
    remember_phone: float = P(0.75, "Probability the fraudster's number is named.", ge=0, le=1)
    remember_url: float = P(0.6, "Probability a URL or app the victim used is named.", ge=0, le=1)


class ResponderParams(_Params):
    """Simulated officers answering instructions, and how the warned person reacts
    (:mod:`fanzha.sim.responders`). Delays are seconds of event time."""

    sign_delay_s: LogNormal = P(
        LogNormal(median=120, sigma=0.7),
        "Time to sign an instruction (签收) at a 高危 (high) instruction's pace; other levels"
        " scale it by ``urgency``.",
    )
    call_delay_s: LogNormal = P(
        LogNormal(median=90, sigma=0.6),
        "Time from signing to the first call, scaled by ``urgency`` like signing.",
    )
    urgency: dict[str, float] = P(
        {"critical": 0.4, "high": 1.0, "medium": 6.0},
        "Factor on the sign and call delays by level: 特危 is signed and phoned at once, 中危"
        " within the district centre's two hours.",
        "Chongqing grading: 特危 contact ≤ 5 min, 高危 ≤ 15 min, 中危 ≤ 2 h",
    )
    reach_rate: float = P(
        0.6,
        "Probability a call is answered.",
        "Issue 5: officers reach ≈60 % of people",
        ge=0,
        le=1,
    )
    refusal_rate: float = P(
        0.4,
        "Probability an answered call is refused (the person hangs up or will not listen).",
        "Shenzhen 2019: ≈40 % of warning calls refused; Chongqing 2021: 彭先生 hung up twice",
        ge=0,
        le=1,
    )
    wrong_number_share: float = P(
        0.05,
        "Share of unanswered calls whose number is wrong or out of service (no more calls).",
        ge=0,
        le=1,
    )
    max_calls: int = P(
        4,
        "Calls an officer makes before giving up on the phone.",
        "Lanzhou Chengguan 2022: 10,068 instructions, >40,000 dissuasion calls (≈4 each)",
        ge=1,
        le=20,
    )
    retry_delay_s: LogNormal = P(
        LogNormal(median=300, sigma=0.5), "Time between two calls to the same person."
    )
    talk_s: LogNormal = P(
        LogNormal(median=360, sigma=0.5),
        "Length of a dissuasion conversation; the outcome is recorded at its end.",
    )
    persuasion: dict[str, float] = P(
        {"contacted": 0.8, "engaged": 0.6, "paying": 0.4},
        "Probability a person who listens is dissuaded, by how far the fraud has gone: only"
        " contacted, engaged (visited the site, installed the app), paying (after the first"
        " payment).",
        "Lanzhou Chengguan 2022: ≈40,000 warning calls, ≈10,000 people dissuaded (≈25 %)",
    )
    persuasion_decay: float = P(
        0.6,
        "Factor on the ``paying`` persuasion for each payment after the first: after three"
        " payments a victim is hard to turn (0.4 → 0.24 → 0.14).",
        ge=0,
        le=1,
    )
    not_targeted_believe: float = P(
        0.95,
        "Probability an officer who talks to a person nobody targeted records 'not fraud'.",
        ge=0,
        le=1,
    )
    visit_after_failure: dict[str, float] = P(
        {"critical": 1.0, "high": 0.5, "medium": 0.0},
        "Probability, by level, that a station is sent to the home (上门劝阻) when the phone"
        " did not dissuade the person.",
        "Chongqing 2021: police knocked on 彭先生's door after he hung up twice; Weinan:"
        " 电话联系后，由派出所民警进行上门劝阻",
    )
    visit_minutes_urban: LogNormal = P(
        LogNormal(median=12, sigma=0.4), "Travel time to an urban home."
    )
    visit_minutes_rural: LogNormal = P(
        LogNormal(median=35, sigma=0.4), "Travel time to a rural home."
    )
    visit_home_rate: float = P(
        0.85, "Probability the visiting officers find the person.", ge=0, le=1
    )
    visit_persuasion_factor: float = P(
        1.5,
        "Factor on the persuasion probability face to face (capped at 0.95).",
        ge=1,
    )
    notice_rate: float = P(
        0.15,
        "Probability a dissuaded person signs the anti-fraud notice (反诈告知书).",
        "Lanzhou Chengguan 2022: 1,490 notices signed for ≈10,000 people dissuaded",
        ge=0,
        le=1,
    )
    sms_delivery_rate: float = P(0.97, "Probability a warning SMS is delivered.", ge=0, le=1)
    sms_heeded: float = P(
        0.05,
        "Probability a targeted person who receives a warning SMS stops on reading it.",
        "Shenzhen 2021: 黄女士 hung up on a fake police caller after a warning SMS (no rate"
        " published; an assumption)",
        ge=0,
        le=1,
    )


class BankParams(_Params):
    """Simulated banks executing stop-payments and freezes (behaviour lands with issue 6)."""

    stop_payment_latency_s: LogNormal = P(
        LogNormal(median=90, sigma=0.8),
        "Time for a bank to execute a stop-payment (止付).",
        "Shenzhen 2021: 60-minute stop-payment rate raised from 18 % to 87 %",
    )
    freeze_latency_s: LogNormal = P(
        LogNormal(median=1_800, sigma=0.8), "Time to execute a freeze (冻结)."
    )
    failure_rate: float = P(
        0.03, "Probability an order fails (closed account, wrong data).", ge=0, le=1
    )
    stop_payment_hours: int = P(
        48, "Legal duration of a stop-payment unless converted to a freeze.", ge=1
    )


# ---------------------------------------------------------------------------------- the whole


PresetName = Literal["tiny", "demo", "city"]


class SimParams(_Params):
    """Everything that defines one simulation run (with the seed, it fixes every byte)."""

    preset: str = P("custom", "Preset the parameters came from.")
    seed: int = P(20240501, "Random seed.", ge=0)
    start: dt.date = P(dt.date(2024, 5, 1), "First simulated day (local time, Asia/Shanghai).")
    days: int = P(2, "Simulated days.", ge=1, le=366)
    residents: int = P(2_000, "Adult residents.", ge=100, le=20_000_000)
    geo: GeoParams = GeoParams()
    population: PopulationParams = PopulationParams()
    life: LifeParams = LifeParams()
    fraud: FraudParams = FraudParams()
    gangs: GangParams = GangParams()
    laundering: LaunderingParams = LaunderingParams()
    two_cards: TwoCardsParams = TwoCardsParams()
    reports: ReportParams = ReportParams()
    responders: ResponderParams = ResponderParams()
    banks: BankParams = BankParams()

    @model_validator(mode="after")
    def _check(self) -> SimParams:
        if self.laundering.layers_min > self.laundering.layers_max:
            raise ValueError("laundering.layers_min is larger than laundering.layers_max")
        return self


def _with(base: SimParams, **changes: Any) -> SimParams:
    """A copy of ``base`` with nested changes (``{"fraud": {"incidence_scale": 5}}``)."""
    data = base.model_dump()
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return SimParams.model_validate(data)


def preset(name: str, **overrides: Any) -> SimParams:
    """The parameters of a named preset, with optional top-level overrides (seed, days…)."""
    base = SimParams()
    if name == "tiny":
        params = _with(
            base,
            preset="tiny",
            residents=2_000,
            days=2,
            geo={
                "districts": 2,
                "stations_per_district": 2,
                "communities_per_station": 3,
                "bank_branches_per_district": 5,
                "phone_stores_per_district": 3,
            },
            fraud={"incidence_scale": 500.0},
            gangs={
                "gangs": 3,
                "caller_numbers": 8,
                "domains": 4,
                "layer1_mules": 4,
                "mules_per_layer": 5,
                "otc_accounts": 2,
            },
            two_cards={"farmers_per_dealer": 4},
        )
    elif name == "demo":
        params = _with(
            base,
            preset="demo",
            residents=50_000,
            days=14,
            fraud={"incidence_scale": 60.0},
        )
    elif name == "city":
        params = _with(
            base,
            preset="city",
            residents=1_000_000,
            days=30,
            geo={
                "districts": 12,
                "stations_per_district": 8,
                "communities_per_station": 10,
                "bank_branches_per_district": 30,
                "phone_stores_per_district": 15,
            },
            fraud={"incidence_scale": 5.0},
            gangs={"gangs": 20},
        )
    else:
        raise ValueError(f"unknown preset {name!r}; expected tiny, demo or city")
    return _with(params, **overrides) if overrides else params


PRESETS: tuple[str, ...] = ("tiny", "demo", "city")
