"""Report delivery against a real SMTP server (aiosmtpd on 127.0.0.1): who gets what, a city
manager's copy holds only their region, Chinese headers, exactly once on re-runs, a refused
message retried from the outbox, the owner's failure notice, the dry run, and the subscriptions
file's errors. One module-scoped sequence of ``report due`` calls on the tiny warehouse runs
three real kpi_overview kernels (province, GZ, and a failing one) and one more for the dry run."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import shutil
import socket
import ssl
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from workbench.catalog.ads import ALL
from workbench.cli import _register, app
from workbench.config import load_settings
from workbench.filters import equals
from workbench.formats import format_value
from workbench.marts import read_mart
from workbench.reports import outbox
from workbench.reports.delivery import Planned, deliver, dry_run_dir, due_and_deliver
from workbench.reports.schedule import Schedule
from workbench.reports.subscriptions import SubscriptionError, load_subscriptions

AT = datetime(2026, 7, 2, 7, 0, tzinfo=UTC)  # the monthly schedules fired at 06:00
PERIOD = "2026-06"
USERS = {
    "ceo": {"regions": "all", "email": "ceo@op.example", "name": "王省长", "language": "zh"},
    "gz_manager": {"regions": ["GZ"], "email": "gz@op.example", "language": "zh"},
    "sz_manager": {"regions": ["SZ"], "email": "sz@op.example", "language": "en"},
    "analyst": {"regions": "all", "email": "analyst@op.example", "language": "en"},
}
DIGEST_ALERTS = 3  # fewer than the province's alerts on tiny: the rest are counted
MONTHLY = {"cron": "0 6 2 * *", "period": "previous_month", "subject": "kpi_overview"}
SCHEDULES = [
    {"name": "kpi_province", **MONTHLY, "owner": "analyst"},
    {"name": "kpi_gz", **MONTHLY, "region": "GZ", "owner": "analyst"},
    # no cube month 2020-01: the notebook fails in a cell
    {"name": "kpi_old", **MONTHLY, "period": "2020-01", "owner": "analyst"},
]
SUBSCRIPTIONS = [
    {
        "name": "kpi",
        "subject": "kpi_overview",
        "recipients": ["ceo", "gz_manager"],
        "send": ["report", "alerts"],
    }
]


class Mailbox:
    """An aiosmtpd handler keeping each message it accepts; refuses mail to ``refuse``."""

    def __init__(self) -> None:
        self.received: list[email.message.EmailMessage] = []
        self.raw: list[bytes] = []
        self.refuse: set[str] = set()
        self.sessions: list[tuple[bool, bool]] = []  # (encrypted, logged in) per message

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls it by this name
        if set(envelope.rcpt_tos) & self.refuse:
            return "554 5.7.1 refused by the test server"
        self.raw.append(envelope.content)
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        self.sessions.append((encrypted, session.authenticated))
        self.received.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mailbox():
    from aiosmtpd.controller import Controller

    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield box, controller.port
    controller.stop()
    asyncio.set_event_loop(None)


@pytest.fixture(scope="module")
def project(tiny_warehouse, mailbox, tmp_path_factory):
    """A project reading the tiny warehouse, with users, schedules, subscriptions and the test
    server as its SMTP host."""
    root = tmp_path_factory.mktemp("delivery")
    shutil.copytree(tiny_warehouse.root / "pipelines", root / "pipelines")
    config_file = root / "pipelines" / "config.yml"
    config = yaml.safe_load(config_file.read_text())
    config["paths"] = {
        "raw": str(tiny_warehouse.raw_dir),
        "warehouse": str(tiny_warehouse.warehouse_dir),
        "reports": "reports",
    }
    config["dashboards"]["users"] = USERS
    config["delivery"] = {
        "smtp": {"host": "127.0.0.1", "port": mailbox[1], "security": "none"},
        "link_base_url": "http://dash.example:8866",
        "max_attachment_kb": 16384,  # the report (plotly inside) is about 5 MB
        "digest_alerts": DIGEST_ALERTS,
    }
    config_file.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    (root / "pipelines" / "schedules.yml").write_text(yaml.safe_dump({"schedules": SCHEDULES}))
    (root / "pipelines" / "subscriptions.yml").write_text(
        yaml.safe_dump({"subscriptions": SUBSCRIPTIONS})
    )
    return load_settings(config_file, environ={})


@pytest.fixture(scope="module")
def calls(project, mailbox):
    """The sequence of calls the tests read: what the server held after each."""
    box, _ = mailbox
    box.refuse = {"gz@op.example"}
    first = due_and_deliver(project, AT)
    after_first = list(box.received)
    _register()  # the subcommands, as `workbench` adds them (a second call re-adds the same)
    config = str(project.root / "pipelines/config.yml")
    listed = CliRunner().invoke(app, ["--config", config, "report", "outbox", "--failed"])
    box.refuse = set()
    quiet = ["kpi_province", "kpi_gz"]  # the failing schedule would run again: leave it out
    retry = due_and_deliver(project, AT, names=quiet)
    after_retry = list(box.received)
    again = due_and_deliver(project, AT, names=quiet)
    dry = due_and_deliver(project, AT, names=["kpi_old"], mail_dry_run=True)
    return {
        "first": first,
        "listed": listed,
        "after_first": after_first,
        "retry": retry,
        "after_retry": after_retry,
        "again": again,
        "dry": dry,
        "final": list(box.received),
        "raw": list(box.raw),
    }


def _to(message) -> str:
    return message["To"].addresses[0].addr_spec


def _html(message) -> str:
    return message.get_body(("html",)).get_content()


def _alerts(settings, region: str | None):
    alerts = read_mart("ads_kpi_alerts", settings, filters=[equals("month", PERIOD)])
    return alerts if region is None else alerts[alerts["region_id"] == region]


def _kinds(messages, address: str) -> list[str]:
    return sorted(m["Subject"].split()[0] for m in messages if _to(m) == address)


def test_each_user_gets_their_own_copy_and_the_owner_the_failure(project, calls):
    results, delivery = calls["first"]
    states = {r.schedule: r.state for r in results}
    assert states == {"kpi_province": "ran", "kpi_gz": "ran", "kpi_old": "failed"}
    received = calls["after_first"]
    by_address = {}
    for message in received:
        by_address.setdefault(_to(message), []).append(message)
    # gz was refused; sz is subscribed to nothing; the analyst only hears of the failure
    assert set(by_address) == {"ceo@op.example", "analyst@op.example"}
    expect_ceo = 1 + (not _alerts(project, None).empty)
    assert len(by_address["ceo@op.example"]) == expect_ceo
    [notice] = by_address["analyst@op.example"]
    assert str(notice["Subject"]).startswith("Report failed: kpi_old 2020-01")
    text = notice.get_body(("plain",)).get_content()
    assert "InputDataError" in text and "2020-01" in text
    failed = next(r for r in results if r.schedule == "kpi_old").outcomes[0].record
    assert f"cell  {failed['error']['cell']}" in text
    # the refused messages are recorded as failed with the server's answer
    refused = [r for r in delivery.records if r["status"] == "failed"]
    assert refused and {r["recipient"] for r in refused} == {"gz_manager"}
    assert all(r["error"].startswith("554") for r in refused)
    listed = calls["listed"]
    assert listed.exit_code == 0 and listed.output.count("failed") == len(refused)
    assert "gz_manager" in listed.output and "ceo" not in listed.output


def test_chinese_headers_are_encoded(calls):
    ceo = [m for m in calls["final"] if _to(m) == "ceo@op.example"]
    report = next(m for m in ceo if m["X-Workbench-Kind"] == "report")
    assert str(report["Subject"]) == f"【报表】经营指标概览 {PERIOD} · 全省"
    assert report["To"].addresses[0].display_name == "王省长"
    raw = next(r for r in calls["raw"] if report["Message-ID"].encode() in r)
    head = raw.split(b"\n\n", 1)[0]
    assert head.isascii()  # RFC 2047 encoded words, no raw UTF-8 in headers
    assert b"=?utf-8?" in head.lower()
    # the report itself is attached
    [attachment] = list(report.iter_attachments())
    assert attachment.get_filename() == f"kpi_overview-{PERIOD}.html"
    assert "http://dash.example:8866/?wb=" in _html(report)


def test_a_city_manager_copy_holds_only_their_region(project, calls):
    gz = [m for m in calls["after_retry"] if _to(m) == "gz@op.example"]
    report = next(m for m in gz if m["X-Workbench-Kind"] == "report")
    assert str(report["Subject"]) == f"【报表】经营指标概览 {PERIOD} · GZ"
    body = _html(report)
    cube = read_mart(
        "ads_kpi_cube",
        project,
        filters=[equals("segment", ALL), equals("plan_type", ALL)],
        months=[PERIOD],
    )
    cube = cube[cube["kpi_code"] == "active_subscribers"]
    value = dict(zip(cube["region_id"], cube["value"], strict=True))
    assert format_value(value["GZ"], "lines", "zh") in body
    assert format_value(value[ALL], "lines", "zh") not in body
    alerts = _alerts(project, "GZ")
    digests = [m for m in gz if m["X-Workbench-Kind"] == "alerts"]
    assert len(digests) == (not alerts.empty)
    # the alerts name their region (the GZ manager reads Chinese): none of another region
    names = read_mart("dwd_dim_region", project).set_index("region_id")["region_name_zh"]
    others = sorted(set(_alerts(project, None)["region_id"]) - {"GZ", ALL})
    assert others  # tiny has alerts elsewhere, so the check below can fail
    for message in [report, *digests]:
        text = message.get_body(("plain",)).get_content()
        assert not any(names[o] in text for o in others), others
    if digests:
        assert names["GZ"] in digests[0].get_body(("plain",)).get_content()


def test_a_digest_lists_the_most_serious_alerts_and_counts_the_rest(project, calls):
    """The province's digest: the first ``delivery.digest_alerts`` alerts, alarms before
    warnings, then how many more there are (tiny has more than three)."""
    alerts = _alerts(project, None)
    assert len(alerts) > DIGEST_ALERTS
    ceo = [m for m in calls["final"] if _to(m) == "ceo@op.example"]
    digest = next(m for m in ceo if m["X-Workbench-Kind"] == "alerts")
    html_body = _html(digest)
    assert html_body.count("<li") == DIGEST_ALERTS
    assert f"另有 {len(alerts) - DIGEST_ALERTS} 条" in html_body
    alarms = (alerts["severity"] == "alarm").sum()
    listed = digest.get_body(("plain",)).get_content()
    assert listed.count("告警线") == min(alarms, DIGEST_ALERTS)


def test_a_refused_message_is_retried_without_running_the_report(project, calls):
    results, delivery = calls["retry"]
    assert {r.state for r in results} == {"nothing due"}
    assert {(r["recipient"], r["status"]) for r in delivery.records} == {("gz_manager", "sent")}
    new = calls["after_retry"][len(calls["after_first"]) :]
    assert {_to(m) for m in new} == {"gz@op.example"}
    # the stored message is sent as it was: same Message-ID as in the outbox
    ids = {r["message_id"] for r in delivery.records}
    assert {m["Message-ID"] for m in new} == ids
    assert outbox.read_outbox(project, failed=True) == []


def test_a_re_run_sends_nothing_new(project, calls):
    results, delivery = calls["again"]
    assert delivery.records == [] and {r.state for r in results} == {"nothing due"}
    sent = [r for r in outbox.latest(outbox.read_outbox(project)).values() if r["status"] == "sent"]
    assert len(sent) == len(calls["after_retry"])
    assert len(calls["final"]) == len(calls["after_retry"])


def test_the_dry_run_writes_files_and_sends_nothing(project, calls):
    results, delivery = calls["dry"]
    assert [r.state for r in results] == ["failed"]
    [record] = delivery.records
    assert record["status"] == "dry-run" and record["recipient"] == "analyst"
    path = Path(record["path"])
    assert path.parent == dry_run_dir(project)
    written = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert _to(written) == "analyst@op.example" and "kpi_old" in str(written["Subject"])
    assert len(calls["final"]) == len(calls["after_retry"])  # nothing reached the server


def test_a_claim_is_taken_once_and_a_dead_claimer_releases_it(project):
    message = {
        "kind": "report",
        "recipient": "ceo",
        "to": "ceo@op.example",
        "schedule": "unit",
        "fire_time": "2026-01-01T00:00:00+00:00",
        "region": None,
        "file": "unit.eml",
    }
    first = outbox.claim(project, message, b"Subject: x\n\nbody\n")
    assert first is not None and first["status"] == "claimed"
    assert outbox.claim(project, message, b"other") is None  # held by a live process (us)
    # a claim left by a process that died before sending may be taken again
    dead = {**first, "pid": 2**22 + 12345}
    assert outbox.may_send(dead) and not outbox.may_send(first)
    outbox.settle(project, first, None)
    assert outbox.claim(project, message, None) is None  # sent: never again


def _schedule(name: str, region: str | None = None) -> Schedule:
    return Schedule(name=name, subject="kpi_overview", cron="0 6 2 * *", region=region)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"recipients": ["ceo"], "schedules": ["nope"]},
            r"\(s\)\.schedules\.0: no schedule 'nope'",
        ),
        ({"recipients": ["bob"], "schedules": ["prov"]}, r"recipients\.0: 'bob' is not in"),
        (
            {"recipients": ["gz_manager"], "schedules": ["prov"]},
            r"recipients\.0: 'gz_manager' sees GZ but no chosen schedule reports on GZ",
        ),
        (
            {"recipients": ["ceo"], "schedules": ["gz"]},
            r"recipients\.0: 'ceo' sees all but no chosen schedule reports on all regions",
        ),
        ({"recipients": ["ceo"], "schedules": ["prov"], "to": "x"}, r"\(s\)\.to: unknown key"),
        ({"recipients": ["ceo"], "schedules": ["prov"], "send": ["pdf"]}, r"\(s\)\.send\.0"),
        ({"recipients": ["ceo"]}, r"\(s\)\.schedules: give either schedules or subject"),
    ],
)
def test_bad_subscriptions_are_refused_naming_the_key(project, tmp_path, entry, message):
    path = tmp_path / "subscriptions.yml"
    path.write_text(yaml.safe_dump({"subscriptions": [{"name": "s", **entry}]}))
    schedules = [_schedule("prov"), _schedule("gz", "GZ")]
    with pytest.raises(SubscriptionError, match=message):
        load_subscriptions(project, schedules, path)


def test_a_report_over_the_size_limit_is_linked_not_attached(project, calls):
    from workbench.reports.delivery import _attachment  # the limit's one decision

    results, _ = calls["first"]
    outcome = next(r for r in results if r.schedule == "kpi_gz").outcomes[0]
    size = outcome.paths.html.stat().st_size
    fits = project.model_copy(
        update={
            "delivery": project.delivery.model_copy(update={"max_attachment_kb": size // 1024 + 1})
        }
    )
    attached, sentence = _attachment(fits, outcome, "en")
    assert attached == (f"kpi_overview-{PERIOD}-GZ.html", outcome.paths.html.read_bytes())
    tight = project.model_copy(
        update={
            "delivery": project.delivery.model_copy(update={"max_attachment_kb": size // 1024 - 1})
        }
    )
    attached, sentence = _attachment(tight, outcome, "en")
    assert attached is None and f"over the {size // 1024 - 1} kB attachment limit" in sentence
    assert "your link below" in sentence
    unlinked = tight.model_copy(
        update={"delivery": tight.delivery.model_copy(update={"link_base_url": None})}
    )
    attached, sentence = _attachment(unlinked, outcome, "en")
    assert attached is None and f"published as kpi_overview/{PERIOD}/GZ/" in sentence


RACE = """
import json, sys
from pathlib import Path
from workbench.config import load_settings
from workbench.reports.delivery import Planned, deliver
settings = load_settings(Path(sys.argv[1]), environ={})
content = sys.argv[3].encode()
deliver(settings, [Planned(json.loads(sys.argv[2]), lambda: content)])
"""


def test_two_calls_at_once_send_a_message_once(project, mailbox):
    box, _ = mailbox
    meta = {
        "kind": "report",
        "recipient": "sz_manager",
        "to": "sz@op.example",
        "schedule": "race",
        "fire_time": "2026-01-01T00:00:00+00:00",
        "region": "SZ",
        "message_id": "<race@op.example>",
        "file": "race.eml",
    }
    content = "Message-ID: <race@op.example>\r\nSubject: race\r\n\r\nbody\r\n"
    config = str(project.root / "pipelines" / "config.yml")
    racers = [
        subprocess.Popen([sys.executable, "-c", RACE, config, json.dumps(meta), content])
        for _ in range(2)
    ]
    assert [r.wait(timeout=120) for r in racers] == [0, 0]
    assert [m["Message-ID"] for m in box.received].count("<race@op.example>") == 1
    steps = [r["status"] for r in outbox.read_outbox(project) if r["schedule"] == "race"]
    assert steps == ["claimed", "sent"]


PASSWORD = "s3cret-Pa55"  # what the test server accepts


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the client trusts it through ca_file)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _login(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"reports",
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_encrypted_delivery_logs_in_with_the_password_from_the_environment(
    project, certificate, security, caplog
):
    from aiosmtpd.controller import Controller

    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    tls = {"tls_context": context, "require_starttls": True}
    box = Mailbox()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=_free_port(),
        authenticator=_login,
        auth_required=True,
        # with implicit TLS aiosmtpd cannot tell the session is encrypted (the handler checks)
        **(tls if security == "starttls" else {"ssl_context": context, "auth_require_tls": False}),
    )
    controller.start()
    smtp = project.delivery.smtp.model_copy(
        update={
            "port": controller.port,
            "security": security,
            "username": "reports",
            "ca_file": cert,
        }
    )
    settings = project.model_copy(
        update={"delivery": project.delivery.model_copy(update={"smtp": smtp})}
    )
    meta = {
        "kind": "report",
        "recipient": "ceo",
        "to": "ceo@op.example",
        "schedule": f"tls-{security}",
        "fire_time": "2026-01-01T00:00:00+00:00",
        "region": None,
        "message_id": f"<{security}@op.example>",
        "file": f"{security}.eml",
    }
    content = f"Message-ID: <{security}@op.example>\r\nSubject: x\r\n\r\nbody\r\n".encode()
    try:
        wrong = "not-the-Pa55word"
        [failed] = deliver(
            settings, [Planned(meta, lambda: content)], environ={smtp.password_env: wrong}
        ).records
        assert failed["status"] == "failed" and "535" in failed["error"]
        assert wrong not in outbox.outbox_path(settings).read_text() and wrong not in caplog.text
        assert box.received == []
        # the next call retries with the right password
        [sent] = deliver(settings, [], environ={smtp.password_env: PASSWORD}).records
        assert sent["status"] == "sent" and box.sessions == [(True, True)]
        assert PASSWORD not in outbox.outbox_path(settings).read_text() + caplog.text
    finally:
        controller.stop()


def test_retries_stop_after_max_attempts_and_a_disabled_delivery_does_nothing(project, calls):
    limited = project.model_copy(
        update={"delivery": project.delivery.model_copy(update={"max_attempts": 2})}
    )
    message = {
        "kind": "alerts",
        "recipient": "ceo",
        "to": "ceo@op.example",
        "schedule": "attempts",
        "fire_time": "2026-01-01T00:00:00+00:00",
        "region": None,
        "file": "attempts.eml",
    }

    def pending() -> list[int]:
        return [r["attempt"] for r in outbox.retryable(limited) if r["schedule"] == "attempts"]

    outbox.settle(limited, outbox.claim(limited, message, b"x"), "550 5.1.1 no such user")
    assert pending() == [1]
    # switched off, `report due` neither sends nor retries (nothing is due here either)
    off = limited.model_copy(
        update={"delivery": limited.delivery.model_copy(update={"enabled": False})}
    )
    _, delivery = due_and_deliver(off, AT, names=["kpi_province"])  # ran already in `calls`
    assert delivery.records == [] and pending() == [1]
    outbox.settle(limited, outbox.claim(limited, message, None), "550 5.1.1 no such user")
    assert pending() == []  # failed twice: left for `report outbox --failed`
    assert [r["attempt"] for r in outbox.read_outbox(limited, failed=True)].count(2) == 1
