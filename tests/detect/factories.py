"""Tiny builders for streaming detection tests: a few residents and a timeline of events.

Times are minutes from a fixed start (``START``, 2024-05-01 00:00 UTC); days are written
``day(n)`` (minutes of ``n`` days). A :class:`Timeline` collects events of every type and hands
them out as Arrow tables with the lake's schemas; :func:`run` feeds them through an
:class:`~fanzha.detect.engine.Engine` in one batch or in windows of ``batch_s`` seconds (each
event arrives in the window of its ``ts``; the window's end is the watermark).

    w = World()
    t = Timeline(w)
    t.call(0, "+855961234567", w.ann.phone, seconds=20 * 60)
    engine = run(t)
    assert "call_live_risky" in hits(engine, w.ann)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from fanzha.detect.engine import Engine, EngineConfig, warnings_table
from fanzha.detect.intel_view import IntelView
from fanzha.detect.registry import Registry
from fanzha.detect.rules import Rule
from fanzha.detect.scoring import Hit, Warning
from fanzha.intel.index import IntelIndex
from fanzha.intel.model import Indicator, IndicatorKind, Verdict
from fanzha.model.events import EVENT_TYPES, Person
from fanzha.model.schema import arrow_schema

START = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
T0 = int(START.timestamp())
MINUTE = 60
DAY_MIN = 24 * 60

#: Numbers and accounts that belong to nobody in the world.
INTL = "+855961234567"  # Cambodia
INTL2 = "+639171234567"  # Philippines
VIRTUAL = "+8617012345678"  # virtual-operator range 170
FIXED = "+861087654321"  # Beijing fixed line
MOBILE = "+8613912345678"  # some stranger's mobile
SERVICE = "95588"  # a bank's service number
BULK = "1069000012345"  # a registered bulk-SMS number
MULE = "6222000011112222"  # an outside account
MULE2 = "6222000033334444"


def day(n: float) -> float:
    """Minutes of ``n`` days (for timeline times)."""
    return n * DAY_MIN


def at(minutes: float) -> int:
    """Epoch seconds of a timeline time."""
    return T0 + round(minutes * MINUTE)


def when(minutes: float) -> dt.datetime:
    """The datetime of a timeline time."""
    return dt.datetime.fromtimestamp(at(minutes), dt.UTC)


@dataclass(frozen=True)
class Resident:
    """One registered person."""

    id_number: str
    name: str
    birth_date: dt.date
    phones: tuple[str, ...]
    accounts: tuple[str, ...]

    @property
    def phone(self) -> str:
        """The first phone number."""
        return self.phones[0]

    @property
    def account(self) -> str:
        """The first bank account."""
        return self.accounts[0]


#: The default residents: name → age at ``START``.
PEOPLE: dict[str, int] = {"ann": 40, "bob": 35, "cai": 45, "gran": 72, "stu": 19}
#: Residents who also have a fixed line (``+8610…``, a "risky" class of number).
LANDLINES = ("cai",)


class World:
    """A few residents (name → :class:`Resident`) and the registry made of them.

    Resident ``i`` has the mobile ``+86138000000i``, the account ``62220200000000i`` and, when
    named in ``landlines``, a second number: the Beijing fixed line ``+86106666000i``.
    """

    def __init__(
        self, people: dict[str, int] | None = None, landlines: Sequence[str] = LANDLINES
    ) -> None:
        self.residents: dict[str, Resident] = {}
        for i, (name, age) in enumerate((people or PEOPLE).items()):
            born = dt.date(START.year - age, 3, 1)
            fixed = (f"+86106666{i:04d}",) if name in landlines else ()
            self.residents[name] = Resident(
                id_number=f"110101{born:%Y%m%d}{i:03d}X",
                name=name,
                birth_date=born,
                phones=(f"+86138000{i:05d}", *fixed),
                accounts=(f"62220200{i:08d}",),
            )
        self.registry = Registry(self.persons())

    def __getattr__(self, name: str) -> Resident:
        try:
            return self.__dict__["residents"][name]  # type: ignore[no-any-return]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self) -> Iterator[Resident]:
        return iter(self.residents.values())

    def persons(self) -> pa.Table:
        """The registry's person table."""
        rows = [
            {
                "id_number": r.id_number,
                "name": r.name,
                "birth_date": r.birth_date,
                "phones": list(r.phones),
                "accounts": list(r.accounts),
                "community": "C001",
            }
            for r in self.residents.values()
        ]
        return pa.Table.from_pylist(rows, schema=arrow_schema(Person))


