"""Bulk writes for the hot paths (a million source records in one import).

On PostgreSQL, batches go by COPY (into the table, or into a scratch table that one
UPDATE or INSERT … ON CONFLICT applies); on SQLite, where a statement costs no round trip,
by executemany.

SQLAlchemy Core is used everywhere else; here its per-row parameter processing and its
one-statement-per-row fallback for INSERT … RETURNING on SQLite cost more than the work
itself. So ids are reserved up front (`reserve_ids`) and rows go to the driver's
`executemany` directly, with values converted the way the column types would have:
JSON as text (a `Json` value is already serialised and passes through untouched, so a
record is serialised once for both its content hash and its row), datetimes as SQLite's
text form or native for PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

import orjson
from sqlalchemy import JSON, Connection, Index, Table, func, select, text

from hub.store.types import UtcDateTime

T = TypeVar("T")
CHUNK = 900  # stays under SQLite's bound-parameter limit with room to spare


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """Fixed-size slices, for IN lists that must stay under the driver's parameter limit."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def within(column: Any, part: Sequence[int]) -> Any:
    """A condition that holds for every id of `part` (sorted): `IN` the list, or a range.

    A dense slice of ids (a first import's contacts) reads as `BETWEEN` its ends: one index
    range instead of a list of parameters compiled into each statement. The range may hold
    ids outside `part`, so the caller keeps only the rows it asked for; at most one in nine
    rows read is such a stranger, since each row read is decoded (JSON columns) before it can
    be dropped, and scattered ids (the two ends of candidate pairs) read more than they saved.
    """
    if part and part[-1] - part[0] < len(part) + len(part) // 8:
        return column.between(part[0], part[-1])
    return column.in_(part)


class Json(str):
    """A value already serialised to JSON text; written as is."""

    __slots__ = ()


#: orjson writes the same text as ``json.dumps(separators=(",", ":"), ensure_ascii=False,
#: default=str)`` for what records hold, several times faster; a million-record import
#: serialises every record and golden contact at least once.
_ORJSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def _text(value: Any, *, sort_keys: bool) -> str:
    try:
        return orjson.dumps(value, default=str, option=_ORJSON | (
            orjson.OPT_SORT_KEYS if sort_keys else 0)).decode()
    except (TypeError, orjson.JSONEncodeError):
        # what orjson refuses (an integer past 64 bits) keeps the standard library's text;
        # a NaN becomes null, which PostgreSQL's json accepts and NaN it would not
        return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), default=str,
                          ensure_ascii=False)


def dumps(value: Any) -> Json:
    """Serialise once, canonically (sorted keys), for storage and hashing alike."""
    return Json(_text(value, sort_keys=True))


def json_text(value: Any) -> str:
    """The store engine's JSON serialiser (Core writes): orjson, keys in the given order.

    Unlike `dumps`, keys are not sorted: a run summary keeps the order it is documented in.
    """
    return _text(value, sort_keys=False)


def _converters(conn: Connection, table: Table, columns: Sequence[str]) -> list[Any]:
    sqlite = conn.dialect.name == "sqlite"
    result: list[Any] = []
    for name in columns:
        kind = table.c[name].type
        if isinstance(kind, JSON):
            result.append(_json)
        elif isinstance(kind, UtcDateTime) and sqlite:
            result.append(_sqlite_time)
        else:
            result.append(None)
    return result


def _json(value: Any) -> Any:
    if value is None or isinstance(value, Json):
        return value
    return dumps(value)


@lru_cache(maxsize=4096)  # most rows of a page share their seen_at and often updated_at
def _sqlite_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def placeholder(conn: Connection) -> str:
    """The driver's parameter mark, for statements run by the million through the driver."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _convert(rows: Sequence[Sequence[Any]], converters: list[Any]) -> list[tuple[Any, ...]]:
    active = [(i, c) for i, c in enumerate(converters) if c is not None]
    if not active:
        return [tuple(r) for r in rows]
    out = []
    for row in rows:
        values = list(row)
        for i, convert in active:
            values[i] = convert(values[i])
        out.append(tuple(values))
    return out


#: Below this many rows a plain executemany costs less than COPY and a scratch table.
COPY_FROM = 64


def _copy(conn: Connection, target: str, columns: Sequence[str],
          rows: Sequence[Sequence[Any]]) -> None:
    """Stream `rows` into `target` with PostgreSQL's COPY (one round trip, no statements)."""
    with driver_cursor(conn) as cursor, cursor.copy(
            f"COPY {target} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


@contextmanager
def driver_cursor(conn: Connection) -> Iterator[Any]:
    """The driver's own cursor on `conn`, closed after the block.

    For statements run by the million, where fetching through the engine's result costs
    more than the statement (the row-digest lookup of a re-read file), and for COPY.
    """
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cursor
    finally:
        cursor.close()


def _scratch(conn: Connection, table: Table, columns: Sequence[str],
             rows: Sequence[Sequence[Any]]) -> str:
    """A temporary table with `columns` of `table`, filled with `rows` by COPY; its name.

    Dropped at commit, so a run that dies leaves nothing behind.
    """
    name = f"hub_scratch_{table.name}"
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {name} ON COMMIT DROP AS "
                         f"SELECT {', '.join(columns)} FROM {table.name} WITH NO DATA")
    _copy(conn, name, columns, rows)
    return name


