"""Bench projects: one self-contained project folder per data size.

Each holds a copy of the real ``pipelines/*.yml`` with its own data folders, the generator's
dirty rate set to 0 (the DuckDB reference then needs no quarantine, though it still applies the
ODS rules and dedup) and one profile, so ``workbench`` commands, report kernels and the worker
steps all read the same settings from ``<folder>/pipelines/config.yml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from workbench.config import DEFAULT_CONFIG, ProfileSettings, Settings, load_settings


def make_bench_project(
    folder: Path,
    source: Settings,
    profile_name: str,
    profile: ProfileSettings,
    *,
    spark: dict[str, Any] | None = None,
) -> Settings:
    """Write ``folder/pipelines/`` from ``source``'s pipelines with the bench overrides.

    Args:
        profile_name: the name the profile gets in the project (``workbench generate -p``).
        spark: replaces the ``spark`` section (default: the source project's).
    """
    source_dir = (source.root / DEFAULT_CONFIG).parent
    pipelines = folder / DEFAULT_CONFIG.parent
    pipelines.mkdir(parents=True, exist_ok=True)
    for yml in source_dir.glob("*.yml"):
        shutil.copy(yml, pipelines / yml.name)
    config = yaml.safe_load((source.root / DEFAULT_CONFIG).read_text(encoding="utf-8"))
    config["paths"] = {
        **config.get("paths", {}),
        "raw": "data/raw",
        "warehouse": "data/warehouse",
        "reports": "reports",
    }
    if "targets" in config:
        config["targets"]["output"] = "data/exports"
    config.setdefault("generator", {})["dirty_rate"] = 0.0
    config["profiles"] = {profile_name: profile.model_dump(mode="json")}
    if spark is not None:
        config["spark"] = spark
    (folder / DEFAULT_CONFIG).write_text(yaml.safe_dump(config, sort_keys=False), "utf-8")
    return load_settings(folder / DEFAULT_CONFIG, environ={})


def scaled(profile: ProfileSettings, factor: int) -> ProfileSettings:
    """The profile with ``factor`` times its subscribers (same months and usage per line)."""
    return profile.model_copy(update={"subscribers": profile.subscribers * factor})
