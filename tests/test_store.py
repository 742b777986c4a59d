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


def test_opening_twice_is_a_no_op(store: Store) -> None:
    store.migrate()
    with store.engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    head = ScriptDirectory(str(MIGRATIONS))
    assert version == head.get_current_head()
