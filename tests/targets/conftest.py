"""Helpers for the target-list tests: tiny catalog tables written through the real storage."""

from __future__ import annotations

import shutil
from datetime import date, datetime

import pytest

from tests.conftest import make_project
from tests.frames import frame
from workbench.catalog import get_table
from workbench.config import Settings, load_settings
from workbench.targets.tables import replace_months

PERIOD = "2026-06"


def write_table(spark, settings, name: str, rows: list[dict]) -> None:
    table = get_table(name)
    months = sorted({r["month"] for r in rows}) if table.partition_by else []
    replace_months(settings, name, frame(spark, name, rows), months)


def subscriber(sid: int, *, dnc: bool | None = False, msisdn: str | None = None) -> dict:
    return {
        "subscriber_id": sid,
        "valid_from_month": "2026-01",
        "valid_to_month": PERIOD,
        "is_current": True,
        "msisdn": msisdn or f"138{sid:08d}",
        "region_id": "R1" if sid % 2 else "R2",
        "plan_type": "postpaid",
        "status": "active",
        "is_do_not_contact": dnc,
    }


SMALL_OVERRIDES = {"targets.control_share": 0.25}


@pytest.fixture
def small_warehouse(small_warehouse_made, tmp_path) -> Settings:
    """A project of its own for each test, copied from :func:`small_warehouse_made` (a copy is
    milliseconds; writing its tables through Spark, about 8 s)."""
    root = tmp_path / "project"
    shutil.copytree(small_warehouse_made.root, root)
    return load_settings(root / "pipelines" / "config.yml", environ={}, overrides=SMALL_OVERRIDES)


@pytest.fixture(scope="session")
def small_warehouse_made(spark, tmp_path_factory) -> Settings:
    """A project with 40 scored subscribers and one of each suppression reason:
    1 do-not-contact, 2 open complaint, 3 arrears, 4 contacted 10 days before, 5 holds offer P1
    (offers source), 6 complaint resolved before the export (kept); written through the real
    storage once per worker."""
    settings = make_project(tmp_path_factory.mktemp("small_warehouse"), **SMALL_OVERRIDES)
    ids = range(1, 41)
    write_table(spark, settings, "dwd_dim_subscriber", [subscriber(i, dnc=(i == 1)) for i in ids])
    write_table(
        spark,
        settings,
        "ads_churn_scores",
        [
            {
                "subscriber_id": i,
                "region_id": "R1" if i % 2 else "R2",
                "segment": "mass",
                "is_do_not_contact": i == 1,
                "model_id": "m1",
                "churn_probability": round(1 - i / 100, 4),
                "risk_decile": 1 + i // 5,
                "risk_band": "high",
                "reason_1": "n_complaints_3m",
                "reason_1_text": "近3月投诉 3，高于 97% 用户 / complaints in 3 months 3, higher "
                "than 97% of lines",
                "month": PERIOD,
            }
            for i in ids
        ],
    )
    write_table(
        spark,
        settings,
        "ads_offers",
        [
            {
                "subscriber_id": i,
                "offer_rank": rank,
                "offer_product_id": product,
                "antecedent": "DATA_L",
                "confidence": 0.5 - rank / 10,
                "lift": 2.0,
                "region_id": "R1" if i % 2 else "R2",
                "month": PERIOD,
            }
            for i in ids
            for rank, product in ((1, "P1"), (2, "P2"))
        ],
    )
    opened = datetime(2026, 6, 10)
    write_table(
        spark,
        settings,
        "dwd_fct_complaint",
        [
            {"complaint_id": "c2", "subscriber_id": 2, "opened_at": opened, "month": PERIOD},
            {
                "complaint_id": "c6",
                "subscriber_id": 6,
                "opened_at": opened,
                "resolved_at": datetime(2026, 6, 20),
                "month": PERIOD,
            },
        ],
    )
    write_table(
        spark,
        settings,
        "dwd_fct_bill",
        [
            {"bill_id": "b3", "subscriber_id": 3, "arrears_cny": 50.0, "month": PERIOD},
            {"bill_id": "b7", "subscriber_id": 7, "arrears_cny": 0.0, "month": PERIOD},
        ],
    )
    write_table(
        spark,
        settings,
        "dwd_fct_campaign_contact",
        [
            {
                "contact_id": "k4",
                "campaign_id": "OTHER",
                "subscriber_id": 4,
                "assignment": "treatment",
                "contact_date": date(2026, 6, 21),
                "month": PERIOD,
            }
        ],
    )
    write_table(
        spark,
        settings,
        "dwd_fct_product_holding",
        [{"subscriber_id": 5, "product_id": "P1", "month": PERIOD}],
    )
    return settings
