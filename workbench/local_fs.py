"""Hadoop's local file system without a child process per file, compiled once per machine.

Why: Spark writes file:// paths through Hadoop's local file system, which sets the permission of
every directory it makes and every file it creates (checksum files included) by running ``chmod``
in a child process whenever Hadoop's native library is missing, as it is from PyPI's PySpark. A
flight recording of the demo build (2026-12-05) counted 5,373 such processes, each with threads
reading its output (23,865 thread starts); the tiny build used by the tests took 10% less wall
time without them (25-27 s instead of 29-30 s, warm JVM; bench/NOTES.md).
``conf/java/workbench/hadoop/NioLocalFileSystem.java`` sets permissions through java.nio and
writes no ``.crc`` files; this module compiles it with the JDK's ``javac`` at set-up (``make
setup``, next to the class archive) and gives local sessions the settings that use it.

A machine with only a Java runtime (no ``javac``) gets no jar: its sessions use Hadoop's own file
system as before, which is only slower. The jar is named after the JDK, the PySpark version and
the source, so a new one of any of them gets a new jar.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from importlib import resources
from pathlib import Path

from workbench.jdk import javac_executable, jvm_fingerprint

log = logging.getLogger(__name__)

#: the class Spark's ``spark.hadoop.fs.file.impl`` names
FILE_SYSTEM_CLASS = "workbench.hadoop.NioLocalFileSystem"
_SOURCE = ("conf", "java", "workbench", "hadoop", "NioLocalFileSystem.java")


def _source() -> Path:
    return Path(str(resources.files("workbench").joinpath(*_SOURCE)))


def _hadoop_api_jar() -> Path | None:
    """PySpark's Hadoop client API jar, the class path the source compiles against."""
    import pyspark

    jars = sorted((Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar"))
    return jars[-1] if jars else None


def jar_path() -> Path | None:
    """Where this environment's jar lives (None without a ``java``): under the Python
    environment's prefix, named by a fingerprint of the JDK, PySpark and the source."""
    jvm = jvm_fingerprint()
    if jvm is None:
        return None
    source = hashlib.sha256(_source().read_bytes()).hexdigest()
    key = f"{jvm}|{source}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return Path(sys.prefix) / "var" / "workbench" / f"nio-local-fs-{digest}.jar"


def built_jar() -> Path | None:
    """The jar when :func:`make_jar` has made it, else None."""
    path = jar_path()
    return path if path is not None and path.is_file() else None


def session_conf(conf: dict[str, str]) -> dict[str, str]:
    """The settings of a local session that uses the jar, given the session's other settings
    (``conf``): the jar put on the driver's class path after any the user set, and the file
    system named unless the user named one. Empty when there is no jar."""
    jar = built_jar()
    if jar is None or "spark.hadoop.fs.file.impl" in conf:
        return {}
    class_path = [p for p in conf.get("spark.driver.extraClassPath", "").split(os.pathsep) if p]
    return {
        "spark.driver.extraClassPath": os.pathsep.join([*class_path, str(jar)]),
        "spark.hadoop.fs.file.impl": FILE_SYSTEM_CLASS,
    }


def make_jar() -> Path | None:
    """Compile the file system into this environment's jar unless it exists; returns its path
    (None: no ``java`` or ``javac``, or the compiler failed, which only costs the speed-up and is
    logged)."""
    path = jar_path()
    if path is None or path.is_file():
        return path
    javac, api = javac_executable(), _hadoop_api_jar()
    if javac is None or api is None:
        log.info(
            "no local file system jar: %s not found (Spark writes through Hadoop's own, slower)",
            "javac" if javac is None else "PySpark's hadoop-client-api jar",
        )
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        classes = Path(folder) / "classes"
        command = [str(javac), "--release", "17", "-nowarn", "-cp", str(api)]
        done = subprocess.run(
            [*command, "-d", str(classes), str(_source())],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            log.warning("no local file system jar: javac failed: %s", done.stderr[-2000:])
            return None
        partial = path.with_name(f"{path.stem}.{os.getpid()}.partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as jar:
            for compiled in sorted(classes.rglob("*.class")):
                jar.write(compiled, compiled.relative_to(classes).as_posix())
    for old in path.parent.glob("nio-local-fs-*.jar"):  # made for an earlier JDK or source
        old.unlink(missing_ok=True)
    partial.replace(path)  # atomic: a session starting now sees no jar or a whole one
    return path
