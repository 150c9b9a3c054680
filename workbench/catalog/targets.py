"""Tables of the campaign target-list loop: exported campaigns and contacts, loaded responses and
the rows of response files that failed validation.

``ads_target_campaigns``, ``ads_target_contacts`` and ``ads_target_responses`` start with exactly
the columns of ``dwd_dim_campaign``, ``dwd_fct_campaign_contact`` and
``dwd_fct_campaign_response`` (same names, types, order), so the warehouse models union them with
the operator's own campaigns, contacts and responses (the closed loop).
"""

from __future__ import annotations

from workbench.catalog import Table, register
from workbench.catalog.contracts import AcceptedValues, Expression, NotNull, Unique
from workbench.catalog.raw import MONTH
from workbench.catalog.schema import col

ASSIGNMENTS = ("treatment", "control")
RESPONSES = ("accepted", "declined")

CAMPAIGN_TYPES = ("retention", "cross_sell")

ADS_TARGET_CAMPAIGNS = register(
    Table(
        name="ads_target_campaigns",
        layer="ads",
        grain="one row per campaign exported by `workbench targets export`",
        description="What each exported campaign offers and costs, for the campaign ROI; a re-run "
        "of the same campaign replaces its row.",
        columns=(
            col("campaign_id", "string", "the --campaign name", nullable=False),
            col("campaign_name_en", "string"),
            col("campaign_name_zh", "string"),
            col("campaign_type", "string", "retention (churn source) | cross_sell (offers)"),
            col("offer_product_id", "string", "the retention offer (--offer), if any"),
            col("start_date", "date", "the contact date"),
            col("end_date", "date", "the contact date (one day of contacts)"),
            col("cost_per_contact_cny", "double", "cost of contacting one treated line"),
            col("offer_cost_cny", "double", "cost of one accepted offer"),
            col("control_share", "double"),
            col("source", "string", "churn | offers"),
            col("period", "string", "month of the mart the list was selected from"),
            col("export_id", "string", "the export log record"),
            col("exported_at", "timestamp"),
        ),
        keys=("campaign_id",),
        partition_by=(),
        contracts=(
            Unique(("campaign_id",)),
            NotNull(("campaign_id", "cost_per_contact_cny", "offer_cost_cny")),
            AcceptedValues("campaign_type", CAMPAIGN_TYPES),
            Expression("costs_non_negative", "cost_per_contact_cny >= 0 and offer_cost_cny >= 0"),
            Expression("control_share_range", "control_share between 0 and 1"),
        ),
    )
)

ADS_TARGET_CONTACTS = register(
    Table(
        name="ads_target_contacts",
        layer="ads",
        grain="one row per subscriber exported by a campaign (treated or control), partitioned "
        "by contact month",
        description="Subscribers of every target-list export with their group; a re-run of the "
        "same campaign replaces its rows.",
        columns=(
            col("contact_id", "string", "sha256 of campaign and subscriber", nullable=False),
            col("campaign_id", "string", "the --campaign name", nullable=False),
            col("subscriber_id", "bigint", nullable=False),
            col("assignment", "string", "treatment | control"),
            col("is_treated", "boolean"),
            col("contacted_at", "timestamp", "the export's as-of date at midnight"),
            col("contact_date", "date"),
            col("contact_channel", "string"),
            col("source", "string", "churn | offers"),
            col("period", "string", "month of the mart the list was selected from"),
            col("list_rank", "int", "1 = highest score after suppression"),
            col("offer_product_id", "string", "offers source only"),
            col("score", "double", "churn probability or offer confidence"),
            col("export_id", "string", "the export log record"),
            MONTH,
        ),
        keys=("contact_id",),
        contracts=(
            Unique(("contact_id",)),
            Unique(("campaign_id", "subscriber_id")),
            NotNull(("contact_id", "campaign_id", "subscriber_id", "assignment")),
            AcceptedValues("assignment", ASSIGNMENTS),
            AcceptedValues("source", ("churn", "offers")),
        ),
    )
)

ADS_TARGET_RESPONSES = register(
    Table(
        name="ads_target_responses",
        layer="ads",
        grain="one row per accepted (validated) response row, partitioned by response month",
        description="Responses to exported campaigns loaded by `workbench campaigns "
        "load-responses`; reloading a file replaces the same responses.",
        columns=(
            col("response_id", "string", "sha256 of campaign, subscriber, time", nullable=False),
            col("campaign_id", "string", nullable=False),
            col("subscriber_id", "bigint", nullable=False),
            col("responded_at", "timestamp"),
            col("response", "string", "accepted | declined"),
            col("is_accepted", "boolean"),
            col("source_file", "string", "file name it was loaded from"),
            col("source_row", "bigint", "1-based data row in that file"),
            col("loaded_at", "timestamp"),
            MONTH,
        ),
        keys=("response_id",),
        contracts=(
            Unique(("response_id",)),
            NotNull(("response_id", "campaign_id", "subscriber_id", "responded_at")),
            AcceptedValues("response", RESPONSES),
        ),
    )
)

QUARANTINE_TARGET_RESPONSES = register(
    Table(
        name="quarantine_target_responses",
        layer="quarantine",
        grain="one row per rejected response row, partitioned by load month",
        description="Response rows that failed validation, as read (strings), with the reason.",
        columns=(
            col("source_file", "string", nullable=False),
            col("source_row", "bigint", "1-based data row in the file", nullable=False),
            col("reason", "string", nullable=False),
            col("campaign_id", "string"),
            col("subscriber_id", "string"),
            col("msisdn", "string"),
            col("responded_at", "string"),
            col("response", "string"),
            col("loaded_at", "timestamp"),
            MONTH,
        ),
        keys=("source_file", "source_row"),
        contracts=(
            Unique(("source_file", "source_row")),
            NotNull(("source_file", "source_row", "reason")),
            Expression("row_positive", "source_row >= 1"),
        ),
    )
)
