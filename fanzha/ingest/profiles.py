"""CSV profiles: map other column layouts onto the canonical event fields, vectorised.

A profile turns a raw table into a table of canonical column names (still raw values) plus
per-row problems. The built-in profiles cover the operator exports of the 2020 Sichuan
telecom-fraud data (``sichuan-voc``, ``sichuan-sms``) and a generic transfers CSV whose columns
the user maps (``transfers``, with ``--map field=column``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fanzha.model.events import EVENT_TYPES
from fanzha.model.schema import field_specs

Problem = tuple[int, str, str]  # row, field, reason


@dataclass(frozen=True)
class Profile:
    """A named column layout for one event type."""

    name: str
    event_type: str
    description: str
    columns: tuple[str, ...]  # raw columns it reads
    required: tuple[str, ...]  # raw columns that must be in the header
    apply: Callable[[pa.Table], tuple[pa.Table, list[Problem]]]
    default_source: str | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)
    #: further header checks (raise ProfileError), after the required columns'
    check: Callable[[list[str]], None] | None = None


class ProfileError(ValueError):
    """A profile cannot be used with this input (unknown name, missing columns, bad map)."""


def _col(table: pa.Table, name: str) -> pa.Array:
    col = table[name]
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    return pc.utf8_trim_whitespace(arr)


def _code_problems(codes: pa.Array, allowed: tuple[str, ...], column: str) -> list[Problem]:
    ok = pc.fill_null(pc.is_in(codes, value_set=pa.array(allowed)), False)
    bad = np.flatnonzero(~ok.to_numpy(zero_copy_only=False))
    expected = ", ".join(allowed)
    return [
        (int(i), column, f"{column} must be one of {expected}, got {codes[int(i)].as_py()!r}")
        for i in bad
    ]


def _sichuan_voc(table: pa.Table) -> tuple[pa.Table, list[Problem]]:
    """calltype_id 1: phone_no_m called opposite_no_m; 2: was called; 3: call forwarded."""
    me, other = _col(table, "phone_no_m"), _col(table, "opposite_no_m")
    code = _col(table, "calltype_id")
    problems = _code_problems(code, ("1", "2", "3"), "calltype_id")
    originated = pc.equal(code, "1")
    imei = (
        _col(table, "imei_m") if "imei_m" in table.column_names else pa.nulls(len(me), pa.string())
    )
    direction = pc.case_when(
        pc.make_struct(pc.equal(code, "1"), pc.equal(code, "2"), pc.equal(code, "3")),
        "originated",
        "received",
        "forwarded",
    )
    null = pa.scalar(None, pa.string())
    out = {
        "caller": pc.if_else(originated, me, other),
        "callee": pc.if_else(originated, other, me),
        "ts": _col(table, "start_datetime"),
        "duration_s": _col(table, "call_dur"),
        "direction": direction,
        "caller_imei": pc.if_else(originated, imei, null),
        "callee_imei": pc.if_else(originated, null, imei),
    }
    for src, dst in (("city_name", "city"), ("county_name", "county")):
        if src in table.column_names:
            out[dst] = _col(table, src)
    return pa.table(out), problems


def _sichuan_sms(table: pa.Table) -> tuple[pa.Table, list[Problem]]:
    """calltype_id 1: phone_no_m sent to opposite_no_m; 2: received from it."""
    me, other = _col(table, "phone_no_m"), _col(table, "opposite_no_m")
    code = _col(table, "calltype_id")
    problems = _code_problems(code, ("1", "2"), "calltype_id")
    sent = pc.equal(code, "1")
    out = {
        "sender": pc.if_else(sent, me, other),
        "recipient": pc.if_else(sent, other, me),
        "ts": _col(table, "request_datetime"),
    }
    return pa.table(out), problems


def mapped(event_type: str, mapping: Mapping[str, str]) -> Profile:
    """A profile that renames user columns to canonical fields (``field=column`` pairs)."""
    if event_type not in EVENT_TYPES:
        raise ProfileError(f"unknown event type {event_type!r}")
    model = EVENT_TYPES[event_type]
    known = {s.name for s in field_specs(model)} | {"amount", "loss"}
    unknown = sorted(set(mapping) - known)
    if unknown:
        raise ProfileError(
            f"--map names unknown {event_type} fields: {', '.join(unknown)}; "
            f"known fields: {', '.join(sorted(known))}"
        )

    def apply(table: pa.Table) -> tuple[pa.Table, list[Problem]]:
        out = {}
        for name in table.column_names:
            if name in known and name not in mapping:
                out[name] = table[name]
        for dst, src in mapping.items():
            out[dst] = table[src]
        # no known column at all: the rows stay (each then lacks its fields), never vanish
        return (pa.table(out) if out else table.select([])), []

    return Profile(
        name="mapped",
        event_type=event_type,
        description=f"{event_type} with user-mapped columns",
        columns=tuple(mapping.values()),
        required=tuple(mapping.values()),
        apply=apply,
        mapping=dict(mapping),
    )


#: Chinese bank-statement headers commonly seen in transfer exports (used by ``transfers``).
TRANSFER_HEADERS_ZH = {
    "payer_account": ("付款账号", "付款卡号", "转出账号", "付款人账号"),
    "payee_account": ("收款账号", "收款卡号", "转入账号", "收款人账号"),
    "amount": ("交易金额", "金额", "转账金额", "发生额"),
    "ts": ("交易时间", "交易日期时间", "转账时间"),
    "payer_name": ("付款人", "付款户名", "付款人名称"),
    "payee_name": ("收款人", "收款户名", "收款人名称"),
    "currency": ("币种",),
    "remittance": ("摘要", "附言", "交易摘要", "用途"),
    "event_id": ("交易流水号", "流水号", "交易序号"),
    "channel": ("交易渠道", "渠道"),
}
#: English headers of third-party transfer data (bank exports, AML research data sets),
#: compared lower-cased with spaces, hyphens and dots read as underscores. Only names that
#: mean one thing: a bare ``time`` or ``id`` is left to ``--map``.
TRANSFER_HEADERS_EN = {
    "payer_account": (
        "sender_account",
        "from_account",
        "account_from",
        "orig_acct",
        "originator_account",
        "source_account",
        "debtor_account",
    ),
    "payee_account": (
        "receiver_account",
        "to_account",
        "account_to",
        "bene_acct",
        "beneficiary_account",
        "destination_account",
        "creditor_account",
    ),
    "amount": (
        "amt",
        "base_amt",
        "tx_amount",
        "txn_amount",
        "transaction_amount",
        "amount_paid",
    ),
    "ts": (
        "timestamp",
        "tran_timestamp",
        "tx_timestamp",
        "txn_timestamp",
        "transaction_time",
        "transaction_timestamp",
        "datetime",
        "date_time",
    ),
    "event_id": ("tran_id", "tx_id", "txn_id", "transaction_id", "trans_id"),
    "payer_name": ("sender_name", "originator_name", "debtor_name"),
    "payee_name": ("receiver_name", "beneficiary_name", "creditor_name"),
    "remittance": ("memo", "narrative", "remittance_info", "remittance_information"),
}
#: A statement of one account (银行流水) names its own account and the counterparty's, not
#: payer and payee: which is which comes from a direction column, from separate debit and
#: credit amounts, or from the amount's sign (negative: money out).
STATEMENT_HEADERS = {
    "own_account": ("本方账号", "本方卡号", "本方账户", "交易卡号", "查询账号", "查询卡号"),
    "counter_account": (
        "对方账号",
        "对手账号",
        "对方卡号",
        "对方账户",
        "对手账户",
        "交易对手账号",
        "对手方账号",
    ),
    "own_name": ("本方户名", "本方名称"),
    "counter_name": ("对方户名", "对手户名", "对方名称", "交易对手名称", "对手方户名"),
    "direction": (
        "借贷标志",
        "借贷方向",
        "收支标志",
        "收付标志",
        "收付方向",
        "交易方向",
        "资金流向",
        "出入账标志",
    ),
    "debit": ("借方发生额", "借方金额", "支出金额", "转出金额"),
    "credit": ("贷方发生额", "贷方金额", "收入金额", "转入金额"),
}
#: Directions that mean money left the statement's account, and that it came in.
MONEY_OUT = frozenset(
    {"借", "借方", "支出", "支", "出", "转出", "付", "付款", "出账", "d", "dr", "debit", "out"}
)
MONEY_IN = frozenset(
    {"贷", "贷方", "收入", "收", "入", "进", "转入", "收款", "入账", "c", "cr", "credit", "in"}
)
#: The day of a statement row when its time is a column of its own (交易日期 + 交易时间).
DATE_HEADERS = ("交易日期", "记账日期", "入账日期", "交易日", "日期")
_TIME_ONLY_RE = r"^\s*(?:\d{1,2}:\d{2}(?::\d{2})?|\d{5,6})\s*$"
_ZERO_RE = r"^\s*[-+]?\s*[¥￥]?[0,.\s]*$"  # empty, "-", "0.00": no amount in this column
#: Transfer fields a transfers CSV must give (``amount`` or ``amount_fen`` for the money).
TRANSFER_NEEDS = ("payer_account", "payee_account", "ts")
# A unit written after a header name: 交易金额(元), 金额（分）, Amount [CNY].
_UNIT_RE = re.compile(r"^(?P<name>.+?)\s*[(（\[【]\s*(?P<unit>[^)）\]】]*?)\s*[)）\]】]$")
_YUAN_UNITS = frozenset({"元", "人民币元", "人民币", "rmb", "cny", "yuan"})
_FEN_UNITS = frozenset({"分", "fen"})


def _header_key(name: str) -> tuple[str, str | None]:
    """A header compared with the known names: trimmed, English lower-cased with spaces,
    hyphens and dots as underscores, and a money unit in brackets split off (``yuan`` /
    ``fen``; other bracketed text is part of the name)."""
    text, unit = name.strip(), None
    m = _UNIT_RE.match(text)
    if m is not None:
        inside = m["unit"].strip().lower()
        if inside in _YUAN_UNITS or inside in _FEN_UNITS:
            text, unit = m["name"], "fen" if inside in _FEN_UNITS else "yuan"
    return re.sub(r"[\s.\-]+", "_", text.strip().lower()), unit


def _header_keys(names: list[str]) -> dict[str, tuple[str, str | None]]:
    """Each header name's :func:`_header_key`, leaving out a name the header repeats (read
    as ``X`` and ``X.1``): which one is meant is the user's call."""
    present = set(names)
    return {n: _header_key(n) for n in names if f"{n}.1" not in present}


