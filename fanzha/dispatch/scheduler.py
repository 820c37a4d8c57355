"""The escalation scheduler: which open instructions are overdue at a moment, and where they go.

A pure function over instructions, the tree and the time: an instruction that missed the
deadline its state works towards (sign, first contact, outcome) goes up one tier — a station's
to its district centre, a district's to the city centre — with fresh deadlines under the new
unit's policy. At the city there is nowhere further: it stays overdue (and is reported so).
The service reads the due instructions from the repository on the platform clock, applies the
plan and saves; a restart loses nothing since the deadlines are stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from fanzha.dispatch.instruction import Breach, Instruction
from fanzha.dispatch.org import OrgTree

SCHEDULER = "system:scheduler"


@dataclass(frozen=True, slots=True)
class Escalation:
    """One overdue instruction and where it goes (``to_unit`` None: nowhere higher)."""

    instruction_id: str
    breach: Breach
    due: dt.datetime
    from_unit: str
    to_unit: str | None


def plan_escalations(
    instructions: Iterable[Instruction], tree: OrgTree, now: dt.datetime
) -> list[Escalation]:
    """The escalations due at ``now``, earliest deadline first."""
    plan = []
    for ins in instructions:
        breach = ins.breach(now)
        due = ins.next_due()
        if breach is None or due is None:
            continue
        plan.append(Escalation(ins.instruction_id, breach, due, ins.unit, _target(tree, ins.unit)))
    return sorted(plan, key=lambda e: (e.due, e.instruction_id))


def _target(tree: OrgTree, unit: str) -> str | None:
    """The unit above ``unit`` that takes escalations; a unit the tree no longer knows goes
    to the city centre (an instruction must never be stranded)."""
    if unit not in tree:
        roots = tree.roots()
        return roots[0].code if roots else None
    up = tree.escalation_target(unit)
    return None if up is None else up.code


def apply_escalation(
    ins: Instruction, step: Escalation, tree: OrgTree, now: dt.datetime, actor: str = SCHEDULER
) -> bool:
    """Escalate ``ins`` as planned; False when there is nowhere higher to send it."""
    if step.to_unit is None or step.instruction_id != ins.instruction_id:
        return False
    policy = tree.policy(step.to_unit, ins.level)
    ins.escalate(actor, step.to_unit, policy, now, step.breach)
    return True
