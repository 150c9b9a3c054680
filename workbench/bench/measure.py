"""Clocks, peak memory and the machine, for the benchmark pack."""

from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass
class Clock:
    """Wall-clock seconds of a ``with timed() as clock:`` block (set when the block ends)."""

    seconds: float = 0.0


@contextmanager
def timed() -> Iterator[Clock]:
    clock = Clock()
    start = time.perf_counter()
    try:
        yield clock
    finally:
        clock.seconds = time.perf_counter() - start


def rss_bytes(pid: int) -> int:
    """Resident set size of a process from ``/proc`` (0 when it is gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return 0
    return 0


def wait_until_quiet(
    pid: int, *, cpu_share: float = 0.05, window: float = 0.5, timeout: float = 60.0
) -> float:
    """Wait until process ``pid`` and its descendants together use less than ``cpu_share`` of a
    core over ``window`` seconds; returns the seconds waited (at most about ``timeout``).

    The dashboards' timings wait for this before each visit: a Voila server replaces the
    preheated kernel a visit took by starting another, which runs the app's imports for a few
    seconds. A visit in that time measures the refill (how soon the same app can be opened
    again), not the page.
    """
    import psutil

    def cpu_seconds(root: psutil.Process) -> float:
        total = 0.0
        for proc in [root, *root.children(recursive=True)]:
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return 0.0
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        before = cpu_seconds(root)
        time.sleep(window)
        if cpu_seconds(root) - before < cpu_share * window:
            break
    return time.monotonic() - start


def driver_jvm_pid(spark: SparkSession) -> int | None:
    """Process id of the driver JVM py4j launched (None when it was started elsewhere)."""
    gateway = getattr(spark.sparkContext, "_gateway", None)
    proc = getattr(gateway, "proc", None)
    return getattr(proc, "pid", None)


@dataclass
class PeakMemory:
    """Peak RSS of the driver JVM and of this Python process, sampled while running."""

    jvm_pid: int | None
    interval: float = 0.1
    jvm_peak: int = 0
    python_peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _sample(self) -> None:
        if self.jvm_pid is not None:
            self.jvm_peak = max(self.jvm_peak, rss_bytes(self.jvm_pid))
        self.python_peak = max(self.python_peak, rss_bytes(os.getpid()))

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> PeakMemory:
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="bench-peak-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()


def machine() -> dict[str, str]:
    """Cores, memory, CPU model and the versions that matter for the figures."""
    import duckdb
    import pyspark

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                cpu,
            )
    except OSError:
        pass
    return {
        "cores": str(os.cpu_count()),
        "memory": f"{memory / 2**30:.1f} GiB",
        "cpu": cpu,
        "os": platform.platform(),
        "python": platform.python_version(),
        "pyspark": pyspark.__version__,
        "duckdb": duckdb.__version__,
        "java": _java_version(),
    }


def _java_version() -> str:
    import subprocess

    try:
        out = subprocess.run(
            ["java", "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (out.stderr or out.stdout).splitlines()[0] if (out.stderr or out.stdout) else "unknown"


def mib(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:,.0f} MiB"


def tree_bytes(root: Path) -> int:
    """Bytes of every file under ``root`` (0 when it does not exist): the disk a step left."""
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) if root.exists() else 0


def per_second(rows: int, seconds: float) -> float:
    return rows / seconds if seconds > 0 else float("nan")
