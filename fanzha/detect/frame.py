"""One columnar frame for every event type: who the event is about (subject), who or what is on
the other side (counterparty), when the fact became known (``at``), and the attributes rules read.

A call record is known when the call ends (``at = ts + duration``); a call that lasts longer
than the probe time also yields a *live* row at ``ts + probe`` — what the operator's signalling
shows while the call is still going on (the "phone busy for an hour" case). Rows are sorted by
``at``; every rule sees exactly the facts known at that moment.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fanzha.detect.intel_view import IntelView
from fanzha.detect.kernels import I64, NONE, SMALL, Column, Interner, take_utf8
from fanzha.detect.registry import Registry
from fanzha.detect.text import SmsText, classify_text, classify_texts


class K(enum.IntEnum):
    """Row kinds of the frame."""

    CALL = 1
    CALL_LIVE = 2
    SMS = 3
    VISIT = 4
    INSTALL = 5
    PAY = 6
    RECEIVE = 7
    ACCOUNT = 8
    SIM = 9
    REPORT = 10


# Counterparty flag bits.
F_SERVICE = 1 << 0  # short service / bulk-SMS number (95588, 106…)
F_INTL = 1 << 1  # international number
F_VIRTUAL = 1 << 2  # virtual-operator range (170, 171, 162, 165, 167)
F_FIXED = 1 << 3  # Chinese fixed line
F_MOBILE = 1 << 4  # Chinese mobile
F_RESIDENT = 1 << 5  # the counterparty is a registered resident's number or account
F_SCREEN = 1 << 6  # app: screen-sharing / remote control
F_URL = 1 << 7  # SMS: the text carries a link
F_ACCOUNT_IN_TEXT = 1 << 8  # SMS: the text names an account number
F_LOCAL_FIXED = 1 << 9  # fixed line of the centre's own area code

VIRTUAL_PREFIXES = ("+86170", "+86171", "+86162", "+86165", "+86167")
#: Remote-control and screen-sharing apps (package ids) that scripts make victims install.
SCREEN_SHARE_APPS = (
    "com.oray.sunlogin",
    "com.todesk",
    "com.teamviewer.quicksupport.market",
    "com.teamviewer.teamviewer.market.mobile",
    "com.anydesk.anydeskandroid",
    "com.tencent.wemeet.app",
    "us.zoom.videomeetings",
    "com.alibaba.android.rimet",
    "com.ss.android.lark",
)


@dataclass
class Frame:
    """Columns of one micro-batch, sorted by ``at``; hits index back into ``event_id``."""

    at: I64
    ts: I64
    kind: I64
    subject: I64  # interned subject key (resident ID number, else "phone:…" / "account:…")
    person: I64  # resident row in the registry, -1 when not a resident
    cp: I64  # interned counterparty key ("p:+86…", "d:host", "a:acct", "app:id")
    cp2: I64  # second counterparty: the domain of a link in an SMS, -1 when none
    flags: I64
    dur: I64
    amount: I64
    text: I64  # SmsText family of the message (0 none)
    age: I64
    intel: I64  # verdict rank of the counterparty (-1 none, 0 allow, 1 suspicious, 2 fraud)
    intel_idx: I64
    intel2: I64  # verdict rank of cp2 (the link)
    intel2_idx: I64
    event_id: pa.Array
    features: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.at.size)

    @classmethod
    def of(cls, cols: dict[str, np.ndarray], event_id: pa.Array) -> Frame:
        """A frame from its columns by name (see ``COLUMNS``)."""
        c = cols
        return cls(
            at=c["at"],
            ts=c["ts"],
            kind=c["kind"],
            subject=c["subject"],
            person=c["person"],
            cp=c["cp"],
            cp2=c["cp2"],
            flags=c["flags"],
            dur=c["dur"],
            amount=c["amount"],
            text=c["text"],
            age=c["age"],
            intel=c["intel"],
            intel_idx=c["intel_idx"],
            intel2=c["intel2"],
            intel2_idx=c["intel2_idx"],
            event_id=event_id,
        )

    def take(self, idx: I64) -> Frame:
        """The rows at ``idx`` (features included)."""
        cols = {name: getattr(self, name)[idx] for name in COLUMNS}
        out = Frame.of(cols, take_utf8(self.event_id, idx))
        out.features = {k: v[idx] for k, v in self.features.items()}
        return out


COLUMNS = (
    "at",
    "ts",
    "kind",
    "subject",
    "person",
    "cp",
    "cp2",
    "flags",
    "dur",
    "amount",
    "text",
    "age",
    "intel",
    "intel_idx",
    "intel2",
    "intel2_idx",
)


def concat(frames: list[Frame]) -> Frame:
    """Rows of several frames, in order."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_frame()
    if len(frames) == 1:
        return frames[0]
    cols = {c: np.concatenate([getattr(f, c) for f in frames]) for c in COLUMNS}
    ids = pa.concat_arrays([f.event_id for f in frames])
    return Frame.of(cols, ids)


