"""Raw extracts from the operator's BSS/OSS systems, as they arrive (layer ``raw``).

Timestamps and dates arrive as text (``yyyy-MM-dd HH:mm:ss`` / ``yyyy-MM-dd``) because the source
systems export text and some of it does not parse; ODS types and validates them. Numbers and
flags are typed. Every extract is partitioned by the month it was extracted for; reference
extracts (regions, plans, products, channels, channel costs, campaigns) are monthly snapshots.
"""

from __future__ import annotations

from workbench.catalog import Table, register
from workbench.catalog.schema import col

MONTH = col("month", "string", "extract month, YYYY-MM (partition)", nullable=False)

# Kinds of dirty rows the generator plants and ODS quarantines (reason codes).
DIRTY_KINDS = (
    "missing_key",
    "negative_duration",
    "bad_timestamp",
    "duplicate",
    "unknown_subscriber",
    "future_date",
)

RAW_REGIONS = register(
    Table(
        name="regions",
        layer="raw",
        grain="one row per city region per extract month",
        description="City regions (prefecture-level cities) the operator serves.",
        columns=(
            col("region_id", "string", "short code, e.g. GZ"),
            col("region_name_en", "string"),
            col("region_name_zh", "string"),
            col("province_en", "string"),
            col("province_zh", "string"),
            col("city_tier", "int", "1 = first-tier city ... 4"),
            MONTH,
        ),
        keys=("region_id",),
    )
)

RAW_PLANS = register(
    Table(
        name="plans",
        layer="raw",
        grain="one row per tariff plan per extract month",
        description="Tariff plans with their brand and plan type.",
        columns=(
            col("plan_id", "string"),
            col("plan_name_en", "string"),
            col("plan_name_zh", "string"),
            col("plan_type", "string", "prepaid | postpaid | premium_postpaid"),
            col("brand_en", "string"),
            col("brand_zh", "string"),
            col("monthly_fee_cny", "double"),
            col("included_data_mb", "double"),
            col("included_voice_min", "double"),
            MONTH,
        ),
        keys=("plan_id",),
    )
)

RAW_PRODUCTS = register(
    Table(
        name="products",
        layer="raw",
        grain="one row per value-added product or bundle per extract month",
        description="Value-added products and bundles subscribers can order.",
        columns=(
            col("product_id", "string", "e.g. VIDEO_PACK"),
            col("product_name_en", "string"),
            col("product_name_zh", "string"),
            col(
                "category",
                "string",
                "data | content | cloud | family | broadband | roaming | international | insurance",
            ),
            col("monthly_fee_cny", "double"),
            col("launch_date", "string", "yyyy-MM-dd"),
            MONTH,
        ),
        keys=("product_id",),
    )
)

RAW_CHANNELS = register(
    Table(
        name="channels",
        layer="raw",
        grain="one row per sales channel per extract month",
        description="Sales and acquisition channels.",
        columns=(
            col("channel_id", "string"),
            col("channel_name_en", "string"),
            col("channel_name_zh", "string"),
            col(
                "channel_type",
                "string",
                "own_store | franchise_agent | online_app | telesales | "
                "ecommerce | enterprise_direct",
            ),
            col("region_id", "string", "home region; null for province-wide channels"),
            MONTH,
        ),
        keys=("channel_id",),
    )
)

RAW_CHANNEL_COSTS = register(
    Table(
        name="channel_costs",
        layer="raw",
        grain="one row per channel per month",
        description="What each channel costs: commission per gross add and fixed monthly cost.",
        columns=(
            col("channel_id", "string"),
            col("commission_per_gross_add_cny", "double"),
            col("fixed_cost_cny", "double", "fixed cost of the channel for the month"),
            col(
                "clawback_days",
                "int",
                "days after activation within which commission is clawed back if the line churns",
            ),
            MONTH,
        ),
        keys=("channel_id",),
    )
)

RAW_CAMPAIGNS = register(
    Table(
        name="campaigns",
        layer="raw",
        grain="one row per campaign per extract month",
        description="Marketing campaigns (retention and cross-sell).",
        columns=(
            col("campaign_id", "string"),
            col("campaign_name_en", "string"),
            col("campaign_name_zh", "string"),
            col("campaign_type", "string", "retention | cross_sell"),
            col("offer_product_id", "string", "product offered; null for a pure retention offer"),
            col("start_date", "string", "yyyy-MM-dd"),
            col("end_date", "string", "yyyy-MM-dd"),
            col("cost_per_contact_cny", "double"),
            col("offer_cost_cny", "double", "cost of the offer per accepting subscriber"),
            col("control_share", "double", "share of targeted subscribers held out as control"),
            MONTH,
        ),
        keys=("campaign_id",),
    )
)

RAW_SUBSCRIBERS = register(
    Table(
        name="subscribers",
        layer="raw",
        grain="one row per subscriber line per extract month (month-end CRM snapshot); a line "
        "appears from its activation month to its deactivation month",
        description="Subscriber lines from CRM with their account, plan, channel and status.",
        columns=(
            col("subscriber_id", "bigint", "line id"),
            col("msisdn", "string", "11-digit mobile number"),
            col("customer_id", "bigint", "account; an enterprise customer owns many lines"),
            col("customer_type", "string", "individual | enterprise"),
            col("region_id", "string"),
            col("plan_id", "string"),
            col("plan_type", "string", "prepaid | postpaid | premium_postpaid"),
            col("brand", "string"),
            col("segment", "string", "mass | youth | business | high_value"),
            col("activation_date", "string", "yyyy-MM-dd"),
            col("deactivation_date", "string", "yyyy-MM-dd, null while the line is live"),
            col("channel_id", "string", "acquisition channel"),
            col("contract_end_date", "string", "yyyy-MM-dd, null without a contract"),
            col("device_generation", "string", "3G | 4G | 5G"),
            col("birth_year", "int"),
            col("gender", "string", "F | M"),
            col("is_do_not_contact", "boolean"),
            col("status", "string", "active | suspended | deactivated"),
            col("home_cell_id", "string"),
            MONTH,
        ),
        keys=("subscriber_id",),
    )
)

