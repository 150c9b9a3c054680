"""End-to-end export on a small warehouse written through the real storage module: the list,
its log line and files, campaign ownership and waves (added, re-run, replaced, withdrawn)."""

from __future__ import annotations

import hashlib
import stat
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from tests.targets.conftest import PERIOD
from workbench.filters import at_least, equals
from workbench.targets.control import hash_unit
from workbench.targets.errors import TargetError
from workbench.targets.export import export_targets, file_checksum_ok
from workbench.targets.log import LOG_NAME, read_records
from workbench.targets.names import operator_name
from workbench.targets.withdraw import withdraw_wave
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
    assert len(listed) > 0
    assert all(m.startswith("138****") and len(m) == 11 for m in listed.msisdn)
    assert list(listed.list_rank) == sorted(listed.list_rank)
    # the log: who, which campaign and wave, counts by rule, the files' checksums
    (record,) = read_records(settings.targets_dir / LOG_NAME)
    assert (record["user"], record["action"]) == (operator_name(), "create")
    assert (record["campaign"], record["wave_id"]) == ("RET_JUL", "20260701")
    assert {c["rule"]: c["removed"] for c in record["counts"]}["do_not_contact"] == 1
    assert record["n_treated"] == len(listed) and record["n_control"] == len(control)
    assert (
        record["control_checksum"]
        == hashlib.sha256(Path(result.control_file).read_bytes()).hexdigest()
    )
    for private in (result.file, result.control_file, settings.targets_dir / LOG_NAME):
        assert stat.S_IMODE(Path(private).stat().st_mode) == 0o600
    assert not list(settings.targets_dir.glob(".*.tmp")) and not list(
        (settings.targets_dir / ".pending").glob("*")
    )
    assert record["checksum"] == hashlib.sha256(Path(result.file).read_bytes()).hexdigest()
    assert file_checksum_ok(record["file"], record["checksum"])
    Path(result.file).write_text("tampered")
    assert not file_checksum_ok(record["file"], record["checksum"])
    # the warehouse contacts: treated and control, in the as-of month
    contacts = read_table(spark, settings, "ads_target_contacts").toPandas()
    assert len(contacts) == 36 and set(contacts.month) == {"2026-07"}
    assert set(contacts.wave_id) == {"20260701"}
    assert set(contacts[~contacts.is_treated].subscriber_id) == expected_control
    (campaign,) = read_table(spark, settings, "ads_target_campaigns").collect()
    assert (campaign.owner, campaign.regions) == (operator_name(), "ALL")
    (wave,) = read_table(spark, settings, "ads_target_waves").collect()
    assert (wave.status, wave.file_sha256, wave.n_control) == (
        "active",
        result.checksum,
        len(control),
    )


def test_rerun_of_a_wave_changes_nothing(spark, small_warehouse):
    settings = small_warehouse
    first = export_targets(spark, settings, campaign="RET_JUL", source="churn", size=20)
    before = read_table(spark, settings, "ads_target_contacts").toPandas()
    again = export_targets(spark, settings, campaign="RET_JUL", source="churn", size=20)
    assert first.checksum == again.checksum  # the wave's own contacts do not suppress it
    assert again.action == "rerun" and again.wave_id == first.wave_id
    assert len(read_records(settings.targets_dir / LOG_NAME)) == 2  # each run is logged
    after = read_table(spark, settings, "ads_target_contacts").toPandas()
    pd.testing.assert_frame_equal(  # the same rows, down to the export that wrote them
        before.sort_values("contact_id").reset_index(drop=True),
        after.sort_values("contact_id").reset_index(drop=True),
    )
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
    with pytest.raises(TargetError, match="campaign"):
        export_targets(spark, small_warehouse, campaign="C\n", source="churn")
    with pytest.raises(TargetError, match="wave"):
        export_targets(spark, small_warehouse, campaign="C", source="churn", wave="..")
    with pytest.raises(TargetError, match="owner"):
        export_targets(spark, small_warehouse, campaign="C", source="churn", owner="a\nb")
    empty = make_project(tmp_path / "empty")
    with pytest.raises(TargetError, match="ads_churn_scores: no month"):
        export_targets(spark, empty, campaign="C", source="churn")


def test_the_export_log_name_is_reserved(spark, small_warehouse):
    log = small_warehouse.targets_dir / LOG_NAME
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text('{"export_id": "earlier"}\n')
    for name in (LOG_NAME, "Export_Log.JSONL"):
        with pytest.raises(TargetError, match="reserved for the export log"):
            export_targets(spark, small_warehouse, campaign="C", source="churn", file_name=name)
    assert read_records(log) == [{"export_id": "earlier"}]