def transfer_columns(names: list[str], user: Mapping[str, str]) -> dict[str, str]:
    """Which input column gives which transfer field: the user's ``--map`` first, then the
    canonical names, then known Chinese and English headers (a money column headed in 分
    gives ``amount_fen``). A name that occurs twice in the header (read as ``X`` and
    ``X.1``) is never picked by itself: which one is meant is the user's call."""
    present = set(names)
    taken = set(user.values())
    found = dict(user)
    keys = _header_keys(names)
    for dst in dict.fromkeys([*TRANSFER_HEADERS_ZH, *TRANSFER_HEADERS_EN]):
        if dst in found or dst in present:
            continue
        wanted = {_header_key(c)[0] for c in TRANSFER_HEADERS_ZH.get(dst, ())}
        wanted |= set(TRANSFER_HEADERS_EN.get(dst, ()))
        for name, (key, unit) in keys.items():
            if key in wanted and name not in taken:
                field_name = "amount_fen" if dst == "amount" and unit == "fen" else dst
                if field_name not in found and field_name not in present:
                    found[field_name] = name
                    taken.add(name)
                break
    return found


def statement_roles(names: list[str], found: Mapping[str, str]) -> dict[str, str] | None:
    """The statement columns (:data:`STATEMENT_HEADERS`: role → column; a debit / credit
    column headed in 分 gives its role a ``:fen`` suffix) when the header names its own and
    the counterparty's accounts but no payer and payee; else None."""
    if {"payer_account", "payee_account"} & (set(names) | set(found)):
        return None
    keys = _header_keys(names)
    roles: dict[str, str] = {}
    for role, candidates in STATEMENT_HEADERS.items():
        wanted = {_header_key(c)[0] for c in candidates}
        hit = next(((n, u) for n, (k, u) in keys.items() if k in wanted), None)
        if hit is not None:
            roles[role if hit[1] != "fen" else f"{role}:fen"] = hit[0]
    if "own_account" in roles and "counter_account" in roles:
        return roles
    return None


