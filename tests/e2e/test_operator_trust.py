"""What lets an operator trust hub, through the real CLI against the simulators:

a plan changes nothing; one writer per store (a second sync waits or exits 4, the scheduler
takes the same lease); a garbled answer is retried and a system that stays broken is
contained (exit 3, the others finish, a summary is printed); a killed run is recorded as
crashed with where it stopped; an unreachable system fails fast naming its connector;
progress lines without a terminal; `hub run` leaves within ``stop_timeout``.

Processes are coordinated through files, locks and the simulators' counters, never sleeps.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, inspect, select, table

from hub.ops.lease import FileLease
from hub.store.schema import consent_ledger, cursors, outbox
from hub_sandbox.app import RunningSandbox, Sandbox
from tests.e2e.conftest import HUB, run_hub, sandbox_config
from tests.e2e.daemon import StoreView, environment, overlapping, start, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with Sandbox(contacts=120, seed=11, rate_scale=100).start() as running:
        yield running


def setup(folder: Path, running: RunningSandbox, *, crm: str = "", extra: str = "") -> dict[str, str]:
    return sandbox_config(folder, running, crm=crm,
                          extra='[consent]\nnewsletter = "newsletter"\n' + extra)


def snapshot(folder: Path) -> dict[str, Any]:
    """Row counts of every table, the ledger head, the cursors and the outbox."""
    engine = create_engine(f"sqlite:///{folder / 'hub.db'}")
    try:
        with engine.connect() as conn:
            counts = {name: conn.execute(select(func.count()).select_from(table(name)))
                      .scalar_one() for name in inspect(engine).get_table_names()}
            head = conn.execute(select(consent_ledger.c.entry_hash)
                                .order_by(consent_ledger.c.id.desc()).limit(1)).scalar()
            cursor_values = sorted(conn.execute(select(cursors.c.connector, cursors.c.stream,
                                                       cursors.c.value)).all())
            pending = sorted(conn.execute(select(outbox.c.id, outbox.c.status,
                                                 outbox.c.payload_hash)).all())
    finally:
        engine.dispose()
    return {"counts": counts, "ledger_head": head, "cursors": cursor_values,
            "outbox": pending}


def writes(running: RunningSandbox) -> int:
    """Requests that change something, over the three simulators."""
    return sum(n for calls in running.stats()["requests"].values()
               for endpoint, n in calls.items()
               if not endpoint.startswith("GET") and "graphql" not in endpoint
               and "search" not in endpoint)


# -- item 1: a plan changes nothing ---------------------------------------------------------
def test_a_plan_changes_nothing_in_the_store_or_the_systems(tmp_path: Path,
                                                            sandbox: RunningSandbox) -> None:
    env = setup(tmp_path, sandbox)
    assert run_hub("status", cwd=tmp_path, env=env).code == 0  # an empty, migrated store
    before = snapshot(tmp_path)
    written = writes(sandbox)
    plan = run_hub("sync", "--plan", "--json", cwd=tmp_path, env=env)
    assert plan.code in (0, 1), plan.stderr
    planned = plan.json()
    assert planned["plan"] is True and planned["contacts"]["created"] > 0
    assert sum(p["create"] + p["update"] for p in planned["planned"].values()) > 0, planned
    assert snapshot(tmp_path) == before  # every table, the ledger head, cursors, outbox
    assert writes(sandbox) == written

    # after a real sync, a plan of a change: reported, still nothing kept
    first = run_hub("sync", "--json", cwd=tmp_path, env=env)
    assert first.code in (0, 1), first.stderr
    # the same numbers the plan promised
    assert first.json()["contacts"]["created"] == planned["contacts"]["created"]
    before = snapshot(tmp_path)
    assert before["ledger_head"] is not None and before["cursors"]
    written = writes(sandbox)
    again = run_hub("sync", "--plan", "--full", "--json", cwd=tmp_path, env=env)
    assert again.code in (0, 1) and again.json()["plan"] is True
    assert snapshot(tmp_path) == before
    assert writes(sandbox) == written


# -- item 2: one writer per store -----------------------------------------------------------
def test_a_second_sync_exits_4_or_waits_and_the_scheduler_takes_the_same_lease(
        tmp_path: Path, sandbox: RunningSandbox) -> None:
    env = setup(tmp_path, sandbox, extra='[schedule.main]\nevery = "1h"\n')
    assert run_hub("status", cwd=tmp_path, env=env).code == 0
    other = FileLease(tmp_path / "hub.db.writer.lease")  # another run holds the store
    assert other.acquire()
    try:
        refused = run_hub("sync", cwd=tmp_path, env=env)
        assert refused.code == 4, refused.stderr
        assert "another run writes to this store" in refused.stderr
        assert "--wait" in refused.stderr
        # waiting: a manual sync with --wait, and `hub run --once`, both wait for the lease
        waiting = [subprocess.Popen([str(HUB), *args], cwd=tmp_path, env=environment(env),
                                    stdout=subprocess.DEVNULL, stderr=log.open("w"), text=True)
                   for args, log in ((["sync", "--wait"], tmp_path / "wait.log"),
                                     (["run", "--once"], tmp_path / "once.log"))]
        wait_for(lambda: "waiting for it to finish" in (tmp_path / "wait.log").read_text()
                 and "waiting for it to finish" in (tmp_path / "once.log").read_text(),
                 what="both to say they wait")
        assert all(p.poll() is None for p in waiting)
    finally:
        other.release()
    codes = [p.wait(timeout=120) for p in waiting]
    assert codes[0] in (0, 1) and codes[1] in (0, 1), codes
    view = StoreView(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        rows = view.runs()
        assert {r.pipeline for r in rows} == {"manual", "main"}
        assert overlapping(rows) == []
    finally:
        view.close()


def test_two_syncs_started_together_take_turns_and_write_once(
        tmp_path: Path, sandbox: RunningSandbox) -> None:
    env = setup(tmp_path, sandbox)
    assert run_hub("status", cwd=tmp_path, env=env).code == 0
    both = [subprocess.Popen([str(HUB), "sync", "--wait", "--json"], cwd=tmp_path,
                             env=environment(env), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=180) for p in both]
    assert [p.returncode for p in both] in ([0, 0], [0, 1], [1, 0], [1, 1]), results
    summaries = sorted((json.loads(out) for out, _ in results), key=lambda s: s["run_id"])
    first, second = summaries
    assert sum(c["created"] for c in first["connectors"].values()) > 0
    # the second ran after the first and found everything written: no doubled writes
    assert all(c["created"] == 0 for c in second["connectors"].values()), second
    view = StoreView(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        assert overlapping(view.runs()) == [] and not view.running()
    finally:
        view.close()


def test_scheduled_pipelines_sharing_a_system_never_run_at_once(
        tmp_path: Path, sandbox: RunningSandbox) -> None:
    env = setup(tmp_path, sandbox, extra="""
