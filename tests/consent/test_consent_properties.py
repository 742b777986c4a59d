"""Consent invariants over random event sequences from random systems, through the real engine.

Three in-memory systems (a newsletter, a CRM that takes every contact, a shop that only
updates its own customers) report consent events for a few addresses, in random order and at
random times, while hub syncs in between. Some records carry a second address, so golden
contacts merge. After every sync the properties of issue 5 must hold:

1. nobody is written ``subscribed`` without a confirmed double opt-in *for that address*,
   given before the write;
2. after a run, every system that holds a person whose newest event is a withdrawal shows or
   was sent ``unsubscribed``;
3. a single opt-in never becomes confirmed, also not through a merge;
4. the consent states kept for counting equal a decision taken afresh, and the run leaves
   nothing pending.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from hub.connector import (
    Capability,
    Connector,
    ConnectorContext,
    ConnectorSettings,
    ConsentObservation,
    OutboundRecord,
    Page,
    SourceRecord,
    WriteResult,
)
from hub.consent import states
from hub.hookspecs import hookimpl
from hub.pipeline.engine import SyncOptions, sync
from hub.registry import load_plugins
from hub.runtime import Runtime
from hub.store.schema import consent_pending

ADDRESSES = ("anna@example.de", "bert@example.de", "carla@example.de")
WITHDRAWALS = frozenset({"opt_out", "bounce", "complaint"})
BASE = datetime(2026, 3, 1, tzinfo=UTC)


@dataclass
class Record:
    emails: list[str]
    #: what happened in the system itself: (kind, when, the record's address then)
    events: list[tuple[str, datetime, str]] = field(default_factory=list)
    #: what the system shows because hub wrote it
    echoes: list[tuple[str, datetime]] = field(default_factory=list)
    #: what hub wrote last, as the system now shows it
    status: str | None = None


@dataclass
class World:
    now: datetime = BASE
    systems: dict[str, dict[str, Record]] = field(default_factory=dict)
    #: (system, address, status, when) for every consent write hub made
    writes: list[tuple[str, str, str, datetime]] = field(default_factory=list)
    #: (system, address, status or None, when, the record existed before) for every write
    every_write: list[tuple[str, str, str | None, datetime, bool]] = field(
        default_factory=list)


WORLDS: dict[str, World] = {}


class FakeSettings(ConnectorSettings):
    world: str
    creates: bool = True


class FakeSystem(Connector):
    """A system that remembers records and what hub told it about consent."""

    plugin: ClassVar[str] = "fake"
    Settings: ClassVar[type[ConnectorSettings]] = FakeSettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.READ_CONTACTS, Capability.WRITE_CONTACTS, Capability.READ_CONSENT,
        Capability.WRITE_CONSENT})
    default_write_fields: ClassVar[tuple[str, ...]] = ("email",)

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        assert isinstance(settings, FakeSettings)
        self.world = WORLDS[settings.world]
        self.records = self.world.systems.setdefault(self.name, {})
        self.creates_records = settings.creates

    def read(self, stream: str, cursor: str | None) -> Iterator[Page]:
        yield Page([SourceRecord(
            id=rid, fields={"email": rec.emails[0], "emails": rec.emails},
            consent=[ConsentObservation(kind, at) for kind, at, *_ in rec.events + rec.echoes])
            for rid, rec in sorted(self.records.items())], cursor="read")

    def write(self, records: Sequence[OutboundRecord]) -> list[WriteResult]:
        results = []
        for out in records:
            email = str(out.fields.get("email") or "")
            # like HubSpot and Mailchimp, the system keeps one record per address
            rid = out.external_id or f"{self.name}-{email}"
            self.world.every_write.append((self.name, email, out.consent, self.world.now,
                                           rid in self.records))
            record = self.records.setdefault(rid, Record([email]))
            if email and record.emails[0] != email:
                # hub wrote the golden address into this record: it now holds that one
                record.emails = [email, *(e for e in record.emails if e != email)]
            if out.consent is not None:
                self.world.writes.append((self.name, email, out.consent, self.world.now))
                record.status = out.consent
                # the system now shows it, dated now: a request, an opt-out, or (like a
                # Mailchimp member subscribed by API, without an opt-in time of its own) a
                # subscription that reads as a single opt-in
                echo = {"pending": "doi_requested", "unsubscribed": "opt_out",
                        "subscribed": "single_opt_in"}.get(out.consent)
                if echo:
                    record.echoes.append((echo, self.world.now))
            results.append(WriteResult(out.key, "updated", external_id=rid))
        return results


class FakePlugin:
    @staticmethod
    @hookimpl
    def register_connectors(register: Any) -> None:
        register(FakeSystem)


SYSTEMS = ("newsletter", "crm", "shop")
_event = st.tuples(
    st.sampled_from(SYSTEMS),
    st.sampled_from(ADDRESSES),
    st.sampled_from(("single_opt_in", "signup", "doi_confirmed", "opt_out", "bounce",
                     "complaint")),
    st.booleans(),  # a second address on the record (merges two people's contacts)
    st.booleans(),  # sync after this event
)


def _runtime(folder: Path, world_name: str, *,
             systems: dict[str, tuple[str, bool]] | None = None,
             named: str | None = "newsletter", plugin: Any = None) -> tuple[Runtime, World]:
    """A store and config over in-memory systems: name → (plugin type, creates records)."""
    world = World()
    WORLDS[world_name] = world
    folder.mkdir(parents=True, exist_ok=True)
    chosen = systems or {name: ("fake", name != "shop") for name in SYSTEMS}
    tables = "\n".join(f"""
