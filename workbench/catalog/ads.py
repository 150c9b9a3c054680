"""ADS: application marts for the subject analyses and the dashboards."""

from __future__ import annotations

from workbench.catalog import Table, register
from workbench.catalog.contracts import AcceptedValues, Expression, NotNull, Unique
from workbench.catalog.raw import MONTH
from workbench.catalog.schema import Label, col

ALL = "ALL"  # the dimension value of a rolled-up level in the KPI cube

ADS_KPI_CUBE = register(
    Table(
        name="ads_kpi_cube",
        layer="ads",
        grain="one row per KPI, region, segment, plan type and month, plus every rollup "
        "(a rolled-up dimension reads 'ALL'); long format: one KPI per row",
        description="Every indicator of the KPI dictionary (pipelines/kpis.yml) on every level.",
        columns=(
            col("region_id", "string", nullable=False),
            col("segment", "string", nullable=False),
            col("plan_type", "string", nullable=False),
            col("kpi_code", "string", nullable=False),
            col("kpi_name_en", "string"),
            col("kpi_name_zh", "string"),
            col("unit", "string"),
            col("value", "double", "null where the formula is undefined (e.g. no denominator)"),
            MONTH,
        ),
        keys=("region_id", "segment", "plan_type", "kpi_code", "month"),
        contracts=(
            Unique(("region_id", "segment", "plan_type", "kpi_code", "month")),
            NotNull(("region_id", "segment", "plan_type", "kpi_code")),
        ),
    )
)

ADS_KPI_ALERTS = register(
    Table(
        name="ads_kpi_alerts",
        layer="ads",
        grain="one row per KPI, cube cell and month whose value breached a threshold",
        description="Which KPI breached its warning or alarm threshold, where and when.",
        columns=(
            col("region_id", "string", nullable=False),
            col("segment", "string", nullable=False),
            col("plan_type", "string", nullable=False),
            col("kpi_code", "string", nullable=False),
            col("kpi_name_en", "string"),
            col("kpi_name_zh", "string"),
            col("severity", "string", "warning | alarm"),
            col("basis", "string", "level (the value) | mom_change (value / last month - 1)"),
            col("value", "double", "the KPI value"),
            col("measured", "double", "what was compared: the value or its month-on-month change"),
            col("threshold", "double", "the threshold breached"),
            col("direction", "string", "below (better is higher) | above (better is lower)"),
            MONTH,
        ),
        keys=("region_id", "segment", "plan_type", "kpi_code", "month"),
        contracts=(
            Unique(("region_id", "segment", "plan_type", "kpi_code", "month")),
            NotNull(("kpi_code", "severity", "threshold", "measured")),
            AcceptedValues("severity", ("warning", "alarm")),
            AcceptedValues("direction", ("below", "above")),
            AcceptedValues("basis", ("level", "mom_change")),
        ),
    )
)

ADS_CHURN_FEATURES = register(
    Table(
        name="ads_churn_features",
        layer="ads",
        grain="one row per subscriber live at the end of the month (the scoring base)",
        description="Model-ready churn features known at the end of month M, and the label "
        "(deactivation in M+1..M+k); train only on rows with is_label_complete.",
        columns=(
            col("subscriber_id", "bigint", nullable=False),
            col("region_id", "string", label=Label("region", "地市")),
            col("plan_type", "string", label=Label("plan type", "付费类型")),
            col("segment", "string", label=Label("segment", "客户分群")),
            col("channel_id", "string", label=Label("sales channel", "入网渠道")),
            col("device_generation", "string", label=Label("device", "终端制式")),
            col("is_enterprise", "boolean", label=Label("enterprise line", "集团成员", "flag")),
            col(
                "is_do_not_contact",
                "boolean",
                label=Label("do-not-contact", "免打扰", "flag"),
            ),
            col("tenure_months", "int", label=Label("tenure", "在网时长", "months")),
            col(
                "months_to_contract_end",
                "int",
                label=Label("contract ends in", "合约剩余", "months"),
            ),
            col("revenue_cny", "double", label=Label("monthly spend", "月消费", "CNY")),
            col("arrears_cny", "double", label=Label("arrears", "欠费", "CNY")),
            col("mou_min", "double", label=Label("voice minutes", "通话时长", "minutes")),
            col("n_sms", "bigint", label=Label("SMS sent", "短信条数", "count")),
            col("data_mb", "double", label=Label("data used", "流量", "MB")),
            col("n_active_days", "int", label=Label("active days", "活跃天数", "days")),
            col(
                "offnet_share",
                "double",
                label=Label("off-net call share", "异网通话占比", "share of minutes"),
            ),
            col(
                "competitor_share",
                "double",
                label=Label("calls to competitors", "与竞争对手通话占比", "share of minutes"),
            ),
            col("n_complaints", "bigint", label=Label("complaints", "投诉次数", "count")),
            col(
                "n_complaints_open",
                "bigint",
                label=Label("open complaints", "未解决投诉", "count"),
            ),
            col(
                "n_complaints_3m",
                "bigint",
                "complaints opened in M-2..M",
                label=Label("complaints in 3 months", "近3月投诉", "count"),
            ),
            col("n_products", "bigint", label=Label("products held", "订购产品数", "count")),
            col("has_family_plan", "boolean", label=Label("family plan", "家庭套餐", "flag")),
            col(
                "home_cell_drop_rate",
                "double",
                label=Label("home-cell drop rate", "常驻小区掉话率", "share of calls"),
            ),
            col(
                "bill_shock_ratio",
                "double",
                label=Label("bill vs 3-month average", "账单/近3月均值", "ratio"),
            ),
            col(
                "mou_change_ratio",
                "double",
                label=Label("change in minutes", "通话时长环比", "change"),
            ),
            col(
                "data_change_ratio",
                "double",
                label=Label("change in data", "流量环比", "change"),
            ),
            col(
                "is_churned_next_month",
                "boolean",
                label=Label("churn next month", "下月离网", "flag"),
            ),
            col(
                "is_churned_within_horizon",
                "boolean",
                label=Label("churn within the warehouse's horizon", "数仓窗口期内离网", "flag"),
            ),
            col("is_label_complete", "boolean"),
            MONTH,
        ),
        keys=("subscriber_id", "month"),
        contracts=(
            Unique(("subscriber_id", "month")),
            NotNull(("subscriber_id", "is_label_complete")),
        ),
    )
)

