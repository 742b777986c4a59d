"""The sync engine end to end on both store backends, with the CSV connector."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.errors import ConnectorError, StoreBusy
from hub.ops import lease
from hub.pipeline import engine
from hub.pipeline.engine import SyncOptions
from hub.registry import load_plugins
from hub.runtime import Runtime
from hub.store.schema import contacts, cursors, metadata, runs, source_records
from tests.conftest import FIXED_NOW

DEMO = Path(__file__).resolve().parents[2] / "hub" / "demo"


def runtime_for(tmp_path: Path, store_url: str) -> Runtime:
    folder = tmp_path / "demo"
    shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns("hub.db*", "out"))
    config = folder / "config.toml"
    config.write_text(config.read_text().replace('store = "sqlite:///hub.db"',
                                                 f'store = "{store_url}"'))
    return Runtime.load(config, plugins=load_plugins(["csv"]), clock=lambda: FIXED_NOW)


def sync(runtime: Runtime, options: SyncOptions) -> dict[str, Any]:
    """The summary in the form `hub sync --json` prints, which is what these tests check."""
    return engine.sync(runtime, options).as_dict()


def count(runtime: Runtime, table: Any, *where: Any) -> int:
    with runtime.store.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def test_sync_is_complete_and_idempotent(tmp_path: Path, store_url: str) -> None:
    runtime = runtime_for(tmp_path, store_url)
    first = sync(runtime, SyncOptions())
    assert first["contacts"]["total"] == 40 and first["exit_code"] == 1
    assert count(runtime, source_records) == 28 + 25 + 21  # minus the two broken rows
    second = sync(runtime, SyncOptions())
    assert second["exit_code"] == 0 and second["contacts"]["updated"] == 0
    full = sync(runtime, SyncOptions(full=True))
    assert full["contacts"]["created"] == 0 and full["contacts"]["total"] == 40
    assert full["contacts"]["updated"] == 0 and full["connectors"]["export"]["updated"] == 0
    assert all(c["read"] - c["skipped_unchanged"] <= c["rejected"]  # only the invalid e-mail
               for n, c in full["connectors"].items() if n != "export")
    runtime.store.close()


def test_changed_email_updates_the_contact_instead_of_duplicating(tmp_path: Path,
                                                                  store_url: str) -> None:
    runtime = runtime_for(tmp_path, store_url)
    sync(runtime, SyncOptions())
    shop = runtime.config.base_dir / "data" / "shop_customers.csv"
    shop.write_text(shop.read_text(encoding="utf-8").replace(
        "jakob.privat@example.com", "jakob.neu@example.com"), encoding="utf-8")
    summary = sync(runtime, SyncOptions())
    assert summary["contacts"]["total"] == 40 and summary["contacts"]["created"] == 0
    with runtime.store.begin() as conn:
        owner = conn.execute(select(source_records.c.contact_id).where(
            source_records.c.external_id == "7100000021")).scalar_one()
        emails = conn.execute(select(contacts.c.fields).where(contacts.c.id == owner)
                              ).scalar_one()["emails"]
    assert "jakob.neu@example.com" in emails
    runtime.store.close()


class Crash(Exception):
    """Stands in for the process dying mid-read."""


def test_a_crash_mid_read_resumes_from_the_last_committed_page(tmp_path: Path,
                                                               store_url: str) -> None:
    runtime = runtime_for(tmp_path, store_url)
    shop_type = runtime.plugins.connector_types["csv"]
    original_read = shop_type.read

    def crashing_read(self: Any, stream: str, cursor: str | None) -> Iterator[Any]:
        for n, page in enumerate(original_read(self, stream, cursor)):
            if self.name == "shop" and n == 1:
                raise ConnectorError("simulated crash")
            yield page

    shop_type.page_size = 10
    try:
        shop_type.read = crashing_read  # type: ignore[method-assign]
        crashed = sync(runtime, SyncOptions())
        assert crashed["errors"] and crashed["connectors"]["shop"]["read"] == 10
        with runtime.store.begin() as conn:
            assert conn.execute(select(cursors.c.value).where(
                cursors.c.connector == "shop")).scalar() is not None
        shop_type.read = original_read  # type: ignore[method-assign]
        resumed = sync(runtime, SyncOptions())
        assert resumed["connectors"]["shop"]["read"] == 15  # only what was not committed
        assert resumed["contacts"]["total"] == 40
        assert count(runtime, source_records, source_records.c.connector == "shop") == 25
    finally:
        shop_type.read = original_read  # type: ignore[method-assign]
        shop_type.page_size = 5000
        runtime.store.close()


def table_counts(runtime: Runtime) -> dict[str, int]:
    with runtime.store.begin() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in metadata.sorted_tables}


def test_a_plan_is_thrown_away_then_the_sync_does_what_it_showed(tmp_path: Path,
                                                                  store_url: str) -> None:
    runtime = runtime_for(tmp_path, store_url)
    before = table_counts(runtime)
    planned = sync(runtime, SyncOptions(plan=True))
    assert planned["planned"]["export"]["create"] == 40 and planned["contacts"]["created"] == 40
    export = runtime.config.base_dir / "out" / "contacts.csv"
    assert not export.exists()
    assert table_counts(runtime) == before  # not even its own run row is kept
    done = sync(runtime, SyncOptions())
    assert done["connectors"]["export"]["created"] == 40 and export.exists()
    assert done["contacts"]["created"] == planned["contacts"]["created"]
    runtime.store.close()


def test_a_sync_refuses_or_waits_while_another_run_writes(tmp_path: Path,
                                                          store_url: str) -> None:
    runtime = runtime_for(tmp_path, store_url)
    other = lease.writer_lease(runtime.store)
    assert other.acquire()
    try:
        with pytest.raises(StoreBusy) as refused:
            sync(runtime, SyncOptions())
        assert refused.value.exit_code == 4 and "--wait" in str(refused.value)
        told: list[str] = []
        stop = threading.Event()

        def release_when_told(line: str) -> None:
            told.append(line)
            other.release()

        waited = sync(runtime, SyncOptions(wait=True, on_wait=release_when_told, stop=stop))
        assert waited["status"] in ("ok", "failed") and len(told) == 1
        assert "waiting" in told[0]
    finally:
        other.release()
    assert count(runtime, runs) == 1  # the refused one never started
    runtime.store.close()


@pytest.mark.parametrize("bad", ["crm"])
def test_unknown_connector_subset_is_a_config_error(tmp_path: Path, bad: str) -> None:
    from hub.errors import ConfigError

    runtime = runtime_for(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}")
    with pytest.raises(ConfigError, match="no connector named 'crm'"):
        sync(runtime, SyncOptions(connectors=[bad]))


def test_a_full_sweep_reports_records_that_vanished_from_a_system(tmp_path: Path,
                                                                  store_url: str) -> None:
    runtime = runtime_for(tmp_path, store_url)
    sync(runtime, SyncOptions())
    shop = runtime.config.base_dir / "data" / "shop_customers.csv"
    lines = shop.read_text(encoding="utf-8").splitlines(keepends=True)
    shop.write_text("".join(line for line in lines if not line.startswith("'7100000021")),
                    encoding="utf-8")
    summary = sync(runtime, SyncOptions(full=True))
    (drift,) = summary["drift"]
    assert drift["kind"] == "vanished" and drift["count"] == 1 and "7100000021" in drift["message"]
    assert summary["exit_code"] == 1 and summary["contacts"]["total"] == 40  # contact kept
    again = sync(runtime, SyncOptions(full=True))
    assert again["drift"] == []  # reported once, not forever
    shop.write_text("".join(lines), encoding="utf-8")  # it comes back exactly as it was
    back = sync(runtime, SyncOptions())
    assert back["connectors"]["shop"]["skipped_unchanged"] == 24  # only it is taken again
    with runtime.store.begin() as conn:
        deleted = conn.execute(select(source_records.c.deleted).where(
            source_records.c.external_id == "7100000021")).scalar_one()
    assert deleted is False  # live again: it joins its contact and contributes values
    runtime.store.close()


def test_a_re_exported_file_builds_only_the_rows_that_changed(
        tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from hub_csv.connector import _RowReader

    runtime = runtime_for(tmp_path, store_url)
    sync(runtime, SyncOptions())
    built: list[str] = []
    make = _RowReader.make

    def counted(self: Any, row: list[str], line: int, digest: str | None = None) -> Any:
        built.append(f"{self.filename}:{line}")
        return make(self, row, line, digest)

    monkeypatch.setattr(_RowReader, "make", counted)
    shop = runtime.config.base_dir / "data" / "shop_customers.csv"
    shop.write_text(shop.read_text(encoding="utf-8").replace("Krüger", "Krueger-Lang", 1),
                    encoding="utf-8")
    summary = sync(runtime, SyncOptions())
    read = summary["connectors"]["shop"]
    assert read["read"] == 25 and read["skipped_unchanged"] == 24
    assert built == ["shop_customers.csv:8"]  # the other 24 rows were never built
    with runtime.store.begin() as conn:
        names = [f["last_name"] for (f,) in conn.execute(select(source_records.c.fields).where(
            source_records.c.connector == "shop"))]
    assert "Krueger-Lang" in names

    # new normalisation settings: every row is built and normalised again
    config = runtime.config.path
    config.write_text(config.read_text().replace('default_region = "DE"',
                                                 'default_region = "AT"'))
    runtime.store.close()
    runtime = Runtime.load(config, plugins=load_plugins(["csv"]), clock=lambda: FIXED_NOW)
    built.clear()
    again = sync(runtime, SyncOptions(full=True))
    assert again["connectors"]["shop"]["skipped_unchanged"] == 0
    assert sum(origin.startswith("shop_customers.csv:") for origin in built) == 25
    runtime.store.close()


def test_records_stored_before_row_digests_get_theirs_at_the_next_read(
        tmp_path: Path, store_url: str) -> None:
    runtime = runtime_for(tmp_path, store_url)
    sync(runtime, SyncOptions())
    with runtime.store.begin() as conn:  # as migration 0014 leaves an existing store
        conn.execute(source_records.update().values(raw_hash=None))
    compared = sync(runtime, SyncOptions(full=True))
    assert compared["connectors"]["shop"]["skipped_unchanged"] == 25  # by content, as before
    assert compared["contacts"]["updated"] == 0
    assert count(runtime, source_records, source_records.c.raw_hash.is_(None),
                 source_records.c.connector != "export") == 0
    runtime.store.close()


def test_the_newsletter_gets_only_contacts_consent_allows(tmp_path: Path) -> None:
    runtime = runtime_for(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}")
    config = runtime.config.path
    config.write_text(config.read_text() + '\n[consent]\nnewsletter = "export"\n')
    runtime = Runtime.load(config, plugins=load_plugins(["csv"]), clock=lambda: FIXED_NOW)
    summary = sync(runtime, SyncOptions())
    planned = summary["planned"]["export"]
    assert set(planned["blocked"]) == {"none"}
    written = summary["connectors"]["export"]["created"]
    assert written + planned["blocked"]["none"] == 40 and 0 < written < 40
    from hub import contacts as lookup
    with runtime.store.begin() as conn:
        # Jonas: newsletter row with CONFIRM_TIME; Anna: OPTIN_TIME only;
        # Mathilda: shop "Accepts Email Marketing = no" and the accountant's file only
        def state(email: str) -> dict[str, Any]:
            view = lookup.contact_view(conn, lookup.find_contact(conn, email) or 0)
            return dict(view["consent"]["newsletter"])
        jonas, anna = state("jonas.schmidt@example.de"), state("anna.mueller@example.de")
        mathilda = state("mathilda.krause@example.de")
    assert jonas["state"] == "confirmed" and jonas["source"] == "newsletter"
    assert anna["state"] == "unconfirmed" and mathilda["state"] == "none"
    exported = (runtime.config.base_dir / "out" / "contacts.csv").read_text(encoding="utf-8")
    assert "jonas.schmidt@example.de" in exported and "anna.mueller@example.de" in exported
    assert "mathilda.krause@example.de" not in exported
    runtime.store.close()


def test_a_stop_request_ends_the_run_at_a_checkpoint_and_the_next_run_completes(
        tmp_path: Path, store_url: str) -> None:
    import threading

    from hub.store.schema import runs

    runtime = runtime_for(tmp_path, store_url)
    stop = threading.Event()
    stop.set()  # asked to stop before the first page: that page commits, then the run ends
    stopped = sync(runtime, SyncOptions(stop=stop, pipeline="main", trigger="schedule",
                                        node="n:1"))
    assert stopped["status"] == "interrupted" and stopped["errors"] == []
    assert count(runtime, cursors) == 1 and count(runtime, contacts) == 0
    assert count(runtime, runs, runs.c.status == "interrupted", runs.c.node == "n:1") == 1
    resumed = sync(runtime, SyncOptions())
    assert resumed["contacts"]["total"] == 40 and count(runtime, source_records) == 28 + 25 + 21
    runtime.store.close()


@pytest.mark.postgres
def test_a_large_run_refreshes_postgresql_statistics_before_resolving_and_deciding(
        tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stale statistics after a big import made the planner scan whole tables per batch."""
    runtime = runtime_for(tmp_path, postgres_url)
    calls: list[tuple[str, ...]] = []
    real = engine.analyze

    def spy(conn: Any, tables: Any) -> None:
        calls.append(tuple(tables))
        real(conn, tables)

    monkeypatch.setattr(engine, "analyze", spy)
    monkeypatch.setattr(engine, "ANALYZE_FROM", 1)
    engine.sync(runtime, SyncOptions())
    assert calls == [("source_records", "identity_keys"),
                     ("contacts", "source_records", "leads", "match_keys")]
    with runtime.store.begin() as conn:
        analysed = {name for name, at in conn.exec_driver_sql(
            "SELECT relname, last_analyze FROM pg_stat_user_tables") if at is not None}
    assert {"source_records", "identity_keys", "contacts", "leads"} <= analysed
    calls.clear()
    engine.sync(runtime, SyncOptions())  # nothing changed: no statistics to refresh
    assert calls == []


