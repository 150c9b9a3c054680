"""MSISDN masking, one rule for the list files (Spark) and the dashboards (pandas).

A masked number always hides at least its middle four digits and never shows more than seven:
``13812345678`` -> ``138****5678`` (11 digits: 3 + 4 visible), ``12345678`` -> ``12****78``
(8 digits: 4 visible, not 7), ``8613812345678`` -> ``861******5678``. A number shorter than
:data:`MIN_PARTIAL` digits is masked entirely. Each hidden digit is one ``*`` (the length is
kept).

This module imports no Spark at import time: the dashboards (which must never load a JVM) use
:func:`mask_msisdn` itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column

MIN_HIDDEN = 4  # digits always hidden
MAX_HEAD, MAX_TAIL = 3, 4  # digits at most shown before and after the hidden part
MIN_PARTIAL = 8  # shorter numbers are masked entirely
MASK_CHAR = "*"


def visible_digits(length: int) -> tuple[int, int]:
    """How many leading and trailing digits a number of ``length`` digits shows."""
    if length < MIN_PARTIAL:
        return 0, 0
    shown = min(length - MIN_HIDDEN, MAX_HEAD + MAX_TAIL)
    head = min(MAX_HEAD, shown // 2)
    return head, shown - head


def mask_msisdn(msisdn: str | None) -> str | None:
    """The masked form of one number (``None`` stays ``None``)."""
    if msisdn is None:
        return None
    head, tail = visible_digits(len(msisdn))
    hidden = len(msisdn) - head - tail
    return msisdn[:head] + MASK_CHAR * hidden + (msisdn[len(msisdn) - tail :] if tail else "")


def masked_msisdn(column: str = "msisdn") -> Column:
    """The Spark form of :func:`mask_msisdn` (built-ins only, same rule)."""
    from pyspark.sql import functions as F

    value = F.col(column)
    length = F.length(value)
    shown = F.least(length - F.lit(MIN_HIDDEN), F.lit(MAX_HEAD + MAX_TAIL))
    head = F.least(F.lit(MAX_HEAD), F.floor(shown / 2).cast("int"))
    tail = shown - head
    hidden = length - shown
    partial = F.concat(
        F.substring(value, F.lit(1), head),
        F.repeat(F.lit(MASK_CHAR), hidden),
        F.substring(value, length - tail + F.lit(1), tail),
    )
    return (
        F.when(value.isNull(), F.lit(None).cast("string"))
        .when(length < MIN_PARTIAL, F.repeat(F.lit(MASK_CHAR), length))
        .otherwise(partial)
    )
