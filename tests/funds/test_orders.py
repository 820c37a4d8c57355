"""The order state machine: transitions, refusals, history, and a bank's duplicate or late
answers (hypothesis over random answer sequences)."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.funds.orders import (
    TRANSITIONS,
    BankAnswer,
    Order,
    OrderKind,
    OrderPolicy,
    OrderRefused,
    OrderState,
    order_id,
)

T0 = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)
POLICY = OrderPolicy()


def sent(amount: int = 10_000) -> Order:
    order = Order.draft("C-1", "S1", "6222021234567890128", "工商银行", OrderKind.STOP_PAYMENT,
                        amount, "user:li", T0, "报案紧急止付")  # fmt: skip
    order.send("user:li", T0 + MIN)
    return order


def answer(held: int, n: int = 1, at: dt.datetime = T0 + 5 * MIN) -> BankAnswer:
    return BankAnswer(answer_id=f"A{n}", held_fen=held, at=at)


def test_the_id_is_the_idempotency_key() -> None:
    a = order_id("C-1", "622", OrderKind.STOP_PAYMENT)
    assert a == order_id("C-1", "622", OrderKind.STOP_PAYMENT)
    assert a != order_id("C-1", "622", OrderKind.FREEZE) != order_id("C-2", "622", OrderKind.FREEZE)


@pytest.mark.parametrize(
    ("held", "state"),
    [(10_000, OrderState.EXECUTED), (20_000, OrderState.EXECUTED),
     (4_000, OrderState.PARTIAL), (0, OrderState.FAILED)],
)  # fmt: skip
def test_the_answer_decides_the_state(held: int, state: OrderState) -> None:
    order = sent()
    assert order.answer(answer(held), T0 + 6 * MIN, POLICY)
    assert order.state is state
    assert order.held_fen == min(held, 10_000)
    if held:
        assert order.answered_at is not None
        assert order.expires_at == order.answered_at + dt.timedelta(hours=48)


def test_duplicate_and_late_answers_change_nothing() -> None:
    order = sent()
    order.answer(answer(4_000), T0 + 6 * MIN, POLICY)
    before = order.model_copy(deep=True)
    assert not order.answer(answer(4_000), T0 + 7 * MIN, POLICY)  # the same answer again
    assert order == before
    assert not order.answer(answer(10_000, n=2), T0 + 8 * MIN, POLICY)  # a late, other one
    assert (order.state, order.held_fen) == (OrderState.PARTIAL, 4_000)
    assert order.history[-1].action == "ignored"


def test_refusals_change_nothing() -> None:
    order = sent()
    with pytest.raises(OrderRefused):
        order.send("user:li", T0)
    with pytest.raises(OrderRefused, match="reason"):
        order.release("user:li", T0, "")
    order.answer(answer(10_000), T0, POLICY)
    with pytest.raises(OrderRefused):
        order.release("user:li", T0, "申诉", 10_001)
    assert order.held_fen == 10_000


def test_release_return_and_expiry() -> None:
    order = sent()
    order.answer(answer(10_000), T0 + 5 * MIN, POLICY)
    order.release("user:li", T0 + 10 * MIN, "申诉成立 部分解除", 3_000)
    order.pay_back("user:li", T0 + 11 * MIN, 2_000, "返还")
    assert (order.state, order.held_fen) == (OrderState.EXECUTED, 5_000)
    assert not order.expire(T0 + 47 * 60 * MIN)
    assert order.expire(T0 + 49 * 60 * MIN)
    assert order.state is OrderState.EXPIRED
    assert [e.action for e in order.history] == [
        "draft", "send", "answer", "release", "return", "expire"
    ]  # fmt: skip


Step = st.one_of(
    st.tuples(st.just("answer"), st.integers(0, 4), st.integers(0, 30_000), st.integers(-60, 600)),
    st.tuples(st.just("release"), st.integers(0, 4), st.integers(0, 30_000), st.integers(0, 600)),
    st.tuples(st.just("expire"), st.integers(0, 4), st.integers(0, 0), st.integers(0, 5000)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(Step, max_size=25))
def test_random_answer_sequences_never_corrupt_state(
    steps: list[tuple[str, int, int, int]],
) -> None:
    order = sent()
    first: BankAnswer | None = None
    for action, n, fen, minutes in steps:
        before = order.state
        at = T0 + minutes * MIN
        if action == "answer":
            given_answer = answer(fen, n, at)
            changed = order.answer(given_answer, at, POLICY)
            if changed:
                assert before is OrderState.SENT and first is None
                first = given_answer
        elif action == "release":
            with contextlib.suppress(OrderRefused):
                order.release("user:li", at, "申诉", fen or None)
        else:
            order.expire(at)
        assert order.state is before or order.state in TRANSITIONS[before]
        assert 0 <= order.held_fen <= order.amount_fen
        assert order.held_fen + order.released_fen <= order.amount_fen
        assert all(a.at <= b.at for a, b in zip(order.history, order.history[1:], strict=False))
    if first is not None:  # the first answer alone decided what was held
        assert order.held_fen + order.released_fen == min(first.held_fen, order.amount_fen)
