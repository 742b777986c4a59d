"""The store: migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import hub.store
from hub.store import Store
from hub.store.schema import metadata


def test_migrations_match_the_declared_schema(store: Store) -> None:
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_opening_twice_is_a_no_op(store: Store) -> None:
    store.migrate()
    with store.engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    head = ScriptDirectory(str(Path(hub.store.__file__).parent.parent / "migrations"))
    assert version == head.get_current_head()


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
