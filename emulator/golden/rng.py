"""Counter-based random numbers: every draw is a pure function of (seed, stream, index).

Golden files must be the same bytes on every machine, backend and numpy version, and a shard
of a large set must be computable without the cases before it. Stateful generators give
neither guarantee (numpy documents that Generator streams may change between releases), so
each case derives its bits from a SplitMix64 finalizer applied to its own coordinates. The
mixing is written with numpy uint64 arithmetic (wrapping, exact on every platform).
"""
from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: a bijection of uint64 with good avalanche."""
    z = z ^ (z >> np.uint64(30))
    z = z * _M1
    z = z ^ (z >> np.uint64(27))
    z = z * _M2
    return z ^ (z >> np.uint64(31))


def stream_key(seed: int, *labels) -> int:
    """A 64-bit key for one named stream of one seed (labels: ints or short strings)."""
    key = np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        for lab in labels:
            if isinstance(lab, str):
                lab = int.from_bytes(lab.encode()[:8].ljust(8, b"\0"), "little")
            key = _mix(key + _GOLDEN + np.uint64(int(lab) & 0xFFFFFFFFFFFFFFFF))
    return int(key)


def bits(key: int, index, lanes: int = 1) -> np.ndarray:
    """uint64 random words of shape (len(index), lanes): word [i, j] depends only on
    (key, index[i], j)."""
    idx = np.asarray(index, dtype=np.uint64).reshape(-1, 1)
    lane = np.arange(lanes, dtype=np.uint64).reshape(1, -1)
    with np.errstate(over="ignore"):
        z = _mix(np.uint64(key) + idx * _GOLDEN) + lane * _M2
        return _mix(_mix(z))


def uniform_int(words: np.ndarray, low: int, high: int) -> np.ndarray:
    """Integers in [low, high] (inclusive) from random words (modulo bias < 2^-40 here)."""
    span = np.uint64(high - low + 1)
    return (words % span).astype(np.int64) + low
