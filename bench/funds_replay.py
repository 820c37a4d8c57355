"""The funds KPIs on a simulator output: ``python bench/funds_replay.py /tmp/sd [ENTRY_DELAY_S]``.

Reads the victims' police reports and payments (read only), replays intake → stop-payment
orders → simulated bank → extended stop-payment in accelerated event time, and prints the
scorecard and the 60-minute rate per fraud type.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from fanzha.funding import ReplayTiming, replay, sim_reports, sim_transfers
from fanzha.funds import kpi
from fanzha.funds.ledger import Ledger
from fanzha.sim.bank import SimulatedBank


def main(root: Path, delay_s: int) -> None:
    """Run and print."""
    began = time.perf_counter()
    reports = sim_reports(root)
    ledger = Ledger.build(sim_transfers(root))
    print(
        f"{len(reports)} reports, {ledger} in {time.perf_counter() - began:.1f} s", file=sys.stderr
    )
    began = time.perf_counter()
    card, funds = replay(reports, ledger, SimulatedBank(ledger), timing=ReplayTiming(delay_s))
    print(f"replayed in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    cases, orders = funds.repo.find_cases(limit=10**9), funds.repo.find_orders(limit=10**9)
    per_type = kpi.by(cases, orders, kpi.fraud_type)
    card["stop_payment_60min_rate_by_fraud_type"] = {
        k: v["stop_payment_60min_rate"] for k, v in per_type.items()
    }
    print(json.dumps(card, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 0)
