"""Settings: one YAML file (``pipelines/config.yml``) plus environment overrides, validated.

Errors name the offending key, for example ``spark.driver_memory: must look like 4g or 512m``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from workbench.errors import WorkbenchError
from workbench.months import MonthRange, parse_month_range

ENV_PREFIX = "WORKBENCH__"
CONFIG_ENV = "WORKBENCH_CONFIG"
DEFAULT_CONFIG = Path("pipelines") / "config.yml"


class ConfigError(WorkbenchError, ValueError):
    """A configuration value is missing or wrong; the message names the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PathSettings(_Strict):
    raw: Path = Path("data/raw")
    warehouse: Path = Path("data/warehouse")
    reports: Path = Path("reports")


_MASTER = re.compile(r"local(\[(\*|\d+)(,\s*\d+)?\])?|spark://[^\s]+|yarn|k8s://[^\s]+")
_MEMORY = re.compile(r"\d+[kmgt]", re.IGNORECASE)
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+|[^@\s<>]+@localhost")


def _check_email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError(f"{value!r} is not an email address (name@example.com)")
    return value


EmailAddress = Annotated[str, AfterValidator(_check_email)]


class SparkSettings(_Strict):
    master: str = "local[*]"
    app_name: str = "telecom-workbench"
    driver_memory: str = "4g"
    shuffle_partitions: int | str = "auto"
    # extra JVM flags for the driver and executors, e.g. "-XX:TieredStopAtLevel=1" (see spark.py)
    java_options: str = ""
    # the driver JVM maps Spark's classes from an archive made at setup (workbench/jvm_archive.py)
    class_data_sharing: bool = True
    conf: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("master")
    @classmethod
    def _check_master(cls, value: str) -> str:
        if not _MASTER.fullmatch(value):
            raise ValueError(
                "must be local[*], local[N], spark://host:port, yarn or k8s://https://host:port"
            )
        return value

    @field_validator("driver_memory")
    @classmethod
    def _check_memory(cls, value: str) -> str:
        if not _MEMORY.fullmatch(value):
            raise ValueError("must look like 4g or 512m")
        return value

    @field_validator("shuffle_partitions")
    @classmethod
    def _check_partitions(cls, value: int | str) -> int | str:
        if isinstance(value, str) and value != "auto":
            if not value.isdigit():
                raise ValueError("must be 'auto' or a positive whole number")
            value = int(value)
        if isinstance(value, int) and value < 1:
            raise ValueError("must be 'auto' or a positive whole number")
        return value

    @field_validator("conf")
    @classmethod
    def _check_conf(cls, value: dict[str, Any]) -> dict[str, Any]:
        bad = [key for key in value if not key.startswith("spark.")]
        if bad:
            raise ValueError(f"keys must start with 'spark.': {', '.join(sorted(bad))}")
        return value

    @property
    def is_local(self) -> bool:
        return self.master.startswith("local")


class GeneratorSettings(_Strict):
    seed: int = 20260101
    dirty_rate: float = Field(0.002, ge=0.0, le=0.2)


class WarehouseSettings(_Strict):
    churn_horizon_months: int = Field(3, ge=1, le=12)
    # tables built at once (None: two per core, at most 8; see warehouse.build)
    parallelism: int | None = Field(None, ge=1, le=64)
    kpi_dictionary: Path = Path("pipelines/kpis.yml")
    # how long a writer waits for another's write lock (0: fail at once, None: no limit); a
    # build can take longer than an export is willing to wait (see warehouse.lock)
    lock_wait_seconds: float | None = Field(600.0, ge=0)


class SuppressionSettings(_Strict):
    """Target-list suppression rules, applied in this order (see :mod:`workbench.targets`)."""

    do_not_contact: bool = True
    open_complaint: bool = True
    arrears: bool = True
    arrears_threshold_cny: float = Field(0.0, ge=0.0)
    recent_contact: bool = True
    contacted_within_days: int = Field(30, ge=0, le=3660)
    holds_offer: bool = True

    @field_validator("do_not_contact")
    @classmethod
    def _never_off(cls, value: bool) -> bool:
        if not value:
            raise ValueError("cannot be turned off: do-not-contact subscribers are never exported")
        return value


class TargetSettings(_Strict):
    output: Path = Path("data/exports")
    control_share: float = Field(0.1, ge=0.0, lt=1.0)
    mask_msisdn: bool = True
    contact_channel: str = "telesales"
    # what an exported campaign costs, for its ROI (`targets export` options override them)
    cost_per_contact_cny: float = Field(0.0, ge=0.0)
    offer_cost_cny: float = Field(0.0, ge=0.0)
    max_rows: int = Field(1_000_000, gt=0, le=1_048_575)
    # permission bits of list files and the export log: MSISDNs and who was contacted
    file_mode: int = 0o600
    suppression: SuppressionSettings = Field(default_factory=SuppressionSettings)

    @field_validator("file_mode", mode="before")
    @classmethod
    def _check_file_mode(cls, value: object) -> int:
        # YAML reads an unquoted 0600 as the number 384 and "0600" as text: both mean octal 600
        if isinstance(value, str) and re.fullmatch(r"0?o?[0-7]{3}", value.strip()):
            value = int(value.strip().removeprefix("0").removeprefix("o") or "0", 8)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0o777:
            raise ValueError(f"{value!r} must be permission bits in octal, e.g. '0600'")
        if value & 0o600 != 0o600:
            raise ValueError(f"{value:04o}: the owner must be able to read and write the files")
        if value & 0o022:
            raise ValueError(f"{value:04o}: list files may not be writable by others")
        return value


