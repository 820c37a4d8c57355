"""Deterministic random streams: one independent generator per (seed, purpose, day…).

Each part of the simulation draws from its own stream, keyed by names and numbers, so adding
a draw in one part never shifts the numbers of another, and the same seed gives the same bytes.
"""

from __future__ import annotations

import zlib

import numpy as np


def _key(part: int | str) -> int:
    if isinstance(part, int):
        if part < 0:
            raise ValueError(f"stream keys must be non-negative, got {part}")
        return part
    return zlib.crc32(part.encode("utf-8"))


def stream(seed: int, *keys: int | str) -> np.random.Generator:
    """An independent PCG64 generator for ``seed`` and the purpose named by ``keys``."""
    seq = np.random.SeedSequence(entropy=seed, spawn_key=tuple(_key(k) for k in keys))
    return np.random.Generator(np.random.PCG64(seq))


def lognormal(rng: np.random.Generator, median: float, sigma: float, size: int) -> np.ndarray:
    """Log-normal draws with the given median and log-sigma."""
    return np.asarray(rng.lognormal(np.log(median), sigma, size), dtype=np.float64)


def choice_weighted(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with probability proportional to ``weights`` (fast inverse-CDF)."""
    cdf = np.cumsum(weights, dtype=np.float64)
    if cdf.size == 0 or cdf[-1] <= 0:
        raise ValueError("weights must have a positive sum")
    picks = np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right")
    return np.asarray(np.minimum(picks, cdf.size - 1), dtype=np.int64)


def split_amount(rng: np.random.Generator, total: int, parts: int) -> list[int]:
    """Split an integer amount into ``parts`` positive integers that sum exactly to ``total``."""
    if parts <= 1 or total < parts:
        return [total]
    shares = rng.dirichlet(np.full(parts, 2.0))
    cuts = np.floor(shares * total).astype(np.int64)
    cuts = np.maximum(cuts, 1)
    cuts[-1] = total - int(cuts[:-1].sum())
    if cuts[-1] < 1:  # rounding pushed the last part under one fen: even split instead
        base = total // parts
        cuts = np.full(parts, base, dtype=np.int64)
        cuts[-1] = total - base * (parts - 1)
    return [int(c) for c in cuts]
