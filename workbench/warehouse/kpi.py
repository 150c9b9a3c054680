"""The marts computed from the KPI dictionary (``pipelines/kpis.yml``, read by
:mod:`workbench.catalog.kpis`).

Each indicator is a Spark SQL aggregate over one source table (``dws_subscriber_month`` unless
``source`` names another monthly DWS table). The cube evaluates every formula on every
combination of region, segment and plan type (a rolled-up dimension reads ``ALL``; a dimension the
source lacks is always ``ALL``) per month, and is stored long: one row per KPI and cell. Alerts
compare each cell with the KPI's thresholds, on the value itself (``basis: level``) or on its
month-on-month change (``basis: mom_change``, value / last month - 1), which suits counts whose
size differs between a city and the province. Adding an indicator is one YAML entry.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from workbench.catalog.ads import ALL
from workbench.catalog.kpis import MAX_PERSIST_MONTHS, AlertPolicy, Kpi, KpiDictionaryError
from workbench.errors import require_columns
from workbench.warehouse.columns import conform_to, month_index_col

CUBE_DIMENSIONS = ("region_id", "segment", "plan_type")
UNKNOWN = "UNKNOWN"  # a null dimension value at the detailed level


def _kpi_metadata(spark: SparkSession, kpis: list[Kpi]) -> DataFrame:
    rows = [(k.code, k.name_en, k.name_zh, k.unit) for k in kpis]
    return spark.createDataFrame(
        rows, "kpi_code string, kpi_name_en string, kpi_name_zh string, unit string"
    )


def _aggregate_source(source: DataFrame, kpis: list[Kpi], source_name: str) -> DataFrame:
    """All KPIs of one source on every level of the cube, long format."""
    require_columns(source, ["month"], source_name)
    dims = [d for d in CUBE_DIMENSIONS if d in source.columns]
    aggregates = []
    for kpi in kpis:
        # rounded: a formula's float sums depend on row order in their last bits, and a
        # rebuild must give identical tables
        expression = F.round(F.expr(kpi.formula).cast("double"), 6).alias(kpi.code)
        try:
            # analysis is eager: a bad column or a non-aggregate fails here, named by its KPI
            source.groupBy("month").agg(expression)
        except Exception as exc:  # ParseException, AnalysisException: both carry the reason
            reason = str(exc).strip().splitlines()[0][:300]
            raise KpiDictionaryError(
                f"KPI {kpi.code!r}.formula: {kpi.formula!r} does not evaluate over "
                f"{source_name}: {reason}"
            ) from None
        aggregates.append(expression)
    sets = [
        [F.col("month"), *(F.col(d) for d in subset)]
        for n in range(len(dims), -1, -1)
        for subset in itertools.combinations(dims, n)
    ]
    grouped = source.groupingSets(sets, "month", *dims).agg(
        *aggregates, *(F.grouping(d).alias(f"_g_{d}") for d in dims)
    )
    labelled = grouped.select(
        "month",
        *(
            (
                F.when(F.col(f"_g_{d}") == 1, F.lit(ALL)).otherwise(
                    F.coalesce(F.col(d).cast("string"), F.lit(UNKNOWN))
                )
                if d in dims
                else F.lit(ALL)
            ).alias(d)
            for d in CUBE_DIMENSIONS
        ),
        *(F.col(k.code) for k in kpis),
    )
    return labelled.unpivot(
        ["month", *CUBE_DIMENSIONS], [k.code for k in kpis], "kpi_code", "value"
    )


def compute_kpi_cube(kpis: list[Kpi], sources: Mapping[str, DataFrame]) -> DataFrame:
    """The KPI cube (catalog ``ads_kpi_cube``) from the source tables named by the KPIs.

    Args:
        kpis: the dictionary (see :func:`load_kpis`).
        sources: table name -> DataFrame, holding at least every KPI's ``source``.
    """
    if not kpis:
        raise KpiDictionaryError("the KPI dictionary is empty")
    by_source: dict[str, list[Kpi]] = {}
    for kpi in kpis:
        by_source.setdefault(kpi.source, []).append(kpi)
    parts = []
    for name, group in by_source.items():
        if name not in sources:
            raise KpiDictionaryError(
                f"KPI {group[0].code!r}.source: table {name!r} was not provided"
            )
        parts.append(_aggregate_source(sources[name], group, name))
    long = parts[0]
    for part in parts[1:]:
        long = long.unionByName(part)
    spark = long.sparkSession
    return long.join(F.broadcast(_kpi_metadata(spark, kpis)), "kpi_code").transform(
        conform_to("ads_kpi_cube")
    )


def compute_kpi_alerts(
    kpis: list[Kpi], cube: DataFrame, policy: AlertPolicy | None = None
) -> DataFrame:
    """Cells of ``cube`` whose KPI breached its warning or alarm threshold.

    For ``basis: mom_change`` KPIs the cube must also hold the previous month (the first month
    of the cube therefore raises no change alert). A KPI with ``persist_months: k`` alerts only
    when its threshold was breached in each of the last k months (the severity is the mildest
    of them), so the cube must hold those months too. Cells smaller than the policy's
    ``min_lines`` raise nothing.
    """
    policy = policy or AlertPolicy()
    require_columns(cube, ["kpi_code", "value", "month", *CUBE_DIMENSIONS], "ads_kpi_cube")
    rules = [k for k in kpis if k.has_thresholds]
    spark = cube.sparkSession
    thresholds = spark.createDataFrame(
        [(k.code, k.better, k.basis, k.warning, k.alarm, k.persist_months) for k in rules],
        "kpi_code string, better string, basis string, warning double, alarm double, "
        "persist_months int",
    )
    cell = Window.partitionBy("kpi_code", *CUBE_DIMENSIONS).orderBy("_mi")
    measured = (
        cube.join(F.broadcast(thresholds), "kpi_code")
        .withColumn("_mi", month_index_col("month"))
        .withColumn("_prev", F.sum("value").over(cell.rangeBetween(-1, -1)))
        .withColumn(
            "measured",
            F.when(F.col("basis") == "level", F.col("value")).otherwise(
                F.when(F.col("_prev") != 0, F.col("value") / F.col("_prev") - 1)
            ),
        )
    )
    higher = F.col("better") == "higher"

    def breached(threshold: str) -> Column:
        limit = F.col(threshold)
        return limit.isNotNull() & F.when(higher, F.col("measured") < limit).otherwise(
            F.col("measured") > limit
        )

    # 2 = alarm, 1 = warning, 0 = within both thresholds, per month
    level = F.when(breached("alarm"), 2).when(breached("warning"), 1).otherwise(0)
    held = None  # the mildest level of the last persist_months months, each one present
    for k in range(1, MAX_PERSIST_MONTHS + 1):
        window = cell.rangeBetween(-(k - 1), 0)
        kept = F.when(F.count("_level").over(window) == k, F.min("_level").over(window))
        held = (held if held is not None else F).when(F.col("persist_months") == k, kept)
    alerts = (
        measured.where(F.col("measured").isNotNull())
        .withColumn("_level", level)
        .withColumn("_held", held)
        .withColumn(
            "severity",
            F.when(F.col("_held") == 2, F.lit("alarm")).when(F.col("_held") == 1, F.lit("warning")),
        )
        .where(F.col("severity").isNotNull())
    )
    if policy.min_lines:
        sizes = cube.where(F.col("kpi_code") == policy.size_kpi).select(
            *CUBE_DIMENSIONS, "month", F.col("value").alias("_lines")
        )
        alerts = alerts.join(sizes, [*CUBE_DIMENSIONS, "month"], "left").where(
            F.coalesce(F.col("_lines"), F.lit(0.0)) >= policy.min_lines
        )
    return (
        alerts.withColumn(
            "threshold",
            F.when(F.col("severity") == "alarm", F.col("alarm")).otherwise(F.col("warning")),
        )
        .withColumn("direction", F.when(higher, F.lit("below")).otherwise(F.lit("above")))
        .transform(conform_to("ads_kpi_alerts"))
    )
