"""ADS marts of the network subjects: service quality, competition and new products.

All are small (month x region x category, cell x month, band x region x segment, product pairs)
except the flagged list of subscribers whose competitor share is rising.
"""

from __future__ import annotations

from workbench.catalog import Table, register
from workbench.catalog.contracts import AcceptedValues, Expression, NotNull, Unique
from workbench.catalog.raw import MONTH
from workbench.catalog.schema import col

COMPLAINT_CATEGORIES = ("coverage", "billing_dispute", "service_attitude", "fraud")
UNKNOWN_REGION = "UNKNOWN"  # complaints of lines missing from the subscriber-month table

_NEXT_OBSERVED = col(
    "is_next_month_observed", "boolean", "month M+1 exists, so the next-month churn is known"
)

ADS_COMPLAINT_SUMMARY = register(
    Table(
        name="ads_complaint_summary",
        layer="ads",
        grain="one row per region, complaint category and month (zero rows included)",
        description="Complaints opened by region and category, the line base for the rate per "
        "10k, and the resolution time distribution.",
        columns=(
            col("region_id", "string", nullable=False),
            col("category", "string", nullable=False),
            col("n_lines", "bigint", "lines of the region in the month (the KPI's base)"),
            col("n_complaints", "bigint", "tickets opened in the month"),
            col("n_open_at_month_end", "bigint"),
            col("n_resolved", "bigint", "tickets resolved (as of the extract)"),
            col("resolution_hours_sum", "double", "sum over resolved tickets"),
            col("n_resolved_within_24h", "bigint"),
            col("n_resolved_within_72h", "bigint"),
            col("n_resolved_within_168h", "bigint"),
            col("resolution_hours_p50", "double", "approximate median over resolved tickets"),
            col("resolution_hours_p90", "double", "approximate 90th percentile"),
            col("satisfaction_sum", "double", "sum of satisfaction scores given"),
            col("n_satisfaction", "bigint", "tickets with a satisfaction score"),
            MONTH,
        ),
        keys=("region_id", "category", "month"),
        contracts=(
            Unique(
                ("region_id", "category", "month"),
                guaranteed_by="region-months x fixed categories, joined to groups on the key",
            ),
            NotNull(("region_id", "category", "n_complaints", "n_lines")),
            AcceptedValues("category", COMPLAINT_CATEGORIES),
            Expression(
                "resolved_le_opened",
                "n_resolved <= n_complaints and n_resolved_within_24h <= n_resolved_within_72h "
                "and n_resolved_within_72h <= n_resolved_within_168h "
                "and n_resolved_within_168h <= n_resolved",
            ),
        ),
    )
)

ADS_CELL_CHURN = register(
    Table(
        name="ads_cell_churn",
        layer="ads",
        grain="one row per cell and month (cells measured or serving as a home cell)",
        description="Each cell's mean drop rate and throughput in the month, and the churn in "
        "M+1 of the lines homed on it and live at the end of M.",
        columns=(
            col("cell_id", "string", nullable=False),
            col("region_id", "string"),
            col("mean_drop_rate", "double", "mean daily drop rate; null when not measured"),
            col("mean_throughput_mbps", "double"),
            col("n_days_measured", "bigint"),
            col("n_lines", "bigint", "lines homed on the cell, live at month end"),
            col("n_churned_next_month", "bigint", "of n_lines, deactivated in M+1"),
            _NEXT_OBSERVED,
            MONTH,
        ),
        keys=("cell_id", "month"),
        contracts=(
            Unique(
                ("cell_id", "month"),
                guaranteed_by="full join of two frames grouped by cell_id, month",
            ),
            NotNull(("cell_id", "n_lines", "n_churned_next_month")),
            Expression("churned_within_lines", "n_churned_next_month <= n_lines"),
            Expression("drop_rate_share", "mean_drop_rate between 0 and 1"),
        ),
    )
)

