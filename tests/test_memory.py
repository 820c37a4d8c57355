"""The process memory policy: NumPy's huge pages off unless asked for."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from typer.testing import CliRunner

from fanzha import memory
from fanzha.cli.main import app


@pytest.fixture
def switch() -> Iterator[Callable[[bool], bool]]:
    """NumPy's hugepage switch, put back as it was after the test."""
    flip = memory._switch()
    assert flip is not None, "this NumPy has no hugepage switch"
    before = flip(True)
    flip(before)
    yield flip
    flip(before)


def _now(flip: Callable[[bool], bool]) -> bool:
    state = flip(True)
    flip(state)
    return state


@pytest.mark.parametrize(
    ("env", "wanted"),
    [
        ({}, False),
        ({"FANZHA_HUGEPAGES": "1"}, True),
        ({"FANZHA_HUGEPAGES": " Yes "}, True),
        ({"FANZHA_HUGEPAGES": "0"}, False),
        ({"NUMPY_MADVISE_HUGEPAGE": "1"}, None),
        ({"NUMPY_MADVISE_HUGEPAGE": "0", "FANZHA_HUGEPAGES": "1"}, None),
    ],
)
def test_wants_hugepages(env: dict[str, str], wanted: bool | None) -> None:
    assert memory.wants_hugepages(env) is wanted


def test_policy_sets_numpy(switch: Callable[[bool], bool]) -> None:
    switch(True)
    assert memory.use_process_policy({}) is False
    assert _now(switch) is False
    assert memory.use_process_policy({"FANZHA_HUGEPAGES": "1"}) is True
    assert _now(switch) is True


def test_numpy_own_switch_is_obeyed(switch: Callable[[bool], bool]) -> None:
    switch(True)
    assert memory.use_process_policy({"NUMPY_MADVISE_HUGEPAGE": "1"}) is None
    assert _now(switch) is True


def test_every_command_applies_it(
    switch: Callable[[bool], bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    monkeypatch.delenv("FANZHA_HUGEPAGES", raising=False)
    switch(True)
    result = CliRunner().invoke(app, ["docs", "--help"])
    assert result.exit_code == 0, result.output
    assert _now(switch) is False