def _statement(
    table: pa.Table, roles: Mapping[str, str], found: dict[str, str]
) -> tuple[pa.Table, dict[str, str], list[Problem]]:
    """Payer and payee (and their names) from a statement's own and counterparty columns,
    row by row as its direction says; the columns added, the mapping pointed at them."""
    field = next((f for f in ("amount", "amount_fen") if f in found), None)
    if "direction" in roles:
        out, problems = _said_direction(_col(table, roles["direction"]), roles["direction"])
        amount = _col(table, found[field]) if field else None
    elif {"debit", "credit", "debit:fen", "credit:fen"} & set(roles):
        out, amount, problems = _debit_credit(table, roles)
        found.pop("amount", None), found.pop("amount_fen", None)
        field = "amount_fen" if {"debit:fen", "credit:fen"} & set(roles) else "amount"
    elif field is not None:  # signed amounts: negative is money out
        amount = _col(table, found[field])
        out = pc.fill_null(pc.starts_with(pc.utf8_ltrim_whitespace(amount), "-"), False)
        problems = [] if pc.any(out).as_py() else _direction_unknown(len(table), roles)
    else:
        return table, found, []  # no amount at all: the header check says so
    if amount is not None and field is not None:
        table = table.append_column("__amount", pc.replace_substring_regex(amount, r"^\s*-", ""))
        found[field] = "__amount"
    pairs = {"account": ("own_account", "counter_account"), "name": ("own_name", "counter_name")}
    for what, (mine, theirs) in pairs.items():
        if mine not in roles and theirs not in roles:
            continue
        a, b = (
            _col(table, roles[r]) if r in roles else pa.nulls(len(table), pa.string())
            for r in (mine, theirs)
        )
        table = table.append_column(f"__payer_{what}", pc.if_else(out, a, b))
        table = table.append_column(f"__payee_{what}", pc.if_else(out, b, a))
        found[f"payer_{what}"], found[f"payee_{what}"] = f"__payer_{what}", f"__payee_{what}"
    return table, found, problems