@dataclass
class Timeline:
    """Events of every type, written as a story in minutes from ``START``."""

    world: World = field(default_factory=World)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    count: int = 0

    def _add(self, kind: str, t: float, **values: Any) -> str:
        self.count += 1
        event_id = f"{kind}-{self.count:05d}"
        row = {"event_id": event_id, "source": "test", "ts": when(t), **values}
        self.rows.setdefault(kind, []).append(row)
        return event_id

    def call(self, t: float, caller: str, callee: str, seconds: int = 60) -> str:
        """A call from ``caller`` to ``callee`` starting at ``t`` lasting ``seconds``."""
        return self._add("call", t, caller=caller, callee=callee, duration_s=seconds)

    def sms(self, t: float, sender: str, recipient: str, text: str | None = "") -> str:
        """A text message."""
        return self._add("sms", t, sender=sender, recipient=recipient, text=text)

    def visit(self, t: float, who: str, url: str) -> str:
        """A web visit by the subscriber ``who``."""
        return self._add("web_visit", t, subscriber=who, url=url)

    def install(self, t: float, who: str, app_id: str) -> str:
        """An app install on the subscriber's phone."""
        return self._add("app_install", t, subscriber=who, app_id=app_id)

    def transfer(self, t: float, payer: str, payee: str, yuan: float) -> str:
        """A transfer of ``yuan`` from ``payer`` to ``payee`` (accounts)."""
        return self._add(
            "transfer",
            t,
            payer_account=payer,
            payee_account=payee,
            amount_fen=round(yuan * 100),
            currency="CNY",
        )

    def account_opened(self, t: float, account: str, holder: str | None = None) -> str:
        """An account opening; ``holder`` is an ID number (None: unknown)."""
        return self._add("account_opened", t, account=account, holder_id_number=holder)

    def sim_activated(self, t: float, msisdn: str, holder: str | None = None) -> str:
        """A SIM activation; ``holder`` is an ID number (None: unknown)."""
        return self._add("sim_activated", t, msisdn=msisdn, holder_id_number=holder)

    def report(
        self,
        t: float,
        reporter_phone: str | None,
        phones: Sequence[str] = (),
        accounts: Sequence[str] = (),
        urls: Sequence[str] = (),
        *,
        loss_yuan: float = 0,
    ) -> str:
        """A police report naming suspect numbers, accounts and URLs."""
        return self._add(
            "police_report",
            t,
            reporter_phone=reporter_phone,
            fraud_type="other",
            loss_fen=round(loss_yuan * 100),
            suspect_phones=list(phones),
            suspect_accounts=list(accounts),
            suspect_urls=list(urls),
        )

    # ------------------------------------------------------------------ tables

    def tables(self, lo: int | None = None, hi: int | None = None) -> dict[str, pa.Table]:
        """Per event type, the events with ``lo <= ts < hi`` (epoch s; None: unbounded)."""
        out = {}
        for kind, rows in self.rows.items():
            keep = [r for r in rows if _inside(r["ts"], lo, hi)]
            if keep:
                out[kind] = pa.Table.from_pylist(keep, schema=arrow_schema(EVENT_TYPES[kind]))
        return out

    def span(self) -> tuple[int, int]:
        """First and last event ``ts`` (epoch s)."""
        times = [int(r["ts"].timestamp()) for rows in self.rows.values() for r in rows]
        return min(times), max(times)


def _inside(ts: dt.datetime, lo: int | None, hi: int | None) -> bool:
    s = int(ts.timestamp())
    return (lo is None or s >= lo) and (hi is None or s < hi)


