"""Shared fixtures: a store on SQLite and on PostgreSQL, a fixed clock, isolated secrets.

PostgreSQL tests use the server at HUB_TEST_POSTGRES_URL (default: the local trust-auth server,
database `test`), each test in a database of its own. Without a reachable server they skip with
the reason, except under CI (CI=true), where a missing server is a failure: CI must test both.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

from hub.store import MIGRATIONS, Store

POSTGRES_URL = os.environ.get("HUB_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
FIXED_NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")


def _postgres_admin_url() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return POSTGRES_URL
    except Exception as exc:  # no server: skip locally, fail in CI
        reason = f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI must run the PostgreSQL tests; .ci/run starts the server)")
        pytest.skip(reason)
    return None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin_url = _postgres_admin_url()
    assert admin_url
    name = f"hub_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store URL, once for SQLite and once for PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated store on each backend."""
    opened = Store.open(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated SQLite store only (for tests that are about logic, not the backend)."""
    opened = Store.open(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        yield opened
    finally:
        opened.close()


@contextmanager
def store_at_revision(url: str, revision: str) -> Iterator[Connection]:
    """A store migrated only up to `revision`, to write rows as an older hub did.

    The connection is open inside the migration's transaction; the store is closed after, so
    the next `Store.open` runs the remaining migrations over those rows.
    """
    from alembic import command
    from alembic.config import Config as AlembicConfig

    old = Store.open(url, migrate=False)
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with old.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
            yield conn
    finally:
        old.close()