def _direction_unknown(rows: int, roles: Mapping[str, str]) -> list[Problem]:
    """Every row of a statement that gives no direction (no column for it, no debit and
    credit amounts, no negative amount): which side paid is not guessed."""
    why = (
        f"which of {roles['own_account']} and {roles['counter_account']} paid is unknown: no"
        " direction column (借贷标志), no debit and credit amounts, no negative amount"
    )
    return [(i, "direction", why) for i in range(rows)]


def _said_direction(said: pa.Array, column: str) -> tuple[pa.Array, list[Problem]]:
    """Money out (True) or in, row by row, from a direction column; a word that says
    neither is a problem of its row."""
    lower = pc.utf8_lower(said)
    out = pc.fill_null(pc.is_in(lower, value_set=pa.array(sorted(MONEY_OUT))), False)
    came = pc.fill_null(pc.is_in(lower, value_set=pa.array(sorted(MONEY_IN))), False)
    unknown = np.flatnonzero(~np.asarray(pc.or_(out, came)))
    why = "is neither money out (借, 支出, D …) nor money in (贷, 收入, C …)"
    return out, [(int(i), "direction", f"{column} {said[int(i)].as_py()!r} {why}") for i in unknown]


def _debit_credit(
    table: pa.Table, roles: Mapping[str, str]
) -> tuple[pa.Array, pa.Array, list[Problem]]:
    """Money out where the debit column holds the amount, in where the credit one does;
    a row with both or neither is a problem."""
    names = [roles.get(r) or roles.get(f"{r}:fen") for r in ("debit", "credit")]
    debit, credit = (_col(table, n) if n else pa.nulls(len(table), pa.string()) for n in names)
    empty = [pc.fill_null(pc.match_substring_regex(x, _ZERO_RE), True) for x in (debit, credit)]
    out = pc.invert(empty[0])
    same = np.flatnonzero(np.asarray(empty[0]) == np.asarray(empty[1]))
    shown = " / ".join(n or "-" for n in names)
    problems = [
        (
            int(i),
            "amount",
            f"{'neither' if empty[0][int(i)].as_py() else 'both'} of {shown} hold an amount",
        )
        for i in same
    ]
    return out, pc.if_else(out, debit, credit), problems


