"""Fuzzing the pipeline: garbage and damaged files never crash it, and what was not damaged
still lands. Every input line is accounted for (landed, duplicate or dead-lettered)."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

import pytest
from factories import call_row, csv_text, ingestor, letters_of, ndjson_bytes, phone, rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fanzha.ingest.pipeline import IngestReport, Request
from fanzha.ingest.readers import sniff_binary

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

RECORDS = [call_row(caller=phone(i), source="运营商甲", duration_s=str(10 + i)) for i in range(8)]
NDJSON = ndjson_bytes(RECORDS)
CSV = csv_text(RECORDS).encode("utf-8")
INSERTS = [b"\x00", b'"', b"\n", b"\r\n", b"{", b"}", b",", b"\xff", b"\xe4\xb8", b"\\", b"\t"]


@dataclass(frozen=True)
class Mutation:
    kind: str  # "flip", "insert", "delete", "truncate"
    at: float  # position as a fraction of the file
    payload: bytes = b""
    mask: int = 1


MUTATION = st.one_of(
    st.builds(Mutation, st.just("flip"), st.floats(0, 1), mask=st.integers(1, 255)),
    st.builds(Mutation, st.just("insert"), st.floats(0, 1), st.sampled_from(INSERTS)),
    st.builds(Mutation, st.just("delete"), st.floats(0, 1)),
    st.builds(Mutation, st.just("truncate"), st.floats(0, 1)),
)


def _line_spans(data: bytes) -> list[tuple[int, int]]:
    """(first byte, newline byte) of every line of ``data`` (which ends with a newline)."""
    spans, start = [], 0
    while start < len(data):
        end = data.index(b"\n", start)
        spans.append((start, end))
        start = end + 1
    return spans


def mutate(data: bytes, mutations: list[Mutation]) -> tuple[bytes, set[int]]:
    """Apply the mutations; return the new bytes and the indexes of the lines they touched."""
    spans = _line_spans(data)

    def line_of(pos: int) -> int:
        return next(i for i, (a, b) in enumerate(spans) if a <= pos <= b)

    out, touched = bytearray(data), set[int]()
    placed = sorted(
        ((min(int(m.at * len(data)), len(data) - 1), m) for m in mutations),
        key=lambda pm: -pm[0],  # from the end, so earlier positions stay valid
    )
    for pos, m in placed:
        if pos >= len(out) and m.kind != "insert":
            continue  # cut off by a truncation at the same place
        line = line_of(pos)
        if m.kind == "truncate":
            del out[pos:]
            touched |= set(range(line, len(spans)))
            continue
        if m.kind == "insert":
            out[pos:pos] = m.payload
        elif m.kind == "delete":
            del out[pos]
        else:
            out[pos] ^= m.mask
        touched.add(line)
        if pos == spans[line][1] and m.kind != "insert":  # a newline changed: lines merge
            touched.add(line + 1)
    return bytes(out), touched


def _whole_file_changes(data: bytes) -> bool:
    """A mutation that changes how the whole file is read (a BOM, binary magic, NULs)."""
    boms = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    return data.startswith(boms) or sniff_binary(data[:65_536]) is not None


def _non_blank_lines(data: bytes) -> int:
    """Lines the NDJSON reader sees as records (blank after decoding is skipped); an empty
    file is one rejected file."""
    if not data:
        return 1
    n = 0
    for line in data.split(b"\n"):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = line.decode("gb18030")
            except UnicodeDecodeError:
                n += 1  # undecodable: dead-lettered
                continue
        n += bool(text.strip())
    return n


def _run(tmp: Path, name: str, data: bytes) -> tuple[IngestReport, list[str]]:
    ing, lake, dead = ingestor(tmp)
    path = tmp / name
    path.write_bytes(data)
    report = ing.run(Request([path], event_type="call"))
    for letter in letters_of(dead):
        assert letter.reason and letter.location
    callers = [r["caller"] for r in rows(lake, "SELECT caller FROM call")]
    assert len(callers) == report.accepted  # what the report says landed, landed
    return report, callers


# --------------------------------------------------------------------------- garbage


@FUZZ
@given(data=st.binary(max_size=3000))
def test_arbitrary_bytes_never_crash(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    for name in ("calls.ndjson", "calls.csv", "calls.parquet", "calls.xml"):
        report, _ = _run(tmp / name.split(".")[1], name, data)
        assert report.accepted == 0 or name != "calls.parquet"


@FUZZ
@given(
    lines=st.lists(
        st.one_of(
            st.text(max_size=80),
            st.sampled_from(
                [
                    '{"caller": 13800138000, "callee": "13900139000", "ts": 1714528800}',
                    '{"caller": null}',
                    '{"caller": [1, {"a": 2}]}',
                    '{"caller": true, "duration_s": 1e400}',
                    '{"ts": "2024-02-30 10:00:00"}',
                    "[]",
                    '"just a string"',
                    "{",
                ]
            ),
        ),
        max_size=20,
    )
)
def test_text_garbage_is_accounted_for(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str]
) -> None:
    data = "\n".join(lines).encode("utf-8")
    tmp = tmp_path_factory.mktemp("fuzz")
    report, _ = _run(tmp, "calls.ndjson", data)
    if data.strip() and not _whole_file_changes(data):
        assert report.accepted + report.duplicates + report.rejected == _non_blank_lines(data)
    _run(tmp / "csv", "calls.csv", data)


# --------------------------------------------------------------------------- damaged files


@FUZZ
@given(mutations=st.lists(MUTATION, min_size=1, max_size=5))
def test_damaged_ndjson_keeps_every_untouched_line(
    tmp_path_factory: pytest.TempPathFactory, mutations: list[Mutation]
) -> None:
    data, touched = mutate(NDJSON, mutations)
    report, callers = _run(tmp_path_factory.mktemp("fuzz"), "calls.ndjson", data)
    if _whole_file_changes(data):
        return
    untouched = [i for i in range(len(RECORDS)) if i not in touched]
    landed = set(callers)
    for i in untouched:  # landed, or its identical twin (a mutated copy) landed first
        assert "+86" + RECORDS[i]["caller"] in landed, (i, data)
    assert report.accepted + report.duplicates >= len(untouched)
    assert report.accepted + report.duplicates + report.rejected == _non_blank_lines(data)


@FUZZ
@given(mutations=st.lists(MUTATION, min_size=1, max_size=5))
def test_damaged_csv_keeps_the_lines_before_the_damage(
    tmp_path_factory: pytest.TempPathFactory, mutations: list[Mutation]
) -> None:
    data, touched = mutate(CSV, mutations)
    report, callers = _run(tmp_path_factory.mktemp("fuzz"), "calls.csv", data)
    if _whole_file_changes(data) or 0 in touched:  # the header line was damaged
        return
    # An inserted quote can swallow everything after it, so only the lines before the first
    # damaged one are sure to land (line 0 is the header).
    first = min(touched)
    sure = [RECORDS[i - 1] for i in range(1, first)]
    landed = set(callers)
    for rec in sure:
        assert "+86" + rec["caller"] in landed, (rec, data)
    assert report.accepted + report.duplicates <= len(RECORDS) + 2


def test_mutate_helper_tracks_lines() -> None:
    data = b"aa\nbb\ncc\n"
    assert mutate(data, [Mutation("flip", 0.0, mask=1)]) == (b"`a\nbb\ncc\n", {0})
    assert mutate(data, [Mutation("delete", 2 / 9)]) == (b"aabb\ncc\n", {0, 1})
    assert mutate(data, [Mutation("insert", 3 / 9, b'"')]) == (b'aa\n"bb\ncc\n', {1})
    assert mutate(data, [Mutation("truncate", 4 / 9)]) == (b"aa\nb", {1, 2})