def empty_frame() -> Frame:
    """A frame without rows."""
    z = np.empty(0, np.int64)
    return Frame.of(dict.fromkeys(COLUMNS, z), pa.array([], pa.string()))


def _seconds(ts: pa.ChunkedArray | pa.Array) -> I64:
    if isinstance(ts, pa.ChunkedArray):
        ts = ts.combine_chunks() if ts.num_chunks != 1 else ts.chunk(0)
    if ts.type == _MICROS and ts.null_count == 0:  # the lake's type: read the buffer as is
        us = np.frombuffer(ts.buffers()[1], np.int64, len(ts), ts.offset * 8)
        return us // 1_000_000
    arr = ts.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    return np.asarray(arr.to_numpy(), np.int64) // 1_000_000


_MICROS = pa.timestamp("us", tz="UTC")


def _utf8(array: pa.Array) -> pa.Array:
    """The array as ``string`` (a cast of one that is already costs an Arrow call)."""
    return array if array.type == pa.string() else array.cast(pa.string())


def _col(table: pa.Table, name: str) -> pa.Array:
    i = table.schema.get_field_index(name)
    if i < 0:
        return pa.nulls(table.num_rows, pa.string())
    col = table.column(i)
    return col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)


def _ints(table: pa.Table, name: str) -> I64:
    if table.schema.get_field_index(name) < 0:
        return np.zeros(table.num_rows, np.int64)
    col = _col(table, name)
    if col.null_count:
        col = col.fill_null(0)
    return np.asarray(col.to_numpy(zero_copy_only=False), np.int64)


def phone_flags(phones: pa.Array) -> I64:
    """Counterparty class bits of normalised phone numbers."""
    n = len(phones)
    if n <= SMALL:
        return np.array([phone_flag(p or "") for p in phones.to_pylist()], np.int64)
    out = np.zeros(n, np.int64)
    p = phones.fill_null("")
    plus = np.asarray(pc.starts_with(p, "+").to_numpy(zero_copy_only=False), np.bool_)
    cn = np.asarray(pc.starts_with(p, "+86").to_numpy(zero_copy_only=False), np.bool_)
    mobile = np.asarray(
        pc.match_substring_regex(p, r"^\+861[3-9]").to_numpy(zero_copy_only=False), np.bool_
    )
    virtual = np.zeros(n, np.bool_)
    for prefix in VIRTUAL_PREFIXES:
        virtual |= np.asarray(pc.starts_with(p, prefix).to_numpy(zero_copy_only=False), np.bool_)
    out[~plus & (np.asarray(pc.utf8_length(p).to_numpy(), np.int64) > 0)] |= F_SERVICE
    out[plus & ~cn] |= F_INTL
    out[virtual] |= F_VIRTUAL
    out[mobile & ~virtual] |= F_MOBILE
    out[cn & ~mobile] |= F_FIXED
    return out


def phone_flag(p: str) -> int:
    """:func:`phone_flags` of one number, in plain Python (for a few values)."""
    plus, cn = p.startswith("+"), p.startswith("+86")
    mobile = p.startswith("+861") and len(p) > 4 and "3" <= p[4] <= "9"
    virtual = p.startswith(VIRTUAL_PREFIXES)
    out = F_SERVICE if p and not plus else 0
    out |= F_INTL if plus and not cn else 0
    out |= F_VIRTUAL if virtual else 0
    out |= F_MOBILE if mobile and not virtual else 0
    out |= F_FIXED if cn and not mobile else 0
    return out


