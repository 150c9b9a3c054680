"""Personal data and file-system safety: MSISDN masking and output file names that cannot
escape the output folder."""

from __future__ import annotations

import re
from pathlib import Path

from pyspark.sql import Column
from pyspark.sql import functions as F

from workbench.targets.errors import TargetError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
MASK = "****"


def mask_msisdn(msisdn: str | None) -> str | None:
    """``13812345678`` -> ``138****5678``; numbers shorter than 8 digits are masked entirely."""
    if msisdn is None:
        return None
    if len(msisdn) < 8:
        return "*" * len(msisdn)
    return msisdn[:3] + MASK + msisdn[-4:]


def masked_msisdn(column: str = "msisdn") -> Column:
    """The Spark form of :func:`mask_msisdn` (built-ins only)."""
    value = F.col(column)
    return (
        F.when(value.isNull(), F.lit(None).cast("string"))
        .when(F.length(value) < 8, F.expr(f"repeat('*', length({column}))"))
        .otherwise(F.concat(F.substring(value, 1, 3), F.lit(MASK), F.expr(f"right({column}, 4)")))
    )


def check_name(name: str, what: str = "campaign") -> str:
    """A campaign or file name usable as a single path component; anything else is rejected
    (slashes, ``..``, absolute paths, leading dots, spaces, other characters)."""
    if not _NAME.match(name) or ".." in name:
        raise TargetError(
            f"{what} {name!r}: use 1-100 letters, digits, '_', '-' or '.', starting with a "
            "letter or digit, without '..' or slashes"
        )
    return name


def safe_output_path(folder: Path, file_name: str) -> Path:
    """``folder / file_name``, refusing any name that would resolve outside ``folder``."""
    check_name(file_name, "file name")
    root = folder.resolve()
    target = (root / file_name).resolve()
    if target.parent != root:
        raise TargetError(f"file name {file_name!r} escapes the output folder {root}")
    return target
