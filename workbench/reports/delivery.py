"""Report delivery after ``report due``: each subscriber's mail, each failure's notice, once.

For every run ``report due`` made:

* a successful run: each subscriber it serves (:mod:`workbench.reports.subscriptions`) gets, in
  their language, a ``report`` mail (headline KPIs and top alerts of their scope, the report
  attached up to ``delivery.max_attachment_kb``, their signed dashboard link when
  ``delivery.link_base_url`` is set) and/or an ``alerts`` digest (only when an alert fired in
  their scope);
* a failed or timed-out run: one notice to the schedule's ``owner`` naming the failing cell and
  error; subscribers get nothing.

Each message goes through the outbox (:mod:`workbench.reports.outbox`): claimed, stored, sent,
recorded. Messages that failed before are sent again by the next call, from the stored copy.
"""

from __future__ import annotations

import email.policy
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.catalog.ads import ALL
from workbench.errors import WorkbenchError
from workbench.formats import Lang, format_change, format_value
from workbench.reports import outbox
from workbench.reports.mail import Body, build_message, connect, message_id, send_bytes
from workbench.reports.schedule import DueResult, Schedule, load_schedules, run_due
from workbench.reports.subscriptions import (
    Recipient,
    Subscription,
    load_subscriptions,
    recipients_of,
)
from workbench.subjects import title as subject_title

if TYPE_CHECKING:
    from workbench.config import Settings
    from workbench.reports.runner import RunOutcome
    from workbench.subjects.kpi_overview import KpiOverview

log = logging.getLogger(__name__)

WORDS = {  # the mail's fixed words, by language
    "en": {
        "kpi": "KPI",
        "month": "This month",
        "mom": "MoM",
        "target": "vs target",
        "alerts": "Top alerts",
        "all_alerts": "Alerts",
        "more": "... and {n} more: the KPI cockpit lists every alert.",
        "attached": "The full report is attached: {name}",
        "too_big": "The report ({size} kB) is over the {limit} kB attachment limit: open it "
        "with your link below.",
        "too_big_here": "The report ({size} kB) is over the {limit} kB attachment limit; it is "
        "published as {path} under the reports folder.",
        "link": "Your dashboards (a personal link, do not forward):",
        "no_figures": "Headline figures unavailable: {error}",
        "digest": "KPI alerts {period} · {scope}: {alarms} alarm(s), {warnings} warning(s)",
        "failed": "Report failed: {schedule} {period} · {scope}",
        "failure": "Failure",
        "facts": ("status", "fire time", "cell", "error", "notebook", "run"),
        "retry": "Subscribers were sent nothing; the next `workbench report due` runs this fire "
        "time again.",
    },
    "zh": {
        "kpi": "指标",
        "month": "本月",
        "mom": "环比",
        "target": "目标差",
        "alerts": "主要告警",
        "all_alerts": "告警",
        "more": "……另有 {n} 条，经营指标驾驶舱列出全部告警。",
        "attached": "完整报表见附件：{name}",
        "too_big": "报表（{size} kB）超过附件上限 {limit} kB，请用下方链接查看。",
        "too_big_here": "报表（{size} kB）超过附件上限 {limit} kB，已发布于报表目录下的 {path}。",
        "link": "您的看板（个人链接，请勿转发）：",
        "no_figures": "暂无核心指标：{error}",
        "digest": "{period} {scope} 指标告警：告警 {alarms} 条，预警 {warnings} 条",
        "failed": "报表运行失败：{schedule} {period} · {scope}",
        "failure": "失败原因",
        "facts": ("状态", "调度时间", "单元格", "错误", "笔记本", "运行编号"),
        "retry": "未向订阅人发送任何内容；下次 `workbench report due` 将重跑此次调度。",
    },
}


@dataclass
class Planned:
    """A message to send: its outbox fields and how to build it (None: nothing to say)."""

    meta: dict[str, Any]
    build: Callable[[], bytes | None]


@dataclass
class Delivery:
    """What one delivery call did: the outbox records it wrote."""

    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["status"] == "failed"]


def _scope(region: str | None, lang: Lang) -> str:
    from workbench.subjects.kpi_overview import PROVINCE

    return region or PROVINCE[lang]


