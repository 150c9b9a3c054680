"""Hadoop's local file system without a chmod process per file (workbench/local_fs.py): used by
local sessions when `make` has compiled it, writing what Hadoop's own writes minus the checksum
files, and out of the way of a user's own class path or file system."""

from __future__ import annotations

import os
import stat

import pytest

from workbench import local_fs
from workbench.config import SparkSettings
from workbench.spark import session_conf


@pytest.fixture(scope="module")
def jar():
    path = local_fs.built_jar()
    if path is None:
        pytest.fail(
            f"no local file system jar at {local_fs.jar_path()}: `make setup` compiles it "
            "(this machine has javac)"
        )
    return path


def test_a_local_session_writes_through_it_and_a_cluster_session_does_not(jar):
    local = session_conf(SparkSettings(master="local[2]"))
    assert local["spark.hadoop.fs.file.impl"] == local_fs.FILE_SYSTEM_CLASS
    assert local["spark.driver.extraClassPath"] == str(jar)
    cluster = session_conf(SparkSettings(master="spark://127.0.0.1:7077"))
    assert "spark.hadoop.fs.file.impl" not in cluster
    assert "spark.driver.extraClassPath" not in cluster


def test_a_users_class_path_is_kept_and_their_file_system_wins(jar):
    own = session_conf(SparkSettings(conf={"spark.driver.extraClassPath": "/opt/extra.jar"}))
    assert own["spark.driver.extraClassPath"] == f"/opt/extra.jar{os.pathsep}{jar}"
    named = {"spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem"}
    theirs = session_conf(SparkSettings(conf=named))
    assert theirs["spark.hadoop.fs.file.impl"] == "org.apache.hadoop.fs.RawLocalFileSystem"
    assert "spark.driver.extraClassPath" not in theirs


def test_a_partitioned_write_leaves_hadoops_permissions_and_no_checksum_files(spark, tmp_path, jar):
    jvm = spark.sparkContext._jvm
    local = jvm.org.apache.hadoop.fs.FileSystem.getLocal(
        spark.sparkContext._jsc.hadoopConfiguration()
    )
    # still the type Hadoop's getLocal promises, so callers that ask for it by type keep working
    assert local.getClass().getName() == local_fs.FILE_SYSTEM_CLASS

    out = tmp_path / "table"
    rows = spark.range(2_000).selectExpr("id", "cast(id % 7 as string) as part")
    rows.repartition(4).write.partitionBy("part").parquet(str(out))

    written = list(out.rglob("*"))
    assert not [p for p in written if p.name.endswith(".crc")]
    parts = [p for p in written if p.suffix == ".parquet"]
    assert len(parts) >= 7 and spark.read.parquet(str(out)).count() == 2_000
    # Hadoop's defaults (0666 and 0777 less its umask 022), set without a chmod process
    assert {stat.S_IMODE(p.stat().st_mode) for p in parts} == {0o644}
    assert {stat.S_IMODE(p.stat().st_mode) for p in written if p.is_dir()} == {0o755}

    one = parts[0]
    local.setPermission(
        jvm.org.apache.hadoop.fs.Path(str(one)),
        jvm.org.apache.hadoop.fs.permission.FsPermission(0o600),
    )
    assert stat.S_IMODE(one.stat().st_mode) == 0o600
