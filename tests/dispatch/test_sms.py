"""Warning SMS: templates by level and fraud type, the outbox's statuses, the file outbox
(atomic appends from several processes, bad lines located), and the Dispatcher sending them."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from pathlib import Path

import pytest

from fanzha.dispatch.instruction import State
from fanzha.dispatch.levels import Channel, RiskLevel
from fanzha.dispatch.repo import MemoryInstructionRepo
from fanzha.dispatch.routing import Router
from fanzha.dispatch.sms import (
    TEMPLATES,
    MemoryOutbox,
    SmsMessage,
    SmsStatus,
    SmsStatusError,
    render,
    template_id,
)
from fanzha.dispatching import Dispatcher, JurisdictionError, NoSmsGatewayError, Registry
from fanzha.model.clock import ManualClock
from fanzha.model.enums import FraudType
from fanzha.outbox import FileOutbox

from .builders import CITY, NANPING_GRID, tree

T0 = dt.datetime(2024, 5, 9, 8, 0, tzinfo=dt.UTC)
RESIDENT = "500101198610030001"
PHONE = "+8617336543212"


def message(seq: int = 0, at: dt.datetime = T0) -> SmsMessage:
    return SmsMessage.compose("I1", PHONE, RiskLevel.HIGH, FraudType.ORDER_BRUSHING, at, seq)


def test_templates_fit_the_level_and_the_scam() -> None:
    urgent = render(template_id(RiskLevel.CRITICAL, FraudType.IMPERSONATING_AUTHORITIES))
    assert urgent.startswith("【12381紧急预警】") and "安全账户" in urgent and "96110" in urgent
    low = render(template_id(RiskLevel.LOW, None))
    assert low.startswith("【12381预警】") and "安全账户" not in low
    assert len(TEMPLATES) == 2 * len(FraudType)
    assert all(len(text) <= 120 for text in TEMPLATES.values())  # two SMS parts at most
    with pytest.raises(ValueError, match="no fraud type"):
        render("12381-urgent-lottery")
    with pytest.raises(ValueError, match="unknown SMS template"):
        render("hello")


def test_a_message_moves_to_a_final_status_and_stays_there() -> None:
    box = MemoryOutbox()
    sent = box.send(message())
    assert sent.status is SmsStatus.QUEUED and box.send(message()) == sent  # idempotent
    box.update(sent.message_id, SmsStatus.SENT, T0)
    done = box.update(sent.message_id, SmsStatus.DELIVERED, T0 + dt.timedelta(seconds=4))
    assert done.status is SmsStatus.DELIVERED and done.status_at > T0
    with pytest.raises(SmsStatusError, match="delivered"):
        box.update(sent.message_id, SmsStatus.FAILED, T0)
    assert message(0).message_id != message(1).message_id
    assert SmsStatus.FAILED.label_zh == "发送失败"


def test_the_file_outbox_keeps_messages_and_statuses(tmp_path: Path) -> None:
    path = tmp_path / "outbox" / "sms.jsonl"
    box = FileOutbox(path)
    first = box.send(message(0))
    box.send(message(1))
    box.send(message(0))  # already there: not written again
    box.update(first.message_id, SmsStatus.DELIVERED, T0 + dt.timedelta(seconds=3))
    assert len(path.read_text("utf-8").splitlines()) == 3
    again = FileOutbox(path).messages()  # a fresh reader folds the same log
    assert [m.status for m in again] == [SmsStatus.DELIVERED, SmsStatus.QUEUED]
    with pytest.raises(KeyError):
        box.update("M-none", SmsStatus.SENT, T0)


def test_bad_lines_are_reported_with_their_number_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "sms.jsonl"
    box = FileOutbox(path)
    box.send(message(0))
    with path.open("ab") as fh:
        fh.write(b'{"message": {"message_id": "x"}}\n')  # fields missing
        fh.write(b"not json\n")
        fh.write(b'{"status": {"message_id": "nobody", "status": "sent", "at": "x"}}\n')
    box.send(message(1))
    with path.open("ab") as fh:
        fh.write(b'{"message": {"mess')  # a crash mid-write
    contents = FileOutbox(path).read()
    assert len(contents.messages) == 2
    found = [(p.line, p.reason.split(":")[0].split(" (")[0]) for p in contents.problems]
    assert found == [(2, "message"), (3, "not JSON"), (4, "status"), (6, "torn last line")]


def _writer(path: str, start: int) -> None:
    box = FileOutbox(Path(path))
    for k in range(start, start + 50):
        box.send(message(k))


def test_appends_from_several_processes_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "sms.jsonl"
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_writer, args=(str(path), 1000 * w)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    contents = FileOutbox(path).read()
    assert not contents.problems and len(contents.messages) == 200


def dispatcher(sms: MemoryOutbox | None) -> tuple[Dispatcher, ManualClock, MemoryInstructionRepo]:
    clock, repo = ManualClock(T0), MemoryInstructionRepo()
    return Dispatcher(repo, Router(tree()), clock, sms=sms), clock, repo


def row(level: int, **kw: object) -> dict[str, object]:
    base = {"warning_id": "W1", "subject": RESIDENT, "id_number": RESIDENT, "phone": PHONE}
    return {**base, "level": level, **kw}


REGISTRY = Registry({RESIDENT: NANPING_GRID})


def test_a_low_warning_is_texted_and_closed_by_the_platform() -> None:
    box = MemoryOutbox()
    svc, _, repo = dispatcher(box)
    svc.dispatch_rows([row(1, fraud_type="刷单返利")], REGISTRY)
    ins = repo.by_warning("W1")
    assert ins is not None and ins.unit == CITY and ins.state is State.CLOSED
    assert [h.action.value for h in ins.history] == [
        "issue",
        "sign",
        "contact",
        "outcome",
        "close",
    ]
    assert ins.attempts[0].attempt.channel is Channel.SMS
    (sent,) = box.messages()
    assert sent.phone == PHONE and sent.template == "12381-general-order_brushing"
    assert ins.outcome is not None and ins.outcome.sms_template == sent.template
    assert ins.first_contact_at == T0 <= ins.deadlines.contact_by  # within the 10 minutes


def test_a_higher_warning_is_left_to_the_officers() -> None:
    box = MemoryOutbox()
    svc, _, repo = dispatcher(box)
    svc.dispatch_rows([row(3)], REGISTRY)
    ins = repo.by_warning("W1")
    assert ins is not None and ins.state is State.ISSUED and not box.messages()


def test_an_officer_texts_a_person_within_jurisdiction_only() -> None:
    box = MemoryOutbox()
    svc, clock, repo = dispatcher(box)
    svc.dispatch_rows([row(3)], REGISTRY)
    ins = repo.by_warning("W1")
    assert ins is not None
    svc.sign(ins.instruction_id, "li")
    clock.advance(60)
    done, sent = svc.send_sms(ins.instruction_id, "li")
    assert sent.template.startswith("12381-urgent-") and done.state is State.CONTACTING
    with pytest.raises(JurisdictionError):
        svc.send_sms(ins.instruction_id, "zhao")  # 胜利派出所 is in another district
    svc_without, _, repo2 = dispatcher(None)
    svc_without.dispatch_rows([row(1)], REGISTRY)
    low = repo2.by_warning("W1")
    assert low is not None and low.state is State.ISSUED  # no gateway: nothing sent
    with pytest.raises(NoSmsGatewayError):
        svc_without.send_sms(low.instruction_id, "duty")
