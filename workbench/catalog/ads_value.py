"""ADS marts of the value subjects: value tiers and lifecycle, tier migration, key-account
health, revenue concentration and revenue structure. All are small aggregates by month."""

from __future__ import annotations

from workbench.catalog import Table, register
from workbench.catalog.contracts import AcceptedValues, Expression, NotNull, Unique
from workbench.catalog.raw import MONTH
from workbench.catalog.schema import col

VALUE_TIERS: tuple[str, ...] = ("high", "medium", "low")
TENURE_BANDS: tuple[str, ...] = ("new", "established", "loyal")
LIFECYCLE_STAGES: tuple[str, ...] = ("new", "growing", "stable", "declining", "at_risk", "lost")
MIGRATION_FROM: tuple[str, ...] = (*VALUE_TIERS, "new")
MIGRATION_TO: tuple[str, ...] = (*VALUE_TIERS, "lost")
REVENUE_CATEGORIES: tuple[str, ...] = ("plan_fee", "voice", "sms", "data", "vas", "recharge")
#: each revenue category as reports and apps name it
REVENUE_CATEGORY_LABELS: dict[str, str] = {
    "plan_fee": "套餐费 Plan fees",
    "voice": "语音 Voice",
    "sms": "短信 SMS",
    "data": "流量 Data",
    "vas": "增值业务 Value-added services",
    "recharge": "充值 Prepaid recharges",
}
UNKNOWN = "UNKNOWN"  # dimension value of lines whose region, plan or segment is missing

_CELL = ("region_id", "segment", "plan_type")

ADS_VALUE_SEGMENTS = register(
    Table(
        name="ads_value_segments",
        layer="ads",
        grain="one row per region, segment, plan type, value tier, tenure band, lifecycle stage "
        "and month",
        description="Lines by value tier (3-month ARPU), tenure band and lifecycle stage, with "
        "revenue. Churned lines of the month are in stage 'lost' with the tier of their ARPU.",
        columns=(
            col("region_id", "string", nullable=False),
            col("segment", "string", nullable=False),
            col("plan_type", "string", nullable=False),
            col("value_tier", "string", "high | medium | low by mean revenue of M-2..M"),
            col("tenure_band", "string", "new (< 12 months) | established (< 36) | loyal"),
            col("lifecycle_stage", "string", "new | growing | stable | declining | at_risk | lost"),
            col("n_lines", "bigint"),
            col("revenue_cny", "double", "revenue of the month"),
            col("arpu_3m_sum_cny", "double", "sum over lines of their 3-month ARPU"),
            MONTH,
        ),
        keys=(*_CELL, "value_tier", "tenure_band", "lifecycle_stage", "month"),
        contracts=(
            Unique(
                (*_CELL, "value_tier", "tenure_band", "lifecycle_stage", "month"),
                guaranteed_by="to_value_segments groups by these columns",
            ),
            NotNull((*_CELL, "value_tier", "tenure_band", "lifecycle_stage", "n_lines")),
            AcceptedValues("value_tier", VALUE_TIERS),
            AcceptedValues("tenure_band", TENURE_BANDS),
            AcceptedValues("lifecycle_stage", LIFECYCLE_STAGES),
            Expression("lines_positive", "n_lines > 0"),
            Expression("revenue_non_negative", "revenue_cny >= 0"),
        ),
    )
)

ADS_VALUE_MIGRATION = register(
    Table(
        name="ads_value_migration",
        layer="ads",
        grain="one row per region, segment, tier in M-1, tier in M and month M",
        description="Month-to-month migration between value tiers: 'new' lines had no row in "
        "M-1 (gross adds, or the first warehouse month); 'lost' lines left during M.",
        columns=(
            col("region_id", "string", nullable=False),
            col("segment", "string", nullable=False),
            col("from_tier", "string", "high | medium | low | new"),
            col("to_tier", "string", "high | medium | low | lost"),
            col("n_lines", "bigint"),
            col("revenue_prev_cny", "double", "their revenue in M-1"),
            col("revenue_cny", "double", "their revenue in M"),
            MONTH,
        ),
        keys=("region_id", "segment", "from_tier", "to_tier", "month"),
        contracts=(
            Unique(
                ("region_id", "segment", "from_tier", "to_tier", "month"),
                guaranteed_by="to_value_migration groups by these columns",
            ),
            NotNull(("region_id", "segment", "from_tier", "to_tier", "n_lines")),
            AcceptedValues("from_tier", MIGRATION_FROM),
            AcceptedValues("to_tier", MIGRATION_TO),
            Expression("lines_positive", "n_lines > 0"),
        ),
    )
)