def test_campaigns_have_owners_and_waves(spark, small_warehouse):
    settings = small_warehouse
    contacts = lambda: read_table(spark, settings, "ads_target_contacts").toPandas()  # noqa: E731
    first = export_targets(spark, settings, campaign="RET", source="churn", size=10, owner="alice")
    assert first.action == "create"

    # someone else under alice's campaign id: refused, naming both, and nothing written
    with pytest.raises(TargetError, match=r"'RET' belongs to 'alice'.*'bob'"):
        export_targets(spark, settings, campaign="RET", source="churn", owner="bob")
    assert len(contacts()) == 10 and len(read_records(settings.targets_dir / LOG_NAME)) == 1

    # alice's second wave two weeks later: wave 1's contacts are suppressed and kept
    second = export_targets(
        spark, settings, campaign="RET", source="churn", owner="alice", as_of=date(2026, 7, 15)
    )
    assert (second.action, second.wave_id) == ("add_wave", "20260715")
    counts = {c["rule"]: c for c in second.counts}
    assert counts["recent_contact"]["removed"] == 1 + 10  # OTHER's contact and wave 1
    both = contacts()
    assert both.groupby("wave_id").size().to_dict() == {"20260701": 10, "20260715": 26}
    assert not set(both[both.wave_id == "20260701"].subscriber_id) & set(
        both[both.wave_id == "20260715"].subscriber_id
    )
    # a wave keeps the campaign's terms and regions
    with pytest.raises(TargetError, match=r"--cost-per-contact 9.0.*created with"):
        export_targets(
            spark, settings, campaign="RET", source="churn", owner="alice", cost_per_contact_cny=9.0
        )

    # wave 1 again with another list: refused unless replaced explicitly
    with pytest.raises(TargetError, match=r"wave '20260701' of campaign 'RET' already holds"):
        export_targets(spark, settings, campaign="RET", source="churn", owner="alice", size=5)
    replaced = export_targets(
        spark, settings, campaign="RET", source="churn", owner="alice", size=5, replace_wave=True
    )
    assert replaced.action == "replace_wave"
    assert contacts().groupby("wave_id").size().to_dict() == {"20260701": 5, "20260715": 26}

    # withdrawing: only the owner, and only that wave
    with pytest.raises(TargetError, match="belongs to 'alice'"):
        withdraw_wave(spark, settings, campaign="RET", wave="20260715", reason="x", user="bob")
    gone = withdraw_wave(
        spark, settings, campaign="RET", wave="20260715", reason="budget cut", user="alice"
    )
    assert gone.n_contacts_removed == 26 and not Path(second.file).exists()
    assert contacts().groupby("wave_id").size().to_dict() == {"20260701": 5}
    waves = read_table(spark, settings, "ads_target_waves").toPandas().set_index("wave_id")
    assert waves.loc["20260715", "status"] == "withdrawn"
    assert waves.loc["20260715", "withdrawn_by"] == "alice"
    (campaign,) = read_table(spark, settings, "ads_target_campaigns").collect()
    assert campaign.owner == "alice" and campaign.end_date == date(2026, 7, 1)
    log = read_records(settings.targets_dir / LOG_NAME)
    assert [r["action"] for r in log] == [
        "create", "add_wave", "replace_wave", "withdraw_wave"
    ]  # fmt: skip
    assert log[-1]["user"] == "alice" and log[-1]["reason"] == "budget cut"
    with pytest.raises(TargetError, match="already withdrawn"):
        withdraw_wave(spark, settings, campaign="RET", wave="20260715", reason="x", user="alice")


def test_a_campaign_stays_in_its_regions_and_files_stay_with_their_wave(spark, small_warehouse):
    settings = small_warehouse
    gz = export_targets(
        spark, settings, campaign="R1_ONLY", source="churn", owner="gz", regions=["R1"]
    )
    listed = pd.read_csv(gz.file)
    assert set(listed.region_id) == {"R1"} and gz.wave_id == "20260701_R1"
    with pytest.raises(TargetError, match=r"covers R1; this wave's regions R2"):
        export_targets(
            spark, settings, campaign="R1_ONLY", source="churn", owner="gz", regions=["R2"]
        )
    with pytest.raises(TargetError, match=r"belongs to wave '20260701_R1' of campaign 'R1_ONLY'"):
        export_targets(
            spark, settings, campaign="OTHER_ONE", source="churn", file_name=Path(gz.file).name
        )


def test_filters_reach_spark_as_bound_values(spark, small_warehouse):
    chosen = export_targets(
        spark,
        small_warehouse,
        campaign="F1",
        source="churn",
        filters=[equals("segment", "mass"), at_least("churn_probability", 0.8)],
    )
    assert chosen.counts[0]["before"] == 20  # probabilities 0.99 .. 0.80
    # a value quoted for one SQL dialect is just a value here: it matches nothing, safely
    none = export_targets(
        spark, small_warehouse, campaign="F2", source="churn",
        filters=[equals("segment", "mass\\' OR '1'='1")],
    )  # fmt: skip
    assert none.counts[0]["before"] == 0 and none.n_treated == 0
