"""Money laundering: a victim's payment split and forwarded through mule layers to cash-out.

Each payment is followed on its own (so the truth knows exactly which fen of which victim sits
where), but payments of many victims cross the same accounts at overlapping times, and mules
also carry innocent money — which is why tracing needs a policy. Amounts are integer fen and
conserved exactly: what enters an account either leaves it or is still there at the end.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from fanzha.sim.gangs import Gang, Mule
from fanzha.sim.ids import BANKS
from fanzha.sim.output import EventIds
from fanzha.sim.rng import choice_weighted, lognormal, split_amount
from fanzha.sim.truth import Truth
from fanzha.sim.world import World

Emit = Callable[[str, dict[str, Any]], None]


class Launderer:
    """Emits the laundering transfers of payments that reach a gang's layer-1 mules."""

    def __init__(self, world: World, ids: EventIds, truth: Truth, emit: Emit, end_ts: int) -> None:
        self.world = world
        self.ids = ids
        self.truth = truth
        self.emit = emit
        self.end = end_ts
        self.p = world.params.laundering
        gold = np.flatnonzero(world.inst.merchant_gold)
        self.gold_accounts = world.inst.merchant_account[gold]
        self.gold_names = world.inst.merchant_name[gold]
        self.innocent: dict[str, int] = defaultdict(int)  # innocent fen held per mule account

    def transfer(
        self,
        ts: int,
        payer: str,
        payer_name: str,
        payee: str,
        payee_name: str,
        fen: int,
        channel: str = "mobile",
        remittance: str | None = None,
        bank: str | None = None,
    ) -> str:
        """Emit one transfer and return its event id."""
        event_id = self.ids.one("transfer")
        self.emit(
            "transfer",
            {
                "event_id": event_id,
                "ts": ts,
                "payer_account": payer,
                "payee_account": payee,
                "amount_fen": fen,
                "currency": "CNY",
                "payer_name": payer_name,
                "payee_name": payee_name,
                "payer_bank": bank,
                "channel": channel,
                "remittance": remittance,
            },
        )
        return event_id

    def launder(
        self, rng: np.random.Generator, gang: Gang, root: str, mule: Mule, ts: int, fen: int
    ) -> None:
        """Move ``fen`` that arrived in layer-1 ``mule`` at ``ts`` onwards until cash-out."""
        layers = int(rng.integers(self.p.layers_min, self.p.layers_max + 1))
        queue: list[tuple[int, int, str, str, int, int]] = [
            (ts, 0, mule.account, mule.card.holder, 1, fen)
        ]
        seq = 0
        while queue:
            arrived, _, account, holder, layer, amount = heapq.heappop(queue)
            keep = 0
            if rng.random() < self.p.retain_probability:
                lo, hi = self.p.retain_share
                keep = int(amount * (lo + (hi - lo) * rng.random()))
            for part, delay in ((amount - keep, self._delay(rng)), (keep, self._hold(rng))):
                if part <= 0:
                    continue
                leave = arrived + delay
                if leave >= self.end:
                    continue  # still in this account when the window closes
                if layer >= layers:
                    self._cash_out(rng, gang, root, account, holder, leave, part, layer)
                    continue
                shares = split_amount(rng, part, self._fan_out(rng, part))
                # a few seconds between the splits of one deposit
                gaps = np.cumsum([0] + [int(g) for g in rng.integers(5, 60, len(shares) - 1)])
                if leave + int(gaps[-1]) >= self.end:  # the last split would fall after the window
                    continue
                for share, gap in zip(shares, gaps, strict=True):
                    leave = arrived + delay + int(gap)
                    nxt = self._next_mule(rng, gang, layer + 1, leave)
                    event_id = self.transfer(
                        leave, account, holder, nxt.account, nxt.card.holder, share
                    )
                    self._flow(
                        root, event_id, leave, account, nxt.account, share, layer, "hop", gang
                    )
                    seq += 1
                    heapq.heappush(
                        queue, (leave, seq, nxt.account, nxt.card.holder, layer + 1, share)
                    )

    def _delay(self, rng: np.random.Generator) -> int:
        d = self.p.hop_delay_s
        return max(self.p.min_hop_delay_s, int(lognormal(rng, d.median, d.sigma, 1)[0]))

    def _hold(self, rng: np.random.Generator) -> int:
        h = self.p.retain_hours
        return max(self.p.min_hop_delay_s, int(lognormal(rng, h.median, h.sigma, 1)[0] * 3600))

    def _fan_out(self, rng: np.random.Generator, fen: int) -> int:
        k = int(choice_weighted(rng, np.array(self.p.fan_out_weights), 1)[0]) + 1
        return max(1, min(k, fen // 100))  # never split into parts under a yuan

    def _next_mule(self, rng: np.random.Generator, gang: Gang, layer: int, ts: int) -> Mule:
        pool = gang.mules_at(min(layer, max(gang.layers)), ts)
        return pool[int(rng.integers(len(pool)))]

    def _flow(
        self,
        root: str,
        event_id: str,
        ts: int,
        src: str,
        dst: str,
        fen: int,
        hop: int,
        kind: str,
        gang: Gang,
    ) -> None:
        self.truth.add(
            "flows",
            root_event_id=root,
            event_id=event_id,
            ts=ts * 1_000_000,
            from_account=src,
            to_account=dst,
            amount_fen=fen,
            hop=hop,
            kind=kind,
        )
        self.truth.add(
            "transfer_roles",
            event_id=event_id,
            role="cash_out" if kind.startswith("cash_out") else "laundering",
            gang_id=gang.gang_id,
        )

    def _cash_out(
        self,
        rng: np.random.Generator,
        gang: Gang,
        root: str,
        account: str,
        holder: str,
        ts: int,
        fen: int,
        hop: int,
    ) -> None:
        mix = self.p.cash_out_mix
        kind = list(mix)[int(choice_weighted(rng, np.array(list(mix.values())), 1)[0])]
        if kind == "atm":
            atm = f"ATM{int(rng.integers(len(BANKS))):02d}{int(rng.integers(1000)):04d}"
            cap = self.p.atm_max_yuan * 100
            left = fen
            while left > 0 and ts < self.end:
                take = min(cap, left)
                event_id = self.transfer(ts, account, holder, atm, "ATM取现", take, channel="ATM")
                self._flow(root, event_id, ts, account, atm, take, hop, "cash_out_atm", gang)
                left -= take
                ts += int(rng.integers(60, 240))
            return
        if kind == "merchant_gold":
            k = int(rng.integers(self.gold_accounts.size))
            to, name, channel, note = (
                str(self.gold_accounts[k]),
                str(self.gold_names[k]),
                "POS",
                "购金",
            )
        else:
            to, name = gang.otc[int(rng.integers(len(gang.otc)))]
            channel, note = "mobile", "USDT"
        event_id = self.transfer(
            ts, account, holder, to, name, fen, channel=channel, remittance=note
        )
        self._flow(
            root,
            event_id,
            ts,
            account,
            to,
            fen,
            hop,
            f"cash_out_{'gold' if kind == 'merchant_gold' else 'otc'}",
            gang,
        )

    # ------------------------------------------------------------------ innocent traffic

    def innocent_day(self, rng: np.random.Generator, gang: Gang, day: int) -> None:
        """The farmers' own small transfers in and out of the mule accounts (clean money)."""
        res = self.world.residents
        start = self.world.day_start(day)
        mules = [m for ms in gang.layers.values() for m in ms] + gang.rebate
        for mule in mules:
            for _ in range(int(rng.poisson(self.p.mule_innocent_per_day))):
                ts = start + int(rng.integers(7 * 3600, 22 * 3600))
                if ts < mule.card.opened or ts >= self.end:
                    continue
                who = int(rng.integers(res.n))
                d = self.p.mule_innocent_yuan
                fen = max(100, int(lognormal(rng, d.median, d.sigma, 1)[0] * 100))
                event_id = self.transfer(
                    ts,
                    str(res.accounts[who, 0]),
                    str(res.name[who]),
                    mule.account,
                    mule.card.holder,
                    fen,
                    remittance="转账",
                )
                self.truth.add(
                    "transfer_roles",
                    event_id=event_id,
                    role="mule_innocent_in",
                    gang_id=gang.gang_id,
                )
                self.innocent[mule.account] += fen
                self._spend(rng, gang, mule, ts, fen)

    def _spend(self, rng: np.random.Generator, gang: Gang, mule: Mule, ts: int, fen: int) -> None:
        """Spend part of an innocent deposit later (never more than the innocent money held)."""
        spend = min(int(fen * rng.uniform(0.3, 0.9)), self.innocent[mule.account])
        when = ts + int(rng.integers(1, 10) * 3600)
        if spend <= 0 or when >= self.end:
            return
        inst = self.world.inst
        k = int(rng.integers(inst.merchant_account.size))
        event_id = self.transfer(
            when,
            mule.account,
            mule.card.holder,
            str(inst.merchant_account[k]),
            str(inst.merchant_name[k]),
            spend,
            channel="POS",
        )
        self.truth.add(
            "transfer_roles", event_id=event_id, role="mule_innocent_out", gang_id=gang.gang_id
        )
        self.innocent[mule.account] -= spend