[schedule.sales]
every = "1s"
connectors = ["crm", "shop"]
[schedule.marketing]
every = "1s"
connectors = ["shop", "newsletter"]
""")
    view = StoreView(f"sqlite:///{tmp_path / 'hub.db'}")
    daemon = start(tmp_path, env)
    try:
        wait_for(lambda: {r.pipeline for r in view.finished()} == {"sales", "marketing"}
                 and len(view.finished()) >= 4, what="both pipelines to run twice")
    finally:
        assert daemon.terminate() == 0, daemon.log.read_text()
    rows = view.runs()
    view.close()
    assert overlapping(rows) == [], "two pipelines wrote to the store at once"
    assert all(r.status in ("ok", "failed", "interrupted") for r in rows), \
        [(r.pipeline, r.status, r.summary) for r in rows]


# -- item 3: faults contained per system ----------------------------------------------------
def test_garbled_answers_are_retried_and_a_broken_system_is_contained(
        tmp_path: Path, sandbox: RunningSandbox) -> None:
    env = setup(tmp_path, sandbox)
    controls = sandbox.sandbox.controls
    for system in ("hubspot", "shopify", "mailchimp"):  # one at a time: seeded draws
        # seed 1 draws 0.13 first: the system's first answer is cut, whatever ran before
        controls.set_faults(f"{system}.truncate:0.5", seed=1)
        try:
            cut = run_hub("sync", "--full", "--json", cwd=tmp_path, env=env)
        finally:
            controls.set_faults("")
        assert controls.injected[f"{system}.truncate"] > 0, controls.injected
        assert cut.code in (0, 1), cut.stdout + cut.stderr
        assert cut.json()["errors"] == []

    controls.set_faults("mailchimp.truncate:1")  # Mailchimp stays broken for a whole run
    try:
        broken = run_hub("sync", "--full", "--json", cwd=tmp_path, env=env)
        human = run_hub("sync", cwd=tmp_path, env=env)
    finally:
        controls.set_faults("")
    assert broken.code == 3, broken.stderr
    summary = broken.json()
    assert [e["connector"] for e in summary["errors"]] == ["newsletter"]
    assert "malformed answer" in summary["errors"][0]["message"]
    assert summary["connectors"]["crm"]["read"] > 0 and summary["connectors"]["shop"]["read"] > 0
    assert human.code == 3 and "newsletter" in human.stdout + human.stderr
    assert "unexpected error" not in human.stderr
    assert run_hub("sync", "--json", cwd=tmp_path, env=env).json()["errors"] == []


# -- item 4: crash records ------------------------------------------------------------------
def test_a_killed_sync_is_recorded_as_crashed_where_it_stopped(
        tmp_path: Path, sandbox: RunningSandbox) -> None:
    env = setup(tmp_path, sandbox)
    controls = sandbox.sandbox.controls
    controls.timeout_s = 20.0  # Mailchimp holds the request; the test kills hub first
    controls.set_faults("mailchimp.timeout:1")
    process = subprocess.Popen([str(HUB), "sync"], cwd=tmp_path, env=environment(env),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: controls.injected or process.poll() is not None,
                 what="a request held by Mailchimp")
        assert process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        controls.set_faults("")
    left = run_hub("runs", "--json", cwd=tmp_path, env=env).json()
    assert [r["status"] for r in left] == ["running"]  # nobody could tell yet

    after = run_hub("sync", "--json", cwd=tmp_path, env=env)
    assert after.code in (0, 1), after.stderr
    assert after.json()["errors"] == []
    crashed = run_hub("runs", "--json", cwd=tmp_path, env=env).json()[-1]
    assert crashed["status"] == "crashed" and crashed["finished_at"]
    assert "'read newsletter'" in crashed["message"]
    status = run_hub("status", "--json", cwd=tmp_path, env=env).json()
    assert [r["status"] for r in status["runs"]][::-1][0] == "crashed"
    shown = run_hub("runs", cwd=tmp_path, env=env)
    assert "crashed" in shown.stdout and "read newsletter" in shown.stdout


# -- item 9: timeouts, progress lines, stop_timeout -----------------------------------------
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_system_fails_fast_naming_its_connector(
        tmp_path: Path, sandbox: RunningSandbox) -> None:
    env = setup(tmp_path, sandbox, crm="read_timeout_seconds = 0.5")
    config = tmp_path / "config.toml"
    controls = sandbox.sandbox.controls
    controls.timeout_s = 30.0
    controls.set_faults("hubspot.timeout:1")  # HubSpot never answers
    try:
        silent = run_hub("sync", "--json", cwd=tmp_path, env=env)
    finally:
        controls.set_faults("")
    assert silent.code == 3, silent.stderr
    errors = silent.json()["errors"]
    assert [e["connector"] for e in errors] == ["crm"]
    assert "connector 'crm'" in errors[0]["message"]
    assert "read timeout (0.5 s)" in errors[0]["message"]
    assert controls.injected["hubspot.timeout"] == 2  # [hub] unreachable_attempts

    base = sandbox.credentials()["hubspot"]["base_url"]
    config.write_text(config.read_text().replace(base, f"http://127.0.0.1:{closed_port()}"))
    refused = run_hub("sync", cwd=tmp_path, env=env)  # no terminal: progress lines
    assert refused.code == 3
    assert "connector 'crm'" in refused.stdout + refused.stderr
    assert "unreachable" in refused.stdout + refused.stderr
    assert "hub sync: read shop …" in refused.stderr
    assert "hub sync: read shop: done" in refused.stderr


@pytest.mark.parametrize("once", [[], ["--once"]], ids=["daemon", "once"])
def test_hub_run_leaves_within_stop_timeout_when_a_run_is_stuck(
        tmp_path: Path, sandbox: RunningSandbox, once: list[str]) -> None:
    env = setup(tmp_path, sandbox,
                extra='[schedule.main]\nevery = "1s"\n[scheduler]\nstop_timeout = "1s"\n')
    controls = sandbox.sandbox.controls
    controls.timeout_s = 60.0
    controls.set_faults("hubspot.timeout:1")
    log = tmp_path / "run.log"
    daemon = subprocess.Popen([str(HUB), "run", *once], cwd=tmp_path, env=environment(env),
                              stdout=subprocess.DEVNULL, stderr=log.open("w"))
    try:
        wait_for(lambda: controls.injected or daemon.poll() is not None,
                 what="the scheduled run to be stuck in a HubSpot request")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0  # HubSpot would hold the request for 60 s
    finally:
        controls.set_faults("")
        if daemon.poll() is None:
            daemon.kill()
    assert "stop_timeout" in log.read_text()
    assert run_hub("sync", "--json", cwd=tmp_path, env=env).code in (0, 1)
    statuses = [r["status"] for r in run_hub("runs", "--json", cwd=tmp_path, env=env).json()]
    assert "crashed" in statuses and "running" not in statuses