ADS_COMPETITION_BANDS = register(
    Table(
        name="ads_competition_bands",
        layer="ads",
        grain="one row per region, segment, competitor-share band and month",
        description="Voice minutes to competitors A and B and next-month churn of lines live "
        "at month end, by their share of minutes to competitors.",
        columns=(
            col("region_id", "string", nullable=False),
            col("segment", "string", nullable=False),
            col("share_band", "string", "e.g. '0.1-0.2'; 'no_calls' without voice minutes"),
            col("band_low", "double", "lower edge (inclusive); null for no_calls"),
            col("band_high", "double", "upper edge (exclusive, 1.0 inclusive)"),
            col("n_lines", "bigint", "lines live at month end"),
            col("n_churned_next_month", "bigint"),
            col("competitor_share_sum", "double", "sum of the lines' competitor shares"),
            col("mou_min", "double"),
            col("offnet_min", "double"),
            col("competitor_a_min", "double"),
            col("competitor_b_min", "double"),
            _NEXT_OBSERVED,
            MONTH,
        ),
        keys=("region_id", "segment", "share_band", "month"),
        contracts=(
            Unique(
                ("region_id", "segment", "share_band", "month"),
                guaranteed_by="summarise_competition groups by these columns",
            ),
            NotNull(("region_id", "segment", "share_band", "n_lines")),
            Expression("churned_within_lines", "n_churned_next_month <= n_lines"),
            Expression(
                "competitor_within_mou",
                "competitor_a_min + competitor_b_min <= offnet_min + 1e-6 "
                "and offnet_min <= mou_min + 1e-6",
            ),
        ),
    )
)

ADS_COMPETITOR_RISERS = register(
    Table(
        name="ads_competitor_risers",
        layer="ads",
        grain="one row per live line whose competitor share rose in the month",
        description="Lines live at month end whose share of voice minutes to competitors is "
        "at least a threshold above their mean of the two previous months.",
        columns=(
            col("subscriber_id", "bigint", nullable=False),
            col("region_id", "string"),
            col("segment", "string"),
            col("plan_type", "string"),
            col("competitor_share", "double"),
            col("competitor_share_before", "double", "mean share of M-2..M-1 (months with calls)"),
            col("share_change", "double", "competitor_share - competitor_share_before"),
            col("competitor_a_min", "double"),
            col("competitor_b_min", "double"),
            col("mou_min", "double"),
            col("revenue_cny", "double"),
            col("is_churned_next_month", "boolean"),
            _NEXT_OBSERVED,
            MONTH,
        ),
        keys=("subscriber_id", "month"),
        contracts=(
            Unique(("subscriber_id", "month")),
            NotNull(("subscriber_id", "competitor_share", "share_change")),
            Expression("share_rose", "share_change > 0"),
        ),
    )
)

ADS_PRODUCT_ADOPTERS = register(
    Table(
        name="ads_product_adopters",
        layer="ads",
        grain="one row per product, plan type, segment and month",
        description="Holders and new adopters of each product against the whole live base, "
        "with their revenue and data use, for adopter profiles.",
        columns=(
            col("product_id", "string", nullable=False),
            col("plan_type", "string", nullable=False),
            col("segment", "string", nullable=False),
            col("n_base", "bigint", "lines live at month end"),
            col("n_holders", "bigint", "of them, holding the product"),
            col("n_new", "bigint", "of the holders, subscribed this month"),
            col("revenue_base_cny", "double"),
            col("revenue_holders_cny", "double"),
            col("data_mb_base", "double"),
            col("data_mb_holders", "double"),
            MONTH,
        ),
        keys=("product_id", "plan_type", "segment", "month"),
        contracts=(
            Unique(
                ("product_id", "plan_type", "segment", "month"),
                guaranteed_by="grouped base x distinct products, joined to groups on the key",
            ),
            NotNull(("product_id", "plan_type", "segment", "n_base", "n_holders")),
            Expression("holders_within_base", "n_new <= n_holders and n_holders <= n_base"),
        ),
    )
)

ADS_PRODUCT_SWITCHING = register(
    Table(
        name="ads_product_switching",
        layer="ads",
        grain="one row per adopted product, existing product and month",
        description="Holders of an existing product at the end of M-1 who are live at the end "
        "of M: among those who adopted the new product in M and among the others, how many "
        "dropped the existing one (cannibalisation against a baseline).",
        columns=(
            col("new_product_id", "string", nullable=False),
            col("product_id", "string", nullable=False, description="the existing product"),
            col("n_adopters_holding", "bigint", "adopters in M holding product_id at M-1"),
            col("n_adopters_dropped", "bigint", "of them, not holding it at the end of M"),
            col("n_others_holding", "bigint", "non-adopters holding product_id at M-1"),
            col("n_others_dropped", "bigint"),
            MONTH,
        ),
        keys=("new_product_id", "product_id", "month"),
        contracts=(
            Unique(
                ("new_product_id", "product_id", "month"),
                guaranteed_by="summarise_switching groups by these columns",
            ),
            NotNull(("new_product_id", "product_id")),
            Expression(
                "dropped_within_holding",
                "n_adopters_dropped <= n_adopters_holding and n_others_dropped <= n_others_holding",
            ),
        ),
    )
)