[connectors.{name}]
plugin = "{kind}"
world = "{world_name}"
creates = {"true" if creates else "false"}
""" for name, (kind, creates) in chosen.items())
    consent = f'newsletter = "{named}"\n' if named else ""
    (folder / "config.toml").write_text(f"""
[hub]
store = "sqlite:///hub.db"
{tables}
[consent]
{consent}doi_request_window_days = 1
""", encoding="utf-8")
    runtime = Runtime.load(folder / "config.toml",
                           plugins=load_plugins([], extra=(plugin or FakePlugin,)),
                           clock=lambda: world.now)
    return runtime, world


def _external(world: World) -> list[tuple[str, str, str, datetime]]:
    """Every event a system reported that hub did not cause: (system, address, kind, at)."""
    return [(system, address, kind, at)
            for system, records in world.systems.items() for rec in records.values()
            for kind, at, address in rec.events]


#: Sequences this property once failed on, kept so they are always tried: steps separated
#: by "|", each "system address kind", plus "second" (a second address) and "sync".
FOUND = [
    # a withdrawal skipped because another record of the person in the CRM already showed
    # it, while the record hub writes to did not
    "newsletter carla single_opt_in second sync | crm anna opt_out"
    " | newsletter anna single_opt_in | newsletter carla opt_out",
    # a person's own newer opt-out on another newsletter record taken for hub's earlier
    # unsubscribe and dated back, so an older DOI subscribed them again
    "newsletter anna single_opt_in | newsletter anna opt_out | crm carla single_opt_in second"
    " | newsletter anna single_opt_in sync | newsletter carla doi_confirmed"
    " | newsletter carla opt_out",
    # unsubscribed, subscribed, unsubscribed again: the third write had the first one's
    # outbox key and was taken as sent
    "newsletter anna single_opt_in | crm carla single_opt_in second | newsletter anna opt_out"
    " sync | newsletter carla doi_confirmed sync | newsletter carla opt_out",
    # a complaint after a bounce the CRM showed and a new opt-in there: the write hub left
    # without a status (the CRM showed the bounce) went out again as it was, with no status
    "crm anna single_opt_in | crm anna bounce sync | shop anna single_opt_in"
    " | shop anna single_opt_in | newsletter carla doi_confirmed second sync"
    " | newsletter anna single_opt_in | crm anna single_opt_in | shop anna complaint",
]


def _steps(text: str) -> list[tuple[str, str, str, bool, bool]]:
    parsed = []
    for step in text.split("|"):
        system, who, kind, *flags = step.split()
        parsed.append((system, f"{who}@example.de", kind, "second" in flags, "sync" in flags))
    return parsed


def _found(test: Any) -> Any:
    for steps in FOUND:
        test = example(steps=_steps(steps))(test)
    return test


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(_event, min_size=1, max_size=10))
@_found
def test_consent_is_never_upgraded_and_withdrawals_travel(tmp_path_factory: Any,
                                                          steps: list[Any]) -> None:
    folder = tmp_path_factory.mktemp("world")
    runtime, world = _runtime(folder, str(folder))
    try:
        for n, (system, email, kind, second, sync_now) in enumerate(steps):
            world.now = BASE + timedelta(hours=n + 1)
            records = world.systems.setdefault(system, {})
            rid = f"{system}-{email}"
            record = records.setdefault(rid, Record([email]))
            if second:
                other = ADDRESSES[(ADDRESSES.index(email) + 1) % len(ADDRESSES)]
                if other not in record.emails:
                    record.emails.append(other)
            record.events.append((kind, world.now, record.emails[0]))
            if sync_now or n == len(steps) - 1:
                world.now += timedelta(minutes=30)
                summary = sync(runtime, SyncOptions()).as_dict()
                assert summary["errors"] == [], summary["errors"]
                _check(world)
                with runtime.store.begin() as conn:
                    # 4. the stored states the console counts are what deciding now gives
                    assert states.counts(conn) == states.recount(conn)
                    assert conn.execute(select(func.count()).select_from(
                        consent_pending)).scalar_one() == 0
    finally:
        runtime.store.close()
        WORLDS.pop(str(folder), None)


def _check(world: World) -> None:
    external = _external(world)
    # 1 and 3: subscribed only with a DOI for that very address, given before the write
    for system, email, status, when in world.writes:
        if status == "subscribed":
            assert system == "newsletter", (system, email)
            proofs = [at for _s, e, kind, at in external if e == email
                      and kind == "doi_confirmed" and at < when]
            assert proofs, f"{email} written subscribed at {when} without a confirmed DOI"
    # 2: after the run, a person whose newest own-address event is a withdrawal is
    # unsubscribed wherever hub holds them and can write consent
    for email in ADDRESSES:
        mine = sorted(((at, kind) for _s, e, kind, at in external if e == email),
                      key=lambda pair: pair[0])
        if not mine or mine[-1][1] not in WITHDRAWALS:
            continue
        for system, records in world.systems.items():
            for rec in records.values():
                if rec.emails[0] != email:
                    continue
                shown = sorted(((kind, at) for kind, at, *_ in rec.events + rec.echoes),
                               key=lambda pair: pair[1])
                withdrawn = rec.status == "unsubscribed" or (
                    shown and shown[-1][0] in WITHDRAWALS | {"opt_out"})
                if system == "newsletter" and rec.status is None and not shown:
                    continue  # never on the list: nothing to withdraw
                assert withdrawn, (f"{email} withdrew at {mine[-1][0]} but {system} still "
                                   f"shows {rec.status or shown[-1:]}")