def insert_rows(conn: Connection, table: Table, columns: Sequence[str],
                rows: Sequence[Sequence[Any]]) -> None:
    """INSERT many rows (tuples in `columns` order): COPY on PostgreSQL, else executemany."""
    if not rows:
        return
    values = _convert(rows, _converters(conn, table, columns))
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_FROM:
        _copy(conn, table.name, columns, values)
        return
    mark = placeholder(conn)
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
           f"VALUES ({', '.join([mark] * len(columns))})")
    conn.exec_driver_sql(sql, values)


def update_rows(conn: Connection, table: Table, columns: Sequence[str], key: str,
                rows: Sequence[Sequence[Any]]) -> None:
    """UPDATE many rows by `key`: each row is the new `columns` values followed by the key.

    PostgreSQL: the rows are copied into a scratch table and applied in one UPDATE … FROM.
    """
    if not rows:
        return
    values = _convert(rows, [*_converters(conn, table, columns), None])
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_FROM:
        scratch = _scratch(conn, table, [*columns, key], values)
        conn.exec_driver_sql(
            f"UPDATE {table.name} SET {', '.join(f'{c} = s.{c}' for c in columns)} "
            f"FROM {scratch} s WHERE {table.name}.{key} = s.{key}")
        conn.exec_driver_sql(f"DROP TABLE {scratch}")
        return
    mark = placeholder(conn)
    sql = (f"UPDATE {table.name} SET {', '.join(f'{c} = {mark}' for c in columns)} "
           f"WHERE {key} = {mark}")
    conn.exec_driver_sql(sql, values)


def delete_rows(conn: Connection, table: Table, columns: Sequence[str],
                rows: Sequence[Sequence[Any]]) -> None:
    """DELETE the rows whose `columns` (a key) hold each row's values.

    PostgreSQL: the keys are copied into a scratch table and deleted in one DELETE … USING.
    """
    if not rows:
        return
    values = _convert(rows, _converters(conn, table, columns))
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_FROM:
        scratch = _scratch(conn, table, columns, values)
        conn.exec_driver_sql(
            f"DELETE FROM {table.name} USING {scratch} s WHERE "
            + " AND ".join(f"{table.name}.{c} = s.{c}" for c in columns))
        conn.exec_driver_sql(f"DROP TABLE {scratch}")
        return
    mark = placeholder(conn)
    conn.exec_driver_sql(f"DELETE FROM {table.name} WHERE "
                         + " AND ".join(f"{c} = {mark}" for c in columns), values)


def upsert_rows(conn: Connection, table: Table, columns: Sequence[str], keys: Sequence[str],
                rows: Sequence[Sequence[Any]]) -> None:
    """INSERT many rows, updating the other columns where `keys` exist (all keys: kept).

    ``ON CONFLICT … DO UPDATE`` reads the same on SQLite (3.24+) and PostgreSQL; on
    PostgreSQL the rows arrive by COPY into a scratch table first. Each key once per call.
    """
    if not rows:
        return
    values = _convert(rows, _converters(conn, table, columns))
    updated = [c for c in columns if c not in keys]
    conflict = (f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
                + ", ".join(f"{c} = excluded.{c}" for c in updated)) if updated \
        else f"ON CONFLICT ({', '.join(keys)}) DO NOTHING"
    listed = ", ".join(columns)
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_FROM:
        scratch = _scratch(conn, table, columns, values)
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({listed}) SELECT {listed} "
                             f"FROM {scratch} {conflict}")
        conn.exec_driver_sql(f"DROP TABLE {scratch}")
        return
    mark = placeholder(conn)
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({listed}) "
                         f"VALUES ({', '.join([mark] * len(columns))}) {conflict}", values)


