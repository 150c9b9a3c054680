"""Tests of the warehouse engine. Helpers here write tiny raw extracts with the raw catalog
schema, so engine tests do not depend on the generator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from workbench.catalog import get_table
from workbench.catalog.ods import ODS_NAMES


def clean_rows(month: str, subscribers: tuple[int, ...] = (1, 2)) -> dict[str, list[dict]]:
    """One small, valid month of every raw extract (values pass every ODS contract)."""
    day = f"{month}-05"
    at = f"{month}-05 10:00:00"
    subs = [
        {
            "subscriber_id": s,
            "msisdn": f"1380000000{s}",
            "customer_id": 100 + s,
            "customer_type": "individual",
            "region_id": "GZ",
            "plan_id": "P1",
            "plan_type": "prepaid",
            "brand": "B",
            "segment": "mass",
            "activation_date": "2025-06-01",
            "deactivation_date": None,
            "channel_id": "C1",
            "contract_end_date": "2027-01-01",
            "device_generation": "5G",
            "birth_year": 1990,
            "gender": "F",
            "is_do_not_contact": False,
            "status": "active",
            "home_cell_id": "CELL1",
        }
        for s in subscribers
    ]
    s0 = subscribers[0]
    return {
        "regions": [
            {
                "region_id": "GZ",
                "region_name_en": "Guangzhou",
                "region_name_zh": "广州",
                "province_en": "Guangdong",
                "province_zh": "广东",
                "city_tier": 1,
            }
        ],
        "plans": [
            {
                "plan_id": "P1",
                "plan_name_en": "Basic",
                "plan_name_zh": "基础",
                "plan_type": "prepaid",
                "brand_en": "B",
                "brand_zh": "B",
                "monthly_fee_cny": 18.0,
                "included_data_mb": 1024.0,
                "included_voice_min": 100.0,
            }
        ],
        "products": [
            {
                "product_id": "VIDEO_PACK",
                "product_name_en": "Video",
                "product_name_zh": "视频",
                "category": "content",
                "monthly_fee_cny": 15.0,
                "launch_date": "2024-01-01",
            }
        ],
        "channels": [
            {
                "channel_id": "C1",
                "channel_name_en": "Store",
                "channel_name_zh": "门店",
                "channel_type": "own_store",
                "region_id": "GZ",
            }
        ],
        "channel_costs": [
            {
                "channel_id": "C1",
                "commission_per_gross_add_cny": 50.0,
                "fixed_cost_cny": 1000.0,
                "clawback_days": 90,
            }
        ],
        "campaigns": [
            {
                "campaign_id": "K1",
                "campaign_name_en": "Keep",
                "campaign_name_zh": "保",
                "campaign_type": "retention",
                "offer_product_id": None,
                "start_date": day,
                "end_date": "2030-01-01",
                "cost_per_contact_cny": 1.0,
                "offer_cost_cny": 10.0,
                "control_share": 0.2,
            }
        ],
        "subscribers": subs,
        "usage": [
            {
                "record_id": f"U{month}-{s}",
                "subscriber_id": s,
                "event_type": "voice",
                "started_at": at,
                "duration_sec": 60,
                "data_volume_mb": 0.0,
                "counterpart_operator": "own",
                "is_roaming": False,
                "cell_id": "CELL1",
            }
            for s in subscribers
        ],
        "bills": [
            {
                "bill_id": f"B{month}",
                "subscriber_id": s0,
                "plan_fee_cny": 18.0,
                "voice_cny": 1.0,
                "sms_cny": 0.0,
                "data_cny": 2.0,
                "vas_cny": 0.0,
                "total_cny": 21.0,
                "paid_cny": 21.0,
                "issued_at": at,
                "paid_at": at,
            }
        ],
        "recharges": [
            {
                "recharge_id": f"R{month}",
                "subscriber_id": s0,
                "recharged_at": at,
                "amount_cny": 50.0,
                "payment_method": "alipay",
                "channel_id": "C1",
            }
        ],
        "product_orders": [
            {
                "order_id": f"O{month}",
                "subscriber_id": s0,
                "product_id": "VIDEO_PACK",
                "action": "subscribe",
                "ordered_at": at,
                "channel_id": "C1",
            }
        ],
        "campaign_contacts": [
            {
                "contact_id": f"CC{month}",
                "campaign_id": "K1",
                "subscriber_id": s0,
                "assignment": "treatment",
                "contacted_at": at,
                "contact_channel": "sms",
            }
        ],
        "campaign_responses": [
            {
                "response_id": f"CR{month}",
                "campaign_id": "K1",
                "subscriber_id": s0,
                "responded_at": at,
                "response": "accepted",
            }
        ],
        "complaints": [
            {
                "complaint_id": f"Q{month}",
                "subscriber_id": s0,
                "category": "coverage",
                "opened_at": at,
                "resolved_at": None,
                "satisfaction_score": None,
            }
        ],
        "cell_quality": [
            {
                "cell_id": "CELL1",
                "region_id": "GZ",
                "measured_date": day,
                "drop_rate": 0.01,
                "throughput_mbps": 50.0,
            }
        ],
    }


def write_raw(
    raw_dir: Path,
    name: str,
    month: str,
    rows: list[dict[str, Any]],
    file: str = "part-0.parquet",
    schema: pa.Schema | None = None,
) -> Path:
    """Write rows of a raw extract for one month as one Parquet file (raw catalog schema)."""
    table = get_table(name)
    schema = schema or pa.schema(
        [f for f in table.arrow_schema if f.name not in table.partition_by]
    )
    folder = raw_dir / name / f"month={month}"
    folder.mkdir(parents=True, exist_ok=True)
    data = {f.name: [r.get(f.name) for r in rows] for f in schema}
    pq.write_table(pa.table(data, schema=schema), folder / file)
    return folder / file


def write_raw_months(raw_dir: Path, months: list[str], **changes: list[dict]) -> None:
    """Every extract for each month from :func:`clean_rows`; ``changes`` add rows per extract
    (to every month)."""
    for month in months:
        for name, rows in clean_rows(month).items():
            write_raw(raw_dir, name, month, rows + changes.get(name, []))
    assert set(ODS_NAMES) == set(clean_rows(months[0]))