def date_column(names: list[str], found: Mapping[str, str]) -> str | None:
    """A day column (:data:`DATE_HEADERS`) to complete a time-only ``ts`` or to stand for a
    missing one; None when the user mapped ``ts`` or the header has none."""
    time_names = {_header_key(h)[0] for h in TRANSFER_HEADERS_ZH["ts"]}
    if "ts" in found and _header_key(found["ts"])[0] not in time_names:
        return None  # the user's (or an English) column: taken as it is
    keys = {_header_key(n)[0]: n for n in names}
    return next((keys[h] for h in DATE_HEADERS if h in keys and keys[h] != found.get("ts")), None)


def _with_day(table: pa.Table, day: str, found: dict[str, str]) -> pa.Table:
    """``ts`` as day and time where the time column holds only a time (``10:01:02`` or
    ``100102``), else as it is; the day alone when there is no time column."""
    date = pc.replace_substring_regex(_col(table, day), r"^(\d{4})(\d{2})(\d{2})$", r"\1-\2-\3")
    date = pc.replace_substring_regex(date, r"\s+00:00(?::00)?$", "")  # a day as a datetime
    if "ts" not in found:
        table = table.append_column("__ts", date)
        found["ts"] = "__ts"
        return table
    time = _col(table, found["ts"])
    only = pc.fill_null(pc.match_substring_regex(time, _TIME_ONLY_RE), False)
    six = pc.utf8_lpad(pc.utf8_trim_whitespace(time), 6, "0")  # 93005: 09:30:05
    clock = pc.if_else(
        pc.match_substring_regex(time, r":"),
        pc.utf8_trim_whitespace(time),
        pc.replace_substring_regex(six, r"^(\d{2})(\d{2})(\d{2})$", r"\1:\2:\3"),
    )
    joined = pc.binary_join_element_wise(date, clock, " ")
    table = table.append_column("__ts", pc.if_else(only, joined, time))
    found["ts"] = "__ts"
    return table


@dataclass(frozen=True)
class _Plan:
    """How a transfers header is read: columns by field, statement roles, the day column."""

    found: dict[str, str]
    roles: dict[str, str] | None
    day: str | None

    @classmethod
    def of(cls, names: list[str], user: Mapping[str, str]) -> _Plan:
        found = transfer_columns(names, user)
        roles = statement_roles(names, found)
        return cls(found, roles, date_column(names, found))

    def fields(self, names: list[str]) -> set[str]:
        """The transfer fields the rows will have (canonical names included)."""
        got = set(names) | set(self.found)
        if self.day is not None:
            got.add("ts")
        if self.roles is not None:
            got |= {"payer_account", "payee_account"}
            if {"debit", "credit", "debit:fen", "credit:fen"} & set(self.roles):
                got.add("amount")
        return got

    def apply(self, table: pa.Table) -> tuple[pa.Table, list[Problem]]:
        found = dict(self.found)
        problems: list[Problem] = []
        if self.roles is not None:
            table, found, problems = _statement(table, self.roles, found)
        if self.day is not None:
            table = _with_day(table, self.day, found)
        out, more = mapped("transfer", found).apply(table)
        return out, problems + more


def _check_transfer_header(user: Mapping[str, str]) -> Callable[[list[str]], None]:
    def check(names: list[str]) -> None:
        got = _Plan.of(names, user).fields(names)
        missing = [f for f in TRANSFER_NEEDS if f not in got]
        if not got & {"amount", "amount_fen"}:
            missing.append("amount")
        if missing:
            raise ProfileError(
                f"no column gives {', '.join(missing)}; the input has"
                f" {', '.join(names[:30]) or 'no columns'}; name them with --map field=列名"
                f" (e.g. --map {missing[0]}=列名)"
            )

    return check


