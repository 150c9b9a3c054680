"""Report mail: messages built with the standard library's ``email`` package and sent with
``smtplib`` (STARTTLS, implicit TLS or plain, from ``delivery.smtp``).

The bodies are HTML laid out for mail clients (tables and inline styles, no scripts or classes)
with a plain-text alternative; headers with Chinese text (subjects, display names) are encoded
by the ``email`` package (RFC 2047). The SMTP password comes from the environment variable
``delivery.smtp.password_env`` and appears in no message, log line or error.
"""

from __future__ import annotations

import html
import logging
import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from workbench.config import ConfigError, DashboardUser, SmtpSettings

log = logging.getLogger(__name__)

FONT = "font-family:Arial,'Microsoft YaHei',sans-serif;font-size:14px;color:#222"
CELL = "padding:4px 10px;border-bottom:1px solid #ddd;text-align:left"


@dataclass(frozen=True)
class Body:
    """What a message says: a title, sections of (heading, rows or lines), closing notes."""

    title: str
    table: list[tuple[str, ...]]  # first row: headers
    lines_heading: str
    lines: list[str]
    notes: list[str]


def render_html(body: Body) -> str:
    """The body as table-based HTML with inline styles (what mail clients render alike)."""
    title = html.escape(body.title)
    parts = [f'<div style="{FONT}">', f"<h2 style='font-size:18px'>{title}</h2>"]
    if body.table:
        head, *rows = body.table
        parts.append("<table cellpadding='0' cellspacing='0' style='border-collapse:collapse'>")
        parts.append(
            "<tr>" + "".join(f"<th style='{CELL}'>{html.escape(h)}</th>" for h in head) + "</tr>"
        )
        for row in rows:
            parts.append(
                "<tr>" + "".join(f"<td style='{CELL}'>{html.escape(c)}</td>" for c in row) + "</tr>"
            )
        parts.append("</table>")
    if body.lines:
        parts.append(f"<h3 style='font-size:15px'>{html.escape(body.lines_heading)}</h3><ul>")
        parts.extend(f"<li>{html.escape(line)}</li>" for line in body.lines)
        parts.append("</ul>")
    for note in body.notes:
        text = html.escape(note)
        if note.startswith(("http://", "https://")):
            text = f"<a href='{text}'>{text}</a>"
        parts.append(f"<p style='color:#555'>{text}</p>")
    parts.append("</div>")
    return "\n".join(parts)


def render_text(body: Body) -> str:
    """The same body as plain text (the alternative part)."""
    out = [body.title, ""]
    out += ["  ".join(row) for row in body.table]
    if body.lines:
        out += ["", body.lines_heading, *(f"- {line}" for line in body.lines)]
    out += ["", *body.notes]
    return "\n".join(out) + "\n"


def build_message(
    smtp: SmtpSettings,
    user: str,
    profile: DashboardUser,
    subject: str,
    body: Body,
    message_id: str,
    attachment: tuple[str, bytes] | None = None,
) -> EmailMessage:
    """One message to one user: HTML with a plain-text alternative, and the report attached."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = Address(smtp.sender_name or "", addr_spec=smtp.sender)
    message["To"] = Address(profile.name or user, addr_spec=profile.email or "")
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id
    message["Content-Language"] = "zh-CN" if profile.language == "zh" else "en"
    message.set_content(render_text(body))
    message.add_alternative(render_html(body), subtype="html")
    if attachment is not None:
        name, content = attachment
        message.add_attachment(content, maintype="text", subtype="html", filename=name)
    return message


def message_id(key_hash: str, sender: str) -> str:
    """A Message-ID fixed by the message key, so a resent message is recognisably the same."""
    return f"<{key_hash}@{sender.rpartition('@')[2]}>"


def _password(smtp: SmtpSettings, environ: Mapping[str, str]) -> str:
    password = environ.get(smtp.password_env)
    if not password:
        raise ConfigError(
            f"delivery.smtp.username is set but the environment variable {smtp.password_env} "
            "(delivery.smtp.password_env) holding the password is empty"
        )
    return password


def connect(
    smtp: SmtpSettings, environ: Mapping[str, str] | None = None, ca_file: Path | None = None
) -> smtplib.SMTP:
    """An open, logged-in SMTP connection (STARTTLS, implicit TLS or none, from settings); the
    server's certificate and host name are verified (against ``ca_file`` too, when given)."""
    environ = os.environ if environ is None else environ
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if smtp.security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            smtp.host, smtp.port, timeout=smtp.timeout_seconds, context=context
        )
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
        if smtp.security == "starttls":
            client.starttls(context=context)
    if smtp.username:
        client.login(smtp.username, _password(smtp, environ))
    return client


def send_bytes(client: smtplib.SMTP, sender: str, recipient: str, content: bytes) -> str | None:
    """Send one stored message; the server's refusal as text, None when accepted."""
    try:
        refused = client.sendmail(sender, [recipient], content)
    except smtplib.SMTPResponseException as exc:
        return f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}"
    except (smtplib.SMTPException, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if refused:
        return "; ".join(f"{addr}: {code} {text!r}" for addr, (code, text) in refused.items())
    return None
