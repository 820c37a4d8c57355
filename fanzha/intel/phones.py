"""Number prefixes, vectorised: the longest listed prefix of each phone number.

Numbers are matched as the lake stores them (E.164 such as ``+8613800138000``, or a
lower-case hex pseudonym). A prefix is written in international form, ``+`` and digits
(``+86170`` for the 170 virtual-operator range); the index takes phone indicators written
``+86170*`` as prefixes (see :mod:`fanzha.intel.index`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fanzha.intel.keyset import I64, KeySet, Spans, StringInput, Strings, as_string_array, batches


def prefix_spans(numbers: Strings, length: int) -> Spans:
    """The first ``length`` bytes of every non-null number at least that long."""
    lengths = np.diff(numbers.offsets)
    usable = lengths >= length
    if numbers.valid is not None:
        usable &= numbers.valid
    rows = np.flatnonzero(usable)
    starts = numbers.offsets[rows]
    return Spans(rows, starts, starts + length)


def prefix_match(keys: KeySet, numbers: StringInput, lengths: Sequence[int]) -> I64:
    """For each number, the longest key that is a prefix of it (a number equal to a key
    included), trying only keys of the given ``lengths`` (bytes); -1 when none."""
    array = as_string_array(numbers)
    found = np.full(len(array), -1, np.int64)
    for start, part in batches(array):
        s = Strings.of(part)
        best = np.full(len(s), -1, np.int64)
        for length in sorted({int(x) for x in lengths if x > 0}, reverse=True):
            spans = prefix_spans(s, length)
            if spans.rows is None or len(spans.rows) == 0:
                continue
            hit = keys.lookup_spans(s, spans)
            rows = spans.rows
            take = (hit >= 0) & (best[rows] < 0)
            best[rows[take]] = hit[take]
        found[start : start + len(part)] = best
    return found
