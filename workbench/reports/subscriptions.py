"""Who receives which scheduled report: ``pipelines/subscriptions.yml`` (``delivery.
subscriptions``).

A subscription names schedules (or a subject: every schedule of it), recipients from
``dashboards.users`` (each with an ``email`` and a ``language``) and what to send: ``report``
(headline figures, top alerts and the report itself) and/or ``alerts`` (the KPI alert digest).
A user's regions decide which run they receive: a user with ``regions: all`` gets the runs over
every region rolled up (the province), any other user the runs of their own regions only. A
recipient no chosen schedule serves is refused when the file is read, so nobody is subscribed to
a copy they may not see or to nothing at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from workbench.config import ConfigError, DashboardUser, Settings
from workbench.reports.entries import EntryName, named_entries

if TYPE_CHECKING:
    from workbench.reports.schedule import Schedule

Kind = Literal["report", "alerts"]


class SubscriptionError(ConfigError):
    """A subscriptions file or entry is wrong; the message names the file, entry and key."""


class Subscription(BaseModel):
    """One subscription: which schedules, who, what."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: EntryName
    schedules: list[str] = Field(default_factory=list)
    subject: str | None = None  # instead of schedules: every schedule of this subject
    recipients: list[str] = Field(min_length=1)
    send: list[Kind] = Field(default_factory=lambda: ["report"], min_length=1)


@dataclass(frozen=True)
class Recipient:
    """A subscribed user and what they receive from one run."""

    user: str
    profile: DashboardUser
    kinds: tuple[str, ...]


def subscriptions_path(settings: Settings) -> Path:
    return settings.resolve(settings.delivery.subscriptions)


def serves(profile: DashboardUser, region: str | None) -> bool:
    """Whether a run for ``region`` (None: every region rolled up) is this user's copy."""
    if profile.regions == "all":
        return region is None
    return region is not None and region in profile.regions


def _covered(profile: DashboardUser, schedules: list[Schedule]) -> list[str]:
    """The user's regions that none of ``schedules`` runs a report for."""
    fixed = {s.region for s in schedules if (s.region or "").lower() != "all"}
    if profile.regions == "all":
        return [] if None in fixed else ["all regions rolled up (a schedule without region:)"]
    if any((s.region or "").lower() == "all" for s in schedules):
        return []
    return [r for r in profile.regions if r not in fixed]


def _fail(label: str, key: str, message: str) -> SubscriptionError:
    return SubscriptionError(f"{label}.{key}: {message}")


def load_subscriptions(
    settings: Settings, schedules: list[Schedule], path: Path | None = None
) -> list[Subscription]:
    """Read and check every subscription against the schedules and ``dashboards.users``; no file
    means no subscriptions.

    Raises:
        SubscriptionError: naming the file, the entry and the key at fault.
    """
    path = path or subscriptions_path(settings)
    by_name = {s.name: s for s in schedules}
    users = settings.dashboards.users
    found: list[Subscription] = []
    entries = named_entries(path, "subscriptions", Subscription, SubscriptionError, missing_ok=True)
    for label, item in entries:
        if bool(item.schedules) == bool(item.subject):
            raise _fail(label, "schedules", "give either schedules or subject (one of them)")
        for index, name in enumerate(item.schedules):
            if name not in by_name:
                known = ", ".join(by_name) or "none"
                raise _fail(label, f"schedules.{index}", f"no schedule {name!r} (known: {known})")
        chosen = chosen_schedules(item, schedules)
        if not chosen:
            raise _fail(label, "subject", f"no schedule runs subject {item.subject!r}")
        for index, user in enumerate(item.recipients):
            key = f"recipients.{index}"
            profile = users.get(user)
            if profile is None:
                raise _fail(label, key, f"{user!r} is not in dashboards.users")
            if profile.email is None:
                raise _fail(label, key, f"{user!r} has no email in dashboards.users")
            missing = _covered(profile, chosen)
            if missing:
                scope = "all" if profile.regions == "all" else ", ".join(profile.regions)
                raise _fail(
                    label,
                    key,
                    f"{user!r} sees {scope} but no chosen schedule reports on {', '.join(missing)}",
                )
        found.append(item)
    return found


def chosen_schedules(item: Subscription, schedules: list[Schedule]) -> list[Schedule]:
    """The schedules a subscription follows."""
    if item.subject is not None:
        return [s for s in schedules if s.subject == item.subject]
    return [s for s in schedules if s.name in item.schedules]


def recipients_of(
    settings: Settings, subscriptions: list[Subscription], schedule: Schedule, region: str | None
) -> list[Recipient]:
    """Who receives what from the run of ``schedule`` for ``region`` (a user subscribed twice
    receives each kind once)."""
    kinds: dict[str, list[str]] = {}
    for item in subscriptions:
        if schedule not in chosen_schedules(item, [schedule]):
            continue
        for user in item.recipients:
            wanted = kinds.setdefault(user, [])
            wanted.extend(k for k in item.send if k not in wanted)
    users = settings.dashboards.users
    return [
        Recipient(user, users[user], tuple(sorted(wanted)))
        for user, wanted in kinds.items()
        if serves(users[user], region)
    ]
