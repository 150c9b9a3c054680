"""Two managers exporting at the same time, each in their own process (the dashboards' export
path: one child process per export), keep both their contacts: with the proposed names (unique per
user and month) both campaigns are recorded whole, and with the same explicit campaign id one
manager owns it and the other is refused, never erasing the first one's contacts."""

from __future__ import annotations

import threading

from pyspark.sql import functions as F

from tests.targets.conftest import PERIOD
from workbench.dashboards.access import Viewer
from workbench.dashboards.data import export_target_list
from workbench.errors import WorkbenchError
from workbench.filters import at_least
from workbench.targets.log import LOG_NAME, read_records
from workbench.targets.names import default_campaign_name
from workbench.warehouse.storage import read_table

GZ = Viewer("gz_manager", frozenset({"R1"}))
SZ = Viewer("sz_manager", frozenset({"R2"}))


def _at_once(settings, campaigns: dict[str, str]) -> dict[str, dict | WorkbenchError]:
    """Each manager's export of their campaign, started together (two child processes)."""
    results: dict[str, dict | WorkbenchError] = {}
    start = threading.Barrier(len(campaigns))

    def run(viewer: Viewer) -> None:
        start.wait()
        try:
            results[viewer.user] = export_target_list(
                settings,
                viewer,
                source="churn",
                campaign=campaigns[viewer.user],
                period=PERIOD,
                filters=[at_least("churn_probability", 0.0)],
                timeout_seconds=900,
            )
        except WorkbenchError as exc:
            results[viewer.user] = exc

    threads = [threading.Thread(target=run, args=(v,)) for v in (GZ, SZ)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _contacts(spark, settings, campaign: str) -> list[tuple[int, str]]:
    rows = read_table(spark, settings, "ads_target_contacts").where(
        F.col("campaign_id") == campaign
    )
    return sorted((r.subscriber_id, r.assignment) for r in rows.collect())


def test_two_managers_exporting_at_once_keep_both_their_contacts(spark, small_warehouse):
    settings = small_warehouse
    proposed = {v.user: default_campaign_name("retention", PERIOD, v.user) for v in (GZ, SZ)}
    assert proposed["gz_manager"] == "retention_202606_gz_manager" != proposed["sz_manager"]
    first = _at_once(settings, proposed)
    kept = {}
    for viewer, region in ((GZ, "R1"), (SZ, "R2")):
        record = first[viewer.user]
        assert isinstance(record, dict), record
        assert record["user"] == viewer.user and record["wave_id"] == f"20260701_{region}"
        contacts = _contacts(spark, settings, proposed[viewer.user])
        assert len(contacts) == record["n_treated"] + record["n_control"] > 0
        regions = read_table(spark, settings, "ads_target_contacts").join(
            read_table(spark, settings, "dwd_dim_subscriber").select("subscriber_id", "region_id"),
            "subscriber_id",
        )
        mine = regions.where(F.col("campaign_id") == proposed[viewer.user])
        assert {r.region_id for r in mine.select("region_id").distinct().collect()} == {region}
        kept[viewer.user] = contacts

    # the same explicit id from both at once: whoever creates it owns it, the other is refused
    second = _at_once(settings, {"gz_manager": "SHARED", "sz_manager": "SHARED"})
    refused = {u: r for u, r in second.items() if isinstance(r, WorkbenchError)}
    done = {u: r for u, r in second.items() if isinstance(r, dict)}
    assert len(refused) == 1 and len(done) == 1, second
    ((owner, record),) = done.items()
    ((other, error),) = refused.items()
    assert f"'SHARED' belongs to '{owner}'" in str(error) and repr(other) in str(error)
    assert len(_contacts(spark, settings, "SHARED")) == record["n_treated"] + record["n_control"]
    for viewer in (GZ, SZ):  # the first round's contacts are all still there
        assert _contacts(spark, settings, proposed[viewer.user]) == kept[viewer.user]
    log = read_records(settings.targets_dir / LOG_NAME)
    assert sorted((r["campaign"], r["user"]) for r in log) == sorted(
        [*((proposed[u], u) for u in proposed), ("SHARED", owner)]
    )
