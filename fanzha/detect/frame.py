"""One columnar frame for every event type: who the event is about (subject), who or what is on
the other side (counterparty), when the fact became known (``at``), and the attributes rules read.

A call record is known when the call ends (``at = ts + duration``); a call that lasts longer
than the probe time also yields a *live* row at ``ts + probe`` — what the operator's signalling
shows while the call is still going on (the "phone busy for an hour" case). Rows are sorted by
``at``; every rule sees exactly the facts known at that moment.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fanzha.detect.intel_view import IntelView
from fanzha.detect.kernels import I64, Interner
from fanzha.detect.registry import Registry
from fanzha.detect.text import SmsText, classify_texts


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
        out = Frame.of(cols, self.event_id.take(pa.array(idx, pa.int64())))
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
    arr = ts.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    return np.asarray(arr.to_numpy(), np.int64) // 1_000_000


def _col(table: pa.Table, name: str) -> pa.Array:
    if name not in table.column_names:
        return pa.nulls(table.num_rows, pa.string())
    col = table.column(name)
    return col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)


def _ints(table: pa.Table, name: str) -> I64:
    if name not in table.column_names:
        return np.zeros(table.num_rows, np.int64)
    return np.asarray(_col(table, name).fill_null(0).to_numpy(zero_copy_only=False), np.int64)


def phone_flags(phones: pa.Array) -> I64:
    """Counterparty class bits of normalised phone numbers."""
    n = len(phones)
    out = np.zeros(n, np.int64)
    if n == 0:
        return out
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


_URL_HOST_RE = r"(?i)(?:https?://|www\.)([a-z0-9\-\.]+\.[a-z]{2,})"
_ACCOUNT_RE = r"(?:^|[^0-9])[0-9]{12,19}(?:[^0-9]|$)"


_SCALARS: dict[str, pa.Scalar] = {}


def _scalar(text: str) -> pa.Scalar:
    """Arrow string scalars made once: converting a Python value per call is slow in pyarrow."""
    found = _SCALARS.get(text)
    if found is None:
        found = _SCALARS[text] = pa.scalar(text, pa.string())
    return found


_EMPTY = _scalar("")


class FrameBuilder:
    """Turns each event type's Arrow table into frame rows; holds the key interner."""

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
        return make(table) if make else empty_frame()

    def _base(
        self,
        table: pa.Table,
        kind: K,
        at: I64,
        subject_rows: I64,
        subject_raw: pa.Array,
        subject_prefix: str,
    ) -> dict[str, np.ndarray]:
        n = table.num_rows
        ts = _seconds(table.column("ts"))
        subject = self._subjects(subject_rows, subject_raw, subject_prefix)
        return {
            "at": at if at.size else ts,
            "ts": ts,
            "kind": np.full(n, int(kind), np.int64),
            "subject": subject,
            "person": subject_rows,
            "cp2": np.full(n, -1, np.int64),
            "dur": np.zeros(n, np.int64),
            "amount": np.zeros(n, np.int64),
            "text": np.zeros(n, np.int64),
            "age": self.registry.age_at(subject_rows, ts),
            "intel2": np.full(n, -1, np.int64),
            "intel2_idx": np.full(n, -1, np.int64),
        }

    def _subjects(self, rows: I64, raw: pa.Array, prefix: str) -> I64:
        """Subject keys: the resident's ID number, else the raw value with a prefix."""
        ids = self.registry.id_number.take(pa.array(np.maximum(rows, 0)))
        if self.registry.n == 0:
            ids = pa.nulls(len(raw), pa.string())
        fallback = pc.binary_join_element_wise(_scalar(prefix), raw.cast(pa.string()), _EMPTY)
        keys = pc.if_else(pa.array(rows >= 0), ids, fallback)
        return self.keys.intern(keys)

    def _cp(self, raw: pa.Array, prefix: str) -> I64:
        keys = pc.binary_join_element_wise(_scalar(prefix), raw.cast(pa.string()), _EMPTY)
        return self.keys.intern(keys)

    def _calls(self, table: pa.Table) -> Frame:
        caller, callee = _col(table, "caller"), _col(table, "callee")
        callee_row = self.registry.by_phone(callee)
        caller_row = self.registry.by_phone(caller)
        # The subject is the resident on the line: the callee, else a resident caller.
        flip = (callee_row < 0) & (caller_row >= 0)
        fl = pa.array(flip)
        subject_phone = pc.if_else(fl, caller, callee)
        other = pc.if_else(fl, callee, caller)
        rows = np.where(flip, caller_row, callee_row)
        other_row = np.where(flip, callee_row, caller_row)
        dur = _ints(table, "duration_s")
        ts = _seconds(table.column("ts"))
        cols = self._base(table, K.CALL, ts + dur, rows, subject_phone, "phone:")
        cols["dur"] = dur
        cols["cp"] = self._cp(other, "p:")
        cols["flags"] = phone_flags(other) | np.where(other_row >= 0, F_RESIDENT, 0)
        m = self.intel.phones(other)
        cols["intel"], cols["intel_idx"] = m[0], m[1]
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
        sender, recipient = _col(table, "sender"), _col(table, "recipient")
        rows = self.registry.by_phone(recipient)
        cols = self._base(table, K.SMS, np.empty(0, np.int64), rows, recipient, "phone:")
        cols["cp"] = self._cp(sender, "p:")
        flags = phone_flags(sender) | np.where(self.registry.by_phone(sender) >= 0, F_RESIDENT, 0)
        text = _col(table, "text").fill_null("")
        hosts = pc.extract_regex(text, _URL_HOST_RE.replace("([", "(?P<h>[", 1))
        host = pc.utf8_lower(pc.struct_field(hosts, [0]))
        has_url = np.asarray(hosts.is_valid().to_numpy(zero_copy_only=False), np.bool_)
        flags |= np.where(has_url, F_URL, 0)
        acct = np.asarray(pc.match_substring_regex(text, _ACCOUNT_RE).to_numpy(False), np.bool_)
        flags |= np.where(acct, F_ACCOUNT_IN_TEXT, 0)
        cols["flags"] = flags
        cols["text"] = classify_texts(text)
        m = self.intel.phones(sender)
        cols["intel"], cols["intel_idx"] = m[0], m[1]
        if has_url.any():
            cp2 = self._cp(host, "d:")
            cols["cp2"] = np.where(has_url, cp2, -1)
            m2 = self.intel.hosts(host)
            cols["intel2"] = np.where(has_url, m2[0], -1)
            cols["intel2_idx"] = np.where(has_url, m2[1], -1)
        return Frame.of(cols, _col(table, "event_id"))

    def _visits(self, table: pa.Table) -> Frame:
        who, url = _col(table, "subscriber"), _col(table, "url")
        rows = self.registry.by_phone(who)
        cols = self._base(table, K.VISIT, np.empty(0, np.int64), rows, who, "phone:")
        host = pc.utf8_lower(
            pc.struct_field(
                pc.extract_regex(
                    url.fill_null(""), r"(?i)^(?:[a-z]+://)?(?:[^@/]*@)?(?P<h>[^/:?#]+)"
                ),
                [0],
            )
        )
        cols["cp"] = self._cp(host, "d:")
        cols["flags"] = np.zeros(table.num_rows, np.int64)
        m = self.intel.urls(url)
        cols["intel"], cols["intel_idx"] = m[0], m[1]
        return Frame.of(cols, _col(table, "event_id"))

    def _installs(self, table: pa.Table) -> Frame:
        who, app = _col(table, "subscriber"), pc.utf8_lower(_col(table, "app_id"))
        rows = self.registry.by_phone(who)
        cols = self._base(table, K.INSTALL, np.empty(0, np.int64), rows, who, "phone:")
        cols["cp"] = self._cp(app, "app:")
        screen = np.asarray(pc.is_in(app, value_set=self.screen_share).to_numpy(False), np.bool_)
        cols["flags"] = np.where(screen, F_SCREEN, 0).astype(np.int64)
        m = self.intel.apps(app)
        cols["intel"], cols["intel_idx"] = m[0], m[1]
        return Frame.of(cols, _col(table, "event_id"))

    def _transfers(self, table: pa.Table) -> Frame:
        payer, payee = _col(table, "payer_account"), _col(table, "payee_account")
        payer_row, payee_row = self.registry.by_account(payer), self.registry.by_account(payee)
        amount = _ints(table, "amount_fen")
        pay = self._base(table, K.PAY, np.empty(0, np.int64), payer_row, payer, "account:")
        pay["cp"] = self._cp(payee, "a:")
        pay["flags"] = np.where(payee_row >= 0, F_RESIDENT, 0).astype(np.int64)
        pay["amount"] = amount
        m = self.intel.accounts(payee)
        pay["intel"], pay["intel_idx"] = m[0], m[1]
        out = Frame.of(pay, _col(table, "event_id"))
        # Money into a resident's account from outside (rebates, "salaries" of a task scam).
        inn = np.flatnonzero((payee_row >= 0) & (payer_row < 0))
        if inn.size == 0:
            return out
        sub = table.take(pa.array(inn))
        recv = self._base(
            sub,
            K.RECEIVE,
            np.empty(0, np.int64),
            payee_row[inn],
            _col(sub, "payee_account"),
            "account:",
        )
        recv["cp"] = self._cp(_col(sub, "payer_account"), "a:")
        recv["flags"] = np.zeros(inn.size, np.int64)
        recv["amount"] = amount[inn]
        m2 = self.intel.accounts(_col(sub, "payer_account"))
        recv["intel"], recv["intel_idx"] = m2[0], m2[1]
        return concat([out, Frame.of(recv, _col(sub, "event_id"))])

    def _holder_rows(self, table: pa.Table) -> tuple[I64, pa.Array]:
        holder = _col(table, "holder_id_number")
        return self.registry.by_id_number(holder), holder

    def _accounts(self, table: pa.Table) -> Frame:
        rows, holder = self._holder_rows(table)
        cols = self._base(table, K.ACCOUNT, np.empty(0, np.int64), rows, holder, "id:")
        cols["cp"] = self._cp(_col(table, "account"), "a:")
        cols["flags"] = np.zeros(table.num_rows, np.int64)
        cols["intel"] = np.full(table.num_rows, -1, np.int64)
        cols["intel_idx"] = np.full(table.num_rows, -1, np.int64)
        return Frame.of(cols, _col(table, "event_id"))

    def _sims(self, table: pa.Table) -> Frame:
        rows, holder = self._holder_rows(table)
        cols = self._base(table, K.SIM, np.empty(0, np.int64), rows, holder, "id:")
        cols["cp"] = self._cp(_col(table, "msisdn"), "p:")
        cols["flags"] = np.zeros(table.num_rows, np.int64)
        cols["intel"] = np.full(table.num_rows, -1, np.int64)
        cols["intel_idx"] = np.full(table.num_rows, -1, np.int64)
        return Frame.of(cols, _col(table, "event_id"))

    def _reports(self, table: pa.Table) -> Frame:
        phone = _col(table, "reporter_phone")
        rows = self.registry.by_phone(phone)
        by_id = self.registry.by_id_number(_col(table, "reporter_id_number"))
        rows = np.where(by_id >= 0, by_id, rows)
        cols = self._base(table, K.REPORT, np.empty(0, np.int64), rows, phone, "phone:")
        cols["cp"] = np.full(table.num_rows, -1, np.int64)
        cols["flags"] = np.zeros(table.num_rows, np.int64)
        cols["amount"] = _ints(table, "loss_fen")
        cols["intel"] = np.full(table.num_rows, -1, np.int64)
        cols["intel_idx"] = np.full(table.num_rows, -1, np.int64)
        return Frame.of(cols, _col(table, "event_id"))


__all__ = ["Frame", "FrameBuilder", "K", "SmsText"]
