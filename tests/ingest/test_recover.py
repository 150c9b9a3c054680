"""A killed ingest leaves the previous month readable: the next ingest completes a journaled
publish, discards unpublished staging and puts back a month cut between its two renames."""

from __future__ import annotations

import json
from dataclasses import asdict

from workbench.ingest.run import JOURNAL, ingest_dir, recover_ingest
from workbench.warehouse.storage import Move

from ..conftest import make_project


def _month(folder, name: str):
    folder.mkdir(parents=True)
    (folder / name).write_bytes(b"PAR1")
    return folder


def test_a_journaled_publish_cut_short_is_completed(tmp_path):
    settings = make_project(tmp_path)
    final = settings.raw_dir / "usage" / "month=2026-01"
    run = ingest_dir(settings) / "_staging" / "run1"
    staged = _month(run / "raw" / "usage" / "month=2026-01", "new.parquet")
    trash = ingest_dir(settings) / "_trash" / "run1" / "usage" / "month=2026-01"
    _month(trash, "old.parquet")  # killed after the old month went to the trash
    (run / JOURNAL).write_text(json.dumps([asdict(Move(str(staged), str(final), str(trash)))]))
    assert recover_ingest(settings) == ["run1"]
    assert [p.name for p in final.iterdir()] == ["new.parquet"]
    assert not run.exists() and not trash.exists()


def test_unpublished_staging_is_dropped_and_a_cut_swap_put_back(tmp_path):
    settings = make_project(tmp_path)
    kept = _month(settings.raw_dir / "bills" / "month=2026-02", "old.parquet")
    _month(ingest_dir(settings) / "_staging" / "run2" / "raw" / "bills" / "month=2026-02", "x")
    # a month moved to the trash outside any journal, its place left empty
    trash = ingest_dir(settings) / "_trash" / "run3" / "bills" / "month=2026-03"
    _month(trash, "old.parquet")
    assert sorted(recover_ingest(settings)) == ["run2", "run3"]
    assert [p.name for p in kept.iterdir()] == ["old.parquet"]
    restored = settings.raw_dir / "bills" / "month=2026-03"
    assert [p.name for p in restored.iterdir()] == ["old.parquet"]
    assert not (ingest_dir(settings) / "_staging" / "run2").exists()
