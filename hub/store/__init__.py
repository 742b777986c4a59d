"""The store: SQLite (WAL) by default, PostgreSQL for several nodes, same code for both.

`Store.open(url)` connects and brings the schema to the newest Alembic revision, so a user
never runs migrations by hand and an upgraded hub migrates its own database on first use.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from hub.errors import StoreError
from hub.store import bulk, schema

__all__ = ["Store", "analyze", "schema", "upsert"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK = 0x6875622D6D6967  # "hub-mig": a fixed advisory-lock key for migrations


class Store:
    """A connection pool to the store plus transactions; one per process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql': the engine uses it to pick upsert syntax."""
        return self.engine.dialect.name

    @classmethod
    def open(cls, url: str, *, base_dir: Path | None = None, migrate: bool = True) -> Store:
        """Connect to `url` (relative SQLite paths against `base_dir`) and migrate to head."""
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise StoreError(f"[hub] store = {url!r} is not a database URL; use "
                             "sqlite:///hub.db or postgresql+psycopg://user@host/db") from None
        kwargs: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:" and not Path(database).is_absolute():
                parsed = parsed.set(database=str((base_dir or Path.cwd()) / database))
            kwargs["connect_args"] = {"timeout": 30}
        elif parsed.get_backend_name() == "postgresql":
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            kwargs["pool_pre_ping"] = True
            # no server-side prepared statements: psycopg prepares a statement run five
            # times, and PostgreSQL may then keep a generic plan made while a table was
            # nearly empty; during a first import the page lookup by (connector, external
            # id) kept a sequential scan and took seconds a page, growing with the table
            kwargs["connect_args"] = {"prepare_threshold": None}
        else:
            raise StoreError(f"[hub] store: unsupported database {parsed.get_backend_name()!r}; "
                             "use sqlite:///… or postgresql+psycopg://…")
        # hide_parameters: a failed statement's message (logged, shown) never quotes a row
        # JSON columns through orjson both ways: golden records, source fields and lead rows
        # are read and written by the million in an import
        engine = create_engine(parsed, hide_parameters=True, json_serializer=bulk.json_text,
                               json_deserializer=orjson.loads, **kwargs)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        store = cls(engine)
        if migrate:
            store.migrate()
        return store

    def migrate(self) -> None:
        """Bring the schema to the newest revision (no-op when it is there already)."""
        from alembic import command
        from alembic.config import Config as AlembicConfig

        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    # several nodes starting at once against a new database: one migrates,
                    # the others wait for its commit and find the schema at head
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except OperationalError as exc:
            raise StoreError(f"cannot open the store {self.engine.url.render_as_string()}: "
                             f"{exc.orig}") from None

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back on an exception."""
        with self.engine.begin() as conn:
            yield conn

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    @contextmanager
    def rehearsal(self) -> Iterator[Store]:
        """A store that starts as this one and whose every write is thrown away at the end.

        `hub sync --plan` runs the real stages against it, so what it reports is what a sync
        would do, while the store, the consent ledger, the cursors and the outbox stay exactly
        as they were. PostgreSQL: one transaction, each `begin()` a savepoint inside it, rolled
        back as a whole. SQLite: a private copy of the database (the backup API copies it
        consistently while others read), deleted afterwards; its driver cannot nest
        transactions reliably, and a copy holds no lock that would block a real sync.
        """
        if self.dialect == "postgresql":
            with self.engine.connect() as conn:
                outer = conn.begin()
                try:
                    yield _Rehearsal(self.engine, conn)
                finally:
                    outer.rollback()
            return
        database = self.engine.url.database or ""
        beside = Path(database).parent if database and database != ":memory:" else None
        # next to the database: the same disk, which has room for the database already
        with tempfile.TemporaryDirectory(prefix=".hub-plan-", dir=beside) as folder:
            copy = Path(folder) / "plan.db"
            raw = self.engine.raw_connection()
            try:
                target = sqlite3.connect(copy)
                try:
                    raw.driver_connection.backup(target)  # type: ignore[union-attr]
                finally:
                    target.close()
            finally:
                raw.close()
            scratch = Store.open(f"sqlite:///{copy}", migrate=False)
            try:
                yield scratch
            finally:
                scratch.close()


class _Rehearsal(Store):
    """A store on one connection whose transactions are savepoints of an outer one."""

    def __init__(self, engine: Engine, conn: Connection) -> None:
        super().__init__(engine)
        self._conn = conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A savepoint: undone on an exception, kept until the outer rollback otherwise."""
        with self._conn.begin_nested():
            yield self._conn

    def close(self) -> None:
        """The connection belongs to `Store.rehearsal`, which closes it."""


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets `hub status` read while a sync writes; NORMAL sync is safe with WAL.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")
    # a checkpoint copies the log into the database and syncs it; at the default (1,000
    # pages) a large import paid for one every few pages it committed, and rewrote the
    # same index pages each time. 16,384 pages (64 MB of log) between checkpoints.
    cursor.execute("PRAGMA wal_autocheckpoint=16384")
    cursor.close()


#: Rows changed in a run from which PostgreSQL's statistics are refreshed before the
#: next stage reads them.
ANALYZE_FROM = 10_000


def analyze(conn: Connection, tables: Sequence[str]) -> None:
    """Refresh PostgreSQL's planner statistics of `tables` (SQLite: nothing to do).

    After a large import the statistics still describe the tables as they were (empty, on a
    first import), autovacuum catches up only later, and the planner picks sequential scans
    for the next stage's lookups by contact or record id: the lifecycle of a 200,000-row first
    import spent most of its time there.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {', '.join(tables)}")


def upsert(conn: Connection, table: Any, rows: list[dict[str, Any]], keys: tuple[str, ...]) -> None:
    """Insert `rows`, updating the non-key columns where `keys` already exist (both dialects)."""
    if not rows:
        return
    from sqlalchemy.dialects import postgresql, sqlite

    statement: Any = (postgresql.insert(table) if conn.dialect.name == "postgresql"
                      else sqlite.insert(table))
    columns = [c for c in rows[0] if c not in keys]
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={c: statement.excluded[c] for c in columns},
    )
    conn.execute(statement, rows)