class ReportSettings(_Strict):
    """Report runs and schedules (see :mod:`workbench.reports`)."""

    timeout_seconds: int = Field(3600, gt=0)  # wall clock for a whole run
    cell_timeout_seconds: int = Field(1800, gt=0)
    schedules: Path = Path("pipelines/schedules.yml")
    max_catch_up: int = Field(12, ge=1, le=1000)
    keep_runs: int = Field(20, ge=1)  # run folders kept per report (the newest; see prune.py)
    # Notebooks in <project>/notebooks/ runnable as reports besides the subjects (common
    # parameters only: period, config_path, output_dir).
    extra_notebooks: list[str] = Field(default_factory=list)


class DashboardUser(_Strict):
    """One dashboard user: ``regions: all`` or a list of region ids they may see and export."""

    regions: str | list[str] = "all"
    email: EmailAddress | None = None  # where report delivery sends this user's mail
    name: str | None = None  # display name in mail headers (Chinese names welcome)
    language: Literal["en", "zh"] = "en"  # language of the mail this user receives

    @field_validator("regions")
    @classmethod
    def _check_regions(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, str) and value != "all":
            raise ValueError("must be 'all' or a list of region ids")
        if isinstance(value, list) and not value:
            raise ValueError("an empty list would show nothing; remove the user instead")
        return value


class SmtpSettings(_Strict):
    """The mail server report delivery sends through. The password is read from the environment
    variable ``password_env`` when sending, never from this file, and never printed or logged."""

    host: str = "localhost"
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"  # tls: implicit TLS (port 465)
    sender: EmailAddress = "workbench@localhost"
    sender_name: str | None = None
    username: str | None = None  # log in when set (password from password_env)
    password_env: str = "WORKBENCH_SMTP_PASSWORD"
    # PEM certificates of a private CA to trust besides the system's (an internal relay)
    ca_file: Path | None = None
    timeout_seconds: float = Field(30.0, gt=0)


class DeliverySettings(_Strict):
    """Report delivery by email after ``report due`` (see :mod:`workbench.reports.delivery`)."""

    enabled: bool = True  # false: `report due` sends and records nothing (runs still run)
    subscriptions: Path = Path("pipelines/subscriptions.yml")
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    # the report's HTML is attached up to this size; a larger one is only linked
    max_attachment_kb: int = Field(2048, ge=0)
    # the dashboard server's address for each user's signed link (`workbench serve link`);
    # none: no link in the mail
    link_base_url: str | None = None
    headline_kpis: list[str] = Field(
        default_factory=lambda: ["active_subscribers", "net_adds", "churn_rate", "arpu"]
    )
    top_alerts: int = Field(5, ge=0, le=100)  # alerts shown in a report mail
    # alerts listed in a digest, most serious first; the rest are counted (the cockpit has all)
    digest_alerts: int = Field(20, ge=1, le=500)
    # a message that failed this often is no longer retried (`report outbox --failed` lists it)
    max_attempts: int = Field(10, ge=1)


#: a dashboard kernel's resident memory once its app is built, rounded up: measured about 310 MB
#: while kernels imported the Jupyter server, 226 MB since (bench/NOTES.md); kept as a margin for
#: the pages of warehouses larger than the demo's
KERNEL_MB = 320


class DashboardSettings(_Strict):
    """Voila apps (``workbench serve``): who may open them, and the server's kernels."""

    users: dict[str, DashboardUser] = Field(default_factory=dict)
    link_ttl_hours: float = Field(168.0, gt=0, le=24 * 366)
    secret_file: Path = Path("data/.dashboard_secret")
    pool_size: int = Field(1, ge=0, le=16)
    cull_idle_seconds: int = Field(900, ge=0)
    # a kernel whose page closed without its shutdown beacon: ended once the page's connection
    # has stayed away this long (a dropped connection comes back within seconds)
    page_gone_seconds: int = Field(30, ge=1)
    # most kernels the server holds, the preheated pool included; none: from the memory
    max_kernels: int | None = Field(None, ge=1)

    def kernel_limit(self, memory_bytes: int | None = None) -> int:
        """``max_kernels``, or as many kernels as 60% of the machine's memory holds at
        :data:`KERNEL_MB` each (the rest for the server, DuckDB reads and exports)."""
        if self.max_kernels is not None:
            return self.max_kernels
        if memory_bytes is None:
            memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return max(1, int(0.6 * memory_bytes / (KERNEL_MB * 2**20)))