Batch = tuple[dict[str, pa.Table], int | None]


def windows(timeline: Timeline, batch_s: int | None = None) -> list[Batch]:
    """The timeline as (tables, watermark) batches: one batch (no watermark) when ``batch_s``
    is None, else windows of ``batch_s`` seconds aligned on ``START`` (empty ones left out),
    then a last empty batch without watermark (the flush)."""
    if batch_s is None:
        return [(timeline.tables(), None)]
    lo, hi = timeline.span()
    first = T0 + ((lo - T0) // batch_s) * batch_s
    out: list[Batch] = []
    for start in range(first, hi + 1, batch_s):
        tables = timeline.tables(start, start + batch_s)
        if tables:
            out.append((tables, start + batch_s))
    out.append(({}, None))
    return out


def live(timeline: Timeline, lead: int = 0) -> list[Batch]:
    """The timeline as a live worker takes it: the events of each second as they arrive, the
    watermark that second plus ``lead`` (0: rows known earlier run; 1: that second's too),
    then the flush."""
    seconds = sorted({int(r["ts"].timestamp()) for rows in timeline.rows.values() for r in rows})
    return [(timeline.tables(s, s + 1), s + lead) for s in seconds] + [({}, None)]


def feed(engine: Engine, batches: Iterable[Batch]) -> Engine:
    """Process the batches in order."""
    for tables, watermark in batches:
        engine.process(tables, watermark)
    return engine


def intel_of(*indicators: Indicator) -> IntelView:
    """An intel view over base indicators."""
    return IntelView(IntelIndex.build(list(indicators)))


def flagged(
    kind: IndicatorKind, value: str, verdict: Verdict = Verdict.FRAUD, source: str = "feed:test"
) -> Indicator:
    """A base indicator."""
    return Indicator(kind=kind, value=value, verdict=verdict, source=source)


def make_engine(
    world: World,
    *,
    config: EngineConfig | None = None,
    intel: IntelView | None = None,
    rules: Iterable[Rule] | None = None,
    shadow: Iterable[Rule] = (),
) -> Engine:
    """An engine over the world's registry."""
    if rules is None:
        return Engine(world.registry, intel or IntelView(), config, shadow=shadow)
    return Engine(world.registry, intel or IntelView(), config, rules=rules, shadow=shadow)


def run(
    timeline: Timeline,
    batch_s: int | None = None,
    *,
    config: EngineConfig | None = None,
    intel: IntelView | None = None,
    rules: Iterable[Rule] | None = None,
    shadow: Iterable[Rule] = (),
) -> Engine:
    """A fresh engine fed the whole timeline (one batch, or windows of ``batch_s``)."""
    engine = make_engine(timeline.world, config=config, intel=intel, rules=rules, shadow=shadow)
    return feed(engine, windows(timeline, batch_s))


# ---------------------------------------------------------------------- reading results


def subject_of(engine: Engine, who: Resident | str) -> int:
    """The engine's subject id of a resident (or of a raw subject key), -1 when never seen."""
    key = who.id_number if isinstance(who, Resident) else who
    return engine.builder.keys.find(key)


def hits(engine: Engine, who: Resident | str) -> dict[str, Hit]:
    """The scorer's current hits (rule id → last hit) of a subject."""
    risk = engine.scorer.subjects.get(subject_of(engine, who))
    return dict(risk.hits) if risk is not None else {}


def hit_times(engine: Engine, who: Resident | str, rule: str) -> list[int]:
    """Times (epoch s) of the kept evidence of one rule for a subject."""
    h = hits(engine, who).get(rule)
    return [s.at for s in h.evidence] if h is not None else []


def warnings_of(engine: Engine, who: Resident | str) -> list[Warning]:
    """Every warning (live or lapsed) of a subject, oldest first."""
    s = subject_of(engine, who)
    found = [w for w in engine.scorer.warnings.values() if w.subject == s]
    return sorted(found, key=lambda w: w.first_at)


def sorted_warnings(engine: Engine) -> list[dict[str, Any]]:
    """The warnings table as rows sorted by warning id (for comparing runs)."""
    return sorted(warnings_table(engine).to_pylist(), key=lambda r: r["warning_id"])


def story(world: World | None = None, *, after_learning: bool = False) -> Timeline:
    """Three weeks of a small town: a police impersonation (Ann: script, live call, screen
    sharing, escalating transfers), a brushing task scam with a rebate (Bob), grooming calls
    from a virtual number (Gran, then a second episode after her first warning lapsed), a mule
    account paid by three residents, a new SIM calling eight people, ordinary traffic every day,
    and a police report on day 8 naming Ann's callers and the mule account.

    ``after_learning`` adds contacts with what the report names *after* the report (these meet
    the learnt indicators directly, not through the contact index)."""
    w = world or World()
    t = Timeline(w)
    a, b, c, g, s = w.ann, w.bob, w.cai, w.gran, w.stu
    t.sms(day(1), MOBILE, a.phone, "您的账户涉嫌洗钱，请配合调查 http://gov-check.cc/a")
    t.call(day(1) + 30, FIXED, a.phone, 40 * 60)
    t.visit(day(1) + 75, a.phone, "http://gov-check.cc/a")
    t.install(day(1) + 80, a.phone, "com.oray.sunlogin")
    for i, yuan in enumerate((2000, 5000, 20000)):
        t.transfer(day(1) + 90 + 10 * i, a.account, MULE, yuan)
    t.sms(day(2), INTL2, b.phone, "兼职刷单，日结佣金")
    t.install(day(2) + 10, b.phone, "com.task.app")
    t.transfer(day(2) + 20, MULE2, b.account, 30)
    t.transfer(day(2) + 40, b.account, "6222999900001111", 800)
    for d in (3, 4, 5):
        t.call(day(d), VIRTUAL, g.phone, 700)
    t.account_opened(day(0), "6222777700001111")
    for i, r in enumerate((c, s, a)):
        t.transfer(day(6) + i * 30, r.account, "6222777700001111", 300)
    t.sim_activated(day(0), "+8613700001111")
    reached = [a.phone, b.phone, c.phone, g.phone] + [f"+861390000{i:04d}" for i in range(4)]
    for i, number in enumerate(reached):
        t.call(day(7) + i * 7, "+8613700001111", number, 45)
    for d in range(12):
        t.call(day(d) + 500, b.phone, a.phone, 120)
        t.sms(day(d) + 501, SERVICE, c.phone, "您的验证码 1234")
        t.visit(day(d) + 502, s.phone, "https://www.baidu.com/s")
        t.transfer(day(d) + 503, c.account, "6222555500001111", 50 + d)
    t.report(
        day(8),
        a.phone,
        phones=[FIXED, MOBILE],
        accounts=[MULE],
        urls=["http://gov-check.cc/a"],
        loss_yuan=27000,
    )
    if after_learning:
        t.call(day(9), FIXED, c.phone, 300)
        t.transfer(day(9) + 5, s.account, MULE, 100)
        t.call(day(9) + 30, "+8613700001111", s.phone, 60)
        t.call(day(9) + 40, "+8613700001111", "+8613900009999", 60)
    t.call(day(15), INTL, g.phone, 1500)
    t.install(day(15) + 30, g.phone, "com.todesk")
    return t


def evidence(engine: Engine) -> dict[str, dict[str, list[tuple[int, str, str]]]]:
    """Per subject key, per rule: the kept evidence (time, event, value) in the scorer, sorted
    (signals of one moment come in batch order)."""
    return {
        engine.subject_key(s): {
            rule: sorted((x.at, x.event_id, x.value) for x in h.evidence)
            for rule, h in risk.hits.items()
        }
        for s, risk in engine.scorer.subjects.items()
    }


def warning_contents(engine: Engine) -> list[dict[str, Any]]:
    """The warnings table without the warning id, sorted by subject and first time."""
    rows = warnings_table(engine).drop_columns(["warning_id"]).to_pylist()
    return sorted(rows, key=lambda r: (r["subject"], r["first_at"]))
