"""End-to-end export on a small warehouse written through the real storage module."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from tests.targets.conftest import PERIOD
from workbench.targets.control import hash_unit
from workbench.targets.errors import TargetError
from workbench.targets.export import export_targets, file_checksum_ok
from workbench.targets.log import LOG_NAME, read_records
from workbench.warehouse.storage import read_table


def _counts(result) -> dict[str, tuple[int, int]]:
    return {c["rule"]: (c["before"], c["after"]) for c in result.counts}


def test_churn_export_suppresses_splits_masks_logs_and_records(spark, small_warehouse):
    settings = small_warehouse
    result = export_targets(spark, settings, campaign="RET_JUL", source="churn")
    assert result.period == PERIOD and result.as_of == "2026-07-01"
    counts = _counts(result)
    assert counts["do_not_contact"] == (40, 39)
    assert counts["open_complaint"] == (39, 38)  # 6's complaint was resolved in time
    assert counts["arrears"] == (38, 37)  # 7 has a bill without arrears
    assert counts["recent_contact"] == (37, 36)
    assert "holds_offer" not in counts  # churn lists have no offered product
    listed = pd.read_csv(result.file, dtype={"msisdn": str})
    control = pd.read_csv(result.control_file, dtype={"msisdn": str})
    everyone = set(listed.subscriber_id) | set(control.subscriber_id)
    assert everyone == set(range(5, 41))
    assert set(listed.assignment) == {"treatment"} and set(control.assignment) <= {"control"}
    expected_control = {s for s in everyone if hash_unit("RET_JUL", s) < 0.25}
    assert set(control.subscriber_id) == expected_control
    assert all(m.startswith("138****") and len(m) == 11 for m in listed.msisdn)
    assert list(listed.list_rank) == sorted(listed.list_rank)
    # the log
    (record,) = read_records(settings.targets_dir / LOG_NAME)
    assert record["n_treated"] == len(listed) and record["n_control"] == len(control)
    assert record["checksum"] == hashlib.sha256(Path(result.file).read_bytes()).hexdigest()
    assert file_checksum_ok(record["file"], record["checksum"])
    Path(result.file).write_text("tampered")
    assert not file_checksum_ok(record["file"], record["checksum"])
    # the warehouse contacts: treated and control, in the as-of month
    contacts = read_table(spark, settings, "ads_target_contacts").toPandas()
    assert len(contacts) == 36 and set(contacts.month) == {"2026-07"}
    assert set(contacts[~contacts.is_treated].subscriber_id) == expected_control


def test_rerun_gives_the_same_list_and_replaces_the_contacts(spark, small_warehouse):
    settings = small_warehouse
    first = export_targets(spark, settings, campaign="RET_JUL", source="churn", size=20)
    again = export_targets(spark, settings, campaign="RET_JUL", source="churn", size=20)
    assert first.checksum == again.checksum  # earlier exports of the same campaign do not count
    assert len(read_records(settings.targets_dir / LOG_NAME)) == 2
    assert read_table(spark, settings, "ads_target_contacts").count() == 20
    # another campaign soon after: everybody above was contacted within 30 days
    other = export_targets(
        spark, settings, campaign="XSELL", source="churn", as_of=date(2026, 7, 5)
    )
    assert _counts(other)["recent_contact"] == (37, 16)


def test_offers_export_skips_held_products_and_writes_xlsx(spark, small_warehouse):
    from openpyxl import load_workbook

    result = export_targets(
        spark, small_warehouse, campaign="XS", source="offers", fmt="xlsx", authorised=True
    )
    counts = _counts(result)
    assert counts["holds_offer"][0] - counts["holds_offer"][1] == 1
    assert counts["deduplicate"][1] == 36
    sheet = load_workbook(result.file).active
    headers = [c.value for c in sheet[1]]
    column = {h.split(" / ")[0]: i for i, h in enumerate(headers)}
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    offer_of = {r[column["Subscriber ID"]]: r[column["Offer"]] for r in rows}
    assert offer_of.get(5, "P2") == "P2" and all(p == "P1" for s, p in offer_of.items() if s != 5)
    assert all(len(r[column["MSISDN"]]) == 11 and "*" not in r[column["MSISDN"]] for r in rows)


def test_export_refuses_bad_arguments_and_a_missing_mart(spark, small_warehouse, tmp_path):
    from tests.conftest import make_project

    with pytest.raises(TargetError, match="campaign"):
        export_targets(spark, small_warehouse, campaign="../evil", source="churn")
    with pytest.raises(TargetError, match="source"):
        export_targets(spark, small_warehouse, campaign="C", source="usage")
    with pytest.raises(TargetError, match=r"escapes|file name"):
        export_targets(spark, small_warehouse, campaign="C", source="churn", file_name="/etc/x")
    empty = make_project(tmp_path / "empty")
    with pytest.raises(TargetError, match="ads_churn_scores: no month"):
        export_targets(spark, empty, campaign="C", source="churn")
