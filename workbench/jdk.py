"""The JDK Spark starts, for what is made from it once per machine (workbench/jvm_archive.py,
workbench/local_fs.py)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def java_executable() -> Path | None:
    """The ``java`` executable Spark starts: ``$JAVA_HOME/bin/java``, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    found = Path(home) / "bin" / "java" if home else None
    if found is None or not found.is_file():
        which = shutil.which("java")
        found = Path(which) if which else None
    return found.resolve() if found else None


def javac_executable() -> Path | None:
    """The ``javac`` beside that ``java`` (the same JDK), else the one on PATH; None on a machine
    with a Java runtime only."""
    java = java_executable()
    beside = java.with_name("javac") if java else None
    if beside is not None and beside.is_file():
        return beside
    found = shutil.which("javac")
    return Path(found) if found else None


def jvm_fingerprint() -> str | None:
    """What a file made from this JDK for Spark depends on: the ``java`` (path, size, time) and
    the PySpark version; None without a ``java``."""
    from importlib.metadata import version

    java = java_executable()
    if java is None:
        return None
    stat = java.stat()
    return f"{java}|{stat.st_size}|{stat.st_mtime_ns}|{version('pyspark')}"