_URL_HOST_RE = r"(?i)(?:https?://|www\.)([a-z0-9\-\.]+\.[a-z]{2,})"
#: a URL's host: after the scheme and credentials, up to the port, path, query or fragment
_URL_HOST = re.compile(r"(?i)^(?:[a-z]+://)?(?:[^@/]*@)?(?P<h>[^/:?#]+)")
_ACCOUNT_RE = r"(?:^|[^0-9])[0-9]{12,19}(?:[^0-9]|$)"
#: The two patterns for Python's ``re`` (ASCII letters folded, as RE2 folds them: it also
#: folds U+017F and U+212A to s and k, so texts holding those go through Arrow).
_URL_HOST_PY = re.compile(_URL_HOST_RE.removeprefix("(?i)"), re.IGNORECASE | re.ASCII)
_ACCOUNT_PY = re.compile(_ACCOUNT_RE)
_FOLDS_TO_ASCII = frozenset("\u017f\u212a")


_SCALARS: dict[str, pa.Scalar] = {}


def _scalar(text: str) -> pa.Scalar:
    """Arrow string scalars made once: converting a Python value per call is slow in pyarrow."""
    found = _SCALARS.get(text)
    if found is None:
        found = _SCALARS[text] = pa.scalar(text, pa.string())
    return found


_EMPTY = _scalar("")


class Values:
    """The new distinct values an attribute is computed for: Python strings or an Arrow
    ``string`` array, each made from the other on demand (for a few values, Python is cheaper
    than any Arrow call)."""

    __slots__ = ("_arrow", "_py")

    def __init__(self, py: list[str] | None = None, arrow: pa.Array | None = None) -> None:
        self._py = py
        self._arrow = arrow

    @classmethod
    def of(cls, interner: Interner, ids: I64) -> Values:
        """The values of ``ids``: Python strings when they are few or still held as such
        (values interned in this batch, through the dict), else Arrow."""
        if ids.size <= SMALL or int(ids.min()) >= interner.held_from:
            return cls(py=interner.strings(ids))
        return cls(arrow=interner.arrow(ids))

    def __len__(self) -> int:
        return len(self._py) if self._py is not None else len(self.arrow)

    @property
    def small(self) -> bool:
        """Few enough for plain Python."""
        return len(self) <= SMALL

    @property
    def py(self) -> list[str]:
        """The values as Python strings."""
        if self._py is None:
            self._py = self.arrow.to_pylist()
        return self._py

    @property
    def arrow(self) -> pa.Array:
        """The values as an Arrow ``string`` array."""
        if self._arrow is None:
            self._arrow = pa.array(self._py, pa.string())
        return self._arrow


Compute = Callable[[Values, I64], "I64 | tuple[I64, ...]"]


class PerValue:
    """Attributes of distinct raw values (phone numbers, accounts, hosts, URLs, message texts),
    each computed once, on the value's first use, by a vectorised function of the values.

    The raw values are interned apart from the frame's keys; an attribute is a column indexed
    by value id. Only values never seen before reach the (Arrow) function that computes an
    attribute, in the order they first appear in the batch, so attributes that intern frame
    keys intern them in the order a per-row pass would have.
    """

    def __init__(self) -> None:
        self.values = Interner()
        self._cols: dict[str, Column] = {}

    def ids(self, raw: pa.Array) -> I64:
        """The value id of each row (-1 for null)."""
        return self.values.intern(raw)

    def ids2(self, a: pa.Array, b: pa.Array) -> tuple[I64, I64]:
        """:meth:`ids` of two columns in one call (the values of ``a`` first, then those of
        ``b``: the ids two calls would have given; one call's fixed cost)."""
        both = self.values.intern(pa.concat_arrays([_utf8(a), _utf8(b)]))
        return both[: len(a)], both[len(a) :]

    def get(self, name: str, ids: I64, compute: Compute, null: int) -> I64:
        """Attribute ``name`` of each row's value (``null`` where the id is -1)."""
        return self.get_all((name,), ids, compute, (null,))[0]

    def get_all(
        self, names: tuple[str, ...], ids: I64, compute: Compute, nulls: tuple[int, ...]
    ) -> list[I64]:
        """Several attributes computed together (``compute`` returns one array per name)."""
        cols = [self._column(name) for name in names]
        if ids.size == 0:
            return [np.empty(0, np.int64) for _ in cols]
        ids = np.ascontiguousarray(ids, np.int64)
        for col in cols:  # every id is below the interner's size: no scan for the largest
            col.ensure(len(self.values))
        new = cols[0].unset(ids, _COMPUTING)
        if new.size:
            try:
                computed = compute(Values.of(self.values, new), new)
            except BaseException:
                cols[0].data[new] = _UNSET
                raise
            if not isinstance(computed, tuple):
                computed = (computed,)
            for col, column in zip(cols, computed, strict=True):
                col.data[new] = column
        return [col.take(ids, null) for col, null in zip(cols, nulls, strict=True)]

    def forget(self, names: tuple[str, ...]) -> None:
        """Drop attributes ``names`` of every value (computed again on their next use)."""
        for name in names:
            self._cols.pop(name, None)

    def _column(self, name: str) -> Column:
        col = self._cols.get(name)
        if col is None:
            col = self._cols[name] = Column(np.int64, _UNSET)
        return col