ADS_PRODUCT_HOLDINGS = register(
    Table(
        name="ads_product_holdings",
        layer="ads",
        grain="one row per live subscriber, product held at month end and month",
        description="Product holdings for basket mining, with region and segment for filters.",
        columns=(
            col("subscriber_id", "bigint", nullable=False),
            col("product_id", "string", nullable=False),
            col("region_id", "string"),
            col("segment", "string"),
            col("plan_type", "string"),
            MONTH,
        ),
        keys=("subscriber_id", "product_id", "month"),
        contracts=(
            Unique(("subscriber_id", "product_id", "month")),
            NotNull(("subscriber_id", "product_id")),
        ),
    )
)

ADS_CHANNEL_COHORTS = register(
    Table(
        name="ads_channel_cohorts",
        layer="ads",
        grain="one row per channel, activation month and observed month (months since "
        "activation = observed month - activation month)",
        description="Acquisition cohorts by channel: size, survivors, revenue and cost.",
        columns=(
            col("channel_id", "string", nullable=False),
            col("activation_month", "string", nullable=False),
            col("months_since_activation", "int"),
            col(
                "n_gross_adds", "bigint", "cohort size (lines activated by the channel that month)"
            ),
            col("n_survivors", "bigint", "cohort lines live at the end of the observed month"),
            col("n_churned", "bigint", "cohort lines deactivated in the observed month"),
            col("revenue_cny", "double", "cohort revenue in the observed month"),
            col(
                "cost_cny",
                "double",
                "acquisition cost, in month 0 only: adds x commission + "
                "the channel's fixed cost; 0 later; null when the cost month is not loaded",
            ),
            col(
                "is_cohort_complete",
                "boolean",
                "activation month inside the warehouse, so "
                "lines that left before it are counted too",
            ),
            MONTH,
        ),
        keys=("channel_id", "activation_month", "month"),
        contracts=(
            Unique(("channel_id", "activation_month", "month")),
            NotNull(("channel_id", "activation_month")),
            Expression("survivors_le_adds", "n_survivors <= n_gross_adds"),
            Expression("months_non_negative", "months_since_activation >= 0"),
            Expression("revenue_non_negative", "revenue_cny >= 0"),
        ),
    )
)

ADS_CAMPAIGN_RESULTS = register(
    Table(
        name="ads_campaign_results",
        layer="ads",
        grain="one row per campaign contact (treated or control), partitioned by contact month",
        description="Campaign contacts with assignment, response and churn and revenue in the "
        "measurement window (months M+1..M+k after the contact month M).",
        columns=(
            col("contact_id", "string", nullable=False),
            col("campaign_id", "string", nullable=False),
            col("campaign_type", "string"),
            col("offer_product_id", "string"),
            col("subscriber_id", "bigint", nullable=False),
            col("assignment", "string"),
            col("is_treated", "boolean"),
            col("contact_channel", "string"),
            col("contacted_at", "timestamp"),
            col("region_id", "string"),
            col("segment", "string"),
            col("plan_type", "string"),
            col("is_responded", "boolean"),
            col("is_accepted", "boolean"),
            col("responded_at", "timestamp", "first response"),
            col("window_months", "int"),
            col("is_churned_within_window", "boolean"),
            col("revenue_in_window_cny", "double"),
            col("is_window_complete", "boolean"),
            MONTH,
        ),
        keys=("contact_id",),
        contracts=(
            Unique(("contact_id",)),
            NotNull(("contact_id", "campaign_id", "subscriber_id", "is_responded")),
            AcceptedValues("assignment", ("treatment", "control")),
            Expression("window_positive", "window_months >= 1"),
        ),
    )
)

ADS_KEY_ACCOUNTS = register(
    Table(
        name="ads_key_accounts",
        layer="ads",
        grain="one row per enterprise customer per month",
        description="Enterprise customers ranked by revenue, with lines, trend and complaints.",
        columns=(
            col("customer_id", "bigint", nullable=False),
            col("revenue_rank", "int", "1 = largest revenue this month"),
            col("region_id", "string", "region of most of its lines"),
            col("n_lines", "bigint"),
            col("n_active_lines", "bigint"),
            col("revenue_cny", "double"),
            col("revenue_prev_cny", "double"),
            col("revenue_change_ratio", "double", "revenue / previous month - 1"),
            col("revenue_3m_cny", "double", "revenue of M-2..M"),
            col("revenue_share", "double", "share of the month's total revenue"),
            col("cumulative_revenue_share", "double", "of customers ranked at or above"),
            col("n_complaints", "bigint"),
            col("n_churned_lines", "bigint"),
            MONTH,
        ),
        keys=("customer_id", "month"),
        contracts=(
            Unique(
                ("customer_id", "month"),
                guaranteed_by="to_key_accounts groups by customer_id, month",
            ),
            NotNull(("customer_id", "revenue_rank")),
            Expression("revenue_non_negative", "revenue_cny >= 0"),
            Expression("share", "revenue_share between 0 and 1"),
        ),
    )
)