def transfers_markdown() -> str:
    """The ``transfers`` profile's known headers, a Markdown section of docs/events.md."""
    lines = [
        "# The `transfers` CSV profile",
        "",
        "`fanzha ingest FILE --profile transfers` reads a transfers CSV whose columns are the",
        "canonical field names, the headers below, or named with `--map field=列名` (which wins).",
        "Headers are compared trimmed, English ones lower-cased with spaces, hyphens and dots as",
        "`_`; a money unit in brackets is read: `交易金额(元)` gives `amount` (yuan),",
        "`金额（分）` gives `amount_fen`. A name the header repeats is read as `X`, `X.1` … and",
        "only used when named with `--map`. A file without columns for the accounts, the time",
        "and the amount is refused as a whole, with the header it has.",
        "",
        "| field | Chinese headers | English headers |",
        "|---|---|---|",
    ]
    for name in dict.fromkeys([*TRANSFER_HEADERS_ZH, *TRANSFER_HEADERS_EN]):
        zh = ", ".join(TRANSFER_HEADERS_ZH.get(name, ()))
        en = ", ".join(f"`{h}`" for h in TRANSFER_HEADERS_EN.get(name, ()))
        lines.append(f"| `{name}` | {zh} | {en} |")
    lines += [
        "",
        f"A day in a column of its own ({', '.join(DATE_HEADERS)}) completes a time column",
        "that holds only the time (`10:01:02`, `100102`); without a time column the day is",
        "the time (midnight). A `ts` named with `--map` is taken as it is.",
        "",
        "A statement of one account (银行流水) names the account's own side and the",
        "counterparty instead of payer and payee. When the header has no payer and payee",
        "but both of those, each row's direction decides: money out makes the account the",
        "payer, money in the payee. The direction is a column (its words below), else",
        "separate debit and credit amounts (the one that holds an amount; both or neither is a",
        "problem of the row), else the amount's sign (negative: money out; a batch without",
        "any negative amount gives no direction, and its rows are problems: which side paid is",
        "not guessed). A direction word that says neither is a problem of its row.",
        "",
        "| role | headers |",
        "|---|---|",
        *(f"| {role} | {', '.join(h)} |" for role, h in STATEMENT_HEADERS.items()),
        f"| money out | {', '.join(sorted(MONEY_OUT))} |",
        f"| money in | {', '.join(sorted(MONEY_IN))} |",
    ]
    return "\n".join(lines) + "\n"


def transfers(mapping: Mapping[str, str] | None = None) -> Profile:
    """Generic transfers CSV: canonical names, common Chinese or English headers (a unit
    in brackets read: 交易金额(元), 金额（分）), or a user mapping."""
    user = dict(mapping or {})
    base = mapped("transfer", user)

    def apply(table: pa.Table) -> tuple[pa.Table, list[Problem]]:
        return _Plan.of(table.column_names, user).apply(table)

    return Profile(
        name="transfers",
        event_type="transfer",
        description="transfers with canonical, common Chinese or English, or --map column names",
        columns=(),
        required=tuple(user.values()),
        apply=apply,
        mapping=base.mapping,
        check=_check_transfer_header(user),
    )


BUILTIN: dict[str, Profile] = {
    "sichuan-voc": Profile(
        name="sichuan-voc",
        event_type="call",
        description="Sichuan 2020 operator call export (phone_no_m, opposite_no_m, calltype_id …)",
        columns=(
            "phone_no_m",
            "opposite_no_m",
            "calltype_id",
            "start_datetime",
            "call_dur",
            "city_name",
            "county_name",
            "imei_m",
        ),
        required=("phone_no_m", "opposite_no_m", "calltype_id", "start_datetime", "call_dur"),
        apply=_sichuan_voc,
        default_source="sichuan-voc",
    ),
    "sichuan-sms": Profile(
        name="sichuan-sms",
        event_type="sms",
        description="Sichuan 2020 operator SMS export (phone_no_m, opposite_no_m, calltype_id …)",
        columns=("phone_no_m", "opposite_no_m", "calltype_id", "request_datetime"),
        required=("phone_no_m", "opposite_no_m", "calltype_id", "request_datetime"),
        apply=_sichuan_sms,
        default_source="sichuan-sms",
    ),
}


def get_profile(name: str, mapping: Mapping[str, str] | None = None) -> Profile:
    """A built-in profile by name, ``transfers`` (optionally mapped)."""
    if name == "transfers":
        return transfers(mapping)
    if name in BUILTIN:
        if mapping:
            raise ProfileError(f"profile {name!r} has a fixed layout; --map is not accepted")
        return BUILTIN[name]
    known = ", ".join([*BUILTIN, "transfers"])
    raise ProfileError(f"unknown profile {name!r}; known profiles: {known}")


def check_header(profile: Profile, names: list[str]) -> None:
    """Raise ProfileError naming the required columns the input lacks."""
    missing = [c for c in profile.required if c not in names]
    if missing:
        raise ProfileError(
            f"profile {profile.name!r} needs columns {', '.join(missing)}; "
            f"the input has {', '.join(names[:30]) or 'none of them'}"
        )
    if profile.check is not None:
        profile.check(names)