#: The attributes a value has from the intelligence base (its verdict, the indicator's number).
_VERDICTS = ("verdict", "indicator")
_UNSET = NONE  # an attribute not computed yet (no attribute takes this value)
_COMPUTING = NONE + 1  # being computed (a value's later rows in the batch wait for it)


class FrameBuilder:
    """Turns each event type's Arrow table into frame rows; holds the key interner.

    Attributes of raw values that do not change during a run (registry rows, subject and
    counterparty keys, phone classes, the base intelligence verdicts, SMS text families and
    links) are computed once per distinct value (:class:`PerValue`).
    """

    def __init__(
        self,
        registry: Registry,
        intel: IntelView,
        *,
        call_probe_s: int = 900,
        screen_share_apps: tuple[str, ...] = SCREEN_SHARE_APPS,
    ) -> None:
        self.registry = registry
        self.intel = intel
        self.keys = Interner()
        self.call_probe_s = call_probe_s
        self.screen_share = pa.array(list(screen_share_apps), pa.string())
        self._screen_set = frozenset(screen_share_apps)
        self._base_intel = intel.base
        self._keys_of_rows = Column(np.int64, -1)  # a resident's subject key, by registry row
        self.live = False  # residents' values are computed ahead (:meth:`prepare_residents`)
        self._reset_values()

    def use_registry(self, registry: Registry) -> None:
        """Look rows up in another registry from now on (the per-value cache starts over)."""
        self.registry = registry
        self._keys_of_rows = Column(np.int64, -1)
        self._reset_values()

    def prepare_residents(self) -> None:
        """Compute the attributes of every resident's phone number and account now, in one
        large batch each, and again whenever the cache of them starts over (a new registry) or
        their verdicts do (a new intelligence base): from now on the builder is a live worker's.

        A live worker's small calls meet most values for the first time in a call of a few
        hundred events, where each attribute costs a pass of its own over a few values (in the
        demo's live stream 98 % of the phone numbers and accounts first met were residents';
        their first sight was ~1.5 ms of a 7 ms call). The attributes are the ones a call would
        compute, by the same functions: only the order in which frame keys are interned
        differs, and no answer depends on a key's id.
        """
        self.live = True
        if not self._check_base():
            self._prepare_residents()

    def _prepare_residents(self) -> None:
        registry, phones, accounts = self.registry, self.phones, self.accounts
        ids = phones.ids(registry.phones)
        phones.get("row", ids, self._phone_row, -1)
        phones.get("subject", ids, self._subject(phones, self._phone_row, "phone:"), -1)
        phones.get("cp", ids, self._key("p:"), -1)
        phones.get("flags", ids, self._phone_flags, 0)
        self._intel(phones, "phones", ids)
        ids = accounts.ids(registry.accounts)
        accounts.get("row", ids, self._account_row, -1)
        accounts.get("subject", ids, self._subject(accounts, self._account_row, "account:"), -1)
        accounts.get("cp", ids, self._key("a:"), -1)
        self._intel(accounts, "accounts", ids)

    def take_base(self) -> None:
        """Take the intelligence view's new base now rather than in the next build."""
        self._check_base()

    def _check_base(self) -> bool:
        """Forget every value's verdict when the intelligence base changed (nothing else a
        value has depends on it); True when it did (and a live builder's residents were
        looked up again)."""
        if self.intel.base is self._base_intel:
            return False
        self._base_intel = self.intel.base
        for cache in self._caches():
            cache.forget(_VERDICTS)
        if self.live:
            self._prepare_residents()
        return True

    def _caches(self) -> tuple[PerValue, ...]:
        return (
            self.phones,
            self.accounts,
            self.domains,
            self.urls,
            self.apps,
            self.texts,
            self.holders,
        )

    def _reset_values(self) -> None:
        self.phones = PerValue()
        self.accounts = PerValue()
        self.domains = PerValue()  # lower-case host names
        self.urls = PerValue()
        self.apps = PerValue()  # lower-case app ids
        self.texts = PerValue()
        self.holders = PerValue()  # ID numbers
        if self.live:
            self._prepare_residents()

    # ------------------------------------------------------------------ per type

    def build(self, event_type: str, table: pa.Table) -> Frame:
        """Frame rows of one event type (unsorted); unknown types give no rows."""
        if table.num_rows == 0:
            return empty_frame()
        make = {
            "call": self._calls,
            "sms": self._sms,
            "web_visit": self._visits,
            "app_install": self._installs,
            "transfer": self._transfers,
            "account_opened": self._accounts,
            "sim_activated": self._sims,
            "police_report": self._reports,
        }.get(event_type)
        if make is None:
            return empty_frame()
        self._check_base()
        return make(table)

    def _base(self, ts: I64, kind: K, at: I64 | None, rows: I64, subject: I64) -> dict[str, I64]:
        n = ts.size
        return {
            "at": ts if at is None else at,
            "ts": ts,
            "kind": np.full(n, int(kind), np.int64),
            "subject": subject,
            "person": rows,
            "cp2": np.full(n, -1, np.int64),
            "dur": np.zeros(n, np.int64),
            "amount": np.zeros(n, np.int64),
            "text": np.zeros(n, np.int64),
            "age": self.registry.age_at(rows, ts),
            "intel2": np.full(n, -1, np.int64),
            "intel2_idx": np.full(n, -1, np.int64),
        }

    # ------------------------------------------------------------------ per-value attributes

    def _key(self, prefix: str) -> Compute:
        """Computes the frame key ``prefix + value``."""
        scalar = _scalar(prefix)

        def compute(values: Values, _: I64) -> I64:
            if values.small:
                return self.keys.intern_list([prefix + v for v in values.py])
            return self.keys.intern(pc.binary_join_element_wise(scalar, values.arrow, _EMPTY))

        return compute

    def _subject(self, cache: PerValue, rows: Compute, prefix: str) -> Compute:
        """Computes the subject key: the resident's ID number (the value's ``row`` attribute,
        from ``rows``), else ``prefix + value``. A resident's key is kept by registry row, so
        the resident's other numbers and accounts find it without interning it again."""
        scalar = _scalar(prefix)

        def compute(values: Values, ids: I64) -> I64:
            row = cache.get("row", ids, rows, -1)
            by_row = self._keys_of_rows
            by_row.ensure(self.registry.n)
            out = by_row.take(row, -1)
            need = np.flatnonzero(out < 0)  # outsiders, and residents met for the first time
            if need.size == 0:
                return out
            need_rows = row[need]
            if values.small:
                listed, py = need_rows.tolist(), values.py
                known = iter(self.registry.ids_of([r for r in listed if r >= 0]))
                names = [
                    next(known) if r >= 0 else prefix + py[i]
                    for i, r in zip(need.tolist(), listed, strict=True)
                ]
                got = self.keys.intern_list(names)
            else:
                outside = values.arrow.take(pa.array(need))
                fallback = pc.binary_join_element_wise(scalar, outside, _EMPTY)
                if self.registry.n == 0:
                    got = self.keys.intern(fallback)
                else:
                    ids_of = self.registry.id_number.take(pa.array(np.maximum(need_rows, 0)))
                    got = self.keys.intern(pc.if_else(pa.array(need_rows >= 0), ids_of, fallback))
            out[need] = got
            resident = need_rows >= 0
            by_row.data[need_rows[resident]] = got[resident]
            return out

        return compute

    @staticmethod
    def _rows(cache: PerValue, rows: Compute, a: I64, b: I64) -> tuple[I64, I64]:
        """The registry rows of two columns' values in one look-up (the values of ``a`` first,
        then those of ``b``: the order two look-ups would have met them in)."""
        both = cache.get("row", np.concatenate([a, b]), rows, -1)
        return both[: a.size], both[a.size :]

    def _phone_row(self, values: Values, _: I64) -> I64:
        return self.registry.by_phone(values.py if values.small else values.arrow)

    def _account_row(self, values: Values, _: I64) -> I64:
        return self.registry.by_account(values.py if values.small else values.arrow)

    def _phone_flags(self, values: Values, ids: I64) -> I64:
        resident = self.phones.get("row", ids, self._phone_row, -1) >= 0
        if values.small:
            flags = np.array([phone_flag(v) for v in values.py], np.int64)
        else:
            flags = phone_flags(values.arrow)
        return flags | np.where(resident, F_RESIDENT, 0)

    def _texts(self, texts: Values, _: I64) -> tuple[I64, I64, I64]:
        """Family, flags (link, account number) and the linked host (domain value id)."""
        if texts.small and not any(_FOLDS_TO_ASCII.intersection(t) for t in texts.py if t):
            return self._few_texts(texts.py)
        values = texts.arrow
        hosts = pc.extract_regex(values, _URL_HOST_RE.replace("([", "(?P<h>[", 1))
        host = pc.utf8_lower(pc.struct_field(hosts, [0]))
        has_url = np.asarray(hosts.is_valid().to_numpy(zero_copy_only=False), np.bool_)
        acct = np.asarray(pc.match_substring_regex(values, _ACCOUNT_RE).to_numpy(False), np.bool_)
        flags = np.where(has_url, F_URL, 0) | np.where(acct, F_ACCOUNT_IN_TEXT, 0)
        return classify_texts(values), flags.astype(np.int64), self.domains.ids(host)

    def _few_texts(self, texts: list[str]) -> tuple[I64, I64, I64]:
        """:meth:`_texts` with Python's ``re`` (Arrow compiles each pattern on every call);
        for texts without the two characters RE2's case-insensitive match folds to ASCII
        letters, where the two engines agree."""
        hosts, flags = [], []
        for text in texts:
            found = _URL_HOST_PY.search(text) if text else None
            hosts.append(found.group(1).lower() if found else None)
            account = bool(text) and _ACCOUNT_PY.search(text) is not None
            flags.append((F_URL if found else 0) | (F_ACCOUNT_IN_TEXT if account else 0))
        family = np.array([classify_text(t) for t in texts], np.int64)
        host = self.domains.values.intern_list(hosts)
        return family, np.array(flags, np.int64), host

    def _url_host(self, values: Values, _: I64) -> I64:
        if values.small and all(v.isascii() for v in values.py):
            # Python's regex for a few values (Arrow compiles the pattern on every call); ASCII
            # only, where both engines and both lower-casings agree.
            match = _URL_HOST.match
            hosts = [m.group("h").lower() if (m := match(v)) else None for v in values.py]
            return self.domains.values.intern_list(hosts)
        found = pc.extract_regex(values.arrow, _URL_HOST.pattern)
        return self.domains.ids(pc.utf8_lower(pc.struct_field(found, [0])))

    def _screen(self, values: Values, _: I64) -> I64:
        if values.small:
            apps = self._screen_set
            return np.array([F_SCREEN if v in apps else 0 for v in values.py], np.int64)
        found = pc.is_in(values.arrow, value_set=self.screen_share)
        screen = np.asarray(found.to_numpy(False), bool)
        return np.where(screen, F_SCREEN, 0).astype(np.int64)

    def _intel(self, cache: PerValue, kind: str, ids: I64) -> tuple[I64, I64]:
        """Verdict and indicator of each row's value in the base snapshot (kept per value)."""
        intel = self.intel

        def base(values: Values, _: I64) -> tuple[I64, I64]:
            return intel.lookup(kind, values.arrow)

        verdict, idx = cache.get_all(_VERDICTS, ids, base, (-1, -1))
        return verdict, idx

    # ------------------------------------------------------------------ event types

    def _calls(self, table: pa.Table) -> Frame:
        phones = self.phones
        callee, caller = phones.ids2(_col(table, "callee"), _col(table, "caller"))
        callee_row, caller_row = self._rows(phones, self._phone_row, callee, caller)
        # The subject is the resident on the line: the callee, else a resident caller.
        flip = (callee_row < 0) & (caller_row >= 0)
        subject = np.where(flip, caller, callee)
        other = np.where(flip, callee, caller)
        rows = np.where(flip, caller_row, callee_row)
        dur = _ints(table, "duration_s")
        ts = _seconds(table.column("ts"))
        key = phones.get("subject", subject, self._subject(phones, self._phone_row, "phone:"), -1)
        cols = self._base(ts, K.CALL, ts + dur, rows, key)
        cols["dur"] = dur
        cols["cp"] = phones.get("cp", other, self._key("p:"), -1)
        cols["flags"] = phones.get("flags", other, self._phone_flags, 0)
        cols["intel"], cols["intel_idx"] = self._intel(phones, "phones", other)
        frame = Frame.of(cols, _col(table, "event_id"))
        live = np.flatnonzero(dur > self.call_probe_s)
        if live.size == 0:
            return frame
        probe = frame.take(live)
        probe.kind = np.full(live.size, int(K.CALL_LIVE), np.int64)
        probe.at = probe.ts + self.call_probe_s
        probe.dur = np.full(live.size, self.call_probe_s, np.int64)
        return concat([frame, probe])

    def _sms(self, table: pa.Table) -> Frame:
        phones = self.phones
        recipient, sender = phones.ids2(_col(table, "recipient"), _col(table, "sender"))
        rows, _ = self._rows(phones, self._phone_row, recipient, sender)  # senders' for flags
        key = phones.get("subject", recipient, self._subject(phones, self._phone_row, "phone:"), -1)
        cols = self._base(_seconds(table.column("ts")), K.SMS, None, rows, key)
        cols["cp"] = phones.get("cp", sender, self._key("p:"), -1)
        texts = self.texts.ids(_col(table, "text"))
        family, text_flags, host = self.texts.get_all(
            ("family", "flags", "host"), texts, self._texts, (0, 0, -1)
        )
        cols["flags"] = phones.get("flags", sender, self._phone_flags, 0) | text_flags
        cols["text"] = family
        cols["intel"], cols["intel_idx"] = self._intel(phones, "phones", sender)
        if (host >= 0).any():
            cols["cp2"] = self.domains.get("cp", host, self._key("d:"), -1)
            cols["intel2"], cols["intel2_idx"] = self._intel(self.domains, "hosts", host)
        return Frame.of(cols, _col(table, "event_id"))

    def _visits(self, table: pa.Table) -> Frame:
        phones = self.phones
        who = phones.ids(_col(table, "subscriber"))
        rows = phones.get("row", who, self._phone_row, -1)
        key = phones.get("subject", who, self._subject(phones, self._phone_row, "phone:"), -1)
        cols = self._base(_seconds(table.column("ts")), K.VISIT, None, rows, key)
        urls = self.urls.ids(_col(table, "url"))
        host = self.urls.get("host", urls, self._url_host, -1)
        cols["cp"] = self.domains.get("cp", host, self._key("d:"), -1)
        cols["flags"] = np.zeros(table.num_rows, np.int64)
        cols["intel"], cols["intel_idx"] = self._intel(self.urls, "urls", urls)
        return Frame.of(cols, _col(table, "event_id"))

    def _installs(self, table: pa.Table) -> Frame:
        phones = self.phones
        who = phones.ids(_col(table, "subscriber"))
        rows = phones.get("row", who, self._phone_row, -1)
        key = phones.get("subject", who, self._subject(phones, self._phone_row, "phone:"), -1)
        cols = self._base(_seconds(table.column("ts")), K.INSTALL, None, rows, key)
        apps = self.apps.ids(pc.utf8_lower(_col(table, "app_id")))
        cols["cp"] = self.apps.get("cp", apps, self._key("app:"), -1)
        cols["flags"] = self.apps.get("flags", apps, self._screen, 0)
        cols["intel"], cols["intel_idx"] = self._intel(self.apps, "apps", apps)
        return Frame.of(cols, _col(table, "event_id"))

    def _transfers(self, table: pa.Table) -> Frame:
        accounts = self.accounts
        payer, payee = accounts.ids2(_col(table, "payer_account"), _col(table, "payee_account"))
        payer_row, payee_row = self._rows(accounts, self._account_row, payer, payee)
        subject = self._subject(accounts, self._account_row, "account:")
        amount = _ints(table, "amount_fen")
        ts = _seconds(table.column("ts"))
        event_id = _col(table, "event_id")
        key = accounts.get("subject", payer, subject, -1)
        pay = self._base(ts, K.PAY, None, payer_row, key)
        pay["cp"] = accounts.get("cp", payee, self._key("a:"), -1)
        pay["flags"] = np.where(payee_row >= 0, F_RESIDENT, 0).astype(np.int64)
        pay["amount"] = amount
        pay["intel"], pay["intel_idx"] = self._intel(accounts, "accounts", payee)
        out = Frame.of(pay, event_id)
        # Money into a resident's account from outside (rebates, "salaries" of a task scam).
        inn = np.flatnonzero((payee_row >= 0) & (payer_row < 0))
        if inn.size == 0:
            return out
        key = accounts.get("subject", payee[inn], subject, -1)
        recv = self._base(ts[inn], K.RECEIVE, None, payee_row[inn], key)
        recv["cp"] = accounts.get("cp", payer[inn], self._key("a:"), -1)
        recv["flags"] = np.zeros(inn.size, np.int64)
        recv["amount"] = amount[inn]
        recv["intel"], recv["intel_idx"] = self._intel(accounts, "accounts", payer[inn])
        return concat([out, Frame.of(recv, take_utf8(event_id, inn))])

    # ------------------------------------------------------------------ rare event types

    def _holder_row(self, values: Values, _: I64) -> I64:
        return self.registry.by_id_number(values.py if values.small else values.arrow)

    def _holder(self, table: pa.Table, kind: K) -> dict[str, I64]:
        """Columns of an account opening or SIM activation, about its holder."""
        holders = self.holders
        who = holders.ids(_col(table, "holder_id_number"))
        rows = holders.get("row", who, self._holder_row, -1)
        key = holders.get("subject", who, self._subject(holders, self._holder_row, "id:"), -1)
        cols = self._base(_seconds(table.column("ts")), kind, None, rows, key)
        n = table.num_rows
        cols["flags"] = np.zeros(n, np.int64)
        cols["intel"] = np.full(n, -1, np.int64)
        cols["intel_idx"] = np.full(n, -1, np.int64)
        return cols

    def _accounts(self, table: pa.Table) -> Frame:
        cols = self._holder(table, K.ACCOUNT)
        account = self.accounts.ids(_col(table, "account"))
        cols["cp"] = self.accounts.get("cp", account, self._key("a:"), -1)
        return Frame.of(cols, _col(table, "event_id"))

    def _sims(self, table: pa.Table) -> Frame:
        cols = self._holder(table, K.SIM)
        msisdn = self.phones.ids(_col(table, "msisdn"))
        cols["cp"] = self.phones.get("cp", msisdn, self._key("p:"), -1)
        return Frame.of(cols, _col(table, "event_id"))

    def _reports(self, table: pa.Table) -> Frame:
        phone = _col(table, "reporter_phone")
        by_phone = self.phones.get("row", self.phones.ids(phone), self._phone_row, -1)
        who = self.holders.ids(_col(table, "reporter_id_number"))
        by_id = self.holders.get("row", who, self._holder_row, -1)
        rows = np.where(by_id >= 0, by_id, by_phone)
        # The subject depends on two columns: keys row by row (reports are few).
        if len(phone) <= SMALL:  # in Python (three Arrow calls cost ~0.5 ms in a live call)
            listed = rows.tolist()
            ids = iter(self.registry.ids_of([r for r in listed if r >= 0]))
            names = [
                next(ids) if r >= 0 else None if p is None else "phone:" + p
                for r, p in zip(listed, _utf8(phone).to_pylist(), strict=True)
            ]
            key = self.keys.intern_list(names)
        else:
            if self.registry.n == 0:
                known = pa.nulls(len(phone), pa.string())
            else:
                known = self.registry.id_number.take(pa.array(np.maximum(rows, 0)))
            fallback = pc.binary_join_element_wise(_scalar("phone:"), _utf8(phone), _EMPTY)
            key = self.keys.intern(pc.if_else(pa.array(rows >= 0), known, fallback))
        cols = self._base(_seconds(table.column("ts")), K.REPORT, None, rows, key)
        n = table.num_rows
        cols["cp"] = np.full(n, -1, np.int64)
        cols["flags"] = np.zeros(n, np.int64)
        cols["amount"] = _ints(table, "loss_fen")
        cols["intel"] = np.full(n, -1, np.int64)
        cols["intel_idx"] = np.full(n, -1, np.int64)
        return Frame.of(cols, _col(table, "event_id"))


__all__ = ["Frame", "FrameBuilder", "K", "PerValue", "SmsText"]
