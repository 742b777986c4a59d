"""Members without a consent decision: PATCHes in one batch operation, per-record answers."""

from __future__ import annotations

import gzip
import io
import json
import signal
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.connector import OutboundRecord
from hub.errors import UnreachableError
from hub_mailchimp.batches import read_results
from hub_sandbox.app import RunningSandbox


def undecided(members: list[dict[str, Any]], name: str) -> list[OutboundRecord]:
    return [OutboundRecord(f"newsletter:{i}:k", i, {"email": m["email_address"],
                                                    "first_name": name},
                           external_id=m["id"]) for i, m in enumerate(members)]


def test_a_write_batch_costs_three_calls_and_leaves_every_status_alone(
        sandbox: RunningSandbox, make: Any) -> None:
    sim = sandbox.sandbox.mailchimp
    members = [m for m in sim.members.values() if m["status"] != "archived"][:400]
    statuses = {m["id"]: m["status"] for m in members}
    count, mails = len(sim.members), len(sim.confirmation_mails)
    connector = make()
    records = [*undecided(members, "Batcha"),
               OutboundRecord("newsletter:9999:k", 9999, {"email": "nie.gesehen@sonnenpost.de",
                                                          "first_name": "Neu"})]
    results = connector.write(records)
    # start the batch, one status read that finds it finished, its results file
    assert connector.context.api_calls == 3
    assert [r.status for r in results] == ["updated"] * 400 + ["rejected"]
    assert all(m["merge_fields"]["FNAME"] == "Batcha" for m in members)
    assert {m["id"]: m["status"] for m in members} == statuses
    assert results[0].external_id == members[0]["id"]
    # nobody was added, nobody was mailed, and the refusal names no address
    assert len(sim.members) == count and len(sim.confirmation_mails) == mails
    assert "rule 11" in (results[-1].reason or "") and "@" not in (results[-1].reason or "")


def test_a_batch_is_polled_until_finished_with_growing_pauses(sandbox: RunningSandbox,
                                                              make: Any) -> None:
    sim = sandbox.sandbox.mailchimp
    sim.batches.limits.polls_before_finished = 3
    connector = make(batch_poll_seconds=1.0)
    waits: list[float] = []
    connector.context.sleep = waits.append
    member = next(iter(sim.members.values()))
    (result,) = connector.write(undecided([member], "Geduld"))
    assert result.status == "updated" and member["merge_fields"]["FNAME"] == "Geduld"
    assert waits == [1.0, 2.0, 4.0, 8.0]
    assert connector.context.api_calls == 6


def test_a_batch_that_takes_too_long_is_stopped_and_tried_again(sandbox: RunningSandbox,
                                                                make: Any) -> None:
    sim = sandbox.sandbox.mailchimp
    sim.batches.limits.polls_before_finished = 100
    connector = make(batch_poll_seconds=10.0, batch_timeout_seconds=60.0)
    moment = [datetime(2026, 1, 1, tzinfo=UTC)]
    connector.context.clock = lambda: moment[0]

    def wait(seconds: float) -> None:
        moment[0] += timedelta(seconds=seconds)
    connector.context.sleep = wait
    member = next(iter(sim.members.values()))
    before = member["merge_fields"]["FNAME"]
    (result,) = connector.write(undecided([member], "Zuspät"))
    assert result.status == "retry" and "stopped it" in (result.reason or "")
    assert sim.batches.batches == {}  # stopped: it cannot land later
    assert member["merge_fields"]["FNAME"] == before


def test_a_results_file_that_is_gone_means_try_again(sandbox: RunningSandbox,
                                                    make: Any) -> None:
    sim = sandbox.sandbox.mailchimp
    connector = make()
    real = sim.batches._run

    async def lost(batch: Any) -> None:
        await real(batch)
        batch.archive = None  # the link expired before hub fetched it
    sim.batches._run = lost  # type: ignore[method-assign]
    (result,) = connector.write(undecided([next(iter(sim.members.values()))], "Weg"))
    assert result.status == "retry" and "HTTP 404" in (result.reason or "")


