"""Tables of the campaign target-list loop: exported campaigns, their waves and contacts, loaded
responses and the rows of response files that failed validation.

``ads_target_campaigns``, ``ads_target_contacts`` and ``ads_target_responses`` start with exactly
the columns of ``dwd_dim_campaign``, ``dwd_fct_campaign_contact`` and
``dwd_fct_campaign_response`` (same names, types, order), so the warehouse models union them with
the operator's own campaigns, contacts and responses (the closed loop); the loop's own columns
(owner, wave, ...) come after them.

A campaign is created once by its owner; each export under it is a *wave* (its own id, contact
date and region) in ``ads_target_waves``, and each contact row names its wave, so a wave is
replaced or withdrawn without touching any other wave's contacts.
"""

from __future__ import annotations

from workbench.catalog import Table, register
from workbench.catalog.contracts import AcceptedValues, Expression, NotNull, Unique
from workbench.catalog.raw import MONTH
from workbench.catalog.schema import col

ASSIGNMENTS = ("treatment", "control")
RESPONSES = ("accepted", "declined")
WAVE_STATUSES = ("active", "withdrawn")
#: the campaign regions of an export not limited to listed regions
ALL_REGIONS = "ALL"

CAMPAIGN_TYPES = ("retention", "cross_sell")

ADS_TARGET_CAMPAIGNS = register(
    Table(
        name="ads_target_campaigns",
        layer="ads",
        grain="one row per campaign exported by `workbench targets export`",
        description="What each exported campaign offers and costs, for the campaign ROI, and who "
        "owns it. Created by the campaign's first export; its waves update only the dates and "
        "the latest export.",
        columns=(
            col("campaign_id", "string", "the --campaign name", nullable=False),
            col("campaign_name_en", "string"),
            col("campaign_name_zh", "string"),
            col("campaign_type", "string", "retention (churn source) | cross_sell (offers)"),
            col("offer_product_id", "string", "the retention offer (--offer), if any"),
            col("start_date", "date", "the first active wave's contact date"),
            col("end_date", "date", "the last active wave's contact date"),
            col("cost_per_contact_cny", "double", "cost of contacting one treated line"),
            col("offer_cost_cny", "double", "cost of one accepted offer"),
            col("control_share", "double"),
            col("source", "string", "churn | offers"),
            col("period", "string", "month of the mart the latest wave was selected from"),
            col("export_id", "string", "the export log record of the latest change"),
            col("exported_at", "timestamp", "when the latest wave was exported or withdrawn"),
            col("owner", "string", "who created the campaign: only they add or change waves"),
            col("regions", "string", "regions the campaign may contact: ids joined by ',' or ALL"),
            col("created_at", "timestamp", "the creating export's time"),
        ),
        keys=("campaign_id",),
        partition_by=(),
        contracts=(
            Unique(("campaign_id",)),
            NotNull(("campaign_id", "cost_per_contact_cny", "offer_cost_cny", "owner", "regions")),
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
        description="Subscribers of every target-list export with their group and wave; a "
        "re-run of the same wave gives the same rows, and no export touches another wave's.",
        columns=(
            col("contact_id", "string", "sha256 of campaign, wave and subscriber", nullable=False),
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
            col("wave_id", "string", "the wave of the campaign (see ads_target_waves)"),
            MONTH,
        ),
        keys=("contact_id",),
        contracts=(
            Unique(("contact_id",)),
            Unique(("campaign_id", "wave_id", "subscriber_id")),
            NotNull(("contact_id", "campaign_id", "wave_id", "subscriber_id", "assignment")),
            AcceptedValues("assignment", ASSIGNMENTS),
            AcceptedValues("source", ("churn", "offers")),
        ),
    )
)

ADS_TARGET_WAVES = register(
    Table(
        name="ads_target_waves",
        layer="ads",
        grain="one row per wave of an exported campaign (campaign_id, wave_id)",
        description="Each export under a campaign: its owner, contact date, region, list and "
        "files. Re-running a wave with the same list changes nothing; replacing or withdrawing "
        "one is an explicit action of its owner, logged in the export log.",
        columns=(
            col("campaign_id", "string", nullable=False),
            col("wave_id", "string", "--wave, default <contact date>[_<region>]", nullable=False),
            col("owner", "string", "who exported the wave (the campaign's owner)"),
            col("region_id", "string", "the wave's region; ALL: every region of the campaign"),
            col("contact_date", "date"),
            col("source", "string", "churn | offers"),
            col("period", "string", "month of the mart the list was selected from"),
            col("status", "string", "active | withdrawn"),
            col("n_treated", "bigint"),
            col("n_control", "bigint"),
            col("list_sha256", "string", "sha256 of the list (subscriber, group, rank, offer)"),
            col("file", "string", "the marketing file"),
            col("file_sha256", "string"),
            col("control_file", "string"),
            col("control_sha256", "string"),
            col("export_id", "string", "the export log record of the latest change"),
            col("exported_at", "timestamp"),
            col("withdrawn_at", "timestamp"),
            col("withdrawn_by", "string"),
            col("withdraw_reason", "string"),
        ),
        keys=("campaign_id", "wave_id"),
        partition_by=(),
        contracts=(
            Unique(("campaign_id", "wave_id")),
            NotNull(("campaign_id", "wave_id", "owner", "region_id", "status", "export_id")),
            AcceptedValues("status", WAVE_STATUSES),
            Expression("counts_non_negative", "n_treated >= 0 and n_control >= 0"),
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
        description="Response rows that failed validation, as read (strings), with the reason. "
        "A file is known by its full path and checksum: reloading it replaces its rows, and a "
        "file of the same name from another folder keeps its own.",
        columns=(
            col("source_file", "string", "the file's name (for display)", nullable=False),
            col("source_row", "bigint", "1-based data row in the file", nullable=False),
            col("reason", "string", nullable=False),
            col("campaign_id", "string"),
            col("subscriber_id", "string"),
            col("msisdn", "string"),
            col("responded_at", "string"),
            col("response", "string"),
            col("loaded_at", "timestamp"),
            col("source_path", "string", "the file's resolved absolute path"),
            col("source_sha256", "string", "sha256 of the file's bytes"),
            MONTH,
        ),
        keys=("source_path", "source_sha256", "source_row"),
        contracts=(
            Unique(("source_path", "source_sha256", "source_row")),
            NotNull(("source_file", "source_path", "source_sha256", "source_row", "reason")),
            Expression("row_positive", "source_row >= 1"),
        ),
    )
)
