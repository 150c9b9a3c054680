"""Signed links and region scoping: tokens verify only as issued, users come from the
configuration as it is on disk at every action, and every mart read stays inside the viewer's
regions."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import make_project
from tests.dashboards.conftest import set_users
from workbench.config import ConfigError
from workbench.dashboards import access
from workbench.dashboards.access import AccessDenied, Viewer
from workbench.dashboards.data import (
    MartUnavailable,
    export_target_list,
    load_mart,
    region_filter,
)
from workbench.errors import WorkbenchError
from workbench.filters import among


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.delenv(access.SECRET_ENV, raising=False)
    return make_project(tmp_path)


def test_a_token_verifies_to_its_user_and_regions(project):
    token = access.issue_token("gz_manager", project, now=1_000)
    viewer = access.verify_token(token, project, now=2_000)
    assert viewer == Viewer("gz_manager", frozenset({"GZ"}))
    assert access.verify_token(access.issue_token("ceo", project), project).regions is None
    secret = project.resolve(project.dashboards.secret_file)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    link = access.signed_link("gz_manager", project, "http://h:1/", "kpi_cockpit")
    assert link.startswith("http://h:1/voila/render/kpi_cockpit.ipynb?wb=")
    assert access.viewer_from_query(link.split("?", 1)[1], project).user == "gz_manager"


def test_an_edited_expired_or_foreign_token_is_denied(project, tmp_path, monkeypatch):
    token = access.issue_token("gz_manager", project, now=1_000)
    payload, signature = token.split(".")
    forged = access._b64(b"ceo|99999999999")  # another user, same signature
    with pytest.raises(AccessDenied, match="altered"):
        access.verify_token(f"{forged}.{signature}", project)
    with pytest.raises(AccessDenied, match="altered"):
        access.verify_token(f"{payload}.{signature[:-2]}xx", project)
    ttl = project.dashboards.link_ttl_hours * 3600
    with pytest.raises(AccessDenied, match="expired"):
        access.verify_token(token, project, now=1_000 + ttl + 1)
    with pytest.raises(AccessDenied, match="no valid token"):
        access.verify_token("", project)
    with pytest.raises(AccessDenied, match="through the link"):
        access.viewer_from_query("user=ceo&region=ALL", project)
    with pytest.raises(AccessDenied, match=r"not in dashboards\.users"):
        access.issue_token("intruder", project)
    # another server's secret signs differently
    monkeypatch.setenv(access.SECRET_ENV, "another-server-" + "s" * 32)
    with pytest.raises(AccessDenied, match="altered"):
        access.verify_token(token, project)


def test_a_readable_secret_file_is_refused(project):
    access.issue_token("ceo", project)
    secret = project.resolve(project.dashboards.secret_file)
    os.chmod(secret, 0o644)
    with pytest.raises(AccessDenied, match="chmod 600"):
        access.issue_token("ceo", project)


@pytest.mark.parametrize("content", ["", "short", "\n  \n"])
def test_an_empty_or_short_secret_file_is_refused_naming_it(project, content):
    secret = project.resolve(project.dashboards.secret_file)
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text(content)
    os.chmod(secret, 0o600)
    with pytest.raises(access.SecretError, match=rf"{secret.name}: the link secret has \d+ bytes"):
        access.issue_token("ceo", project)
    with pytest.raises(AccessDenied):  # nothing signed with it verifies either
        access.verify_token("abc.def", project)


def test_a_short_secret_in_the_environment_is_refused(project, monkeypatch):
    monkeypatch.setenv(access.SECRET_ENV, "x" * (access.MIN_SECRET_BYTES - 1))
    with pytest.raises(access.SecretError, match=access.SECRET_ENV):
        access.issue_token("ceo", project)
    monkeypatch.setenv(access.SECRET_ENV, "x" * access.MIN_SECRET_BYTES)
    assert access.verify_token(access.issue_token("ceo", project), project).user == "ceo"


def test_secrets_created_at_once_by_many_processes_are_one_whole_secret(project):
    """Creation is a link of a complete private file: every process reads the same full key."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(4) as pool:
        keys = set(pool.map(access._secret, [project] * 8))
    assert len(keys) == 1 and len(keys.pop()) == 64
    folder = project.resolve(project.dashboards.secret_file).parent
    assert not list(folder.glob(".*.tmp"))  # no temporary file left behind


