"""Counter-based random draws: every draw is a hash of (seed, stream, entity, month, counter).

Nothing here keeps state, so a draw depends only on what it is about, never on the order rows
are processed, the number of partitions or the machine. numpy (splitmix64) serves the
vectorised lifecycle simulation; Spark's xxhash64 serves the row generators.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pyspark.sql import Column

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)
_TWO_POW_53 = float(2**53)


def stream_id(name: str) -> int:
    """A stable 32-bit number for a stream name (Python's hash() is salted per process)."""
    return zlib.crc32(name.encode("utf-8"))


def _mix(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser (a bijection of uint64 with good avalanche)."""
    x = (x ^ (x >> np.uint64(30))) * _C1
    x = (x ^ (x >> np.uint64(27))) * _C2
    return x ^ (x >> np.uint64(31))


def hash64(seed: int, stream: str, *keys: np.ndarray | int) -> np.ndarray:
    """uint64 hash of the seed, a stream name and any number of integer keys (broadcast)."""
    with np.errstate(over="ignore"):
        state = np.asarray(
            _mix(np.array([(seed & 0xFFFFFFFFFFFFFFFF) ^ (stream_id(stream) << 32)], np.uint64))
        )
        for key in keys:
            arr = np.asarray(key).astype(np.int64).astype(np.uint64)
            state = _mix(state + _GOLDEN + arr)
    return state


def uniform(seed: int, stream: str, *keys: np.ndarray | int) -> np.ndarray:
    """Uniform draws in [0, 1) keyed like :func:`hash64`."""
    return (hash64(seed, stream, *keys) >> np.uint64(11)).astype(np.float64) / _TWO_POW_53


def normal(seed: int, stream: str, *keys: np.ndarray | int) -> np.ndarray:
    """Standard normal draws (Box-Muller on two keyed uniforms)."""
    u1 = uniform(seed, stream + ":1", *keys)
    u2 = uniform(seed, stream + ":2", *keys)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def spark_uniform(seed: int, stream: str, *keys: Column) -> Column:
    """Uniform draw in [0, 1) inside Spark: xxhash64 of seed, stream and key columns."""
    from pyspark.sql import functions as F

    h = F.xxhash64(F.lit(seed), F.lit(stream), *keys)
    return F.pmod(h, F.lit(2**52)).cast("double") / float(2**52)


def spark_hash(seed: int, stream: str, *keys: Column) -> Column:
    """A row's base hash: compute it once per row, then derive cheap draws with
    :func:`spark_uniform_from` (hashing two longs instead of strings for every draw)."""
    from pyspark.sql import functions as F

    return F.xxhash64(F.lit(seed), F.lit(stream_id(stream)), *keys)


def spark_uniform_from(base: Column, stream: str) -> Column:
    """Uniform draw in [0, 1) for ``stream`` from a row's base hash."""
    from pyspark.sql import functions as F

    h = F.xxhash64(base, F.lit(stream_id(stream)))
    return F.pmod(h, F.lit(2**52)).cast("double") / float(2**52)