def _index_names(runtime: Runtime, table: str) -> set[str]:
    with runtime.store.begin() as conn:
        if conn.dialect.name == "sqlite":
            return {row[1] for row in conn.exec_driver_sql(f"PRAGMA index_list({table})")}
        return set(conn.exec_driver_sql(
            f"SELECT indexname FROM pg_indexes WHERE tablename = '{table}'").scalars())


def test_a_first_import_builds_the_contacts_indexes_after_writing_them(
        tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Golden records written in bulk: e-mail and search indexes dropped, then built again
    (SQLite).

    Whatever happens, the store keeps every index: after the run, and after a run that died
    while writing golden records.
    """
    from hub.pipeline import golden
    from hub.web import search

    runtime = runtime_for(tmp_path, store_url)
    before = _index_names(runtime, "contacts")
    assert {"ix_contacts_email", "ix_contacts_search_last_name"} <= before
    dropped: list[str] = []
    original = golden.indexes_built_after

    def watched(conn: Any, indexes: Any) -> Any:
        dropped.extend(index.name for index in indexes)
        return original(conn, indexes)

    monkeypatch.setattr(golden, "indexes_built_after", watched)
    with monkeypatch.context() as dying:
        def dies(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("killed while writing golden records")

        dying.setattr(golden, "_write", dies)
        with pytest.raises(RuntimeError, match="killed"):
            sync(runtime, SyncOptions())
        assert _index_names(runtime, "contacts") == before
    # SQLite only: on PostgreSQL the dropped index would lock the console out until commit
    sqlite = store_url.startswith("sqlite")
    assert sorted(dropped) == (sorted(golden._REWRITTEN) if sqlite else [])
    first = sync(runtime, SyncOptions())
    assert first["contacts"]["total"] == 40
    assert _index_names(runtime, "contacts") == before
    with runtime.store.begin() as conn:  # the rebuilt indexes find what the rows hold
        cid, fields = conn.execute(select(contacts.c.id, contacts.c.fields).where(
            contacts.c.fields["last_name"].as_string().is_not(None)).limit(1)).one()
        hits = search.search(conn, fields["last_name"])
        assert cid in {hit.id for hit in hits}
        assert conn.execute(select(contacts.c.id).where(
            contacts.c.email == fields["email"])).scalar_one() == cid
    runtime.store.close()
