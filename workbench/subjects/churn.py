"""Churn subject: time-split training on ``ads_churn_features``, evaluation, drivers, and scores
for the whole active base written to ``ads_churn_scores`` (inside Spark).

The label is the warehouse's, never rebuilt here (:func:`warehouse_label`): with a label window
of ``k = 1`` month the model learns ``is_churned_next_month`` (deactivated in ``M+1``); with the
warehouse's horizon (``warehouse.churn_horizon_months``) it learns ``is_churned_within_horizon``
(deactivated in ``M+1..M+k``). Time split for a run of period ``P``:

* the test month is ``P - k`` (the newest month whose label is complete), the training months
  the ``train_months`` months up to ``P - 2k``, so no training label window overlaps the test
  one (:func:`workbench.analysis.churn.time_split`);
* the model then scores every subscriber live at the end of ``P`` (features of ``P``).

Training uses a seeded, bounded sample pulled to the driver; scoring never collects the base.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.analysis import churn as engine
from workbench.analysis.churn_params import CLEAR_DIRECTION
from workbench.catalog import get_table
from workbench.catalog.results import N_REASONS
from workbench.errors import InputDataError, ParameterError
from workbench.months import add_months, parse_month
from workbench.params import defaults
from workbench.subjects.common import write_result
from workbench.warehouse.storage import read_table, table_months

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from workbench.config import Settings

log = logging.getLogger(__name__)

FEATURES_TABLE = "ads_churn_features"
ID_COLUMN = "subscriber_id"
#: the warehouse's churn labels (dws_subscriber_month, carried to ads_churn_features)
NEXT_MONTH_LABEL = "is_churned_next_month"
HORIZON_LABEL = "is_churned_within_horizon"
#: columns of ads_churn_features that are not model inputs (ids, labels, lineage)
NOT_FEATURES = (
    "subscriber_id",
    NEXT_MONTH_LABEL,
    HORIZON_LABEL,
    "is_label_complete",
    "is_do_not_contact",
    "month",
)
CATEGORICAL = ("region_id", "plan_type", "segment", "channel_id", "device_generation")
#: carried from the features to the scores mart for target lists and dashboards
CONTEXT_COLUMNS = ("region_id", "segment", "plan_type", "is_do_not_contact")


@dataclass(frozen=True)
class ChurnResult:
    """What a churn run produced."""

    model: engine.ChurnModel
    evaluation: engine.Evaluation
    drivers: pd.DataFrame
    period: str
    #: the warehouse column the model learned, and how a manager reads it
    label: str
    label_text: str
    train_months: list[str]
    test_month: str
    n_train: int
    n_test: int
    n_scored: int
    bundle_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def warehouse_label(horizon_months: int, warehouse_horizon: int) -> str:
    """The warehouse column that labels churn within ``horizon_months``.

    The warehouse builds two churn labels: next month, and within its configured horizon
    (``warehouse.churn_horizon_months``); a window the warehouse does not label is refused
    rather than rebuilt here, so the subject and the marts never define churn differently.
    """
    if isinstance(horizon_months, bool) or not isinstance(horizon_months, int):
        raise ParameterError(f"horizon_months must be a whole number, got {horizon_months!r}")
    if horizon_months == 1:
        return NEXT_MONTH_LABEL
    if horizon_months == warehouse_horizon:
        return HORIZON_LABEL
    raise ParameterError(
        f"horizon_months={horizon_months}: the warehouse labels churn within 1 month "
        f"({NEXT_MONTH_LABEL}) and within {warehouse_horizon} months ({HORIZON_LABEL}, "
        "warehouse.churn_horizon_months); choose one of them, or rebuild the warehouse with "
        "another warehouse.churn_horizon_months"
    )


def describe_direction(direction: float) -> str:
    """A driver's direction as a manager reads it (see :func:`workbench.analysis.churn.drivers`)."""
    if direction is None or pd.isna(direction) or abs(direction) < CLEAR_DIRECTION:
        return "不定 mixed"
    return "越高越易流失 higher raises churn" if direction > 0 else "越高越少流失 higher protects"


def plan_months(period: str, horizon_months: int, train_months: int) -> tuple[list[str], str]:
    """Training months and the test month of a run (see the module docstring)."""
    period = parse_month(period)
    if train_months < 1:
        raise ParameterError(f"train_months must be >= 1, got {train_months}")
    test_month = add_months(period, -horizon_months)
    train_end = add_months(period, -2 * horizon_months)
    train = [add_months(train_end, -i) for i in reversed(range(train_months))]
    return train, test_month


def _sample_to_pandas(df: DataFrame, sample_size: int, seed: int) -> pd.DataFrame:
    """A seeded, bounded, hash-based sample of rows brought to the driver."""
    from pyspark.sql import functions as F

    n = df.count()
    if n == 0:
        return df.limit(0).toPandas()
    if n > sample_size:
        # Hash of id and month: the same rows every run, whatever the partitioning.
        share = sample_size / n
        bucket = F.abs(F.xxhash64(F.lit(seed), ID_COLUMN, "month")) % 1_000_000
        df = df.where(bucket < F.lit(int(share * 1_000_000)))
    return df.toPandas()


def _feature_columns(features: DataFrame) -> list[str]:
    return [c for c in features.columns if c not in NOT_FEATURES]


#: the declared defaults of the subject's parameters (:data:`workbench.params.SPECS`)
DEFAULTS = defaults("churn")


