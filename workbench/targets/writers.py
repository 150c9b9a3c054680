"""Target-list files: CSV (UTF-8 with BOM so Excel shows Chinese), Excel and Parquet.

Each file is written to a temporary name in the same folder and renamed into place, so a reader
never sees half a file; the sha256 of the bytes is returned for the export log.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Literal

import pandas as pd

from workbench.targets.errors import TargetError

Format = Literal["csv", "xlsx", "parquet"]
FORMATS: tuple[str, ...] = ("csv", "xlsx", "parquet")

#: column -> (English, Chinese) header for the Excel sheet
HEADERS: dict[str, tuple[str, str]] = {
    "list_rank": ("Rank", "排名"),
    "campaign_id": ("Campaign", "营销活动"),
    "subscriber_id": ("Subscriber ID", "用户编号"),
    "msisdn": ("MSISDN", "手机号码"),
    "region_id": ("Region", "地市"),
    "segment": ("Segment", "客户细分"),
    "offer_product_id": ("Offer", "推荐产品"),
    "score": ("Score", "得分"),
    "reason": ("Reason", "推荐原因"),
    "assignment": ("Group", "分组"),
    "contact_channel": ("Channel", "接触渠道"),
}
#: Excel number formats per column
NUMBER_FORMATS = {"list_rank": "0", "subscriber_id": "0", "score": "0.0000"}


def header(column: str) -> str:
    """``English / 中文`` for a known column, the column name otherwise."""
    en, zh = HEADERS.get(column, (column, ""))
    return f"{en} / {zh}" if zh else en


def checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_xlsx(frame: pd.DataFrame, path: Path, sheet: str) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    ws = book.active
    ws.title = sheet[:31]
    ws.append([header(c) for c in frame.columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in frame.itertuples(index=False):
        ws.append([None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in row])
    for i, column in enumerate(frame.columns, start=1):
        letter = get_column_letter(i)
        fmt = NUMBER_FORMATS.get(column)
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.number_format = fmt
        longest = max([len(header(column)) + 4, *(len(str(v)) for v in frame[column].head(1000))])
        ws.column_dimensions[letter].width = min(60, longest + 2)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    book.save(path)


def write_list(frame: pd.DataFrame, path: Path, fmt: Format, *, sheet: str = "targets") -> str:
    """Write ``frame`` to ``path`` atomically in ``fmt``; returns the file's sha256."""
    if fmt not in FORMATS:
        raise TargetError(f"format {fmt!r}: choose one of {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if fmt == "csv":
            frame.to_csv(tmp, index=False, encoding="utf-8-sig")
        elif fmt == "xlsx":
            _write_xlsx(frame, tmp, sheet)
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return checksum(path)
