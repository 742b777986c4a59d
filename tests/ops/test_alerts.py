"""Alerts: one per incident whatever the run history looks like, one on recovery, dead letters
as their own incident; delivered as a JSON webhook POST and as a mail over SMTP."""

from __future__ import annotations

import itertools
import json
import socketserver
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, update

from hub.config import AlertsSection
from hub.ops import alerts
from hub.secrets import MemoryBackend, SecretRef, Secrets
from hub.store import Store
from hub.store.schema import runs
from tests.conftest import FIXED_NOW

# a run's outcome: "ok", "error" (a system failed), "rejects" (ok but dead letters),
# "interrupted" (stopped or taken over: neither good nor bad)
outcomes = st.lists(st.sampled_from(["ok", "error", "rejects", "interrupted"]), max_size=25)


def _record(store: Store, outcome: str, index: int) -> dict[str, Any]:
    status = {"ok": "ok", "error": "error", "rejects": "failed",
              "interrupted": "interrupted"}[outcome]
    summary: dict[str, Any] = {
        "status": status, "pipeline": "main", "plan": False,
        "exit_code": {"ok": 0, "error": 3, "rejects": 1, "interrupted": 0}[outcome],
        "errors": [{"connector": "crm", "message": "HTTP 503"}] if outcome == "error" else [],
        "rejected_total": 2 if outcome == "rejects" else 0}
    with store.begin() as conn:
        run_id = conn.execute(insert(runs).values(
            pipeline="main", trigger="schedule", status=status,
            started_at=FIXED_NOW + timedelta(minutes=index), summary=summary)
            .returning(runs.c.id)).scalar_one()
        summary["run_id"] = run_id
        conn.execute(update(runs).where(runs.c.id == run_id).values(summary=summary))
    return summary


def _incidents(sequence: list[str], threshold: int) -> tuple[int, int]:
    """Expected (failing alerts, recoveries): streaks of errors reaching the threshold."""
    opened = recovered = 0
    streak = 0
    for outcome in sequence:
        if outcome == "interrupted":
            continue
        if outcome == "error":
            streak += 1
            opened += streak == threshold
        else:
            recovered += streak >= threshold
            streak = 0
    return opened, recovered


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=outcomes, threshold=st.integers(min_value=1, max_value=4))
def test_one_alert_per_incident_and_one_per_recovery(sqlite_store: Store, sequence: list[str],
                                                     threshold: int) -> None:
    with sqlite_store.begin() as conn:
        conn.execute(delete(runs))
    config = AlertsSection(after_failures=threshold, dead_letters=False)
    sent: list[str] = []
    for i, outcome in enumerate(sequence):
        summary = _record(sqlite_store, outcome, i)
        with sqlite_store.begin() as conn:
            sent += [a["kind"] for a in alerts.decide(conn, summary, config)]
    assert (sent.count("failing"), sent.count("recovered")) == _incidents(sequence, threshold)
    # the kinds alternate: never two failing alerts without a recovery between them
    assert all(a != b for a, b in itertools.pairwise(sent))


def test_dead_letters_alert_when_they_start_growing(sqlite_store: Store) -> None:
    config = AlertsSection()
    kinds = []
    for i, outcome in enumerate(["ok", "rejects", "rejects", "ok", "rejects"]):
        summary = _record(sqlite_store, outcome, i)
        with sqlite_store.begin() as conn:
            kinds.append([a["kind"] for a in alerts.decide(conn, summary, config)])
    assert kinds == [[], ["dead_letters"], [], [], ["dead_letters"]]


def test_an_alert_carries_counts_and_ids_not_people(sqlite_store: Store) -> None:
    summary = _record(sqlite_store, "error", 0)
    summary["rejected"] = [{"record_id": "7", "origin": "anna@example.de"}]
    with sqlite_store.begin() as conn:
        (alert,) = alerts.decide(conn, summary, AlertsSection())
    assert alert["kind"] == "failing" and alert["consecutive_failures"] == 1
    assert "HTTP 503" in alert["message"]
    assert "@" not in json.dumps(alert)


def test_the_webhook_gets_the_alert_as_json() -> None:
    received: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(json.loads(request.content))
        return httpx.Response(204)

    delivery = alerts.Delivery(AlertsSection(webhook="http://alerts.invalid/hook"),
                               Secrets(MemoryBackend({})), transport=httpx.MockTransport(handler))
    delivery.send_alert({"kind": "failing", "message": "m", "errors": []})
    assert received == [{"kind": "failing", "message": "m", "errors": []}]


class _Smtp(socketserver.StreamRequestHandler):
    """Just enough of RFC 5321 to receive one message."""

    def handle(self) -> None:
        server: Any = self.server
        self.wfile.write(b"220 test ESMTP\r\n")
        data: list[str] | None = None
        while line := self.rfile.readline():
            text = line.decode()
            if data is not None:
                if text in (".\r\n", ".\n"):
                    server.messages.append("".join(data))
                    data = None
                    self.wfile.write(b"250 queued\r\n")
                else:
                    data.append(text)
                continue
            verb = text[:4].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-test\r\n250 AUTH PLAIN\r\n")
            elif verb == "AUTH":
                server.auth.append(text)
                self.wfile.write(b"235 ok\r\n")
            elif verb == "DATA":
                data = []
                self.wfile.write(b"354 go on\r\n")
            elif verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    server: Any = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    server.messages = []
    server.auth = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_mail_goes_out_over_smtp_with_the_password_from_secrets(smtp_server: Any,
                                                                    tmp_path: Path) -> None:
    settings_ = AlertsSection(smtp_host="127.0.0.1", smtp_port=smtp_server.server_address[1],
                              smtp_user="hub", smtp_password=SecretRef(secret="smtp-pass"),
                              mail_from="hub@example.com", mail_to=["ops@example.com"])
    delivery = alerts.Delivery(settings_, Secrets(MemoryBackend({"smtp-pass": "s3cret"})))
    delivery.send_alert({"kind": "failing", "message": "pipeline 'main' failed", "errors": [
        {"connector": "crm", "message": "HTTP 503"}], "pipeline": "main", "run_id": 4,
        "status": "error", "started_at": None, "finished_at": None, "node": "a:1"})
    (message,) = smtp_server.messages
    assert "Subject: [hub] failing: pipeline 'main' failed" in message
    assert "To: ops@example.com" in message and "error: crm: HTTP 503" in message
    assert smtp_server.auth  # logged in with the secret from the store of secrets


def test_mail_settings_must_name_sender_and_recipients() -> None:
    with pytest.raises(ValueError, match="mail_from"):
        AlertsSection(smtp_host="mail.example.com")
