"""Configuration: the shipped file validates, overrides apply, bad values name their key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from workbench.config import ConfigError, load_settings
from workbench.spark import default_shuffle_partitions, session_conf

from .conftest import PROJECT_ROOT


def write_config(tmp_path: Path, mutate) -> Path:
    config = yaml.safe_load((PROJECT_ROOT / "pipelines" / "config.yml").read_text())
    mutate(config)
    (tmp_path / "pipelines").mkdir()
    path = tmp_path / "pipelines" / "config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_shipped_config_is_valid_and_paths_resolve_under_the_project():
    settings = load_settings(PROJECT_ROOT / "pipelines" / "config.yml", environ={})
    assert settings.spark.master == "local[*]"
    assert settings.raw_dir == PROJECT_ROOT / "data" / "raw"
    assert {"tiny", "demo", "bench"} <= set(settings.profiles)
    assert settings.profile("tiny").subscribers <= 5000
    # two years: the cockpit and the KPI report compare each month with last year's
    assert len(settings.profile("demo").month_range) >= 24


def test_environment_overrides_nested_keys_and_spark_conf():
    environ = {
        "WORKBENCH__SPARK__MASTER": "spark://10.1.2.3:7077",
        "WORKBENCH__SPARK__SHUFFLE_PARTITIONS": "64",
        "WORKBENCH__SPARK__CONF__spark.executor.memory": "8g",
        "WORKBENCH__PATHS__WAREHOUSE": "/mnt/dw",
        "UNRELATED": "x",
    }
    settings = load_settings(PROJECT_ROOT / "pipelines" / "config.yml", environ=environ)
    assert settings.spark.master == "spark://10.1.2.3:7077"
    assert settings.spark.shuffle_partitions == 64
    assert settings.spark.conf["spark.executor.memory"] == "8g"
    assert settings.warehouse_dir == Path("/mnt/dw")
    conf = session_conf(settings.spark)
    assert conf["spark.executor.memory"] == "8g"
    assert "spark.driver.host" not in conf  # a cluster driver must be reachable from executors


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda c: c["spark"].update(driver_memory="lots"), "spark.driver_memory"),
        (lambda c: c["spark"].update(master="mesos://x"), "spark.master"),
        (lambda c: c["spark"].update(shuffle_partitions=0), "spark.shuffle_partitions"),
        (lambda c: c["spark"].update(conf={"executor.memory": "1g"}), "spark.conf"),
        (lambda c: c["generator"].update(dirty_rate=0.9), "generator.dirty_rate"),
        (lambda c: c["profiles"]["tiny"].update(months="2026-13..2026-14"), "profiles.tiny.months"),
        (lambda c: c["profiles"]["tiny"].update(subscribers=-5), "profiles.tiny.subscribers"),
        (lambda c: c["paths"].update(rawdata="x"), "paths.rawdata"),
        (
            lambda c: c["profiles"]["tiny"].update(campaign={"control_share": 1.5}),
            "profiles.tiny.campaign.control_share",
        ),
        (
            lambda c: c["profiles"]["tiny"].update(campaign={"persuadable_share": 0.9}),
            "profiles.tiny.campaign.persuadable_share",
        ),
        (
            lambda c: c["profiles"]["tiny"].update(churn_hazard_intercept=0.5),
            "profiles.tiny.churn_hazard_intercept",
        ),
    ],
)
def test_bad_value_fails_with_a_message_naming_the_key(tmp_path, mutate, key):
    path = write_config(tmp_path, mutate)
    with pytest.raises(ConfigError) as error:
        load_settings(path, environ={})
    assert key in str(error.value)
    assert str(path) in str(error.value)


def test_a_profile_s_campaign_design_is_what_the_generator_plants():
    """The demo's campaign is designed to be measured and its churn hazard raised for its size
    (pipelines/config.yml); a profile without them plants the defaults."""
    from workbench.generate.operator import planted_params
    from workbench.generate.params import Params

    settings = load_settings(PROJECT_ROOT / "pipelines" / "config.yml", environ={})
    demo = settings.profile("demo")
    planted = planted_params(demo)
    assert demo.campaign.control_share is not None
    assert demo.campaign.target_hazard_threshold is not None
    assert planted.control_share == demo.campaign.control_share
    assert planted.target_hazard_threshold == demo.campaign.target_hazard_threshold
    assert planted.events_per_subscriber_month == demo.events_per_subscriber_month
    assert demo.churn_hazard_intercept is not None
    assert planted.hazard.intercept == demo.churn_hazard_intercept
    assert planted.hazard.competitor_share == Params().hazard.competitor_share  # drivers unchanged
    tiny = planted_params(settings.profile("tiny"))
    assert (tiny.control_share, tiny.target_hazard_threshold, tiny.hazard) == (
        Params().control_share,
        Params().target_hazard_threshold,
        Params().hazard,
    )


def test_bad_environment_override_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"spark\.driver_memory"):
        load_settings(
            PROJECT_ROOT / "pipelines" / "config.yml",
            environ={"WORKBENCH__SPARK__DRIVER_MEMORY": "plenty"},
        )


def test_unknown_profile_lists_the_known_ones():
    settings = load_settings(PROJECT_ROOT / "pipelines" / "config.yml", environ={})
    with pytest.raises(ConfigError, match=r"profiles\.huge.*tiny"):
        settings.profile("huge")


def test_local_session_conf_binds_to_loopback_and_sizes_shuffles():
    settings = load_settings(
        PROJECT_ROOT / "pipelines" / "config.yml",
        environ={"WORKBENCH__SPARK__MASTER": "local[3]"},
    )
    conf = session_conf(settings.spark)
    assert conf["spark.driver.host"] == "127.0.0.1"
    assert conf["spark.driver.bindAddress"] == "127.0.0.1"
    assert conf["spark.ui.showConsoleProgress"] == "false"
    assert default_shuffle_partitions(settings.spark) == 6


def test_session_uses_the_running_interpreter_for_workers(spark):
    import os
    import sys

    assert os.environ["PYSPARK_PYTHON"] == sys.executable
    # A pandas UDF round trip proves the workers import pyarrow from this environment.
    doubled = spark.range(3).mapInPandas(
        lambda batches: (b.assign(id=b.id * 2) for b in batches), "id long"
    )
    assert sorted(r.id for r in doubled.collect()) == [0, 2, 4]
