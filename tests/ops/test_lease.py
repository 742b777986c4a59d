"""Pipeline leases: exclusive while held, free once the holder lets go or dies; one run per
slot; one writer per store; runs whose process died are marked crashed, with where and when
they stopped, by whoever holds the writer lease next."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, update

from hub.ops import lease
from hub.store import Store
from hub.store.schema import pipelines, runs
from tests.conftest import FIXED_NOW


def test_a_lease_is_exclusive_until_released(store: Store) -> None:
    first = lease.open_lease(store, "main")
    second = lease.open_lease(store, "main")
    other = lease.open_lease(store, "nightly")
    assert first.acquire() and first.alive()
    assert not second.acquire()
    assert other.acquire()  # pipelines are independent
    first.release()
    assert not first.alive()
    assert second.acquire()
    second.release()
    other.release()
    first.release()  # idempotent


def test_a_dead_holder_frees_the_lease(store: Store, tmp_path: Path) -> None:
    """A process that holds the lease and is killed -9: the lease is free at once."""
    script = tmp_path / "holder.py"
    script.write_text(
        "import sys\n"
        "from hub.ops import lease\nfrom hub.store import Store\n"
        "held = lease.open_lease(Store.open(sys.argv[1], migrate=False), 'main')\n"
        "assert held.acquire()\nprint('held', flush=True)\nsys.stdin.read()\n")
    url = store.engine.url.render_as_string(hide_password=False)
    holder = subprocess.Popen([sys.executable, str(script), url], stdout=subprocess.PIPE,
                              stdin=subprocess.PIPE, text=True, cwd=Path.cwd())
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        mine = lease.open_lease(store, "main")
        assert not mine.acquire()
    finally:
        holder.kill()
        holder.wait(timeout=30)
    # PostgreSQL ends the session when the socket closes; poll until the server noticed
    from tests.e2e.daemon import wait_for

    assert wait_for(mine.acquire, timeout=30, what="the lease of a killed holder")
    mine.release()


def test_a_slot_is_claimed_once(store: Store) -> None:
    slot = FIXED_NOW
    with store.begin() as conn:
        assert lease.claim_slot(conn, "main", slot, node="a:1", now=FIXED_NOW)
        assert not lease.claim_slot(conn, "main", slot, node="b:2", now=FIXED_NOW)
        assert not lease.claim_slot(conn, "main", slot - timedelta(minutes=15), node="b:2",
                                    now=FIXED_NOW)
        assert lease.claim_slot(conn, "main", slot + timedelta(minutes=15), node="b:2",
                                now=FIXED_NOW)
        row = conn.execute(select(pipelines)).one()
    assert row.holder == "b:2"
    with store.begin() as conn:
        lease.let_go(conn, "main")
        assert conn.execute(select(pipelines.c.holder)).scalar() is None


def test_runs_left_running_are_marked_crashed_with_where_and_when(store: Store) -> None:
    with store.begin() as conn:
        for pipeline, status in (("main", "running"), ("main", "ok"), ("manual", "running")):
            conn.execute(insert(runs).values(pipeline=pipeline, trigger="schedule",
                                             status=status, node="dead:9",
                                             started_at=datetime(2026, 1, 1, tzinfo=UTC)))
        conn.execute(update(runs).where(runs.c.id == 1).values(summary={
            "stage": "push crm", "alive_at": "2026-01-01T00:05:00Z", "records": 300}))
        assert lease.marked_running(conn, "main")
        told = lease.mark_crashed(conn, by="node alive:1", now=FIXED_NOW)
        assert [t["run_id"] for t in told] == [1, 3]
        assert not lease.marked_running(conn, "main") and not lease.marked_running(conn, "manual")
        dead = conn.execute(select(runs).where(runs.c.id == 1)).one()
        untouched = conn.execute(select(runs).where(runs.c.id == 2)).one()
    assert dead.status == "crashed" and dead.exit_code is None
    assert dead.finished_at.replace(tzinfo=UTC) == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    assert dead.summary["stopped_in"] == "push crm"
    message = dead.summary["message"]
    assert "dead:9" in message and "alive:1" in message and "300 records" in message
    assert told[0]["status"] == "crashed" and told[0]["errors"][0]["message"] == message
    assert told[1]["stopped_in"] == "starting"  # died before its first checkpoint
    assert untouched.status == "ok"


def test_one_writer_per_store(store: Store) -> None:
    first = lease.writer_lease(store)
    second = lease.writer_lease(store)
    assert first.acquire()
    assert not second.acquire()
    assert lease.open_lease(store, "main").acquire()  # pipeline leases are separate locks
    first.release()
    assert second.acquire()
    second.release()


def test_lock_keys_are_stable_and_distinct() -> None:
    assert lease.lock_key("main") == lease.lock_key("main")
    assert lease.lock_key("main") != lease.lock_key("nightly")
    assert -(2**63) <= lease.lock_key("main") < 2**63
