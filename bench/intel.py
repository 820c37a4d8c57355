"""Intel matching: ``IntelIndex`` host lookups against millions of blocked domains, beside a
tldextract + Python ``set`` peer.

Child side (``python -m bench.intel KIND SPEC WORKDIR``, one process per measurement, pinned
to one core, Arrow on one thread): ``ours`` builds the index of the synthetic list with
:meth:`IntelIndex.from_columns` and looks the query hosts up with :meth:`IntelIndex.hosts`;
``peer`` puts the same list in a Python ``set`` and, per host, normalises it, asks tldextract
(offline, bundled suffix list) for its registered domain and checks the host and each parent
down to that domain. Both write their answers on the first ``SAMPLE`` hosts; the parent side
(:func:`run_all`) checks that they are the same.

The data are synthetic and deterministic (NumPy PCG64, fixed seeds): random labels under a
mix of real suffixes (one- and two-label: ``com``, ``com.cn``, ``co.uk`` …), a tenth with a
subdomain, and a thousand IDN names. Queries: 10 % listed hosts (some upper case with a
trailing dot), 10 % subdomains of listed ones, 80 % misses, 0.5 % IDN from a small pool.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bench.child import run_child

PEER_NAME = "tldextract + Python set"
SEED = 20260501
GOAL_BUILD_S = 5.0
GOAL_LOOKUPS = 2_000_000.0
GOAL_RATIO = 8.0
LOOKUP_RUNS = 3
BLOCKLISTS = Path(__file__).resolve().parents[2] / "shared/data/domain_blocklists"
PHISHTANK = Path(__file__).resolve().parents[2] / "shared/data/urls/phishtank_2020-05.csv"
BENIGN = Path(__file__).resolve().parents[2] / "shared/data/urls/benign_iscx2016.csv"

#: (suffix, weight): common generic and Chinese suffixes, and multi-label ones
SUFFIXES = (
    ("com", 30),
    ("cn", 10),
    ("com.cn", 8),
    ("net", 8),
    ("top", 6),
    ("xyz", 5),
    ("org", 5),
    ("co.uk", 4),
    ("net.cn", 3),
    ("shop", 3),
    ("info", 3),
    ("ru", 3),
    ("vip", 3),
    ("cc", 2),
    ("com.hk", 2),
    ("org.uk", 1),
    ("com.au", 1),
    ("de", 1),
    ("xn--fiqs8s", 1),
)
SUBDOMAINS = ("www", "m", "login", "pay", "secure", "app", "api", "h5")
_ALNUM = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", np.uint8)
_IDN = 1000  # IDN names in the list
_IDN_QUERIES = 300  # IDN pool the queries draw from


# ------------------------------------------------------------------------------ the data


def _labels(rng: np.random.Generator, n: int, lo: int, hi: int) -> pa.Array:
    """``n`` random labels of ``lo``–``hi`` letters and digits."""
    lengths = rng.integers(lo, hi + 1, n)
    data = _ALNUM[rng.integers(0, len(_ALNUM), int(lengths.sum()))]
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data.tobytes())]
    )


def _suffixes(rng: np.random.Generator, n: int) -> pa.Array:
    names = pa.array([s for s, _ in SUFFIXES])
    weights = np.array([w for _, w in SUFFIXES], float)
    return names.take(pa.array(rng.choice(len(names), n, p=weights / weights.sum())))


def _join(*parts: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(*parts, ".")


def _idn_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct Chinese names under a few suffixes (unicode, as lists write them)."""
    names: dict[str, None] = {}
    tails = ("com", "cn", "中国", "net")
    while len(names) < n:
        chars = "".join(chr(0x4E00 + int(c)) for c in rng.integers(0, 0x5000, rng.integers(2, 5)))
        names[f"{chars}.{tails[int(rng.integers(0, len(tails)))]}"] = None
    return list(names)


