"""Logging for the CLI and notebooks: rich console output, Spark and py4j kept quiet."""

from __future__ import annotations

import logging
import sys

from rich.console import Console
from rich.logging import RichHandler

# Off a terminal (make demo piped to a file, the scheduler) rich would wrap tables at 80 columns.
console = Console(stderr=True, width=None if sys.stderr.isatty() else 140)


def setup_logging(verbose: bool = False) -> None:
    """Send workbench logs to stderr through rich; silence chatty libraries."""
    level = logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(
        level=level,
        format="%(message)s",
        datefmt="%H:%M:%S",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)],
        force=True,
    )
    for noisy in ("py4j", "pyspark", "urllib3", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
