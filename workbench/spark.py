"""The one place a SparkSession is built, from :class:`workbench.config.SparkSettings`.

Library code receives a session; it never creates one at import time.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.config import SparkSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


def local_cores(settings: SparkSettings) -> int:
    """Cores the session computes on: ``local[N]``'s N, the machine's for ``local[*]``, and the
    driver machine's as an estimate on a cluster."""
    if settings.is_local:
        inner = settings.master.removeprefix("local").strip("[]").split(",")[0]
        if inner not in ("", "*"):
            return int(inner)
    return os.cpu_count() or 2


def default_shuffle_partitions(settings: SparkSettings) -> int:
    """Shuffle partitions sized for the machine: 2 per local core, Spark's 200 on a cluster."""
    if isinstance(settings.shuffle_partitions, int):
        return settings.shuffle_partitions
    if settings.is_local:
        return max(2, 2 * local_cores(settings))
    return 200


def session_conf(settings: SparkSettings) -> dict[str, str]:
    """Every ``spark.*`` setting the session is built with (explicit ``conf`` entries win)."""
    from workbench.jvm_archive import driver_options
    from workbench.local_fs import session_conf as local_fs_conf

    log4j = resources.files("workbench") / "conf" / "log4j2.properties"
    java_opts = f"-Dlog4j2.configurationFile=file:{log4j} {settings.java_options}".strip()
    # the archive holds the classes of this machine's driver class path, not an executor's
    archive = driver_options() if settings.class_data_sharing else ""
    conf: dict[str, str] = {
        "spark.driver.memory": settings.driver_memory,
        "spark.sql.shuffle.partitions": str(default_shuffle_partitions(settings)),
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.extraJavaOptions": f"{java_opts} {archive}".strip(),
        "spark.executor.extraJavaOptions": java_opts,
        # Times are the operator's local wall-clock times; keep Spark from shifting them.
        "spark.sql.session.timeZone": "UTC",
        # Partition values such as 2026-01 stay strings whatever they look like.
        "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
        # Standard Parquet timestamps, so DuckDB, pandas and Trino read the same values.
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        # Overwrite only the partitions a job writes, never the whole table.
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.adaptive.enabled": "true",
        # The build runs several tables at once from driver threads, each in a pool of its own:
        # FAIR shares the cores between them instead of queueing one table behind another.
        "spark.scheduler.mode": "FAIR",
        # Every broadcast hash relation holds at least one page, however few its rows; Spark
        # sizes pages from the heap (64 MB at 4g). The cross-sell offers broadcast dozens of
        # small rule tables, and at 64 MB each they filled a 4g heap until a page could not be
        # allocated ("Could not allocate memory to grow BytesToBytesMap", make demo of
        # 2026-12-03). At 4 MB the same report peaks at 510 MB after GC instead of 3.7 GB.
        "spark.buffer.pageSize": "4m",
    }
    if settings.is_local:
        conf["spark.driver.host"] = "127.0.0.1"
        conf["spark.driver.bindAddress"] = "127.0.0.1"
        conf["spark.ui.enabled"] = "false"
    conf.update(
        {
            key: str(value).lower() if isinstance(value, bool) else str(value)
            for key, value in settings.conf.items()
        }
    )
    if settings.is_local:
        # file:// writes without a chmod process per file (workbench/local_fs.py); a cluster's
        # executors have no such jar, and its data is on HDFS or an object store anyway
        conf.update(local_fs_conf(conf))
    return conf


@contextmanager
def _stderr_to(path: Path | None) -> Iterator[None]:
    """Point this process's standard error (file descriptor 2) at ``path`` while the block runs,
    so a child started in it (the driver JVM) writes its standard error there for good."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(target, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(target)


def get_spark(settings: SparkSettings | None = None, jvm_log: Path | None = None) -> SparkSession:
    """Build (or return the running) SparkSession for these settings.

    Workers run the same interpreter as the driver (``PYSPARK_PYTHON``), so pandas UDFs find
    the project's packages on ``local[*]`` and on a standalone cluster sharing the machine.

    Args:
        jvm_log: where the driver JVM writes its standard error (Spark's log and the JVM's own
            start-up warnings, such as "Using incubator modules"), when this call starts it.
            A notebook kernel passes one: what the JVM prints there would otherwise show as a
            red box in the report. None: the JVM shares this process's standard error.
    """
    from pyspark.sql import SparkSession

    settings = settings or SparkSettings()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if settings.is_local:
        # Without it Spark resolves the hostname and warns about a loopback address.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.master(settings.master).appName(settings.app_name)
    for key, value in session_conf(settings).items():
        builder = builder.config(key, value)
    with _stderr_to(jvm_log):
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    log.info("Spark %s session on %s", spark.version, settings.master)
    return spark
