"""One measured step of the benchmark in its own process (``python -m workbench.bench.worker``).

Each step starts its own Spark session, so a step's peak driver memory is its own (a JVM rarely
returns memory, so steps sharing one would read the largest step's peak ever after). The step's
clock starts after the session is up and stops when its work is done; the figures go to a JSON
file the pack reads.

Steps: ``generate`` (the profile's raw extracts), ``build`` (the whole warehouse), ``scan``
(the scan floor: read what the build reads from raw, write nothing), ``rules`` (FP-Growth rules
on the last month's holdings against mlxtend), ``churn`` (train once, then score every row of
``ads_churn_features``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from workbench.bench.measure import PeakMemory, driver_jvm_pid, per_second, timed
from workbench.config import Settings, load_settings
from workbench.errors import WorkbenchError

log = logging.getLogger(__name__)
STEPS = ("generate", "build", "scan", "rules", "churn")


def step_generate(spark, settings: Settings, profile: str) -> dict[str, Any]:
    from workbench.generate import generate_operator

    with timed() as clock:
        manifest = generate_operator(spark, settings, profile=profile)
    usage = int(manifest["row_totals"]["usage"])
    return {
        "seconds": clock.seconds,
        "subscribers": int(manifest["subscribers"]),
        "months": manifest["months"],
        "usage_rows": usage,
        "usage_rows_per_second": per_second(usage, clock.seconds),
    }


def step_build(spark, settings: Settings) -> dict[str, Any]:
    from workbench.warehouse.build import build_warehouse

    with PeakMemory(driver_jvm_pid(spark)) as peak, timed() as clock:
        result = build_warehouse(spark, settings)
    return {
        "seconds": clock.seconds,
        "run_id": result.run_id,
        "months": result.months,
        "jvm_peak_bytes": peak.jvm_peak,
        "python_peak_bytes": peak.python_peak,
        "table_seconds": table_seconds(result.tables),
        "rows_written": sum(t.rows_written for t in result.tables),
    }


def table_seconds(stats: list) -> dict[str, float]:
    """Each table's own start-to-end time in the build (from its ledger stats; several tables
    run at once, so these add up to more than the build)."""
    from datetime import datetime

    seconds = {}
    for table in stats:
        if table.started_at and table.ended_at:
            took = datetime.fromisoformat(table.ended_at) - datetime.fromisoformat(table.started_at)
            seconds[table.name] = round(took.total_seconds(), 3)
    return seconds


def scan_columns() -> dict[str, list[str]]:
    """The raw columns the build reads, per extract: every catalog column ODS validates (the
    accepted rows keep them typed, rejected rows keep them all as JSON)."""
    from workbench.catalog import get_table
    from workbench.catalog.ods import ODS_NAMES

    return {name: get_table(name).column_names for name in ODS_NAMES}


def step_scan(spark, settings: Settings) -> dict[str, Any]:
    from workbench.warehouse import storage
    from workbench.warehouse.build import resolve_months

    months = resolve_months(settings, None)
    columns = scan_columns()
    with PeakMemory(driver_jvm_pid(spark)) as peak, timed() as clock:
        for name in columns:
            # read_raw is the build's own reader: catalog columns plus source file and row
            storage.read_raw(spark, settings, name, months).write.format("noop").mode(
                "overwrite"
            ).save()
    rows = sum(
        storage.file_rows(storage.partition_dir(base_path(settings, n), m))
        for n in columns
        for m in months
    )
    return {
        "seconds": clock.seconds,
        "rows": rows,
        "extracts": len(columns),
        "columns": sum(len(c) for c in columns.values()),
        "jvm_peak_bytes": peak.jvm_peak,
    }


def step_rules(
    spark, settings: Settings, min_support: float, min_confidence: float
) -> dict[str, Any]:
    from workbench.bench.rules import compare_rules, mine_with_mlxtend, mine_with_spark
    from workbench.warehouse.storage import table_months

    month = table_months(settings, "dwd_fct_product_holding")[-1]
    spark_rules, spark_seconds, n_baskets = mine_with_spark(
        spark, settings, month, min_support, min_confidence
    )
    ml_rules, ml_seconds = mine_with_mlxtend(settings, month, min_support, min_confidence)
    problems = compare_rules(spark_rules, ml_rules)
    return {
        "month": month,
        "baskets": n_baskets,
        "min_support": min_support,
        "min_confidence": min_confidence,
        "spark_seconds": spark_seconds,
        "mlxtend_seconds": ml_seconds,
        "spark_rules": len(spark_rules),
        "mlxtend_rules": len(ml_rules),
        "problems": problems,
    }


def step_churn(spark, settings: Settings) -> dict[str, Any]:
    from workbench.analysis.churn import score_spark
    from workbench.subjects import churn
    from workbench.warehouse.storage import read_table, rows_by_month, table_months

    months = table_months(settings, churn.FEATURES_TABLE)
    with timed() as train_clock:
        result = churn.run(spark, settings, months[-1], horizon_months=1, train_months=1)
    base = read_table(spark, settings, churn.FEATURES_TABLE)  # every month: the whole base
    rows = sum(rows_by_month(base_path(settings, churn.FEATURES_TABLE)).values())
    with timed() as clock:
        score_spark(base, result.model, id_columns=[churn.ID_COLUMN, "month"]).write.format(
            "noop"
        ).mode("overwrite").save()
    return {
        "train_seconds": train_clock.seconds,
        "seconds": clock.seconds,
        "rows": rows,
        "months": months,
        "rows_per_second": per_second(rows, clock.seconds),
    }


def base_path(settings: Settings, name: str) -> Path:
    from workbench.catalog import get_table

    return get_table(name).path(settings)


def main(argv: list[str] | None = None, *, stop_spark: bool = True) -> int:
    """Run one step (``argv`` as on the command line); ``stop_spark=False`` leaves the session
    running for the caller's next step (the pack's shared JVM)."""
    parser = argparse.ArgumentParser(prog="python -m workbench.bench.worker")
    parser.add_argument("step", choices=STEPS)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--min-support", type=float, default=0.01)
    parser.add_argument("--min-confidence", type=float, default=0.1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(args.config, environ={})
    except WorkbenchError as exc:
        # one line for the pack's error message, not a traceback
        sys.stderr.write(f"error: {exc}\n")
        return 2
    from workbench.spark import get_spark

    spark = get_spark(settings.spark)
    try:
        if args.step == "generate":
            figures = step_generate(spark, settings, args.profile)
        elif args.step == "build":
            figures = step_build(spark, settings)
        elif args.step == "scan":
            figures = step_scan(spark, settings)
        elif args.step == "rules":
            figures = step_rules(spark, settings, args.min_support, args.min_confidence)
        else:
            figures = step_churn(spark, settings)
    finally:
        if stop_spark:
            spark.stop()
    figures["pid"] = os.getpid()  # the process the step ran in
    args.out.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
