"""Generate the synthetic operator: every raw extract, written by Spark, plus its manifest."""

from __future__ import annotations

import json
import logging
import math
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.catalog import get_table, tables
from workbench.errors import WorkbenchError
from workbench.generate import extracts as ex
from workbench.generate import reference as ref
from workbench.generate.dirty import DIRTY_SPECS, KIND_COLUMN, with_dirty_rows
from workbench.generate.lifecycle import LIFECYCLE_DDL, Scenario, simulate_lifecycles
from workbench.generate.params import ChurnHazard, Params, Timeline
from workbench.months import MonthRange
from workbench.warehouse.storage import rows_by_month

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from workbench.config import ProfileSettings, Settings

log = logging.getLogger(__name__)

#: bumped when the same seed gives other rows (1.1.0: a usage decline is a three-month episode)
GENERATOR_VERSION = "1.1.0"
MANIFEST_NAME = "_manifest.json"
SUBSCRIBERS_PER_PARTITION = 25_000
WRITER_THREADS = 4
_observation_ids = count()


class GeneratorError(WorkbenchError, ValueError):
    """A generator argument is wrong; the message names it."""


def lifecycle_frame(spark: SparkSession, scenario: Scenario, partitions: int) -> DataFrame:
    """The lifecycle of every line, simulated in parallel by subscriber range."""

    def simulate(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            yield simulate_lifecycles(batch["id"].to_numpy(), scenario)

    ids = spark.range(1, scenario.subscribers + 1, 1, numPartitions=partitions)
    return ids.mapInPandas(simulate, LIFECYCLE_DDL)


def planted_params(profile: ProfileSettings) -> Params:
    """The planted parameters of a profile: the defaults, with the profile's usage volume, churn
    hazard intercept and campaign design."""
    hazard = ChurnHazard()
    if profile.churn_hazard_intercept is not None:
        hazard = replace(hazard, intercept=profile.churn_hazard_intercept)
    return Params(
        hazard=hazard,
        events_per_subscriber_month=profile.events_per_subscriber_month,
        **profile.campaign.overrides(),
    )


def generate_operator(
    spark: SparkSession,
    settings: Settings,
    profile: str = "tiny",
    seed: int | None = None,
    months: MonthRange | None = None,
    out: Path | None = None,
    partitions: int | None = None,
    on_table: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Write every raw extract of the catalog and ``_manifest.json`` under ``out``.

    Args:
        spark: the session.
        settings: project settings (profiles, generator seed and dirty rate, raw path).
        profile: a scale profile of ``settings.profiles``.
        seed: overrides ``settings.generator.seed``.
        months: overrides the profile's month range.
        out: output folder (default ``settings.raw_dir``).
        partitions: Spark partitions of the subscriber range (the data does not depend on it).
        on_table: progress callback ``(table, done, total)`` called after each extract.

    Returns:
        The manifest (also written as ``<out>/_manifest.json``).
    """
    prof = settings.profile(profile)
    seed = settings.generator.seed if seed is None else int(seed)
    month_range = months or prof.month_range
    if partitions is not None and partitions < 1:
        raise GeneratorError(f"partitions: must be a positive whole number, not {partitions}")
    out = Path(out) if out is not None else settings.raw_dir
    params = planted_params(prof)
    timeline = Timeline.for_range(month_range, params.window_months)
    scenario = Scenario(seed, prof.subscribers, timeline, params)
    n_parts = partitions or max(
        spark.sparkContext.defaultParallelism,
        math.ceil(prof.subscribers / SUBSCRIBERS_PER_PARTITION),
    )
    rate = settings.generator.dirty_rate
    log.info(
        "generating profile %s: %d subscribers, months %s, seed %d, %d partitions",
        profile,
        prof.subscribers,
        month_range,
        seed,
        n_parts,
    )

    from pyspark import StorageLevel

    life = lifecycle_frame(spark, scenario, n_parts).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        cells = ref.build_cells(seed, params.poor_cell_share)
        frames = ex.make_reference_extracts(spark, timeline, params, seed, prof.subscribers)
        builders: dict[str, Callable[[], DataFrame]] = {
            **{name: (lambda df=df: df) for name, df in frames.items()},
            "subscribers": lambda: ex.make_subscribers(life),
            "usage": lambda: ex.make_usage(life, seed),
            "bills": lambda: ex.make_bills(life, seed),
            "recharges": lambda: ex.make_recharges(life, seed),
            "product_orders": lambda: ex.make_product_orders(life, seed),
            "campaign_contacts": lambda: ex.make_campaign_contacts(life, timeline, seed),
            "campaign_responses": lambda: ex.make_campaign_responses(life, timeline, seed),
            "complaints": lambda: ex.make_complaints(life, seed),
            "cell_quality": lambda: ex.make_cell_quality(spark, timeline, seed, cells),
        }
        raw_tables = [t.name for t in tables("raw")]
        missing = sorted(set(raw_tables) - set(builders))
        if missing:
            raise GeneratorError(f"no generator for raw extract(s): {', '.join(missing)}")
        # A raw folder holds one operator, described whole by its manifest: never mix runs
        # (months outside the new range would otherwise survive the dynamic overwrite).
        (out / MANIFEST_NAME).unlink(missing_ok=True)
        for name in raw_tables:
            shutil.rmtree(out / name, ignore_errors=True)
        row_counts: dict[str, dict[str, int]] = {}
        dirty: dict[str, dict[str, dict[str, int]]] = {}
        life.count()  # simulate once, before the writers share it

        def write(name: str) -> str:
            df = builders[name]().transform(with_dirty_rows(name, seed, rate))
            row_counts[name], dirty[name] = _write_counted(df, name, out, timeline.months)
            return name

        # Small extracts are dominated by job latency: run a few writes at once.
        with ThreadPoolExecutor(max_workers=WRITER_THREADS) as pool:
            for done, name in enumerate(
                as_completed(pool.submit(write, name) for name in raw_tables), start=1
            ):
                finished = name.result()
                log.debug("wrote %s", finished)
                if on_table is not None:
                    on_table(finished, done, len(raw_tables))
        row_counts = {name: row_counts[name] for name in raw_tables}
        dirty = {name: dirty[name] for name in raw_tables}
        manifest = _manifest(life, scenario, profile, rate, row_counts, dirty, cells, builders)
    finally:
        life.unpersist()
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST_NAME).write_text(
        json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    log.info("raw extracts written to %s; manifest %s", out, out / MANIFEST_NAME)
    return manifest


def _write_counted(
    df: DataFrame, name: str, out: Path, months: list[str]
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Write one extract partitioned by month; count its rows per month and its dirty kinds.

    Rows per month come from the written files' footers. The dirty rows (a ``dirty_rate`` share,
    at most a fifth) are counted by one observed list of small codes, month x kind: an
    observation holding one ``count_if`` per month and kind (84 for usage over a year) cost
    more than the write itself, as Spark evaluates observed aggregates one by one.
    """
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    spec = DIRTY_SPECS.get(name)
    kinds = spec.kinds if spec else ()
    columns = [c.name for c in get_table(name).columns]
    writer = df
    observation = None
    if kinds:
        month_index = F.array_position(F.array(*[F.lit(m) for m in months]), F.col("month")) - 1
        kind_index = F.array_position(F.array(*[F.lit(k) for k in kinds]), F.col(KIND_COLUMN)) - 1
        code = F.when(F.col(KIND_COLUMN).isNotNull(), month_index * len(kinds) + kind_index)
        observation = Observation(f"generate_{name}_{next(_observation_ids)}")
        writer = df.observe(observation, F.collect_list(code).alias("dirty_codes"))
    path = out / name
    writer.select(*columns).write.mode("overwrite").partitionBy("month").parquet(str(path))
    written = rows_by_month(path)
    rows = {month: written.get(month, 0) for month in months}
    if observation is None:
        return rows, {}
    codes = Counter(int(c) for c in observation.get["dirty_codes"])
    dirty = {
        month: {kind: codes[i * len(kinds) + j] for j, kind in enumerate(kinds)}
        for i, month in enumerate(months)
    }
    return rows, dirty


def _manifest(
    life: DataFrame,
    scenario: Scenario,
    profile: str,
    rate: float,
    row_counts: dict[str, dict[str, int]],
    dirty: dict[str, dict[str, dict[str, int]]],
    cells: ref.Cells,
    extracts: dict[str, Callable[[], DataFrame]],
) -> dict[str, Any]:
    from workbench.generate import truth

    tl, params = scenario.timeline, scenario.params
    dirty_totals = {
        table: {
            kind: sum(by_kind.get(kind, 0) for by_kind in per_month.values())
            for kind in DIRTY_SPECS[table].kinds
        }
        for table, per_month in dirty.items()
        if per_month
    }
    return {
        "generator_version": GENERATOR_VERSION,
        "profile": profile,
        "seed": scenario.seed,
        "months": tl.months,
        "subscribers": scenario.subscribers,
        "dirty_rate": rate,
        "row_counts": row_counts,
        "row_totals": {table: sum(per.values()) for table, per in row_counts.items()},
        "dirty_rows": dirty,
        "dirty_totals": dirty_totals,
        "truth": truth.monthly_truth(life, tl),
        "campaign_truth": truth.campaign_truth(life, tl, params),
        "planted": truth.planted(life, scenario, cells, extracts),
    }
