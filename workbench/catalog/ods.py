"""ODS: typed, validated copies of each raw extract, and the quarantine of rejected rows.

Every ODS table has exactly its raw extract's columns in the same order; columns ending in ``_at``
become ``timestamp`` and columns ending in ``_date`` become ``date``. Within a month a key is unique
and not null. Rows that fail validation land in ``quarantine_rows`` with the reason, the source
file (relative to ``paths.raw``) and the row index inside that file.
"""

from __future__ import annotations

from dataclasses import replace

from workbench.catalog import Table, register, tables
from workbench.catalog.contracts import AcceptedValues, Contract, Expression, NotNull, Unique
from workbench.catalog.raw import DIRTY_KINDS
from workbench.catalog.schema import Column, col
from workbench.catalog.values import PLAN_TYPES, SEGMENTS

# raw extract -> ODS table (``ods_<source system>__<entity>``)
ODS_NAMES: dict[str, str] = {
    "regions": "ods_crm__regions",
    "plans": "ods_crm__plans",
    "products": "ods_crm__products",
    "channels": "ods_crm__channels",
    "channel_costs": "ods_finance__channel_costs",
    "campaigns": "ods_marketing__campaigns",
    "subscribers": "ods_crm__subscribers",
    "usage": "ods_cdr__usage",
    "bills": "ods_billing__bills",
    "recharges": "ods_billing__recharges",
    "product_orders": "ods_crm__product_orders",
    "campaign_contacts": "ods_marketing__campaign_contacts",
    "campaign_responses": "ods_marketing__campaign_responses",
    "complaints": "ods_service__complaints",
    "cell_quality": "ods_network__cell_quality",
}

# The column of each extract that says when the event happened: a value after the end of the
# extract month is a ``future_date``. Planned dates (contract end, campaign end, product launch)
# and completion times (paid_at, resolved_at) may legitimately lie later, so they are not checked.
EVENT_TIME_COLUMNS: dict[str, tuple[str, ...]] = {
    "subscribers": ("activation_date",),
    "usage": ("started_at",),
    "bills": ("issued_at",),
    "recharges": ("recharged_at",),
    "product_orders": ("ordered_at",),
    "campaign_contacts": ("contacted_at",),
    "campaign_responses": ("responded_at",),
    "complaints": ("opened_at",),
    "cell_quality": ("measured_date",),
}

# Columns that must parse, with the text format the source systems export.
TIMESTAMP_FORMAT = "yyyy-MM-dd HH:mm:ss"
DATE_FORMAT = "yyyy-MM-dd"


