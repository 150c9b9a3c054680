"""Logging for the CLI and notebooks: rich console output, Spark and py4j kept quiet."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler

console = Console(stderr=True)


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
