"""The hash chain: sealing, verifying, and finding the first tampered entry."""

from __future__ import annotations

import datetime as dt

from fanzha.auth.audit import GENESIS, AuditEntry, AuditEvent, MemoryAuditLog, seal, verify

from .builders import START


def event(i: int, **changes: object) -> AuditEvent:
    data: dict[str, object] = {
        "at": START + dt.timedelta(seconds=i, microseconds=7),
        "actor": "user:li",
        "action": "pii.reveal",
        "object_type": "instruction",
        "object_id": f"INS{i}",
        "reason": "回访核实",
        "details": {"field": "phone", "n": i, "中文": ["a", 1.5]},
    }
    data.update(changes)
    return AuditEvent.model_validate(data)


def chain(n: int) -> list[AuditEntry]:
    log = MemoryAuditLog()
    for i in range(n):
        log.append(event(i))
    return list(log.entries())


def test_entries_link_to_their_predecessor() -> None:
    entries = chain(3)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS
    assert entries[1].prev_hash == entries[0].hash and entries[2].prev_hash == entries[1].hash
    result = verify(entries)
    assert result.ok and result.checked == 3 and result.head == entries[-1].hash
    assert verify([]).ok and verify([]).head == GENESIS


def test_sealing_normalises_time_zones() -> None:
    shanghai = dt.timezone(dt.timedelta(hours=8))
    a = seal(event(0), None)
    b = seal(event(0, at=(START + dt.timedelta(microseconds=7)).astimezone(shanghai)), None)
    assert a.hash == b.hash and b.at.tzinfo == dt.UTC


def test_an_edited_entry_is_found() -> None:
    entries = chain(4)
    entries[2] = entries[2].model_copy(update={"reason": "无"})
    broken = verify(entries).broken
    assert broken is not None and broken.seq == 3 and "edited" in broken.reason
    assert verify(entries).checked == 2


def test_a_rehashed_edit_breaks_the_next_link() -> None:
    entries = chain(4)
    forged = seal(event(1, reason="无"), entries[0])
    entries[1] = forged
    broken = verify(entries).broken
    assert broken is not None and broken.seq == 3 and "prev_hash" in broken.reason


def test_deleted_and_reordered_entries_are_found() -> None:
    entries = chain(4)
    gone = verify([entries[0], entries[2], entries[3]]).broken
    assert gone is not None and gone.seq == 3 and "entry 2 is missing" in gone.reason
    swapped = verify([entries[1], entries[0]]).broken
    assert swapped is not None and swapped.seq == 2
    assert swapped.to_json()["entry"]["seq"] == 2


def test_latest_filters() -> None:
    log = MemoryAuditLog()
    log.append(event(0))
    log.append(event(1, actor="user:wang", action="user.add"))
    assert [e.seq for e in log.latest()] == [2, 1]
    assert [e.seq for e in log.latest(actor="user:li")] == [1]
    assert [e.seq for e in log.latest(action="user.add")] == [2]
    assert log.head() is not None and [e.seq for e in log.entries(after=1)] == [2]