_CONTRACTS: dict[str, tuple[Contract, ...]] = {
    "regions": (Expression("city tier 1..4", "city_tier BETWEEN 1 AND 4"),),
    "plans": (
        AcceptedValues("plan_type", PLAN_TYPES),
        Expression("non-negative fee", "monthly_fee_cny >= 0"),
    ),
    "products": (Expression("non-negative fee", "monthly_fee_cny >= 0"),),
    "channels": (
        AcceptedValues(
            "channel_type",
            (
                "own_store",
                "franchise_agent",
                "online_app",
                "telesales",
                "ecommerce",
                "enterprise_direct",
            ),
        ),
    ),
    "channel_costs": (
        Expression("non-negative commission", "commission_per_gross_add_cny >= 0"),
        Expression("non-negative fixed cost", "fixed_cost_cny >= 0"),
        Expression("non-negative clawback window", "clawback_days >= 0"),
    ),
    "campaigns": (
        AcceptedValues("campaign_type", ("retention", "cross_sell")),
        Expression("control share 0..1", "control_share BETWEEN 0 AND 1"),
        Expression("non-negative costs", "cost_per_contact_cny >= 0 AND offer_cost_cny >= 0"),
    ),
    "subscribers": (
        AcceptedValues("customer_type", ("individual", "enterprise")),
        AcceptedValues("plan_type", PLAN_TYPES),
        AcceptedValues("segment", SEGMENTS),
        AcceptedValues("device_generation", ("3G", "4G", "5G")),
        AcceptedValues("gender", ("F", "M")),
        AcceptedValues("status", ("active", "suspended", "deactivated")),
        NotNull(("activation_date",)),
    ),
    "usage": (
        NotNull(("subscriber_id", "started_at")),
        AcceptedValues("event_type", ("voice", "sms", "data")),
        AcceptedValues("counterpart_operator", ("own", "competitor_a", "competitor_b")),
        Expression("non-negative duration", "duration_sec >= 0"),
        Expression("non-negative volume", "data_volume_mb >= 0"),
    ),
    "bills": (
        NotNull(("subscriber_id", "issued_at")),
        Expression(
            "non-negative amounts",
            "plan_fee_cny >= 0 AND voice_cny >= 0 AND sms_cny >= 0 AND data_cny >= 0 "
            "AND vas_cny >= 0 AND total_cny >= 0 AND paid_cny >= 0",
        ),
    ),
    "recharges": (
        NotNull(("subscriber_id", "recharged_at")),
        AcceptedValues("payment_method", ("wechat_pay", "alipay", "bank_card", "voucher")),
        Expression("non-negative amount", "amount_cny >= 0"),
    ),
    "product_orders": (
        NotNull(("subscriber_id", "product_id", "ordered_at")),
        AcceptedValues("action", ("subscribe", "unsubscribe")),
    ),
    "campaign_contacts": (
        NotNull(("subscriber_id", "campaign_id")),
        AcceptedValues("assignment", ("treatment", "control")),
        AcceptedValues("contact_channel", ("sms", "telesales", "app_push")),
    ),
    "campaign_responses": (
        NotNull(("subscriber_id", "campaign_id")),
        AcceptedValues("response", ("accepted", "declined")),
    ),
    "complaints": (
        NotNull(("subscriber_id", "opened_at")),
        AcceptedValues("category", ("coverage", "billing_dispute", "service_attitude", "fraud")),
        Expression("satisfaction 1..5", "satisfaction_score BETWEEN 1 AND 5"),
    ),
    "cell_quality": (
        Expression("drop rate 0..1", "drop_rate BETWEEN 0 AND 1"),
        Expression("non-negative throughput", "throughput_mbps >= 0"),
    ),
}


def ods_type(column: Column) -> Column:
    """The ODS column for a raw column: ``*_at`` becomes timestamp, ``*_date`` becomes date."""
    if column.name.endswith("_at"):
        return replace(column, type="timestamp")
    if column.name.endswith("_date"):
        return replace(column, type="date")
    return column


def _ods_table(raw: Table) -> Table:
    return Table(
        name=ODS_NAMES[raw.name],
        layer="ods",
        grain=raw.grain,
        description=f"{raw.description} Typed and validated (ODS).",
        columns=tuple(ods_type(c) for c in raw.columns),
        keys=raw.keys,
        partition_by=raw.partition_by,
        contracts=(
            Unique(raw.keys, guaranteed_by="ODS keeps the first row of each key (duplicate rule)"),
            NotNull(raw.keys),
            *_CONTRACTS.get(raw.name, ()),
        ),
    )


ODS_TABLES: dict[str, Table] = {
    raw.name: register(_ods_table(raw)) for raw in tables("raw") if raw.name in ODS_NAMES
}

QUARANTINE_ROWS = register(
    Table(
        name="quarantine_rows",
        layer="quarantine",
        grain="one row per raw row rejected by ODS validation",
        description="Raw rows that failed validation, with the reason, source file and row.",
        columns=(
            col("source_table", "string", "raw extract name, e.g. usage"),
            col("reason", "string", " | ".join(DIRTY_KINDS)),
            col("source_file", "string", "file relative to paths.raw"),
            col("source_row", "bigint", "0-based row index inside the source file"),
            col("record_json", "string", "the raw record as JSON text"),
            col("month", "string", "extract month, YYYY-MM (partition)", nullable=False),
        ),
        keys=("source_table", "source_file", "source_row"),
        contracts=(
            Unique(
                ("source_table", "source_file", "source_row"),
                guaranteed_by="one row per row of a raw file (its path and row index)",
            ),
            NotNull(("source_table", "reason", "source_file", "source_row", "record_json")),
            AcceptedValues("reason", DIRTY_KINDS),
        ),
    )
)