def blocked_domains(n: int, seed: int = SEED) -> pa.Array:
    """``n`` blocked domains: random registered domains, a tenth under a subdomain label,
    and a thousand IDN names (unicode)."""
    rng = np.random.default_rng(seed)
    idn = min(_IDN, n // 10)
    plain = n - idn
    domains = _join(_labels(rng, plain, 4, 16), _suffixes(rng, plain))
    sub = rng.random(plain) < 0.1
    names = pa.array(SUBDOMAINS).take(pa.array(rng.integers(0, len(SUBDOMAINS), plain)))
    domains = pc.if_else(pa.array(sub), _join(names, domains), domains)
    return pa.concat_arrays([domains, pa.array(_idn_names(rng, idn), pa.string())])


def query_hosts(blocked: pa.Array, n: int, seed: int = SEED + 1) -> pa.Array:
    """``n`` hosts to look up: 10 % listed, 10 % subdomains of listed, 80 % misses, 0.5 %
    IDN (listed, under listed, or not) from a pool of a few hundred; shuffled."""
    rng = np.random.default_rng(seed)
    idn = n // 200
    listed = n // 10
    below = n // 10
    misses = n - idn - listed - below
    picks = pa.array(rng.integers(0, len(blocked) - _IDN, listed + below))
    exact = blocked.take(picks.slice(0, listed))
    # 2 % of the listed ones as people write them: upper case, trailing dot
    shout = pa.array(rng.random(listed) < 0.02)
    exact = pc.if_else(shout, pc.binary_join_element_wise(pc.utf8_upper(exact), "", "."), exact)
    sub = _join(_labels(rng, below, 1, 8), blocked.take(picks.slice(listed)))
    miss = _join(_labels(rng, misses, 4, 16), _suffixes(rng, misses))
    idn_listed = blocked.slice(len(blocked) - min(_IDN, len(blocked) // 10)).to_pylist()
    pool = (
        idn_listed[: _IDN_QUERIES // 3]
        + ["WWW." + h for h in idn_listed[_IDN_QUERIES // 3 : 2 * _IDN_QUERIES // 3]]
        + _idn_names(np.random.default_rng(seed + 7), _IDN_QUERIES // 3)
    )
    idn_hosts = pa.array(pool).take(pa.array(rng.integers(0, len(pool), idn)))
    hosts = pa.concat_arrays([exact, sub, miss, idn_hosts])
    return hosts.take(pa.array(rng.permutation(n)))


# -------------------------------------------------------------------------- child side


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak() -> None:
    """Start VmHWM afresh (Linux: ``5 > /proc/self/clear_refs``), so that the peak covers
    the measured work and not making the synthetic data."""
    with contextlib.suppress(OSError):  # not Linux, or not allowed: the peak of the process
        Path("/proc/self/clear_refs").write_text("5")


def _pin_to_one_core() -> int:
    core = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def ours(spec: str, workdir: Path) -> dict[str, Any]:
    """Build the index of the synthetic list, look the queries up ``LOOKUP_RUNS`` times."""
    from fanzha.intel.index import IntelIndex
    from fanzha.intel.model import IndicatorKind, Verdict

    n, q, sample = (int(x) for x in spec.split(":"))
    blocked = blocked_domains(n)
    queries = query_hosts(blocked, q)
    # warm the imports and the compiled loops (hashing, look-ups)
    IntelIndex.from_columns(IndicatorKind.DOMAIN, blocked.slice(0, 1000)).hosts(queries[:1000])
    gc.collect()
    _reset_peak()
    rss_before = _status_mib("VmRSS")
    cpu, start = time.process_time(), time.perf_counter()
    index = IntelIndex.from_columns(IndicatorKind.DOMAIN, blocked, Verdict.FRAUD, 0.9, "bench")
    build_s, build_cpu = time.perf_counter() - start, time.process_time() - cpu
    rss_index = _status_mib("VmRSS") - rss_before
    seconds: list[float] = []
    cpu_seconds: list[float] = []
    for _ in range(LOOKUP_RUNS):
        cpu, start = time.process_time(), time.perf_counter()
        matches = index.hosts(queries)
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu)
    answers = index.matched_values(matches.indicator[:sample]).to_pylist()
    (workdir / "ours.json").write_text(json.dumps(answers))
    result: dict[str, Any] = {
        "rows": q,
        "domains": n,
        "indexed": len(index),
        "rejected": len(index.rejected),
        "build_seconds": build_s,
        "build_cpu_seconds": build_cpu,
        "lookup_seconds": seconds,
        "lookup_cpu_seconds": cpu_seconds,
        "seconds": statistics.median(seconds),
        "hosts_per_s": q / statistics.median(seconds),
        "matched": int((matches.indicator >= 0).sum()),
        "index_rss_mib": rss_index,
        "peak_rss_mib": _status_mib("VmHWM"),
        "rss_before_build_mib": rss_before,
        "input_mib": (blocked.nbytes + queries.nbytes) / 2**20,
    }
    del index, matches
    gc.collect()
    return result | {"real": _real_lists()}


def _read_hosts_files(folder: Path) -> list[str]:
    """Hosts of every ``0.0.0.0 host`` / ``host`` line in the list files (``#`` comments)."""
    hosts: list[str] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name in {"LICENSE", "SOURCE.txt"}:
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            text = line.split("#", 1)[0].strip()
            if text:
                hosts.append(text.split()[-1])
    return hosts


def _urls_of(path: Path, header: bool) -> list[str]:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if not header:
        return [x for x in lines if x.strip()]
    import csv

    rows = csv.DictReader(lines)
    return [r["url"] for r in rows if r.get("url")]


def _real_lists() -> dict[str, Any]:
    """The real blocklists (when present): how many entries, load time, and how many
    PhishTank (phishing) and ISCX (benign) URLs they flag."""
    from fanzha.intel.index import IntelIndex
    from fanzha.intel.model import IndicatorKind

    if not BLOCKLISTS.exists():
        return {"present": False, "path": str(BLOCKLISTS)}
    start = time.perf_counter()
    hosts = _read_hosts_files(BLOCKLISTS)
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    index = IntelIndex.from_columns(
        IndicatorKind.DOMAIN, pa.array(hosts), source="blocklistproject"
    )
    load_s = time.perf_counter() - start
    out: dict[str, Any] = {
        "present": True,
        "path": str(BLOCKLISTS),
        "entries": len(hosts),
        "indexed": len(index),
        "rejected": len(index.rejected),
        "rejected_examples": [[i.value, r] for i, r in index.rejected[:5]],
        "read_seconds": read_s,
        "load_seconds": load_s,
    }
    for name, path, header in (("phishtank", PHISHTANK, True), ("benign", BENIGN, False)):
        if path.exists():
            urls = _urls_of(path, header)
            start = time.perf_counter()
            m = index.urls(pa.array(urls, pa.string()))
            out[name] = {
                "urls": len(urls),
                "flagged": int(m.blocked.sum()),
                "seconds": time.perf_counter() - start,
            }
    return out


def _peer_host(raw: str) -> str:
    host = raw.strip().lower().rstrip(".")
    return host if host.isascii() else host.encode("idna").decode("ascii")


def peer(spec: str, workdir: Path) -> dict[str, Any]:
    """The same list in a Python set; per host: normalise, tldextract, walk to the
    registered domain."""
    import tldextract

    n, q, sample = (int(x) for x in spec.split(":"))
    blocked = blocked_domains(n)
    queries = query_hosts(blocked, q).slice(0, sample).to_pylist()
    raw = blocked.to_pylist()
    del blocked
    gc.collect()
    _reset_peak()
    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    extract("warm.example.com")
    cpu, start = time.process_time(), time.perf_counter()
    listed = {_peer_host(d) for d in raw}
    build_s, build_cpu = time.perf_counter() - start, time.process_time() - cpu
    del raw
    cpu, start = time.process_time(), time.perf_counter()
    answers = [_peer_lookup(listed, extract, h) for h in queries]
    seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    (workdir / "peer.json").write_text(json.dumps(answers))
    return {
        "rows": sample,
        "domains": n,
        "build_seconds": build_s,
        "build_cpu_seconds": build_cpu,
        "seconds": seconds,
        "cpu_seconds": cpu_s,
        "hosts_per_s": sample / seconds,
        "matched": sum(a is not None for a in answers),
        "peak_rss_mib": _status_mib("VmHWM"),
    }


def _peer_lookup(listed: set[str], extract: Any, raw: str) -> str | None:
    host = _peer_host(raw)
    parts = extract(host)
    top = parts.top_domain_under_public_suffix
    if parts.ipv4 or ":" in host or not top:
        return host if host in listed else None
    labels = host.split(".")
    for i in range(len(labels) - top.count(".")):
        name = ".".join(labels[i:])
        if name in listed:
            return name
    return None


KINDS = {"ours": ours, "peer": peer}


def main() -> None:
    """``python -m bench.intel KIND SPEC WORKDIR``: one measurement, its JSON on stdout."""
    kind, spec, workdir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    workdir.mkdir(parents=True, exist_ok=True)
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    core = _pin_to_one_core()
    load = os.getloadavg()[0]
    result = KINDS[kind](spec, workdir)
    print(
        json.dumps(result | {"core": core, "load_before": load, "load_after": os.getloadavg()[0]})
    )


# ------------------------------------------------------------------------- parent side


@dataclass(frozen=True)
class IntelBench:
    """What the intel part of the bench measured."""

    domains: int
    queries: int
    sample: int
    ours: dict[str, Any]
    peer: dict[str, Any]
    agree: bool
    disagreements: list[tuple[str, Any, Any]]

    @property
    def ratio(self) -> float:
        """Our lookups per second over the peer's."""
        return float(self.ours["hosts_per_s"]) / float(self.peer["hosts_per_s"])


def _child(kind: str, spec: str, workdir: Path) -> dict[str, Any]:
    print(f"measuring intel {kind} {spec} …", file=sys.stderr)
    return run_child("bench.intel", kind, spec, str(workdir))


def run_all(base: Path, domains: int, queries: int, sample: int) -> IntelBench:
    """Ours, then the peer, on the same data; their answers on the sample compared."""
    base.mkdir(parents=True, exist_ok=True)
    sample = min(sample, queries)
    spec = f"{domains}:{queries}:{sample}"
    ours_result = _child("ours", spec, base)
    print(
        f"  build {ours_result['build_seconds']:.2f} s,"
        f" {ours_result['hosts_per_s']:,.0f} hosts/s,"
        f" peak RSS {ours_result['peak_rss_mib']:,.0f} MiB",
        file=sys.stderr,
    )
    peer_result = _child("peer", spec, base)
    print(f"  peer {peer_result['hosts_per_s']:,.0f} hosts/s", file=sys.stderr)
    mine = json.loads((base / "ours.json").read_text())
    theirs = json.loads((base / "peer.json").read_text())
    differ: list[tuple[str, Any, Any]] = []
    if mine != theirs:
        hosts = query_hosts(blocked_domains(domains), queries).slice(0, sample).to_pylist()
        differ = [(h, a, b) for h, a, b in zip(hosts, mine, theirs, strict=True) if a != b]
    bench = IntelBench(domains, queries, sample, ours_result, peer_result, not differ, differ[:10])
    if differ:
        print(f"  {len(differ)} answers differ from the peer's, e.g. {differ[:3]}", file=sys.stderr)
    return bench


Row = tuple[str, str, float, float | None, str]  # figure, unit, ours, peer, peer name


def rows(bench: IntelBench) -> list[Row]:
    """Rows for the results table."""
    o, p = bench.ours, bench.peer
    n = f"{bench.domains:,}"
    q = bench.queries
    out: list[Row] = [
        (
            f"intel: host lookups vs {n} blocked domains, {bench.queries:,} hosts"
            f" (goal ≥ {GOAL_LOOKUPS:,.0f}/s and ≥ {GOAL_RATIO:g}× peer)",
            "hosts/s/core",
            float(o["hosts_per_s"]),
            float(p["hosts_per_s"]),
            f"{PEER_NAME}, {bench.sample:,} hosts",
        ),
        (
            "intel: the same lookups per CPU second (wall time suffers when the core is shared)",
            "hosts/CPU s",
            q / statistics.median(o["lookup_cpu_seconds"]),
            float(bench.sample / p["cpu_seconds"]),
            f"{PEER_NAME}, {bench.sample:,} hosts",
        ),
        (
            f"intel: build the index of {n} domains (goal ≤ {GOAL_BUILD_S:g} s)",
            "s",
            float(o["build_seconds"]),
            float(p["build_seconds"]),
            "Python set of the same domains",
        ),
        (
            f"intel: build the index of {n} domains, CPU time",
            "CPU s",
            float(o["build_cpu_seconds"]),
            float(p["build_cpu_seconds"]),
            "Python set of the same domains",
        ),
        (
            f"intel: peak RSS, {n} domains (given in memory) indexed + lookups",
            "MiB",
            float(o["peak_rss_mib"]),
            float(p["peak_rss_mib"]),
            PEER_NAME,
        ),
    ]
    real = o["real"]
    if real.get("present"):
        out.append(
            (
                f"intel: load the real blocklists ({real['entries']:,} entries, blocklistproject)",
                "ms",
                1000 * float(real["load_seconds"]),
                None,
                "",
            )
        )
    return out


def markdown(bench: IntelBench) -> str:
    """Details: every figure behind the rows, the agreement check, the real lists."""
    o, p = bench.ours, bench.peer
    runs = ", ".join(f"{s:.3f}" for s in o["lookup_seconds"])
    cpus = ", ".join(f"{s:.3f}" for s in o["lookup_cpu_seconds"])
    agree = (
        f"the same on all {bench.sample:,}"
        if bench.agree
        else f"DIFFERENT on {len(bench.disagreements)}+ hosts, e.g. {bench.disagreements[:3]}"
    )
    lines = [
        "",
        "### Intel matching (one process pinned to one core, Arrow on one thread)",
        "",
        f"- List: {bench.domains:,} synthetic blocked domains (random labels under 19 real"
        " suffixes incl. com.cn, co.uk; 10 % under a subdomain; 1,000 IDN names);"
        f" {o['indexed']:,} indexed, {o['rejected']:,} refused.",
        f"- Build (`IntelIndex.from_columns`: normalise, refuse public suffixes, hash, table):"
        f" {o['build_seconds']:.2f} s ({o['build_cpu_seconds']:.2f} CPU s); the index holds"
        f" {o['index_rss_mib']:,.0f} MiB beyond the {o['input_mib']:,.0f} MiB of input arrays."
        " Peak RSS is counted from just before the build (the list and the queries already in"
        " memory: Arrow arrays for ours, Python lists for the peer) to the end of the lookups.",
        f"- Lookups (`IntelIndex.hosts`, normalisation included): {bench.queries:,} hosts"
        " (10 % listed, 10 % subdomains of listed, 80 % misses, 0.5 % IDN) in"
        f" {runs} s ({cpus} CPU s); median {o['hosts_per_s']:,.0f} hosts/s;"
        f" {o['matched']:,} matched.",
        f"- Peer ({PEER_NAME}): set of the same domains built in {p['build_seconds']:.2f} s;"
        f" {bench.sample:,} hosts (the first of the same queries) in {p['seconds']:.2f} s ="
        f" {p['hosts_per_s']:,.0f} hosts/s; peak RSS {p['peak_rss_mib']:,.0f} MiB."
        f" Ratio {bench.ratio:,.1f}×.",
        f"- Answers (matched domain per host) of ours and the peer: {agree}.",
    ]
    real = o["real"]
    if real.get("present"):
        lines.append(
            f"- Real lists ({real['path']}): {real['entries']:,} entries read in"
            f" {real['read_seconds']:.2f} s, indexed in {real['load_seconds']:.3f} s;"
            f" {real['indexed']:,} kept, {real['rejected']:,} refused"
            + (f" (e.g. {real['rejected_examples'][:2]})" if real["rejected"] else "")
            + "."
        )
        for name, what in (("phishtank", "PhishTank phishing"), ("benign", "ISCX-2016 benign")):
            if name in real:
                r = real[name]
                lines.append(
                    f"  {what} URLs flagged by these lists: {r['flagged']:,} of {r['urls']:,}"
                    f" ({r['seconds']:.2f} s)."
                )
    else:
        lines.append(f"- Real lists: skipped, {real['path']} is absent.")
    lines.append(
        f"- Machine load (1-minute average, {os.cpu_count()} CPUs) around ours:"
        f" {o['load_before']:.1f} → {o['load_after']:.1f}; around the peer:"
        f" {p['load_before']:.1f} → {p['load_after']:.1f}."
    )
    lines.append(
        "- Seconds are wall time; CPU s below wall s means the core was shared with other work."
        " The build touches fresh memory, which on this VM costs about as much as the"
        " arithmetic (first-touch page faults)."
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
