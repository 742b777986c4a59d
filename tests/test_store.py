"""The store: migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from hub.store import MIGRATIONS, Store
from hub.store.schema import metadata


def test_migrations_match_the_declared_schema(store: Store) -> None:
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


#: Lookups a run makes once per contact or per record: each must be an index search, since
#: a scan per lookup is quadratic in the store (a first sync of 100,000 contacts to a
#: writable connector once spent its time scanning the outbox for each contact).
PER_ROW_LOOKUPS = {
    "DELETE FROM outbox WHERE connector = 'crm' AND status = 'pending' AND contact_id = 5":
        "ix_outbox_contact_id",
    "SELECT connector FROM sync_state WHERE contact_id = 5": "ix_sync_state_contact_id",
    "SELECT contact_id FROM sync_state WHERE external_id IN ('a', 'b')":
        "ix_sync_state_external_id",
    "SELECT contact_id FROM consent_ledger WHERE contact_id IN (1, 2) AND kind LIKE 'd%'":
        "ix_consent_ledger_contact_id",
    "SELECT id FROM source_records WHERE contact_id = 5": "ix_source_records_contact_id",
    "SELECT contact_id FROM consent_pending WHERE contact_id = 5": "pk_consent_pending",
}


def test_lookups_made_per_contact_or_record_search_an_index(sqlite_store: Store) -> None:
    with sqlite_store.engine.connect() as conn:
        for statement, index in PER_ROW_LOOKUPS.items():
            plan = " ".join(row[3] for row in conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}"))
            assert "SEARCH" in plan and (index in plan or "PRIMARY KEY" in plan), \
                (statement, plan)


def test_opening_twice_is_a_no_op(store: Store) -> None:
    store.migrate()
    with store.engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    head = ScriptDirectory(str(MIGRATIONS))
    assert version == head.get_current_head()


def test_a_scheduled_job_stored_before_the_layout_change_still_runs(store_url: str) -> None:
    """Migration 0006: a job APScheduler pickled with the old function path keeps its slot."""
    import pickle
    from datetime import UTC

    from apscheduler.job import Job
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.interval import IntervalTrigger
    from sqlalchemy import insert

    from hub.ops.scheduler import JOB_FUNC, scheduled_run
    from hub.store.schema import scheduler_jobs
    from tests.conftest import FIXED_NOW, store_at_revision

    scheduler = BackgroundScheduler(timezone=UTC)  # never started: it only lends its zone
    job = Job(scheduler, id="main", func=JOB_FUNC, args=["main"], kwargs={}, name="main",
              trigger=IntervalTrigger(minutes=15, start_date=FIXED_NOW), executor="default",
              misfire_grace_time=60, coalesce=True, max_instances=1, next_run_time=FIXED_NOW)
    state = {**job.__getstate__(), "func": "hub.scheduler:scheduled_run"}
    with store_at_revision(store_url, "0005") as conn:
        conn.execute(insert(scheduler_jobs).values(
            id="main", next_run_time=FIXED_NOW.timestamp(),
            job_state=pickle.dumps(state, pickle.HIGHEST_PROTOCOL)))
        conn.execute(insert(scheduler_jobs).values(  # unreadable: must not stop the upgrade
            id="broken", next_run_time=FIXED_NOW.timestamp(), job_state=b"not a pickle"))
    store = Store.open(store_url)
    try:
        jobs = SQLAlchemyJobStore(engine=store.engine, tablename="scheduler_jobs")
        jobs.start(scheduler, "default")
        (restored,) = jobs.get_all_jobs()
        assert restored.func is scheduled_run and list(restored.args) == ["main"]
        assert restored.next_run_time == FIXED_NOW
    finally:
        store.close()


def test_datetimes_read_back_aware_utc_however_they_were_written(store: Store) -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from sqlalchemy import insert, select

    from hub.store.bulk import insert_rows
    from hub.store.schema import cursors

    moment = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    written = {"naive": moment.replace(tzinfo=None),
               "berlin": moment.astimezone(timezone(timedelta(hours=1))),
               "utc": moment}
    with store.begin() as conn:
        conn.execute(insert(cursors), [{"connector": name, "stream": "core", "value": None,
                                        "updated_at": at} for name, at in written.items()])
        insert_rows(conn, cursors, ("connector", "stream", "value", "updated_at"),
                    [("bulk", "core", None, moment)])
    with store.begin() as conn:
        read = dict(conn.execute(select(cursors.c.connector, cursors.c.updated_at)).all())
        if store.dialect == "sqlite":  # the text form existing databases hold, unchanged
            stored = conn.exec_driver_sql("SELECT DISTINCT updated_at FROM cursors").scalars()
            assert list(stored) == ["2026-11-01 09:00:00.000000"]
    assert read == dict.fromkeys([*written, "bulk"], moment)
    assert all(at.tzinfo is UTC for at in read.values())


def test_new_revisions_spell_the_utc_type_as_a_plain_column() -> None:
    """Autogenerate must not make a migration import hub's own column type."""
    from hub.store.types import UtcDateTime, render_item

    assert render_item("type", UtcDateTime(), None) == "sa.DateTime(timezone=True)"
    assert render_item("type", object(), None) is False