class CampaignDesign(_Strict):
    """The planted retention campaign's design on a profile: who is targeted, how many are held
    out (defaults: :class:`workbench.generate.params.Params`). Its uplift on churn can be told
    from zero only when enough lines churn in both groups (``workbench truth`` says how many)."""

    target_hazard_threshold: float | None = Field(None, gt=0, lt=1)
    control_share: float | None = Field(None, gt=0, lt=1)

    def overrides(self) -> dict[str, float]:
        """The fields set, as :class:`~workbench.generate.params.Params` keyword arguments."""
        return self.model_dump(exclude_none=True)


class ProfileSettings(_Strict):
    subscribers: int = Field(gt=0)
    months: str
    events_per_subscriber_month: int = Field(40, gt=0, le=10_000)
    # the monthly churn hazard's log-odds before any driver (None: ChurnHazard's default); a
    # higher one gives a profile as many churners a month on fewer lines, the drivers unchanged
    churn_hazard_intercept: float | None = Field(None, ge=-9.0, le=-2.0)
    campaign: CampaignDesign = Field(default_factory=CampaignDesign)

    @field_validator("months")
    @classmethod
    def _check_months(cls, value: str) -> str:
        parse_month_range(value)
        return value

    @property
    def month_range(self) -> MonthRange:
        return parse_month_range(self.months)


class Settings(_Strict):
    paths: PathSettings = Field(default_factory=PathSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    generator: GeneratorSettings = Field(default_factory=GeneratorSettings)
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
    targets: TargetSettings = Field(default_factory=TargetSettings)
    dashboards: DashboardSettings = Field(default_factory=DashboardSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    profiles: dict[str, ProfileSettings] = Field(default_factory=dict)
    root: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="after")
    def _need_profiles(self) -> Settings:
        if not self.profiles:
            raise ValueError("profiles: at least one scale profile is required")
        return self

    def resolve(self, path: Path) -> Path:
        """An absolute path for a configured path (relative ones are relative to the root)."""
        return path if path.is_absolute() else (self.root / path).resolve()

    @property
    def raw_dir(self) -> Path:
        return self.resolve(self.paths.raw)

    @property
    def warehouse_dir(self) -> Path:
        return self.resolve(self.paths.warehouse)

    @property
    def reports_dir(self) -> Path:
        return self.resolve(self.paths.reports)

    @property
    def targets_dir(self) -> Path:
        return self.resolve(self.targets.output)

    def profile(self, name: str) -> ProfileSettings:
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles))
            raise ConfigError(f"profiles.{name}: no such profile (known: {known})") from None


def _format_errors(error: ValidationError, source: str) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{key}: {message}")
    return f"invalid configuration in {source}:\n  " + "\n  ".join(lines)


def _set_nested(tree: dict[str, Any], keys: list[str], value: str) -> None:
    node = tree
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{'.'.join(keys)}: cannot override inside a non-mapping value")
        node = child
    node[keys[-1]] = yaml.safe_load(value) if value != "" else ""


def apply_env_overrides(raw: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    """Overlay ``WORKBENCH__A__B=value`` variables onto the parsed YAML (values parsed as YAML)."""
    merged = dict(raw)
    for name, value in sorted(environ.items()):
        if name.startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
            keys = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
            # spark.conf keys are dotted and case-sensitive: WORKBENCH__SPARK__CONF__spark.x.y
            if keys[:2] == ["spark", "conf"] and len(keys) == 3:
                keys[2] = name.split("__")[-1]
            _set_nested(merged, keys, value)
    return merged


def find_config(start: Path | None = None) -> Path:
    """The config file: $WORKBENCH_CONFIG, else pipelines/config.yml here or in a parent folder."""
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser().resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / DEFAULT_CONFIG
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"no {DEFAULT_CONFIG} found in {here} or its parents; run from the project folder "
        f"or set {CONFIG_ENV}"
    )


def load_settings(
    path: Path | None = None,
    environ: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Read, override and validate the settings.

    Args:
        path: the YAML file; found with :func:`find_config` when omitted.
        environ: environment to take ``WORKBENCH__`` overrides from (default ``os.environ``).
        overrides: nested values applied last (used by the CLI for flags such as ``--master``).
    """
    config_path = (path or find_config()).resolve()
    try:
        raw = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {config_path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{config_path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: the top level must be a mapping of sections")
    raw = apply_env_overrides(raw, dict(os.environ if environ is None else environ))
    for dotted, value in (overrides or {}).items():
        _set_nested(
            raw, dotted.split("."), value if isinstance(value, str) else yaml.safe_dump(value)
        )
    root = (
        config_path.parent.parent if config_path.parent.name == "pipelines" else config_path.parent
    )
    try:
        return Settings.model_validate({**raw, "root": root})
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, str(config_path))) from None