def test_a_malformed_token_is_access_denied_not_an_error(project):
    token = access.issue_token("ceo", project)
    for bad in ["日本.語", token + "é", "a.b.c", "..", token.replace(".", "")]:
        with pytest.raises(AccessDenied, match="access denied"):
            access.verify_token(bad, project)


def test_bad_user_configuration_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"dashboards\.users\.bob\.regions"):
        make_project(tmp_path, **{"dashboards.users": {"bob": {"regions": "GZ"}}})


def test_marts_are_read_inside_the_viewers_regions(dashboard_project):
    files = str(dashboard_project.warehouse_dir / "ads" / "ads_kpi_cube" / "*" / "*.parquet")
    expected = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{files}') WHERE region_id = 'GZ'"
    ).fetchall()[0][0]
    gz = load_mart("ads_kpi_cube", dashboard_project, Viewer("gz", frozenset({"GZ"})))
    assert set(gz["region_id"]) == {"GZ"} and len(gz) == expected > 0
    everyone = load_mart(
        "ads_kpi_cube", dashboard_project, Viewer("ceo", None), columns=["region_id"]
    )
    assert "ALL" in set(everyone["region_id"]) and len(everyone) > len(gz)
    # a mart without region_id is not filtered; a denied viewer reads nothing
    channels = load_mart("dwd_dim_channel", dashboard_project, Viewer("gz", frozenset({"GZ"})))
    assert len(channels) > 0
    with pytest.raises(AccessDenied):
        load_mart("ads_kpi_cube", dashboard_project, access.denied_viewer("access denied"))


def test_a_missing_mart_is_a_plain_message(dashboard_project, tmp_path):
    empty = make_project(tmp_path)
    with pytest.raises(MartUnavailable, match="ads_kpi_cube has not been built"):
        load_mart("ads_kpi_cube", empty, Viewer("ceo", None))
    with pytest.raises(WorkbenchError, match="no column"):
        load_mart("ads_kpi_cube", dashboard_project, Viewer("ceo", None), columns=["nope"])


def test_a_viewers_regions_are_bound_values(dashboard_project):
    # a region name with a quote is a value like any other: nothing matches, nothing breaks
    odd = Viewer("odd", frozenset({"G'Z", "广州\\"}))
    assert region_filter("ads_kpi_cube", odd) == (among("region_id", ["G'Z", "广州\\"]),)
    assert load_mart("ads_kpi_cube", dashboard_project, odd).empty
    assert region_filter("dwd_fct_channel_cost", odd) == ()  # no region column: not filtered


# --------------------------------------------------------------------------- access at each action


def _config(settings) -> Path:
    return settings.root / "pipelines" / "config.yml"


def test_the_current_viewer_is_read_from_the_configuration_as_it_is_now(project):
    config = _config(project)
    set_users(config, south=["GZ", "SZ"])
    token = access.issue_token("south", access.settings_now(config), now=1_000)
    assert access.current_viewer(config, token, now=2_000).regions == {"GZ", "SZ"}
    set_users(config, south=["GZ"])  # narrowed: the next check sees it
    assert access.current_viewer(config, token, now=2_000).regions == {"GZ"}
    ttl = project.dashboards.link_ttl_hours * 3600
    with pytest.raises(AccessDenied, match="access denied: the link has expired"):
        access.current_viewer(config, token, now=1_000 + ttl + 1)
    set_users(config, south=None)
    with pytest.raises(AccessDenied, match="access denied: user 'south' is no longer configured"):
        access.current_viewer(config, token, now=2_000)
    with pytest.raises(AccessDenied, match="through the link"):
        access.current_viewer(config, None)
    config.write_text("dashboards: [unclosed")  # an administrator's half-saved edit: fail closed
    with pytest.raises(AccessDenied, match="configuration cannot be read"):
        access.current_viewer(config, token, now=2_000)


