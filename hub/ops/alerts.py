"""Alerts: tell ops once when a pipeline starts failing, and once when it recovers.

An incident is read off the run history, not kept in memory: a pipeline is in an incident
while its last `after_failures` (or more) finished runs failed. The alert goes out for the run
that makes the streak reach the threshold, and the recovery for the first good run after it,
so there is exactly one of each per incident, whichever node ran the run, across restarts.
Dead letters are their own incident: runs that keep adding records a system refused.

Delivery is the `send_alert` hook; `Delivery` is the built-in implementation (webhook POST
with a JSON body, e-mail over SMTP) that `hub run` registers from ``[alerts]``.
"""

from __future__ import annotations

import ipaddress
import logging
import smtplib
import socket
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Connection, select

from hub import __version__
from hub.config import AlertsSection, address_refusal
from hub.hookspecs import hookimpl
from hub.ops.history import consecutive_failures, is_failure
from hub.secrets import Secrets
from hub.store.schema import runs

log = logging.getLogger("hub.alerts")


def decide(conn: Connection, summary: Mapping[str, Any],
           settings: AlertsSection) -> list[dict[str, Any]]:
    """The alerts (zero, one or two) that the run described by `summary` calls for."""
    status = str(summary.get("status"))
    if status in ("interrupted", "running") or summary.get("plan"):
        return []
    pipeline = str(summary.get("pipeline"))
    run_id = int(summary["run_id"])
    alerts: list[dict[str, Any]] = []
    if is_failure(status, summary):
        streak = consecutive_failures(conn, pipeline)
        if streak == settings.after_failures:
            alerts.append(_alert("failing", summary, streak,
                                 f"pipeline {pipeline!r} failed {streak} time(s) in a row: "
                                 + _errors(summary)))
    else:
        before = consecutive_failures(conn, pipeline, before_id=run_id)
        if before >= settings.after_failures:
            alerts.append(_alert("recovered", summary, 0,
                                 f"pipeline {pipeline!r} works again after {before} failed runs"))
    rejected = int(summary.get("rejected_total") or 0)
    if settings.dead_letters and rejected and not _previous_rejected(conn, pipeline, run_id):
        alerts.append(_alert("dead_letters", summary, 0,
                             f"pipeline {pipeline!r}: {rejected} records were refused and set "
                             "aside as dead letters; see `hub dead-letters`"))
    return alerts


def _previous_rejected(conn: Connection, pipeline: str, run_id: int) -> bool:
    """Whether the previous finished run of the pipeline also added dead letters."""
    summary = conn.execute(select(runs.c.summary).where(
        runs.c.pipeline == pipeline, runs.c.id < run_id,
        runs.c.status.notin_(("running", "interrupted"))).order_by(runs.c.id.desc())
        .limit(1)).scalar()
    return bool((summary or {}).get("rejected_total"))


def _errors(summary: Mapping[str, Any]) -> str:
    errors = summary.get("errors") or []
    if not errors:
        return f"exit code {summary.get('exit_code')}"
    return "; ".join(f"{e.get('connector')}: {e.get('message')}" for e in errors[:5])


def _alert(kind: str, summary: Mapping[str, Any], failures: int, message: str) -> dict[str, Any]:
    # counts and ids only: an alert leaves the building, personal data must not
    return {
        "kind": kind,
        "pipeline": summary.get("pipeline"),
        "run_id": summary.get("run_id"),
        "status": summary.get("status"),
        "exit_code": summary.get("exit_code"),
        "consecutive_failures": failures,
        "message": message,
        "errors": list(summary.get("errors") or []),
        "rejected_total": summary.get("rejected_total", 0),
        "started_at": summary.get("started_at"),
        "finished_at": summary.get("finished_at"),
        "node": summary.get("node"),
        "hub_version": __version__,
    }


def resolved_refusal(host: str) -> str | None:
    """Why the addresses `host` resolves to must not get an alert (None: they may)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return None  # unresolvable: the POST fails on its own and is logged
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        why = address_refusal(address)
        if why:
            return f"{address}, {why}"
    return None


class WebhookRefused(OSError):
    """The webhook's name resolves to an address no alert may go to (see `resolved_refusal`)."""


class Delivery:
    """The built-in `send_alert`: a webhook POST and/or a mail, as ``[alerts]`` says."""

    def __init__(self, settings: AlertsSection, secrets: Secrets,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._settings = settings
        self._secrets = secrets
        self._transport = transport

    @hookimpl
    def send_alert(self, alert: Mapping[str, Any]) -> None:
        """Deliver to every configured channel; one failing channel does not stop the other."""
        if self._settings.webhook:
            try:
                self.post(alert)
            except WebhookRefused as exc:  # hub's own words, no URL: safe to log whole
                log.error("the alert webhook failed: %s", exc, extra={"alert": alert["kind"]})
            except (httpx.HTTPError, OSError) as exc:
                log.error("the alert webhook failed: %s", type(exc).__name__,
                          extra={"alert": alert["kind"]})
        if self._settings.smtp_host:
            try:
                self.mail(alert)
            except (smtplib.SMTPException, OSError) as exc:
                log.error("the alert mail failed: %s", type(exc).__name__,
                          extra={"alert": alert["kind"]})

    def post(self, alert: Mapping[str, Any]) -> None:
        """POST the alert as JSON; a non-2xx answer (or a redirect) is a failure.

        The config check refused metadata and link-local targets by name and address; a name
        can still resolve to one (or be re-pointed later), so the addresses it resolves to
        now are checked again before anything is sent.
        """
        url = self._settings.webhook
        assert url
        if not self._settings.allow_any_webhook:
            refused = resolved_refusal(urlsplit(url).hostname or "")
            if refused:
                raise WebhookRefused(
                    f"[alerts] webhook resolves to {refused}; not posting there — point it at "
                    "your chat or monitoring server, or set allow_any_webhook = true")
        with httpx.Client(transport=self._transport, follow_redirects=False,
                          timeout=self._settings.timeout_seconds) as client:
            client.post(url, json=dict(alert)).raise_for_status()

    def mail(self, alert: Mapping[str, Any]) -> None:
        """Send the alert as a plain-text mail through ``[alerts] smtp_host``."""
        s = self._settings
        assert s.smtp_host and s.mail_from
        message = EmailMessage()
        message["Subject"] = f"[hub] {alert['kind']}: {alert['message']}"[:200]
        message["From"] = s.mail_from
        message["To"] = ", ".join(s.mail_to)
        lines = [str(alert["message"]), ""]
        lines += [f"{key}: {alert[key]}" for key in ("pipeline", "run_id", "status",
                                                    "started_at", "finished_at", "node")]
        lines += [f"error: {e.get('connector')}: {e.get('message')}" for e in alert["errors"]]
        message.set_content("\n".join(lines) + "\n")
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout_seconds) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_user and s.smtp_password:
                password = self._secrets.resolve(s.smtp_password, where="[alerts] smtp_password")
                smtp.login(s.smtp_user, password.get_secret_value())
            smtp.send_message(message)