def run(
    spark: SparkSession,
    settings: Settings,
    period: str,
    *,
    horizon_months: int = DEFAULTS["horizon_months"],
    train_months: int = DEFAULTS["train_months"],
    sample_size: int = DEFAULTS["sample_size"],
    top_n_reasons: int = DEFAULTS["top_n_reasons"],
    num_boost_round: int = DEFAULTS["num_boost_round"],
    seed: int = DEFAULTS["seed"],
    output_dir: Path | None = None,
) -> ChurnResult:
    """Train, evaluate and explain the churn model for ``period``; score the live base.

    Writes ``ads_churn_scores`` and ``ads_churn_drivers`` for ``period``, and the model bundle
    (booster, parameters, months, metrics) to ``output_dir/model`` when given.
    """
    period = parse_month(period)
    if not 1 <= top_n_reasons <= N_REASONS:
        raise ParameterError(f"top_n_reasons must be in 1..{N_REASONS}, got {top_n_reasons}")
    available = table_months(settings, FEATURES_TABLE)
    if period not in available:
        raise InputDataError(
            f"{FEATURES_TABLE} has no month {period} (it has {', '.join(available) or 'none'})"
        )
    label = warehouse_label(horizon_months, settings.warehouse.churn_horizon_months)
    train, test_month = plan_months(period, horizon_months, train_months)
    train = [m for m in train if m in available]
    if not train or test_month not in available:
        raise InputDataError(
            f"churn for {period} with a {horizon_months}-month label needs features for "
            f"{test_month} and up to {add_months(period, -2 * horizon_months)}; "
            f"{FEATURES_TABLE} has {', '.join(available)}"
        )
    # every month read is at least k before the period, so its label lies within loaded months
    features = read_table(spark, settings, FEATURES_TABLE, [*train, test_month])
    columns = _feature_columns(features)
    keep = [ID_COLUMN, "month", *columns, label]
    train_pd = _sample_to_pandas(
        features.where(features.month.isin(train)).select(*keep), sample_size, seed
    )
    test_pd = _sample_to_pandas(
        features.where(features.month == test_month).select(*keep), sample_size, seed
    )
    if train_pd.empty or test_pd.empty:
        raise InputDataError(f"churn for {period}: no labelled rows to train or test on")
    # One row per subscriber and month: the id the engine sees must be unique.
    for frame in (train_pd, test_pd):
        frame["row_id"] = frame[ID_COLUMN].astype(str) + "@" + frame["month"]
    prepared = engine.prepare_features(
        train_pd.drop(columns=[ID_COLUMN, "month"]),
        "row_id",
        label,
        positive_label=True,
        categorical=[c for c in CATEGORICAL if c in columns],
    )
    params = engine.ChurnParams(num_boost_round=num_boost_round, seed=seed)
    window = f"{train[0]}..{train[-1]} ({label}, +{horizon_months} month(s))"
    model = engine.train_churn_model(prepared, params, training_window=window)
    test = engine.prepare_features(
        test_pd.drop(columns=[ID_COLUMN, "month"]), "row_id", label, spec=prepared.spec
    )
    evaluation = engine.evaluate(model, test)
    model = engine.attach_metrics(model, f"test_{test_month}", evaluation.metrics)
    labels = get_table(FEATURES_TABLE).labels
    drivers = engine.drivers(model, test.X)
    # each driver as a manager reads it: its catalog name in both languages
    drivers["factor"] = [
        f"{labels[f].zh} {labels[f].en}" if f in labels else f for f in drivers["feature"]
    ]
    drivers["effect"] = [describe_direction(d) for d in drivers["direction"]]

    base = read_table(spark, settings, FEATURES_TABLE, [period])
    scores = engine.score_spark(
        base,
        model,
        id_columns=[ID_COLUMN, *CONTEXT_COLUMNS],
        top_n=top_n_reasons,
        labels=labels,
    )
    from pyspark.sql import functions as F

    for i in range(top_n_reasons + 1, N_REASONS + 1):
        scores = (
            scores.withColumn(f"reason_{i}", F.lit(None).cast("string"))
            .withColumn(f"reason_{i}_contribution", F.lit(None).cast("double"))
            .withColumn(f"reason_{i}_text", F.lit(None).cast("string"))
        )
    scores = scores.withColumn("horizon_months", F.lit(horizon_months))
    n_scored = write_result(scores, "ads_churn_scores", settings, period)

    driver_rows = drivers.assign(driver_rank=range(1, len(drivers) + 1), model_id=model.model_id)[
        [
            "feature",
            "driver_rank",
            "mean_abs_contribution",
            "mean_contribution",
            "share",
            "direction",
            "model_id",
        ]
    ]
    # an unordered category has no direction: null in the mart, not NaN (which Spark orders
    # above every number)
    driver_rows["direction"] = (
        driver_rows["direction"].astype(object).where(driver_rows["direction"].notna(), None)
    )
    write_result(spark.createDataFrame(driver_rows), "ads_churn_drivers", settings, period)

    bundle = None
    if output_dir is not None:
        bundle = engine.save_model(model, Path(output_dir) / "model")
    log.info(
        "churn %s: model %s, test AUC %.3f, %d subscriber(s) scored",
        period,
        model.model_id,
        evaluation.metrics.get("auc", float("nan")),
        n_scored,
    )
    return ChurnResult(
        model=model,
        evaluation=evaluation,
        drivers=drivers,
        period=period,
        label=label,
        label_text=(
            f"{labels[label].zh} {labels[label].en} (M+1..M+{horizon_months}; "
            f"数仓窗口 warehouse horizon {settings.warehouse.churn_horizon_months})"
        ),
        train_months=train,
        test_month=test_month,
        n_train=len(train_pd),
        n_test=len(test_pd),
        n_scored=n_scored,
        bundle_dir=bundle,
    )
