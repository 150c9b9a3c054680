"""Target-list files: CSV (UTF-8 with BOM so Excel shows Chinese), Excel and Parquet.

Each file is written to a temporary name in the same folder (:func:`write_temp`) and renamed into
place (:func:`publish_file`), so a reader never sees half a file; an export renames its files only
once its contacts and log line are committed. The sha256 of the bytes goes to the export log.
Files are created with the configured permission bits (``targets.file_mode``, 0600 by default):
they hold MSISDNs, so nobody else on the machine reads them.
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


def temp_path(path: Path, tag: str) -> Path:
    """The hidden temporary name a file is written under before it is published as ``path``."""
    return path.with_name(f".{path.name}.{tag}.tmp")


def write_temp(
    frame: pd.DataFrame, tmp: Path, fmt: Format, *, sheet: str = "targets", mode: int = 0o600
) -> str:
    """Write ``frame`` to ``tmp`` in ``fmt``, readable by ``mode`` only; returns its sha256.

    The file is created with ``mode`` before a byte is written (never world-readable, even for
    an instant) and set to it again after, as the writers may recreate it.
    """
    if fmt not in FORMATS:
        raise TargetError(f"format {fmt!r}: choose one of {', '.join(FORMATS)}")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode))
    os.chmod(tmp, mode)  # O_CREAT's mode is reduced by the umask
    try:
        if fmt == "csv":
            frame.to_csv(tmp, index=False, encoding="utf-8-sig")
        elif fmt == "xlsx":
            _write_xlsx(frame, tmp, sheet)
        else:
            frame.to_parquet(tmp, index=False)
        os.chmod(tmp, mode)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return checksum(tmp)


def publish_file(tmp: Path, path: Path) -> None:
    """Rename a written temporary file to its final name (atomic; replaces an older file)."""
    os.replace(tmp, path)


def write_list(
    frame: pd.DataFrame, path: Path, fmt: Format, *, sheet: str = "targets", mode: int = 0o600
) -> str:
    """Write ``frame`` to ``path`` atomically in ``fmt``; returns the file's sha256."""
    tmp = temp_path(path, str(os.getpid()))
    try:
        digest = write_temp(frame, tmp, fmt, sheet=sheet, mode=mode)
        publish_file(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return digest
