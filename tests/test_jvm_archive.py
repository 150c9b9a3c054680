"""The Spark driver's class data sharing archive: used by every session when `make` has made
it, only by the driver, and harmless when a JVM cannot use it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from workbench import jvm_archive
from workbench.config import SparkSettings
from workbench.jdk import java_executable
from workbench.spark import session_conf


def test_the_driver_uses_the_archive_and_the_executors_do_not():
    path = jvm_archive.archive_path()
    if path is None or not path.is_file():
        pytest.fail(f"no class archive at {path}: `make setup` makes it (workbench/jvm_archive.py)")
    conf = session_conf(SparkSettings())
    assert f"-XX:SharedArchiveFile={path}" in conf["spark.driver.extraJavaOptions"]
    assert "SharedArchiveFile" not in conf["spark.executor.extraJavaOptions"]
    off = session_conf(SparkSettings(class_data_sharing=False))
    assert "SharedArchiveFile" not in off["spark.driver.extraJavaOptions"]


def test_the_running_session_maps_spark_classes_from_the_archive(spark):
    jvm = spark.sparkContext._jvm
    arguments = list(
        jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()
    )
    assert f"-XX:SharedArchiveFile={jvm_archive.archive_path()}" in arguments
    # the JVM keeps a usable archive mapped into its memory; one it rejected is not
    pid = jvm.java.lang.ProcessHandle.current().pid()
    maps = Path(f"/proc/{pid}/maps").read_text()
    assert str(jvm_archive.archive_path()) in maps


def test_an_archive_a_jvm_cannot_use_costs_nothing_and_says_nothing(tmp_path):
    broken = tmp_path / "broken.jsa"
    broken.write_bytes(b"not an archive" * 100)
    java = java_executable()
    done = subprocess.run(
        [str(java), f"-XX:SharedArchiveFile={broken}", *jvm_archive.QUIET.split(), "-version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "cds" not in done.stderr.lower() and "shared archive" not in done.stderr.lower()