def test_settings_are_read_again_only_when_the_file_changed(project):
    config = _config(project)
    old = time.time() - 60  # modified a minute ago: not "racily" recent
    os.utime(config, (old, old))
    first = access.settings_now(config)
    assert access.settings_now(config) is first  # unchanged: one stat, no parse
    set_users(config, gz_manager=["SZ"])  # the same size, within the same clock tick: re-read
    assert access.settings_now(config).dashboards.users["gz_manager"].regions == ["SZ"]


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_session_rebuilds_its_page_when_access_changes(project):
    config = _config(project)
    set_users(config, south=["GZ", "SZ"])
    clock = _Clock(time.time())
    token = access.issue_token("south", access.settings_now(config), now=clock.now)
    session = access.Session(token, config, clock=clock)
    rebuilt: list[Viewer] = []
    session.on_change = lambda: rebuilt.append(session.viewer)
    page_viewer = session.viewer
    assert page_viewer.regions == {"GZ", "SZ"} and page_viewer.session is session
    assert page_viewer.allowed_now() and not rebuilt  # nothing changed: the action goes on
    set_users(config, sz_manager=["SZ", "DG"])  # another user's entry: not this page's business
    assert page_viewer.allowed_now() and not rebuilt

    set_users(config, south=["GZ"])
    assert not page_viewer.allowed_now()  # the action does nothing: the page is rebuilt
    assert [v.regions for v in rebuilt] == [{"GZ"}]
    assert session.viewer.allowed_now() and len(rebuilt) == 1  # the new page's actions go on
    assert not page_viewer.allowed_now() and len(rebuilt) == 1  # the replaced page's do not

    clock.now += project.dashboards.link_ttl_hours * 3600 + 1
    assert not session.viewer.allowed_now()
    assert "expired" in rebuilt[-1].denied and session.viewer.regions == frozenset()


def test_a_removed_user_reads_and_exports_nothing(project, monkeypatch):
    config = _config(project)
    session = access.Session(access.issue_token("gz_manager", project), config)
    viewer = session.viewer
    assert region_filter("ads_kpi_cube", viewer) == (among("region_id", ["GZ"]),)
    set_users(config, gz_manager=None)
    with pytest.raises(AccessDenied, match="no longer configured"):
        region_filter("ads_kpi_cube", viewer)
    assert session.viewer.denied and "no longer configured" in session.viewer.denied
    launched = []
    monkeypatch.setattr("subprocess.run", lambda *a, **k: launched.append(a))
    with pytest.raises(AccessDenied, match="no longer configured"):
        export_target_list(project, viewer, source="churn", campaign="c1", period="2026-06")
    assert not launched  # no export child was started


def test_a_page_opened_without_a_token_is_denied(project, monkeypatch):
    monkeypatch.setenv("QUERY_STRING", "user=ceo")
    session = access.open_session(_config(project))
    assert session.viewer.denied and "through the link" in session.viewer.denied
    assert not session.viewer.allowed_now()


def test_dashboard_exports_run_with_masking_on_whatever_the_setting(project, monkeypatch):
    """The child process gets ``targets.mask_msisdn: true`` even when the configuration turns
    it off (the real export is checked in test_churn_retention)."""
    unmasked = project.model_copy(
        update={"targets": project.targets.model_copy(update={"mask_msisdn": False})}
    )
    sent = []

    def fake_run(command, *, input, **kwargs):
        sent.append(json.loads(input))
        raise RuntimeError("stop here")

    monkeypatch.setattr("subprocess.run", fake_run)
    with pytest.raises(RuntimeError, match="stop here"):
        export_target_list(
            unmasked, Viewer("ceo", None), source="churn", campaign="c1", period="2026-06"
        )
    assert sent[0]["settings"]["targets"]["mask_msisdn"] is True
    assert unmasked.targets.mask_msisdn is False  # the caller's settings are left alone