def test_too_many_pending_batches_is_waited_for_then_reported(sandbox: RunningSandbox,
                                                               make: Any) -> None:
    # 500 pending batches answer 429: hub's HTTP layer backs off and tries again (the pending
    # ones finish meanwhile), and a 429 that never ends stops this system's run, as any does
    sim = sandbox.sandbox.mailchimp
    sim.batches.limits.max_pending = 0
    connector = make()
    with pytest.raises(UnreachableError, match="429"):
        connector.write(undecided([next(iter(sim.members.values()))], "Voll"))
    assert connector.context.retries > 0 and sim.batches.batches == {}


def test_a_refused_operation_rejects_only_its_record_without_the_address(
        sandbox: RunningSandbox, make: Any) -> None:
    sim = sandbox.sandbox.mailchimp
    first, second = list(sim.members.values())[:2]
    connector = make(merge_fields={"first_name": "NOSUCH"})
    records = [*undecided([first], "X"), OutboundRecord(
        "newsletter:7:k", 7, {"email": second["email_address"]}, external_id=second["id"])]
    broken, fine = connector.write(records)
    assert broken.status == "rejected" and "hub check" in (broken.reason or "")
    assert first["email_address"] not in (broken.reason or "")
    assert fine.status == "updated"


def test_results_are_read_from_gzipped_or_plain_tar() -> None:
    items = [{"status_code": 200, "operation_id": "a", "response": '{"id": "m1"}'},
             {"status_code": 204, "operation_id": "b", "response": ""}]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = json.dumps(items).encode()
        info = tarfile.TarInfo("x/0.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    for archive in (raw.getvalue(), _gzip(raw.getvalue())):
        answers = read_results(archive)
        assert answers["a"].status == 200 and answers["a"].body == {"id": "m1"}
        assert answers["b"].body == {}


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data)


_CHILD = textwrap.dedent("""
    import json, sys
    from hub.connector import ConnectorContext, OutboundRecord
    from hub.secrets import MemoryBackend, Secrets
    from hub_mailchimp import MailchimpConnector, MailchimpSettings
    creds, records = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    settings = MailchimpSettings.model_validate({
        "plugin": "mailchimp", "api_key": {"secret": "k"}, "list_id": creds["list_id"],
        "base_url": creds["base_url"], "batch_poll_seconds": 0.01})
    connector = MailchimpConnector(settings, ConnectorContext(
        name="newsletter", secrets=Secrets(MemoryBackend({"k": creds["api_key"]}),
                                           environ={})))
    connector.write([OutboundRecord(r["key"], r["contact_id"], r["fields"],
                                    external_id=r["external_id"]) for r in records])
""")


@pytest.mark.e2e
def test_a_kill_9_while_a_batch_runs_resumes_without_doubling(sandbox: RunningSandbox,
                                                              make: Any) -> None:
    sim = sandbox.sandbox.mailchimp
    members = [m for m in sim.members.values() if m["status"] != "archived"][:50]
    statuses = {m["id"]: m["status"] for m in members}
    count, mails = len(sim.members), len(sim.confirmation_mails)
    records = undecided(members, "Einmal")
    sim.batches.limits.polls_before_finished = 10**6  # the killed run never sees it finish
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, json.dumps(sandbox.credentials()["mailchimp"]),
         json.dumps([{"key": r.key, "contact_id": r.contact_id, "fields": dict(r.fields),
                      "external_id": r.external_id} for r in records])])
    try:
        started = threading.Event()
        deadline = time.monotonic() + 60
        while not (sim.batches.batches and any(b.polls for b in sim.batches.batches.values())):
            assert child.poll() is None and time.monotonic() < deadline
            started.wait(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    (orphan,) = sim.batches.batches.values()
    assert orphan.status != "finished"
    # the next run sends the same records again (they never left hub's outbox)
    sim.batches.limits.polls_before_finished = 0
    results = make().write(records)
    assert [r.status for r in results] == ["updated"] * len(records)
    assert all(b.status == "finished" for b in sim.batches.batches.values())
    assert all(m["merge_fields"]["FNAME"] == "Einmal" for m in members)
    assert {m["id"]: m["status"] for m in members} == statuses
    assert len(sim.members) == count and len(sim.confirmation_mails) == mails
