"""The control group, drawn by hashing so it is the same on every re-run and in any input order.

Each subscriber gets ``u = int(sha256("<campaign>|<subscriber_id>")[:13 hex], 16) / 2**52`` in
[0, 1); ``u < control_share`` puts them in the control group. sha256 rather than Spark's
xxhash64 so anyone can recompute the draw outside Spark (``hashlib`` in Python, ``sha256`` in
SQL) and so it does not change with a Spark version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

Transform = Callable[[DataFrame], DataFrame]
HEX_DIGITS = 13  # 52 bits: exact in a double
SCALE = float(2 ** (4 * HEX_DIGITS))


def hash_unit(campaign: str, subscriber_id: int) -> float:
    """The draw of one subscriber in [0, 1), as :func:`control_draw` computes it in Spark."""
    digest = hashlib.sha256(f"{campaign}|{subscriber_id}".encode()).hexdigest()
    return int(digest[:HEX_DIGITS], 16) / SCALE


def control_draw(campaign: str, subscriber_id: str = "subscriber_id") -> Column:
    """A Spark column with each subscriber's draw in [0, 1)."""
    key = F.concat(F.lit(f"{campaign}|"), F.col(subscriber_id).cast("string"))
    head = F.substring(F.sha2(key, 256), 1, HEX_DIGITS)
    return F.conv(head, 16, 10).cast("double") / F.lit(SCALE)


def assign_groups(campaign: str, control_share: float) -> Transform:
    """Add ``assignment`` (treatment | control) and ``is_treated``."""
    if not 0.0 <= control_share < 1.0:
        raise ValueError(f"control_share must be in [0, 1), got {control_share}")

    def _assign(candidates: DataFrame) -> DataFrame:
        is_control = control_draw(campaign) < F.lit(control_share)
        return candidates.withColumn(
            "assignment", F.when(is_control, "control").otherwise("treatment")
        ).withColumn("is_treated", ~is_control)

    return _assign
