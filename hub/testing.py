"""The plugin contract test kit: one subclass in a plugin's tests runs the standard checks.

Modelled on singer-sdk's tap test class. In your plugin's tests::

    from hub.testing import ConnectorContract, ContractEnvironment

    class TestMyConnector(ConnectorContract):
        connector_class = MyConnector

        @pytest.fixture
        def contract_environment(self, tmp_path):
            system = start_my_fake_system()          # a sandbox or fixture files
            yield ContractEnvironment(settings={...}, secrets={"my-token": "t0ken"}, ...)
            system.stop()

The kit then checks, each as its own test: the declarations are complete; settings validate
and refuse unknown keys; `check()` passes; reading pages is complete, resumable from any
committed cursor and never moves backwards; record digests, where given, are the same on
every read, and records hub holds are listed as unchanged, not lost; writing the same batch
twice leaves the same state; a bad record is rejected with a reason without failing the
batch; reads survive injected 429s and 5xx; and no secret value leaks into reprs, logs or
exceptions.
A check that needs something the environment does not provide fails and says what to add.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import ValidationError

from hub.connector import (
    Capability,
    Connector,
    ConnectorContext,
    ConnectorSettings,
    OutboundRecord,
    Page,
)
from hub.errors import HubError
from hub.secrets import MemoryBackend, SecretRef, Secrets


@dataclass
class ContractEnvironment:
    """What a plugin hands the kit: settings, secrets and hooks into its test system."""

    #: The ``[connectors.NAME]`` table for reading (and writing, unless `write_settings`).
    settings: dict[str, Any]
    #: Secret name → value, served to the connector as if from the keyring.
    secrets: dict[str, str] = field(default_factory=dict)
    base_dir: Path = field(default_factory=Path.cwd)
    #: Where HTTP goes (None: the network, e.g. a sandbox served on loopback).
    transport: httpx.BaseTransport | None = None
    #: Settings for a writing instance, when writing needs different ones (CSV mode=write).
    write_settings: dict[str, Any] | None = None
    #: Records the system accepts (for the idempotency check); empty: the connector cannot write.
    sample_records: list[OutboundRecord] = field(default_factory=list)
    #: One record the system refuses (invalid e-mail, say), for the per-record error check.
    bad_record: OutboundRecord | None = None
    #: Turn injected faults on (e.g. "429storm:3,500:0.2") or off (""); None: not supported.
    faults: Callable[[str], None] | None = None
    #: Change something in the system so the next incremental read must return it.
    mutate: Callable[[], str] | None = None
    #: Settings that must fail validation, each with a word the error must contain.
    invalid_settings: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    #: Where records live under their stream names (default: just "contacts").
    streams: tuple[str, ...] = ("contacts",)


def _no_wait(_seconds: float) -> None:
    """Retries in the kit do not really wait."""


def _holds_all(asked: set[str], digests: Mapping[str, str]) -> set[str]:
    """A stand-in for hub holding every record it is asked about, exactly as delivered."""
    asked.update(digests)
    return set(digests)


class ConnectorContract:
    """Subclass it, set `connector_class`, provide the `contract_environment` fixture."""

    connector_class: ClassVar[type[Connector]]
    instance_name: ClassVar[str] = "under_test"

    @pytest.fixture
    def contract_environment(self, tmp_path: Path) -> Iterator[ContractEnvironment]:
        """Override: yield the environment your connector runs in for these checks."""
        raise NotImplementedError(
            "define a `contract_environment` fixture in your ConnectorContract subclass that "
            "yields a hub.testing.ContractEnvironment")

    # -- building connectors ------------------------------------------------------------
    def build(self, env: ContractEnvironment, *, write: bool = False,
              secrets: dict[str, str] | None = None) -> Connector:
        """A connector instance wired to the environment, as the engine would build it."""
        table = env.write_settings if write and env.write_settings is not None else env.settings
        settings = self.connector_class.Settings.model_validate(table)
        context = ConnectorContext(
            name=self.instance_name,
            secrets=Secrets(MemoryBackend(env.secrets if secrets is None else secrets),
                            environ={}),
            base_dir=env.base_dir, transport=env.transport, sleep=_no_wait,
            logger=logging.getLogger(f"hub.connector.{self.instance_name}"),
        )
        return self.connector_class(settings, context)

    def read_all(self, connector: Connector, stream: str,
                 cursor: str | None = None) -> list[Page]:
        """Every page of one read."""
        return list(connector.read(stream, cursor))

    # -- the checks ---------------------------------------------------------------------
    def test_declares_its_contract(self) -> None:
        cls = self.connector_class
        assert isinstance(getattr(cls, "plugin", None), str) and cls.plugin, \
            "set `plugin = \"name\"` on the connector class (the type name ops write in config)"
        assert issubclass(cls.Settings, ConnectorSettings), \
            "`Settings` must subclass hub.connector.ConnectorSettings"
        assert cls.page_size > 0 and cls.batch_size > 0, "declare page_size and batch_size"
        assert cls.streams, "declare at least one stream"
        assert any("system" in vars(k) for k in cls.__mro__ if k is not Connector), (
            "declare `system = SystemKind.…` (crm, shop, newsletter, file or other): hub "
            "writes to a newsletter only what consent allows, so a newsletter must say it is one")
        for name, info in cls.Settings.model_fields.items():
            lowered = name.lower()
            if any(word in lowered for word in ("token", "password", "api_key", "secret")):
                assert info.annotation in (SecretRef, SecretRef | None), (
                    f"setting {name!r} looks like a secret: type it hub.secrets.SecretRef so "
                    "the value lives in the keyring, not in config.toml")

    def test_settings_validate_and_refuse_unknown_keys(
            self, contract_environment: ContractEnvironment) -> None:
        env = contract_environment
        self.connector_class.Settings.model_validate(env.settings)
        with pytest.raises(ValidationError):
            self.connector_class.Settings.model_validate({**env.settings, "no_such_key": 1})
        for table, word in env.invalid_settings:
            with pytest.raises(ValidationError) as info:
                self.connector_class.Settings.model_validate(table)
            assert word in str(info.value), f"the error for {table} should mention {word!r}"

    def test_check_passes(self, contract_environment: ContractEnvironment) -> None:
        connector = self.build(contract_environment)
        try:
            connector.check()
        finally:
            connector.close()

    @contextmanager
    def reading(self, env: ContractEnvironment) -> Iterator[Connector]:
        """A connector that reads (the check is skipped for one that does not), closed after."""
        connector = self.build(env)
        try:
            if Capability.READ_CONTACTS not in connector.capabilities:
                pytest.skip("the connector does not read")
            yield connector
        finally:
            connector.close()

    def test_read_is_complete_resumable_and_never_goes_back(
            self, contract_environment: ContractEnvironment) -> None:
        env = contract_environment
        with self.reading(env) as connector:
            for stream in env.streams:
                pages = self.read_all(connector, stream)
                assert pages, f"stream {stream!r}: a full read returned no page at all"
                ids_by_page = [[r.id for r in p.records] for p in pages]
                everything = {i for ids in ids_by_page for i in ids}
                assert everything, f"stream {stream!r}: the full read returned no records"
                assert pages[-1].cursor is not None, \
                    "the last page must carry a cursor, or every run re-reads everything"
                # resume from each committed cursor: nothing after it may be lost
                for k, page in enumerate(pages[:-1]):
                    later = {i for ids in ids_by_page[k + 1:] for i in ids}
                    resumed = {r.id for p in self.read_all(connector, stream, page.cursor)
                               for r in p.records}
                    missing = later - resumed
                    assert not missing, (f"resuming from the cursor after page {k + 1} lost "
                                         f"{len(missing)} records, e.g. {sorted(missing)[:3]}")
                # from the final cursor: at most an overlap, never the whole set again
                again = {r.id for p in self.read_all(connector, stream, pages[-1].cursor)
                         for r in p.records}
                assert len(again) < max(2, len(everything)), (
                    "reading from the final cursor returned everything again: the cursor does "
                    "not advance")
                if env.mutate is not None:
                    changed_id = env.mutate()
                    fresh = {r.id for p in self.read_all(connector, stream, pages[-1].cursor)
                             for r in p.records}
                    assert changed_id in fresh, (f"record {changed_id!r} changed in the system "
                                                 "but the incremental read missed it")

    def test_digests_are_stable_and_unchanged_records_are_listed(
            self, contract_environment: ContractEnvironment) -> None:
        env = contract_environment
        with self.reading(env) as connector:
            for stream in env.streams:
                first = {r.id: r.digest for p in self.read_all(connector, stream)
                         for r in p.records}
                digested = {i: d for i, d in first.items() if d is not None}
                if not digested:
                    pytest.skip("the connector gives no record digests (SourceRecord.digest)")
                again = {r.id: r.digest for p in self.read_all(connector, stream)
                         for r in p.records}
                moved = sorted(i for i, d in digested.items() if again.get(i) != d)
                assert not moved, (f"{len(moved)} records read twice, unchanged, got another "
                                   f"digest (e.g. {moved[:3]}): hub could never skip them")
                asked: set[str] = set()
                connector.context.unchanged = functools.partial(_holds_all, asked)
                try:
                    pages = self.read_all(connector, stream)
                finally:
                    connector.context.unchanged = None
                listed = {i for p in pages for i in p.unchanged}
                built = {r.id for p in pages for r in p.records}
                assert listed <= asked, ("Page.unchanged lists ids the connector never asked "
                                         "about: only ids context.unchanged returned may go there")
                lost = sorted(set(first) - listed - built)
                assert not lost, (f"{len(lost)} records neither built nor listed as unchanged "
                                  f"(e.g. {lost[:3]}) while context.unchanged was set")

    def test_writing_the_same_batch_twice_is_idempotent(
            self, contract_environment: ContractEnvironment) -> None:
        env = contract_environment
        if not env.sample_records:
            pytest.skip("the environment provides no sample_records: the connector does not write")
        connector = self.build(env, write=True)
        try:
            first = connector.write(env.sample_records)
            assert sorted(r.key for r in first) == sorted(r.key for r in env.sample_records), \
                "write() must answer exactly once per record key"
            refused = [(r.key, r.status, r.reason) for r in first
                       if r.status not in ("created", "updated", "unchanged")]
            assert not refused, f"the sample records were not all accepted: {refused}"
            known = {r.key: r.external_id for r in first}
            second = connector.write([
                OutboundRecord(key=rec.key, contact_id=rec.contact_id, fields=rec.fields,
                               external_id=known.get(rec.key) or rec.external_id,
                               operation=rec.operation, consent=rec.consent)
                for rec in env.sample_records])
            assert all(r.status in ("updated", "unchanged") for r in second), (
                "writing the same records again created new ones: "
                + str([(r.key, r.status) for r in second if r.status == "created"]))
            ids = {r.key: r.external_id for r in second if r.external_id}
            assert all(ids.get(k) == v for k, v in known.items() if v and k in ids), \
                "the same record got a different id on the second write"
        finally:
            connector.close()

    def test_a_bad_record_is_rejected_alone_with_a_reason(
            self, contract_environment: ContractEnvironment) -> None:
        env = contract_environment
        if env.bad_record is None or not env.sample_records:
            pytest.skip("the environment provides no bad_record")
        connector = self.build(env, write=True)
        try:
            results = {r.key: r for r in connector.write([*env.sample_records, env.bad_record])}
            bad = results[env.bad_record.key]
            assert bad.status == "rejected" and bad.reason, \
                "the bad record must come back `rejected` with the system's reason"
            assert all(results[r.key].status in ("created", "updated", "unchanged")
                       for r in env.sample_records), "one bad record must not fail the others"
        finally:
            connector.close()

    def test_reads_survive_429s_and_5xx(self, contract_environment: ContractEnvironment) -> None:
        env = contract_environment
        if env.faults is None:
            pytest.skip("the environment cannot inject faults (set ContractEnvironment.faults)")
        connector = self.build(env)
        if Capability.READ_CONTACTS not in connector.capabilities:
            pytest.skip("the connector does not read")
        try:
            stream = env.streams[0]
            clean = {r.id for p in self.read_all(connector, stream) for r in p.records}
            env.faults("429storm:3,500:0.2")
            try:
                faulty = {r.id for p in self.read_all(connector, stream) for r in p.records}
            finally:
                env.faults("")
            assert faulty == clean, "a read with injected 429s/5xx returned different records"
            assert connector.context.retries > 0, "no request was retried: were faults injected?"
        finally:
            connector.close()

    def test_no_secret_leaks(self, contract_environment: ContractEnvironment,
                             caplog: pytest.LogCaptureFixture) -> None:
        env = contract_environment
        values = [v for v in env.secrets.values() if len(v) >= 6]
        if not values:
            pytest.skip("the connector uses no secret")
        caplog.set_level(logging.DEBUG)
        connector = self.build(env)
        shown = [repr(connector), repr(connector.settings), str(connector.settings.model_dump())]
        try:
            connector.check()
        finally:
            connector.close()
        wrong = {name: value[::-1] + "-wrong" for name, value in env.secrets.items()}
        failing = self.build(env, secrets=wrong)
        try:
            failing.check()
        except HubError as exc:
            shown.append(str(exc))
            shown.append(repr(exc))
        else:
            pytest.fail("check() accepted a wrong secret: it must raise UnreachableError")
        finally:
            failing.close()
        shown.append(caplog.text)
        for value in values + list(wrong.values()):
            assert all(value not in text for text in shown), \
                "a secret value appeared in a repr, a log line or an exception"