def _meta(kind: str, user: str, address: str, record: Mapping[str, Any], sender: str) -> dict:
    """A message's outbox fields: its key, where it goes, what it is about, its file and id."""
    meta = {
        "kind": kind,
        "recipient": user,
        "to": address,
        "schedule": record["schedule"],
        "fire_time": record["scheduled_for"],
        "region": record.get("region"),
        "period": record["period"],
        "subject": record["subject"],
        "run_id": record.get("run_id"),
    }
    digest = hashlib.sha256(outbox.message_key(meta).encode()).hexdigest()[:32]
    return {**meta, "message_id": message_id(digest, sender), "file": f"{digest}.eml"}


class _Overviews:
    """The KPI overview of each (period, region) a call mails about, read once (DuckDB)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cache: dict[tuple[str, str | None], KpiOverview | WorkbenchError] = {}

    def get(self, period: str, region: str | None) -> KpiOverview | WorkbenchError:
        from workbench.subjects import kpi_overview

        key = (period, region)
        if key not in self.cache:
            try:
                self.cache[key] = kpi_overview.run(self.settings, period, region_id=region or ALL)
            except WorkbenchError as exc:  # the mail still goes, saying why figures are missing
                log.warning("headline figures for %s %s: %s", period, region or ALL, exc)
                self.cache[key] = exc
        return self.cache[key]


def scoped_alerts(overview: KpiOverview, region: str | None, lang: Lang) -> list[tuple[str, str]]:
    """The alerts of a scope (a region's own, or every one for the province), most serious
    first, as (severity, sentence in ``lang``)."""
    from workbench.subjects.kpi_overview import alert_sentences

    alerts = overview.alerts
    if region is not None:
        alerts = alerts[alerts["region_id"] == region]
    ranked = alert_sentences(alerts, overview.dictionary, overview.regions)
    return list(zip(ranked["severity"], ranked[f"sentence_{lang}"], strict=True))


def headline_rows(settings: Settings, overview: KpiOverview, lang: Lang) -> list[tuple[str, ...]]:
    """The headline KPIs (``delivery.headline_kpis``), each in its unit, against last month and
    target."""
    from workbench.subjects.kpi_overview import target_gap

    words = WORDS[lang]
    rows: list[tuple[str, ...]] = [(words["kpi"], words["month"], words["mom"], words["target"])]
    table = overview.table.set_index("kpi_code")
    for code in settings.delivery.headline_kpis:
        if code not in table.index:
            continue
        row = table.loc[code]
        rows.append(
            (
                str(row["kpi_name_zh" if lang == "zh" else "kpi_name_en"]),
                format_value(row["value"], row["unit"], lang),
                format_change(row["value"], row["value_prev"], row["unit"], lang),
                target_gap(row.to_dict(), lang),
            )
        )
    return rows


def _link_notes(settings: Settings, user: str, lang: Lang) -> list[str]:
    base = settings.delivery.link_base_url
    if not base:
        return []
    from workbench.dashboards.access import signed_link

    return [WORDS[lang]["link"], signed_link(user, settings, base)]


def _attachment(
    settings: Settings, outcome: RunOutcome, lang: Lang
) -> tuple[tuple[str, bytes] | None, str]:
    """The report to attach (None when over the limit) and the sentence saying so."""
    html = outcome.paths.html if outcome.paths else None
    if html is None or not html.is_file():
        return None, ""
    content = html.read_bytes()
    limit = settings.delivery.max_attachment_kb
    r = outcome.record
    if len(content) > limit * 1024:
        size = -(-len(content) // 1024)
        # without a dashboard address there is no link below: say where the report is instead
        words = WORDS[lang]["too_big" if settings.delivery.link_base_url else "too_big_here"]
        return None, words.format(size=size, limit=limit, path=r.get("published", html.name))
    name = f"{r['subject']}-{r['period']}" + (f"-{r['region']}" if r.get("region") else "")
    return (f"{name}.html", content), WORDS[lang]["attached"].format(name=f"{name}.html")


def _report_mail(
    settings: Settings,
    outcome: RunOutcome,
    recipient: Recipient,
    meta: dict[str, Any],
    overviews: _Overviews,
) -> bytes:
    r, lang = outcome.record, recipient.profile.language
    words = WORDS[lang]
    scope = _scope(r.get("region"), lang)
    overview = overviews.get(r["period"], r.get("region"))
    notes: list[str] = []
    table: list[tuple[str, ...]] = []
    lines: list[str] = []
    if isinstance(overview, WorkbenchError):
        notes.append(words["no_figures"].format(error=overview))
    else:
        table = headline_rows(settings, overview, lang)
        alerts = scoped_alerts(overview, r.get("region"), lang)
        lines = [text for _, text in alerts[: settings.delivery.top_alerts]]
    attachment, sentence = _attachment(settings, outcome, lang)
    notes += [n for n in (sentence,) if n] + _link_notes(settings, recipient.user, lang)
    title = f"{subject_title(r['subject'], lang)} {r['period']} · {scope}"
    body = Body(title, table, words["alerts"], lines, notes)
    subject = f"【报表】{title}" if lang == "zh" else f"[report] {title}"
    return _bytes(settings, recipient, subject, body, meta, attachment)


def _digest_mail(
    settings: Settings,
    outcome: RunOutcome,
    recipient: Recipient,
    meta: dict[str, Any],
    overviews: _Overviews,
) -> bytes | None:
    r, lang = outcome.record, recipient.profile.language
    overview = overviews.get(r["period"], r.get("region"))
    if isinstance(overview, WorkbenchError):
        return None
    alerts = scoped_alerts(overview, r.get("region"), lang)
    if not alerts:
        return None  # a digest of nothing is noise
    severities = [s for s, _ in alerts]
    title = WORDS[lang]["digest"].format(
        period=r["period"],
        scope=_scope(r.get("region"), lang),
        alarms=severities.count("alarm"),
        warnings=severities.count("warning"),
    )
    shown = settings.delivery.digest_alerts
    rest = len(alerts) - shown
    more = [WORDS[lang]["more"].format(n=rest)] if rest > 0 else []
    body = Body(
        title,
        [],
        WORDS[lang]["all_alerts"],
        [t for _, t in alerts[:shown]],
        more + _link_notes(settings, recipient.user, lang),
    )
    return _bytes(settings, recipient, title, body, meta, None)


def _failure_mail(
    settings: Settings, outcome: RunOutcome, owner: Recipient, meta: dict[str, Any]
) -> bytes:
    r, lang = outcome.record, owner.profile.language
    words = WORDS[lang]
    error = r.get("error") or {}
    title = words["failed"].format(
        schedule=r["schedule"], period=r["period"], scope=_scope(r.get("region"), lang)
    )
    values = (
        r["status"],
        r["scheduled_for"],
        "" if error.get("cell") is None else str(error["cell"]),
        f"{error.get('ename', '')}: {error.get('evalue', '')}",
        str(r.get("notebook_path") or ""),
        str(r.get("run_id") or ""),
    )
    facts = list(zip(words["facts"], values, strict=True))
    body = Body(title, [("", words["failure"]), *facts], "", [], [words["retry"]])
    return _bytes(settings, owner, title, body, meta, None)


def _bytes(
    settings: Settings,
    recipient: Recipient,
    subject: str,
    body: Body,
    meta: dict[str, Any],
    attachment: tuple[str, bytes] | None,
) -> bytes:
    message = build_message(
        settings.delivery.smtp,
        recipient.user,
        recipient.profile,
        subject,
        body,
        meta["message_id"],
        attachment,
    )
    message["X-Workbench-Kind"] = meta["kind"]  # report | alerts | failure, for mail filters
    # CRLF line ends as SMTP wants them: smtplib sends bytes as they are
    return message.as_bytes(policy=email.policy.SMTP)


def plan(
    settings: Settings,
    results: list[DueResult],
    schedules: list[Schedule],
    subscriptions: list[Subscription],
) -> list[Planned]:
    """The messages the runs of one ``report due`` call give rise to."""
    by_name = {s.name: s for s in schedules}
    sender = settings.delivery.smtp.sender
    overviews = _Overviews(settings)
    planned: list[Planned] = []
    users = settings.dashboards.users
    for result in results:
        schedule = by_name[result.schedule]
        for outcome in result.outcomes:
            r = outcome.record
            if not outcome.ok:
                owner = schedule.owner
                if owner is None:
                    log.warning("%s failed and has no owner to notify", schedule.name)
                    continue
                who = Recipient(owner, users[owner], ("failure",))
                meta = _meta("failure", owner, users[owner].email or "", r, sender)
                planned.append(Planned(meta, partial(_failure_mail, settings, outcome, who, meta)))
                continue
            for recipient in recipients_of(settings, subscriptions, schedule, r.get("region")):
                for kind in recipient.kinds:
                    meta = _meta(kind, recipient.user, recipient.profile.email or "", r, sender)
                    make = _report_mail if kind == "report" else _digest_mail
                    build = partial(make, settings, outcome, recipient, meta, overviews)
                    planned.append(Planned(meta, build))
    return planned


def dry_run_dir(settings: Settings) -> Path:
    return settings.reports_dir / "_outbox_dry_run"


def deliver(
    settings: Settings,
    planned: list[Planned],
    *,
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Delivery:
    """Send the planned messages and retry earlier failures, each at most once (see
    :mod:`workbench.reports.outbox`); ``dry_run``: write the planned messages to
    ``<reports>/_outbox_dry_run/`` instead, sending and retrying nothing."""
    done = Delivery()
    if dry_run:
        for item in planned:
            content = item.build()
            if content is None:
                continue
            path = dry_run_dir(settings) / item.meta["file"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            done.records.append(outbox.record_dry_run(settings, item.meta, path))
        return done
    state = outbox.latest(outbox.read_outbox(settings))
    claimed = []
    for item in planned:
        if not outbox.may_send(state.get(outbox.message_key(item.meta))):
            continue  # sent already (a re-run) or being sent by another call
        content = item.build()
        if content is not None and (record := outbox.claim(settings, item.meta, content)):
            claimed.append(record)
    for earlier in outbox.retryable(settings):
        if record := outbox.claim(settings, earlier, None):
            log.info("retrying %s to %s", earlier["kind"], earlier["recipient"])
            claimed.append(record)
    if claimed:
        done.records += _send(settings, claimed, environ)
    return done


def _send(
    settings: Settings, claimed: list[dict[str, Any]], environ: Mapping[str, str] | None
) -> list[dict[str, Any]]:
    smtp = settings.delivery.smtp
    try:
        client = connect(smtp, environ, settings.resolve(smtp.ca_file) if smtp.ca_file else None)
    except Exception as exc:  # any failure to connect is recorded and retried by the next call
        error = f"cannot connect or log in to {smtp.host}:{smtp.port}: {type(exc).__name__}: {exc}"
        log.error("%s", error)
        return [outbox.settle(settings, record, error) for record in claimed]
    settled = []
    try:
        for record in claimed:
            content = (outbox.message_dir(settings) / record["file"]).read_bytes()
            error = send_bytes(client, smtp.sender, record["to"], content)
            if error:
                log.error("%s to %s refused: %s", record["kind"], record["recipient"], error)
            settled.append(outbox.settle(settings, record, error))
    finally:
        try:
            client.quit()
        except Exception:  # the messages are recorded already; a rude close is harmless
            client.close()
    return settled


def due_and_deliver(
    settings: Settings,
    at: datetime | None = None,
    *,
    names: list[str] | None = None,
    path: Path | None = None,
    dry_run: bool = False,
    mail_dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
) -> tuple[list[DueResult], Delivery]:
    """``report due``: run what is due, then deliver (subscriptions are checked before any run).

    Args:
        dry_run: only plan the runs; nothing runs or is sent.
        mail_dry_run: run, but write the messages to files instead of sending them.
    """
    schedules = load_schedules(settings, path)
    subscriptions = load_subscriptions(settings, schedules)
    results = run_due(settings, at, names=names, path=path, dry_run=dry_run)
    if dry_run or not settings.delivery.enabled:
        return results, Delivery()
    messages = plan(settings, results, schedules, subscriptions)
    return results, deliver(settings, messages, dry_run=mail_dry_run, environ=environ)
