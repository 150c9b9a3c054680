"""A class data sharing (CDS) archive for the Spark driver JVM, made once per machine.

Why: most of what a short Spark job costs on a small machine is the JVM starting. A driver
loads and verifies some ten thousand classes of Spark's jars every time; measured here on two
cores, a session start and two small jobs took 13.2 s of JVM CPU (8.2 s wall) with the default
JIT and 7.8 s (4.8 s) when the classes came from an archive. Every ``workbench`` command, report
kernel and dashboard export that uses Spark starts a JVM, as does each test that runs one in a
process of its own. JDK 17 has no ``-XX:+AutoCreateSharedArchive`` (JDK 19), so the archive is
made here: :func:`make_archive` runs a representative Spark workload in a JVM started with
``-XX:ArchiveClassesAtExit``, which writes the classes it loaded when it exits.

The archive is named after what it depends on (the ``java`` executable, the PySpark version and
this environment), so a new JDK or PySpark simply gets a new one. A JVM that cannot use an
archive (another JDK build, another class path) starts as before; its CDS log lines are turned
off so they do not reach a report's standard error.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from workbench.jdk import jvm_fingerprint
from workbench.local_fs import built_jar, make_jar

log = logging.getLogger(__name__)

#: JVM flags that make the archive's messages silent (an unusable archive is not an error)
QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"


def archive_path() -> Path | None:
    """Where this environment's archive lives (None without a ``java``): under the Python
    environment's prefix, named by a fingerprint of the JDK and PySpark it was made with."""
    jvm = jvm_fingerprint()
    if jvm is None:
        return None
    # the local file system's jar joins the driver's class path, which the archive must match
    key = f"{jvm}|{sys.prefix}|{built_jar()}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return Path(sys.prefix) / "var" / "workbench" / f"spark-driver-{digest}.jsa"


def driver_options() -> str:
    """The driver's JVM flags for the archive: empty until :func:`make_archive` has made it."""
    path = archive_path()
    if path is None or not path.is_file():
        return ""
    return f"-XX:SharedArchiveFile={path} {QUIET}"


def _workload(archive: Path) -> None:
    """Run in the child process: a session whose JVM writes ``archive`` at exit, after a small
    build-like workload (Parquet written and read back, joins, aggregates, windows, Arrow
    transfers both ways, a pandas function) so the classes a real build loads are in it."""
    import pandas as pd
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from workbench.config import SparkSettings
    from workbench.spark import get_spark

    settings = SparkSettings(
        master="local[2]",
        driver_memory="1g",
        shuffle_partitions=2,
        java_options=f"-XX:ArchiveClassesAtExit={archive}",
        class_data_sharing=False,
    )
    spark = get_spark(settings)
    with tempfile.TemporaryDirectory() as folder:
        day = F.date_add(F.lit("2026-01-01"), (F.col("id") % 60).cast("int"))
        data = spark.range(20_000).select(
            (F.col("id") % 97).alias("key"),
            F.col("id").cast("double").alias("value"),
            F.date_format(day, "yyyy-MM").alias("month"),
            F.concat(F.lit("k"), F.col("id") % 13).alias("label"),
        )
        data.write.partitionBy("month").mode("overwrite").parquet(f"{folder}/t")
        read = spark.read.parquet(f"{folder}/t")
        window = Window.partitionBy("key").orderBy("value")
        summary = (
            read.join(F.broadcast(read.select("key").distinct()), "key")
            .withColumn("rank", F.row_number().over(window))
            .observe("rows", F.count(F.lit(1)).alias("n"))
            .groupBy("month", "label")
            .agg(F.sum("value").alias("total"), F.countDistinct("key").alias("keys"))
        )
        summary.write.mode("overwrite").parquet(f"{folder}/s")
        back = spark.createDataFrame(spark.read.parquet(f"{folder}/s").toPandas())
        doubled = back.mapInPandas(
            lambda parts: (p.assign(keys=p["keys"] * 2) for p in parts), back.schema
        )
        doubled.count()
        spark.createDataFrame(pd.DataFrame({"a": [1, 2]})).collect()
    _exit_and_wait(spark)


def _exit_and_wait(spark) -> None:
    """End the JVM with ``System.exit`` and wait until it is gone: it writes the archive while it
    exits, which takes seconds, and a JVM killed as this process ends (PySpark's own clean-up)
    would write none."""
    context = spark.sparkContext
    jvm = context._jvm
    launched = context._gateway.proc  # the JVM itself: PySpark's launcher execs java
    spark.stop()
    try:
        jvm.java.lang.System.exit(0)
    except Exception:  # the gateway's connection ends with the JVM: expected here
        log.debug("JVM exited while answering System.exit")
    launched.wait(timeout=300)


def make_archive(timeout_seconds: int = 600) -> Path | None:
    """Make this environment's archive unless it exists; returns its path (None: no ``java``, or
    the JVM could not write one, which only costs the speed-up and is logged)."""
    path = archive_path()
    if path is None or path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "workbench.jvm_archive", "--child", str(partial)],
            capture_output=True,
            text=True,
            timeout=timeout_seconds,
            check=False,
        )
        failure = "" if done.returncode == 0 else f"exit {done.returncode}: {done.stderr[-2000:]}"
    except subprocess.TimeoutExpired:
        failure = f"no answer within {timeout_seconds} s"
    if failure or not partial.is_file():
        partial.unlink(missing_ok=True)
        log.warning("no JVM class archive made (%s)", failure or "the JVM wrote none")
        return None
    for old in path.parent.glob("spark-driver-*.jsa"):  # made for an earlier JDK or PySpark
        old.unlink(missing_ok=True)
    partial.replace(path)  # atomic: a JVM starting now sees no archive or a whole one
    return path


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:  # the JVM of this process writes the archive at exit
        _workload(Path(sys.argv[2]))
    else:  # `make` runs it at every setup: made once, then it only finds the files
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        # first the jar: the archive holds the class path the driver starts with, jar included
        log.info("local file system jar: %s", make_jar() or "none (see above)")
        log.info("JVM class archive: %s", make_archive() or "none (see the warning above)")
