"""Signed links and region scoping: tokens verify only as issued, users come from the
configuration, and every mart read stays inside the viewer's regions."""

from __future__ import annotations

import os
import stat

import duckdb
import pytest

from tests.conftest import make_project
from workbench.config import ConfigError
from workbench.dashboards import access
from workbench.dashboards.access import AccessDenied, Viewer
from workbench.dashboards.data import MartUnavailable, in_list, load_mart


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
    with pytest.raises(Exception, match="no column"):
        load_mart("ads_kpi_cube", dashboard_project, Viewer("ceo", None), columns=["nope"])


def test_filters_read_the_same_in_duckdb_and_spark_sql():
    # unquoted column (Spark reads "x" as a string), escaped values, nothing for an empty list
    assert in_list("region_id", ["GZ", "it's"]) == "region_id IN ('GZ', 'it''s')"
    assert in_list("region_id", []) == "FALSE"
    with pytest.raises(Exception, match="not a column"):
        in_list("region_id) OR (1=1", ["GZ"])