ADS_KEY_ACCOUNT_HEALTH = register(
    Table(
        name="ads_key_account_health",
        layer="ads",
        grain="one row per enterprise customer per month",
        description="Each enterprise customer's lines, movements, complaints and revenue on two "
        "definitions: billed/recharged (revenue_cny) and contracted (plan fee + value-added "
        "products held, fee_revenue_cny), with shares of the month's totals.",
        columns=(
            col("customer_id", "bigint", nullable=False),
            col("region_id", "string", "region of most of its lines"),
            col("n_lines", "bigint", "lines in the month's snapshot (churned ones included)"),
            col("n_active_lines", "bigint", "lines live at month end"),
            col("n_gross_adds", "bigint"),
            col("n_churned_lines", "bigint"),
            col("revenue_cny", "double"),
            col("fee_revenue_cny", "double", "plan monthly fee + fees of products held"),
            col("revenue_share", "double", "of the month's revenue of all lines"),
            col("fee_revenue_share", "double", "of the month's fee revenue of all lines"),
            col("n_complaints", "bigint"),
            col("n_complaints_open", "bigint"),
            col("mou_min", "double"),
            col("data_mb", "double"),
            MONTH,
        ),
        keys=("customer_id", "month"),
        contracts=(
            Unique(
                ("customer_id", "month"),
                guaranteed_by="to_key_account_health groups by customer_id, month",
            ),
            NotNull(("customer_id", "n_lines")),
            Expression("revenue_non_negative", "revenue_cny >= 0 and fee_revenue_cny >= 0"),
            Expression(
                "shares", "revenue_share between 0 and 1 and fee_revenue_share between 0 and 1"
            ),
        ),
    )
)

ADS_REVENUE_CONCENTRATION = register(
    Table(
        name="ads_revenue_concentration",
        layer="ads",
        grain="one row per revenue percentile of customers (1 = top 1%) per month",
        description="Customers (accounts: an enterprise owns many lines) ranked by the month's "
        "revenue in 100 buckets; the cumulative share at bucket 20 is the top-20% share.",
        columns=(
            col("percentile", "int", "1..100, 1 = highest revenue"),
            col("n_customers", "bigint"),
            col("n_enterprise_customers", "bigint"),
            col("revenue_cny", "double"),
            col("cumulative_revenue_share", "double", "of customers in this bucket or above"),
            MONTH,
        ),
        keys=("percentile", "month"),
        contracts=(
            Unique(
                ("percentile", "month"),
                guaranteed_by="to_revenue_concentration groups by month, percentile",
            ),
            NotNull(("percentile", "n_customers")),
            Expression("percentile_range", "percentile between 1 and 100"),
            Expression("share", "cumulative_revenue_share between 0 and 1.000001"),
        ),
    )
)

ADS_REVENUE_STRUCTURE = register(
    Table(
        name="ads_revenue_structure",
        layer="ads",
        grain="one row per region, plan, segment, revenue category and month",
        description="Revenue by category (postpaid bill lines: plan fee, voice, SMS, data, "
        "value-added; prepaid: recharges), region, plan and segment; categories add up to "
        "the lines' revenue_cny.",
        columns=(
            col("region_id", "string", nullable=False),
            col("plan_id", "string", nullable=False),
            col("plan_type", "string", nullable=False),
            col("segment", "string", nullable=False),
            col("category", "string", nullable=False),
            col("revenue_cny", "double"),
            col("n_lines", "bigint", "lines of the cell (same on every category row)"),
            col("n_active_lines", "bigint", "lines live at month end (same on every category)"),
            MONTH,
        ),
        keys=("region_id", "plan_id", "segment", "category", "month"),
        contracts=(
            Unique(("region_id", "plan_id", "segment", "category", "month")),
            NotNull(("region_id", "plan_id", "plan_type", "segment", "category", "revenue_cny")),
            AcceptedValues("category", REVENUE_CATEGORIES),
            Expression("revenue_non_negative", "revenue_cny >= 0"),
        ),
    )
)