def reserve_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """`count` fresh primary keys for `table`, safe against concurrent writers.

    SQLite: the write transaction holds the database lock, so max(id)+1… is ours.
    PostgreSQL: taken from the table's sequence, which other sessions never hand out twice.
    """
    if count <= 0:
        return []
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text(
            f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
            "FROM generate_series(1, :n)"), {"n": count})
        return [int(r[0]) for r in rows]
    if conn.dialect.name == "sqlite":
        # take the write lock now, so the max we read is still the max when we insert
        conn.exec_driver_sql(f"UPDATE {table.name} SET id = id WHERE 0")
    start = int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one())
    return list(range(start + 1, start + 1 + count))


@contextmanager
def indexes_built_after(conn: Connection, indexes: Sequence[Index]) -> Iterator[None]:
    """Drop `indexes` for the writes of the block, and build them again after it.

    For a write that changes most rows of a table whose indexes hold random keys (e-mail
    addresses, names): rebuilding an index sorts it once, where updating it in place reads
    and rewrites a random page per row. In the caller's transaction (DDL included): when the
    block fails, the rollback brings the indexes back. Use it only where no statement of the
    block looks rows up by these indexes.
    """
    for index in indexes:
        index.drop(conn)
    yield
    for index in indexes:
        index.create(conn)


class EmptyTableLoad:
    """Fill an empty table with many rows, and build its indexes once, at the end.

    A B-tree fed keys in random order (hashes, e-mail addresses) touches a random page per
    row: once the index outgrows the page cache, nearly every row reads a page and later
    writes it back. An index built once from sorted keys writes each page once. The 8.7
    million match keys of a million-record import, written alone: 33.6 s row by row and
    26.5 s so on SQLite; 47.1 s and 12.7 s on PostgreSQL.

    - PostgreSQL: the primary key and indexes are dropped, the rows COPYed into the bare
      table, and the key and indexes added again (each a sorted build).
    - SQLite cannot drop a primary key: the rows go to an unindexed temporary table, then
      into the table in key order, with its other indexes dropped before and built after.

    Everything happens in the caller's transaction, DDL included (both stores' DDL is
    transactional): a run that dies leaves the table as it was, indexes and all. Use it only
    on a table no other statement of the transaction reads before `finish`.
    """

    def __init__(self, conn: Connection, table: Table, columns: Sequence[str]) -> None:
        self.conn = conn
        self.table = table
        self.columns = tuple(columns)
        self.postgresql = conn.dialect.name == "postgresql"
        self.indexes = sorted(table.indexes, key=lambda index: str(index.name))
        self.staging = f"hub_load_{table.name}"
        for index in self.indexes:
            index.drop(conn)
        if self.postgresql:
            conn.exec_driver_sql(
                f"ALTER TABLE {table.name} DROP CONSTRAINT {table.primary_key.name}")
        else:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{self.staging}")
            conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {self.staging} "
                                 f"({', '.join(self.columns)})")

    def add(self, rows: Sequence[Sequence[Any]]) -> None:
        """Rows in `columns` order, in any order of keys."""
        if not rows:
            return
        values = _convert(rows, _converters(self.conn, self.table, self.columns))
        if self.postgresql:
            _copy(self.conn, self.table.name, self.columns, values)
            return
        marks = ", ".join(["?"] * len(self.columns))
        self.conn.exec_driver_sql(f"INSERT INTO temp.{self.staging} VALUES ({marks})", values)

    def finish(self) -> None:
        """Put the key and indexes back (PostgreSQL) or move the rows in, in key order."""
        table, listed = self.table.name, ", ".join(self.columns)
        key = ", ".join(c.name for c in self.table.primary_key.columns)
        if self.postgresql:
            self.conn.exec_driver_sql(f"ALTER TABLE {table} ADD CONSTRAINT "
                                      f"{self.table.primary_key.name} PRIMARY KEY ({key})")
        else:
            self.conn.exec_driver_sql(f"INSERT INTO {table} ({listed}) SELECT {listed} "
                                      f"FROM temp.{self.staging} ORDER BY {key}")
            self.conn.exec_driver_sql(f"DROP TABLE temp.{self.staging}")
        for index in self.indexes:
            index.create(self.conn)
