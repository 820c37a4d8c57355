"""The rule registry: one explicit list. A duplicate id fails at import.

Adding a rule touches its module, its test and one line here.
"""

from __future__ import annotations

from fanzha.detect.rules import internet, money, telecom
from fanzha.detect.rules.base import Rule, RuleConfig, Target

RULES: tuple[Rule, ...] = (
    telecom.call_flagged_number,
    telecom.call_long_flagged,
    telecom.call_live_risky,
    telecom.call_long_virtual,
    telecom.call_long_international,
    telecom.call_long_fixed_line,
    telecom.call_repeated_risky,
    telecom.call_new_sim,
    telecom.sms_flagged_sender,
    telecom.sms_flagged_link,
    telecom.sms_link_from_person,
    telecom.sms_fraud_script,
    telecom.sms_new_number_claim,
    telecom.sms_transfer_request,
    telecom.sms_fresh_link,
    telecom.number_new_sim_burst,
    internet.visit_flagged_site,
    internet.visit_fresh_domain,
    internet.visit_link_from_text,
    internet.visit_after_contact,
    internet.install_flagged_app,
    internet.install_rare_app,
    internet.install_screen_share_after_contact,
    internet.install_app_after_contact,
    money.transfer_to_flagged_account,
    money.transfer_to_suspicious_account,
    money.transfer_new_payee_after_contact,
    money.transfer_unusually_large,
    money.transfer_to_new_account,
    money.transfer_escalating,
    money.transfer_after_rebate,
    money.receive_from_flagged_account,
    money.account_mule_many_payers,
    money.vulnerable_person_contacted,
)


def _check_unique(rules: tuple[Rule, ...]) -> dict[str, Rule]:
    by_id: dict[str, Rule] = {}
    for r in rules:
        if r.id in by_id:
            raise ValueError(f"duplicate rule id {r.id!r}")
        by_id[r.id] = r
    return by_id


BY_ID = _check_unique(RULES)

__all__ = ["BY_ID", "RULES", "Rule", "RuleConfig", "Target"]
