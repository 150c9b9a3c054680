"""``<paths.reports>/index.html``: every recorded run, newest first, regenerated from the ledger
after each run. Static HTML with relative links, so the folder can be served or copied as is."""

from __future__ import annotations

import fcntl
import html
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.reports.ledger import read_runs

if TYPE_CHECKING:
    from workbench.config import Settings

INDEX = "index.html"
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; } th, td { padding: .3em .7em; border-bottom: 1px solid #ddd; }
th { text-align: left; } td.num { text-align: right; }
tr.failed td, tr.timeout td { background: #fdecea; } .error { color: #b71c1c; font-size: .9em; }
"""


def _link(reports_dir: Path, target: str | None, label: str) -> str:
    if not target:
        return ""
    path = reports_dir / target
    if not path.exists():
        return f"<s>{html.escape(label)}</s>"
    return f'<a href="{html.escape(target)}">{html.escape(label)}</a>'


def _row(reports_dir: Path, run: dict[str, Any]) -> str:
    status = str(run.get("status", "?"))
    error = run.get("error") or {}
    detail = ""
    if error:
        where = f"cell {error['cell']}: " if error.get("cell") is not None else ""
        detail = (
            f'<div class="error">{html.escape(where)}'
            f"{html.escape(str(error.get('ename', '')))}: "
            f"{html.escape(str(error.get('evalue', ''))[:300])}</div>"
        )
    links = " ".join(
        part
        for part in (
            _link(reports_dir, run.get("html"), "report"),
            _link(reports_dir, run.get("notebook"), "notebook"),
            _link(reports_dir, run.get("published"), "latest"),
        )
        if part
    )
    cells = [
        html.escape(str(run.get("started_at", ""))),
        html.escape(str(run.get("subject", ""))),
        html.escape(str(run.get("period", ""))),
        html.escape(str(run.get("region") or "ALL")),
        f"<b>{html.escape(status)}</b>{detail}",
        f'<td class="num">{float(run.get("seconds") or 0):.1f}',
        html.escape(str(run.get("schedule") or "")),
        links,
    ]
    tds = "".join(c if c.startswith("<td") else f"<td>{c}" for c in cells)
    return f'<tr class="{html.escape(status)}">{tds}</tr>'


def render_index(settings: Settings) -> str:
    """The index page for the ledger as it stands."""
    runs = sorted(read_runs(settings), key=lambda r: str(r.get("started_at", "")), reverse=True)
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "started (UTC)",
            "subject",
            "period",
            "region",
            "status",
            "seconds",
            "schedule",
            "links",
        )
    )
    rows = "\n".join(_row(settings.reports_dir, r) for r in runs)
    failed = sum(1 for r in runs if r.get("status") != "ok")
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Reports</title>'
        f"<style>{_STYLE}</style></head><body>\n<h1>Reports</h1>\n"
        f"<p>{len(runs)} runs, {failed} failed. Newest first.</p>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n{rows}\n</tbody></table>\n"
        "</body></html>\n"
    )


def write_index(settings: Settings) -> Path:
    """Regenerate ``index.html`` from the ledger (under a lock, replaced atomically)."""
    reports_dir = settings.reports_dir
    reports_dir.mkdir(parents=True, exist_ok=True)
    target = reports_dir / INDEX
    lock = reports_dir / "_ledger" / "index.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        # read and write under one lock: a writer never replaces a newer index with an older one
        fcntl.flock(handle, fcntl.LOCK_EX)
        tmp = target.with_name(f".{INDEX}.{os.getpid()}.tmp")
        tmp.write_text(render_index(settings), encoding="utf-8")
        os.replace(tmp, target)
    return target
