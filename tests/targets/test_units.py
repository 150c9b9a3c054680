"""Units of the target list: selection, each suppression rule, masking, file names, writers and
the export log, each with its failure mode."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from workbench.errors import InputDataError
from workbench.targets import select, suppress
from workbench.targets.errors import TargetError
from workbench.targets.log import append_record, read_records
from workbench.targets.names import check_name, default_campaign_name, safe_output_path
from workbench.targets.privacy import mask_msisdn, masked_msisdn
from workbench.targets.writers import checksum, write_list

CAND = (
    "subscriber_id bigint, region_id string, segment string, offer_product_id string, "
    "score double, reason string, source_rank int, is_do_not_contact boolean"
)


def _cands(spark, rows):
    return spark.createDataFrame(rows, CAND)


def _ids(df) -> list[int]:
    return sorted(r[0] for r in df.select("subscriber_id").collect())


def test_selection_dedupes_keeps_best_rank_and_ranks_by_score(spark):
    df = _cands(
        spark,
        [
            (1, "R1", "m", "P2", 0.9, "b", 2, None),
            (1, "R1", "m", "P1", 0.4, "a", 1, None),
            (2, "R2", "m", "P1", 0.8, "a", 1, None),
            (3, "R1", "m", "P3", 0.8, "a", 1, None),
        ],
    )
    out = (
        df.transform(select.in_region("R1"))
        .transform(select.drop_duplicate_subscribers)
        .transform(select.rank_list(5))
        .toPandas()
        .sort_values("list_rank")
    )
    assert list(out.subscriber_id) == [3, 1] and list(out.offer_product_id) == ["P3", "P1"]
    top = df.transform(select.drop_duplicate_subscribers).transform(select.rank_list(1))
    assert _ids(top) == [2]  # 0.8 ties broken by the smaller id


def test_selection_names_missing_columns(spark):
    with pytest.raises(InputDataError, match="churn_probability"):
        select.churn_candidates(spark.createDataFrame([(1,)], "subscriber_id bigint"))
    with pytest.raises(InputDataError, match="offer_product_id"):
        select.offer_candidates(spark.createDataFrame([(1,)], "subscriber_id bigint"))


def test_each_rule_removes_exactly_its_subscribers(spark):
    df = _cands(spark, [(i, "R", "m", "P1", 0.5, "r", 1, i == 9) for i in range(1, 10)])
    subs = spark.createDataFrame(
        [(i, None if i == 2 else i == 1) for i in range(1, 10) if i != 3],
        "subscriber_id bigint, is_do_not_contact boolean",
    )
    assert _ids(df.transform(suppress.suppress_do_not_contact(subs))) == [4, 5, 6, 7, 8]
    complaints = spark.createDataFrame(
        [(4, datetime(2026, 6, 1), None), (5, datetime(2026, 6, 1), datetime(2026, 6, 2)),
         (6, datetime(2026, 7, 2), None)],
        "subscriber_id bigint, opened_at timestamp, resolved_at timestamp",
    )  # fmt: skip
    open_rule = suppress.suppress_open_complaints(complaints, date(2026, 7, 1))
    assert 4 not in _ids(df.transform(open_rule)) and {5, 6} <= set(_ids(df.transform(open_rule)))
    bills = spark.createDataFrame(
        [(5, 10.0), (5, 10.0), (6, 15.0)], "subscriber_id bigint, arrears_cny double"
    )
    assert set(_ids(df)) - set(_ids(df.transform(suppress.suppress_arrears(bills, 15.0)))) == {5}
    contacts = spark.createDataFrame(
        [("A", None, 6, date(2026, 6, 1)), ("A", None, 7, date(2026, 5, 1)),
         ("SELF", "w1", 8, date(2026, 6, 30))],
        "campaign_id string, wave_id string, subscriber_id bigint, contact_date date",
    )  # fmt: skip
    # a new wave of SELF: its earlier wave's contact counts like any other campaign's
    recent = suppress.suppress_recent_contacts(contacts, date(2026, 7, 1), 30, "SELF", "w2")
    assert set(_ids(df)) - set(_ids(df.transform(recent))) == {6, 8}
    # re-running wave w1 itself: its own contacts do not count, so it selects the same people
    rerun = suppress.suppress_recent_contacts(contacts, date(2026, 7, 1), 30, "SELF", "w1")
    assert set(_ids(df)) - set(_ids(df.transform(rerun))) == {6}
    holdings = spark.createDataFrame(
        [(7, "P1"), (8, "P9")], "subscriber_id bigint, product_id string"
    )
    assert set(_ids(df)) - set(_ids(df.transform(suppress.suppress_holders(holdings)))) == {7}


def test_each_rule_counts_only_the_rows_earlier_rules_kept(spark):
    from workbench.targets.export import build_target_list

    df = _cands(
        spark,
        [
            (1, "R1", "m", "P1", 0.9, "r", 1, None),
            (1, "R1", "m", "P2", 0.8, "r", 2, None),
            (2, "R1", "m", "P1", 0.7, "r", 1, True),  # flagged in the source: both rows go
            (2, "R1", "m", "P2", 0.6, "r", 2, None),
            (3, "R2", "m", "P1", 0.5, "r", 1, None),  # other region
            (4, "R1", "m", "P1", 0.4, "r", 1, None),  # holds P1
            (5, "R1", "m", "P1", 0.3, "r", 1, None),  # do-not-contact in the CRM
            (7, "R2", "m", "P1", 0.2, "r", 1, True),  # flag on a row the region rule removed...
            (7, "R1", "m", "P2", 0.1, "r", 2, None),  # ...so this one stays
        ],
    )
    subs = spark.createDataFrame(
        [(i, i == 5) for i in (1, 2, 3, 4, 5, 7)], "subscriber_id bigint, is_do_not_contact boolean"
    )
    holdings = spark.createDataFrame([(4, "P1")], "subscriber_id bigint, product_id string")
    rules = [
        ("do_not_contact", suppress.suppress_do_not_contact(subs)),
        ("holds_offer", suppress.suppress_holders(holdings)),
    ]
    listed, counts = build_target_list(
        df, rules, campaign="C", control_share=0.0, size=1, region="R1"
    )
    assert [(c.rule, c.before, c.after) for c in counts] == [
        ("region", 9, 7),
        ("do_not_contact", 7, 4),
        ("holds_offer", 4, 3),
        ("deduplicate", 3, 2),
        ("size", 2, 1),
    ]
    assert _ids(listed) == [1]
    # the same rules applied one after the other as plain transforms keep the same rows
    chained = df.transform(select.in_region("R1"))
    for _, rule in rules:
        chained = chained.transform(rule)
    assert sorted(map(tuple, chained.select("subscriber_id", "offer_product_id").collect())) == [
        (1, "P1"), (1, "P2"), (7, "P2"),
    ]  # fmt: skip


def test_rules_name_missing_columns(spark):
    bad = spark.createDataFrame([(1,)], "subscriber_id bigint")
    for make in (
        lambda: suppress.suppress_do_not_contact(bad),
        lambda: suppress.suppress_open_complaints(bad, date(2026, 1, 1)),
        lambda: suppress.suppress_arrears(bad, 0.0),
        lambda: suppress.suppress_recent_contacts(bad, date(2026, 1, 1), 1, "C"),
        lambda: suppress.suppress_holders(bad),
    ):
        with pytest.raises(InputDataError):
            make()


def test_masking_in_python_and_spark_agree(spark):
    values = ["13812345678", "1234567", None, "8613812345678", "12345678", "123456789", ""]
    df = spark.createDataFrame([(v,) for v in values], "msisdn string")
    got = [r[0] for r in df.select(masked_msisdn()).collect()]
    assert got == [mask_msisdn(v) for v in values]
    assert got[:3] == ["138****5678", "*******", None]
    assert got[3:6] == ["861******5678", "12****78", "12****789"]


@pytest.mark.parametrize("length", range(0, 20))
def test_masking_always_hides_the_middle_four_digits(length):
    number = "".join(str(i % 10) for i in range(1, length + 1))
    masked = mask_msisdn(number)
    visible = [c for c in masked if c != "*"]
    assert len(masked) == length and masked.count("*") >= min(4, length)
    assert len(visible) <= 7 and len(visible) <= max(0, length - 4)
    if length >= 8:  # the hidden run is in the middle: both ends keep some digits
        middle = (length - 4) // 2
        assert masked[middle : middle + 4] == "****"


@pytest.mark.parametrize(
    "name",
    ["../x.csv", "a/b.csv", "/etc/passwd", "..", ".", ".hidden", "a\\b.csv", "a b.csv", "",
     "x.csv\n", "export_log.jsonl", "EXPORT_LOG.JSONL"],
)  # fmt: skip
def test_file_names_cannot_escape_the_output_folder_or_take_the_log(tmp_path, name):
    with pytest.raises(TargetError):
        safe_output_path(tmp_path / "out", name)


def test_a_file_name_must_carry_its_format(tmp_path):
    assert safe_output_path(tmp_path, "l.csv", "csv").name == "l.csv"
    with pytest.raises(TargetError, match=r"\.xlsx"):
        safe_output_path(tmp_path, "l.csv", "xlsx")


@pytest.mark.parametrize("name", ["RET\n", "RET\r", "RET ", "..", ".", "a..b", "-x", "x" * 101])
def test_campaign_names_are_matched_whole(name):
    with pytest.raises(TargetError, match="campaign"):
        check_name(name)
    assert check_name("RET_2026-06.v2") == "RET_2026-06.v2"


def test_default_campaign_names_are_unique_per_user_and_month():
    assert default_campaign_name("retention", "2026-06", "gz_manager") == (
        "retention_202606_gz_manager"
    )
    names = {
        default_campaign_name("retention", month, user)
        for month in ("2026-06", "2026-07")
        for user in ("gz_manager", "sz_manager", "gz.manager", "gz-manager")
    }
    assert len(names) == 8  # users whose names clean to the same text still differ
    long = default_campaign_name("XS_" + "P" * 80, "2026-06", "u" * 90)
    assert check_name(long) == long and len(long) <= 100


def test_list_files_and_the_log_are_private(tmp_path):
    import os
    import stat

    old = os.umask(0o022)  # what a default shell gives: files would be world-readable
    try:
        write_list(pd.DataFrame({"msisdn": ["13812345678"]}), tmp_path / "l.csv", "csv")
        write_list(pd.DataFrame({"a": [1]}), tmp_path / "l.xlsx", "xlsx", mode=0o640)
        append_record(tmp_path / "log.jsonl", {"a": 1}, mode=0o600)
        (tmp_path / "old.jsonl").write_text("")
        os.chmod(tmp_path / "old.jsonl", 0o644)  # a log created before the mode was set
        append_record(tmp_path / "old.jsonl", {"a": 1}, mode=0o600)
    finally:
        os.umask(old)
    mode = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert mode == {"l.csv": 0o600, "l.xlsx": 0o640, "log.jsonl": 0o600, "old.jsonl": 0o600}


def test_file_mode_config_is_checked(tmp_path):
    from tests.conftest import make_project
    from workbench.config import ConfigError

    assert make_project(tmp_path).targets.file_mode == 0o600
    assert make_project(tmp_path, **{"targets.file_mode": "0640"}).targets.file_mode == 0o640
    for bad in ("0666", "0400", "rw", 600):
        with pytest.raises(ConfigError, match=r"targets.file_mode"):
            make_project(tmp_path, **{"targets.file_mode": bad})


def test_a_plain_file_name_stays_inside(tmp_path):
    assert safe_output_path(tmp_path, "RET_2026-06.csv") == (tmp_path / "RET_2026-06.csv").resolve()


def test_xlsx_reads_back_with_headers_formats_and_frozen_row(tmp_path):
    from openpyxl import load_workbook

    frame = pd.DataFrame(
        {"list_rank": [1, 2], "subscriber_id": [11, 12], "score": [0.91234, None],
         "reason": ["complaints", "low usage"]}
    )  # fmt: skip
    digest = write_list(frame, tmp_path / "l.xlsx", "xlsx")
    assert digest == checksum(tmp_path / "l.xlsx")
    ws = load_workbook(tmp_path / "l.xlsx").active
    assert [c.value for c in ws[1]] == [
        "Rank / 排名", "Subscriber ID / 用户编号", "Score / 得分", "Reason / 推荐原因"
    ]  # fmt: skip
    assert all(c.font.bold for c in ws[1]) and ws.freeze_panes == "A2"
    assert ws["C2"].value == pytest.approx(0.91234) and ws["C2"].number_format == "0.0000"
    assert ws["C3"].value is None and ws.column_dimensions["B"].width >= 20


def test_csv_and_parquet_round_trip_and_a_bad_format(tmp_path):
    frame = pd.DataFrame({"subscriber_id": [1], "reason": ["投诉"]})
    write_list(frame, tmp_path / "l.csv", "csv")
    write_list(frame, tmp_path / "l.parquet", "parquet")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "l.csv", encoding="utf-8-sig"), frame)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "l.parquet"), frame)
    with pytest.raises(TargetError, match="format"):
        write_list(frame, tmp_path / "l.json", "json")  # type: ignore[arg-type]
    assert not list(Path(tmp_path).glob(".*tmp*"))


def test_export_log_appends_and_survives_a_truncated_line(tmp_path):
    path = tmp_path / "log.jsonl"
    append_record(path, {"campaign": "A", "n": 1})
    with open(path, "a") as handle:
        handle.write('{"campaign": "B", "n"')  # a writer killed mid-line
    append_record(path, {"campaign": "C", "n": 3})
    assert [r["campaign"] for r in read_records(path)] == ["A", "C"]
    assert json.loads(path.read_text().splitlines()[-1])["n"] == 3


def test_control_share_out_of_range_is_refused():
    from workbench.targets.control import assign_groups

    for share in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="control_share"):
            assign_groups("C", share)


def test_config_refuses_turning_do_not_contact_off(tmp_path):
    from tests.conftest import make_project
    from workbench.config import ConfigError

    with pytest.raises(ConfigError, match=r"targets.suppression.do_not_contact"):
        make_project(tmp_path, **{"targets.suppression.do_not_contact": False})
    with pytest.raises(ConfigError, match=r"targets.control_share"):
        make_project(tmp_path, **{"targets.control_share": 1.2})
    assert make_project(tmp_path).targets.suppression.contacted_within_days == 30


def test_a_write_that_breaks_a_contract_publishes_nothing(spark, tmp_path):
    from tests.conftest import make_project
    from tests.frames import frame
    from workbench.targets.tables import replace_months
    from workbench.warehouse.contracts import ContractViolation
    from workbench.warehouse.storage import STAGING, read_table

    settings = make_project(tmp_path)
    row = {"contact_id": "k1", "campaign_id": "C", "wave_id": "w1", "subscriber_id": 1,
           "assignment": "control", "source": "churn", "month": "2026-07"}  # fmt: skip
    one = frame(spark, "ads_target_contacts", [row])
    replace_months(settings, "ads_target_contacts", one, ["2026-07"])
    twice = frame(spark, "ads_target_contacts", [row, {**row, "subscriber_id": 2}])
    with pytest.raises(ContractViolation, match="contact_id"):
        replace_months(settings, "ads_target_contacts", twice, ["2026-07"])
    assert read_table(spark, settings, "ads_target_contacts").count() == 1
    assert not any((settings.warehouse_dir / STAGING).glob("*"))
