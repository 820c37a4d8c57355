"""Rules over transfers, account openings and the people in them."""

from __future__ import annotations

from pydantic import Field

from fanzha.detect.frame import F_RESIDENT, K
from fanzha.detect.rules.base import Cols, RuleConfig, Target, has, no, rule, within

DAY = 86_400
HOUR = 3_600
CONTACT_KINDS = (K.CALL, K.CALL_LIVE, K.SMS, K.VISIT, K.INSTALL)


class AfterContact(RuleConfig):
    """Soon after a fraud contact."""

    within_hours: int = Field(default=72, ge=1, description="Hours after the fraud contact.")


class Large(RuleConfig):
    """Unusually large for this person."""

    factor: float = Field(default=5.0, gt=1, description="Times the person's largest before.")
    min_fen: int = Field(default=500_000, ge=0, description="And at least this much (fen).")
    min_history: int = Field(default=3, ge=1, description="Payments needed to judge.")


class NewAccount(RuleConfig):
    """A recently opened account."""

    max_age_days: int = Field(default=30, ge=1, description="Opened at most this long ago.")


class Escalating(RuleConfig):
    """Rising payments."""

    min_rises: int = Field(default=2, ge=1, description="Consecutive rises (3 payments = 2).")
    within_days: int = Field(default=7, ge=1, description="Days after a fraud contact.")


class Rebate(RuleConfig):
    """Paid out after being paid in."""

    within_hours: int = Field(default=24, ge=1, description="Hours after money came in.")


class Mule(RuleConfig):
    """A new account collecting from many payers."""

    max_age_days: int = Field(default=60, ge=1, description="Opened at most this long ago.")
    min_payers: int = Field(default=3, ge=2, description="Distinct payers.")


class Vulnerable(RuleConfig):
    """Who is vulnerable."""

    min_elder_age: int = Field(default=60, ge=40, description="Elderly from this age.")
    student_ages: tuple[int, int] = Field(default=(16, 22), description="Student ages.")


@rule(
    "transfer_to_flagged_account",
    family="intel",
    exposure=False,
    floor=4,
    kinds=(K.PAY,),
    weight=70,
    zh="向涉诈账户转账",
    en="Transfer to a flagged account",
)
def transfer_to_flagged_account(x: Cols, cfg: RuleConfig) -> object:
    """A transfer to an account our intelligence holds to be a fraud account: money is leaving now."""
    return x.intel >= 2


@rule(
    "transfer_to_suspicious_account",
    family="intel",
    exposure=False,
    floor=0,
    kinds=(K.PAY,),
    weight=35,
    zh="向可疑账户转账",
    en="Transfer to a suspicious account",
)
def transfer_to_suspicious_account(x: Cols, cfg: RuleConfig) -> object:
    """A transfer to an account our intelligence holds suspicious (e.g. a new account many people pay)."""
    return x.intel == 1


@rule(
    "transfer_new_payee_after_contact",
    family="money",
    exposure=False,
    floor=4,
    kinds=(K.PAY,),
    weight=40,
    stage=2,
    config=AfterContact(),
    zh="涉诈接触后向陌生账户转账",
    en="New payee after a fraud contact",
)
def transfer_new_payee_after_contact(x: Cols, cfg: AfterContact) -> object:
    """A first transfer to an account never paid before, within three days of a fraud contact."""
    return (
        (x.payee_first_at == x.at)
        & no(has(x.flags, F_RESIDENT))
        & within(x.at, x.exposed_at, cfg.within_hours * HOUR)
    )


@rule(
    "transfer_unusually_large",
    family="money",
    exposure=False,
    floor=0,
    kinds=(K.PAY,),
    weight=15,
    config=Large(),
    zh="异常大额转账",
    en="Unusually large transfer",
)
def transfer_unusually_large(x: Cols, cfg: Large) -> object:
    """A transfer to a new payee many times larger than anything this person paid before."""
    return (
        (x.out_n_before >= cfg.min_history)
        & (x.amount >= cfg.min_fen)
        & (x.amount >= x.out_max_before * cfg.factor)
        & (x.payee_first_at == x.at)
    )


@rule(
    "transfer_to_new_account",
    family="money",
    exposure=False,
    floor=0,
    kinds=(K.PAY,),
    weight=15,
    config=NewAccount(),
    zh="向新开账户转账",
    en="Transfer to a newly opened account",
)
def transfer_to_new_account(x: Cols, cfg: NewAccount) -> object:
    """A transfer to an account opened in the last month (mule accounts are fresh)."""
    return within(x.at, x.cp_born_at, cfg.max_age_days * DAY) & no(has(x.flags, F_RESIDENT))


@rule(
    "transfer_escalating",
    family="money",
    exposure=False,
    floor=4,
    kinds=(K.PAY,),
    weight=35,
    stage=2,
    config=Escalating(),
    zh="涉诈接触后连续递增转账",
    en="Escalating payments after a fraud contact",
)
def transfer_escalating(x: Cols, cfg: Escalating) -> object:
    """Several payments in a row, each larger than the last, within a week of a fraud contact (deposits to 'unlock' a task or a loan)."""
    return (x.up_run >= cfg.min_rises) & within(x.at, x.exposed_at, cfg.within_days * DAY)


@rule(
    "transfer_after_rebate",
    family="money",
    exposure=False,
    floor=0,
    kinds=(K.PAY,),
    weight=20,
    stage=2,
    config=Rebate(),
    zh="收到外部小额返款后向新账户转账",
    en="New payee after money came in from outside",
)
def transfer_after_rebate(x: Cols, cfg: Rebate) -> object:
    """A payment to a new payee within a day of money arriving from an outside account, after a fraud contact (task-scam 'commission' then 'deposit')."""
    return (
        (x.payee_first_at == x.at)
        & within(x.at, x.recv_at, cfg.within_hours * HOUR)
        & within(x.at, x.exposed_at, 7 * DAY)
    )


@rule(
    "receive_from_flagged_account",
    family="intel",
    exposure=True,
    floor=0,
    kinds=(K.RECEIVE,),
    weight=40,
    zh="收到涉诈账户来款",
    en="Money from a flagged account",
)
def receive_from_flagged_account(x: Cols, cfg: RuleConfig) -> object:
    """Money arrived from an account our intelligence flags (a 'commission' that hooks the victim)."""
    return x.intel >= 1


@rule(
    "account_mule_many_payers",
    family="intel",
    exposure=False,
    floor=0,
    kinds=(K.PAY,),
    weight=0,
    target=Target.INDICATOR,
    config=Mule(),
    zh="新开账户短时收到多人转入",
    en="New account paid by many people",
)
def account_mule_many_payers(x: Cols, cfg: Mule) -> object:
    """An account opened recently that is paid by several unrelated people becomes a suspicious account (and everyone who paid it is looked at again)."""
    return within(x.at, x.cp_born_at, cfg.max_age_days * DAY) & (x.cp_payers >= cfg.min_payers)


@rule(
    "vulnerable_person_contacted",
    family="person",
    exposure=False,
    floor=0,
    kinds=CONTACT_KINDS,
    weight=10,
    stage=2,
    config=Vulnerable(),
    zh="老年人或学生遭遇涉诈接触",
    en="Elderly person or student in a fraud contact",
)
def vulnerable_person_contacted(x: Cols, cfg: Vulnerable) -> object:
    """An elderly person or a student is in a fraud contact right now."""
    lo, hi = cfg.student_ages
    return (x.exposed_at == x.at) & ((x.age >= cfg.min_elder_age) | ((x.age >= lo) & (x.age <= hi)))