RAW_USAGE = register(
    Table(
        name="usage",
        layer="raw",
        grain="one row per call, SMS or data session (CDR)",
        description="Usage records: voice calls, SMS and data sessions. The largest extract.",
        columns=(
            col("record_id", "string"),
            col("subscriber_id", "bigint"),
            col("event_type", "string", "voice | sms | data"),
            col("started_at", "string", "yyyy-MM-dd HH:mm:ss"),
            col("duration_sec", "bigint", "voice call or data session duration"),
            col("data_volume_mb", "double", "data sessions; 0 otherwise"),
            col(
                "counterpart_operator",
                "string",
                "voice and SMS: own | competitor_a | competitor_b; null for data",
            ),
            col("is_roaming", "boolean"),
            col("cell_id", "string", "serving cell"),
            MONTH,
        ),
        keys=("record_id",),
    )
)

RAW_BILLS = register(
    Table(
        name="bills",
        layer="raw",
        grain="one row per postpaid line per bill month",
        description="Postpaid bills by revenue category, with payment.",
        columns=(
            col("bill_id", "string"),
            col("subscriber_id", "bigint"),
            col("plan_fee_cny", "double"),
            col("voice_cny", "double"),
            col("sms_cny", "double"),
            col("data_cny", "double"),
            col("vas_cny", "double", "value-added products"),
            col("total_cny", "double", "amount due"),
            col("paid_cny", "double"),
            col("issued_at", "string", "yyyy-MM-dd HH:mm:ss"),
            col("paid_at", "string", "yyyy-MM-dd HH:mm:ss, null while unpaid"),
            MONTH,
        ),
        keys=("bill_id",),
    )
)

RAW_RECHARGES = register(
    Table(
        name="recharges",
        layer="raw",
        grain="one row per prepaid top-up",
        description="Prepaid recharges.",
        columns=(
            col("recharge_id", "string"),
            col("subscriber_id", "bigint"),
            col("recharged_at", "string", "yyyy-MM-dd HH:mm:ss"),
            col("amount_cny", "double"),
            col("payment_method", "string", "wechat_pay | alipay | bank_card | voucher"),
            col("channel_id", "string"),
            MONTH,
        ),
        keys=("recharge_id",),
    )
)

RAW_PRODUCT_ORDERS = register(
    Table(
        name="product_orders",
        layer="raw",
        grain="one row per subscribe or unsubscribe order",
        description="Orders of value-added products and bundles.",
        columns=(
            col("order_id", "string"),
            col("subscriber_id", "bigint"),
            col("product_id", "string"),
            col("action", "string", "subscribe | unsubscribe"),
            col("ordered_at", "string", "yyyy-MM-dd HH:mm:ss"),
            col("channel_id", "string"),
            MONTH,
        ),
        keys=("order_id",),
    )
)

RAW_CAMPAIGN_CONTACTS = register(
    Table(
        name="campaign_contacts",
        layer="raw",
        grain="one row per subscriber targeted by a campaign",
        description="Who each campaign targeted, in the treatment or the held-out control group.",
        columns=(
            col("contact_id", "string"),
            col("campaign_id", "string"),
            col("subscriber_id", "bigint"),
            col("assignment", "string", "treatment | control"),
            col(
                "contacted_at",
                "string",
                "yyyy-MM-dd HH:mm:ss; for control, when they would have been contacted",
            ),
            col("contact_channel", "string", "sms | telesales | app_push"),
            MONTH,
        ),
        keys=("contact_id",),
    )
)

RAW_CAMPAIGN_RESPONSES = register(
    Table(
        name="campaign_responses",
        layer="raw",
        grain="one row per response to a campaign contact",
        description="Responses to campaign offers.",
        columns=(
            col("response_id", "string"),
            col("campaign_id", "string"),
            col("subscriber_id", "bigint"),
            col("responded_at", "string", "yyyy-MM-dd HH:mm:ss"),
            col("response", "string", "accepted | declined"),
            MONTH,
        ),
        keys=("response_id",),
    )
)

RAW_COMPLAINTS = register(
    Table(
        name="complaints",
        layer="raw",
        grain="one row per complaint ticket",
        description="Customer complaints.",
        columns=(
            col("complaint_id", "string"),
            col("subscriber_id", "bigint"),
            col("category", "string", "coverage | billing_dispute | service_attitude | fraud"),
            col("opened_at", "string", "yyyy-MM-dd HH:mm:ss"),
            col("resolved_at", "string", "yyyy-MM-dd HH:mm:ss, null while open"),
            col("satisfaction_score", "int", "1..5 after resolution, may be null"),
            MONTH,
        ),
        keys=("complaint_id",),
    )
)

RAW_CELL_QUALITY = register(
    Table(
        name="cell_quality",
        layer="raw",
        grain="one row per cell per day",
        description="Network quality per serving cell and day.",
        columns=(
            col("cell_id", "string"),
            col("region_id", "string"),
            col("measured_date", "string", "yyyy-MM-dd"),
            col("drop_rate", "double", "share of calls dropped, 0..1"),
            col("throughput_mbps", "double", "mean downlink throughput"),
            MONTH,
        ),
        keys=("cell_id", "measured_date"),
    )
)
