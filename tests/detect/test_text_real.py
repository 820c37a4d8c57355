"""The SMS keyword families against real fraud texts: ``../shared/data/fraud_texts_5`` (11,773
Chinese SMS-style texts: normal, and 1,000 each of four fraud types) beside the repository.

Without the data the test is skipped, except under ``CI=true`` where that is a failure. The
families are a first filter that rules combine with who sent the message, so the bar is a
floor, not a classifier's: few normal texts flagged, most fraud texts in some family.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pv
import pytest

from fanzha.detect.frame import _FOLDS_TO_ASCII, FrameBuilder, Values
from fanzha.detect.intel_view import IntelView
from fanzha.detect.registry import Registry
from fanzha.detect.text import SmsText, classify_text, classify_texts

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fraud_texts_5"
FILES = {
    "label00-last.csv": None,  # normal text
    "label01-last.csv": SmsText.AUTHORITIES,
    "label02-last.csv": SmsText.LOAN,
    "label03-last.csv": SmsText.CUSTOMER_SERVICE,
    "label04-last.utf8.csv": SmsText.TRANSFER_REQUEST,  # leaders / acquaintances asking for money
}


def _texts(name: str) -> pa.Array:
    path = DATA / name
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing under CI")
        pytest.skip(f"{path} not present")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("gb18030")
    table = pv.read_csv(pa.BufferReader(text.encode()))
    return table.column("content").combine_chunks().cast(pa.string())


def test_normal_texts_are_rarely_in_a_family() -> None:
    families = classify_texts(_texts("label00-last.csv"))
    assert len(families) > 7000
    assert np.mean(families > 0) <= 0.03


@pytest.mark.parametrize("name", [n for n, f in FILES.items() if f is not None])
def test_fraud_texts_are_mostly_in_a_family(name: str) -> None:
    families = classify_texts(_texts(name))
    assert len(families) == 1000
    assert np.mean(families > 0) >= 0.55
    # The family the type is known by is the most common specific one.
    counts = np.bincount(families, minlength=len(SmsText))
    counts[SmsText.NONE] = 0
    assert counts[FILES[name]] == counts.max()


@pytest.mark.parametrize("name", list(FILES))
def test_real_texts_one_by_one_as_in_bulk(name: str) -> None:
    """Python's ``re`` (a live call's few messages) gives every real text the family Arrow's
    RE2 gives it in bulk."""
    texts = _texts(name)
    one_by_one = [classify_text(t) for t in texts.to_pylist()]
    assert one_by_one == classify_texts(texts).tolist()


@pytest.mark.parametrize("name", list(FILES))
def test_real_texts_links_and_accounts_one_by_one_as_in_bulk(name: str) -> None:
    """The link's host and the account-number flag of every real text: the same from
    Python's ``re`` as from Arrow's RE2 in bulk."""
    texts = [t for t in _texts(name).to_pylist() if t and not _FOLDS_TO_ASCII.intersection(t)]
    few, bulk = FrameBuilder(Registry(), IntelView()), FrameBuilder(Registry(), IntelView())
    f1, flags1, host1 = few._few_texts(texts)
    f2, flags2, host2 = bulk._texts(Values(py=texts), np.arange(len(texts)))
    assert f1.tolist() == f2.tolist() and flags1.tolist() == flags2.tolist()

    def hosts(b: FrameBuilder, ids: np.ndarray) -> list[str | None]:
        return [b.domains.values.value(i) if i >= 0 else None for i in ids.tolist()]

    assert hosts(few, host1) == hosts(bulk, host2)
