"""The store's tables (SQLAlchemy Core). Alembic migrations in hub/store/migrations create them.

Design notes:
- `source_records` keeps every record as each system last showed it (normalised fields as
  JSON, plus the content hash that lets a re-run skip unchanged rows). Its link to a golden
  contact (`contact_id`) is stable: the same (connector, external_id) always maps to the same
  contact, so an e-mail changed in one system updates that contact instead of duplicating it.
- `contacts` holds the golden record; `provenance` maps each field to the source record it
  came from (an id, so the record's connector, id and time are one join away).
- `identity_keys` are the normalised e-mails each source record may be merged on.
- `outbox` rows are idempotent writes waiting for a system; `sync_state` remembers what each
  system last got, so only changes are pushed and nothing echoes back.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
    func,
)

from hub.store.types import UtcDateTime, golden_text

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

_Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite: INTEGER PRIMARY KEY = rowid

contacts = Table(
    "contacts", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("email", String(320), index=True),
    #: The golden values: field name → value (lists for emails/tags).
    Column("fields", JSON, nullable=False),
    #: field name → source_records.id that supplied the value.
    Column("provenance", JSON, nullable=False),
    #: active | merged (into merged_into) | erased
    Column("status", String(16), nullable=False, default="active"),
    Column("merged_into", _Id, nullable=True),
    Column("content_hash", String(32), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("updated_run", _Id, nullable=True, index=True),
)
#: The console's search by name and phone (hub.web.search): expression indexes on the golden
#: fields, so looking someone up among 100,000 contacts reads an index, not every row.
SEARCHED_FIELDS = ("last_name", "first_name", "phone")
for _name in SEARCHED_FIELDS:
    Index(f"ix_contacts_search_{_name}", func.lower(golden_text(contacts.c.fields, _name)))
#: Counting active contacts, and joining leads to them (the console's overview, `hub status`),
#: from the index alone instead of reading every golden record.
Index("ix_contacts_status_id", contacts.c.status, contacts.c.id)

source_records = Table(
    "source_records", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("connector", String(64), nullable=False),
    Column("external_id", String(512), nullable=False),
    Column("contact_id", _Id, nullable=True, index=True),
    Column("email", String(320), nullable=True),
    #: Normalised golden fields as the system holds them.
    Column("fields", JSON, nullable=False),
    #: Values dropped during normalisation, with the reason (nothing is silently lost).
    Column("problems", JSON, nullable=True),
    Column("signals", JSON, nullable=True),
    Column("consent", JSON, nullable=True),
    Column("content_hash", String(32), nullable=False),
    #: The connector's digest of the record as delivered (`SourceRecord.digest`) combined
    #: with the normalisation it was stored under; NULL where the connector gives none. A
    #: re-read compares it before the record is even built.
    Column("raw_hash", String(32), nullable=True),
    Column("source_updated_at", UtcDateTime(), nullable=True),
    Column("seen_at", UtcDateTime(), nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    #: Set when the record changed and identity/survivorship must look at it again.
    Column("dirty", Boolean, nullable=False, default=True),
    Column("origin", String(512), nullable=True),
    UniqueConstraint("connector", "external_id"),
    Index("ix_source_records_dirty", "dirty"),
)

identity_keys = Table(
    "identity_keys", metadata,
    Column("key", String(320), primary_key=True),
    Column("source_record_id", _Id, ForeignKey("source_records.id", ondelete="CASCADE"),
           primary_key=True),
    Index("ix_identity_keys_source_record_id", "source_record_id"),
)

merges = Table(
    "merges", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("run_id", _Id, nullable=True),
    Column("at", UtcDateTime(), nullable=False),
    #: merged: `other_id` was folded into `contact_id`; held: a merge on `key` was refused
    #: for review (too many records would have joined).
    Column("kind", String(16), nullable=False),
    Column("contact_id", _Id, nullable=True, index=True),
    Column("other_id", _Id, nullable=True, index=True),
    Column("key", String(320), nullable=True),
    Column("reason", Text, nullable=False),
    Column("source_record_ids", JSON, nullable=True),
)

match_keys = Table(
    "match_keys", metadata,
    #: Blocking and term keys of each source record (postcode, phonetic surname, birth date,
    #: E.164 phone, canonical e-mail, …) as 64-bit integers (hub.matching.model.stored_key):
    #: records sharing a blocking key are compared by the matcher; term counts weigh values.
    Column("key", BigInteger, primary_key=True),
    #: No foreign key: these rows are derived and rebuilt by re-keying, erasure deletes them
    #: itself, and a check per row was a third of the cost of writing them on PostgreSQL.
    Column("source_record_id", _Id, primary_key=True),
    Index("ix_match_keys_source_record_id", "source_record_id"),
)

match_pairs = Table(
    "match_pairs", metadata,
    #: A scored pair of source records of two different contacts (left_record < right_record).
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("left_record", _Id, nullable=False),
    Column("right_record", _Id, nullable=False),
    #: The contacts when scored; the review follows `merged_into` from there.
    Column("left_contact", _Id, nullable=False, index=True),
    Column("right_contact", _Id, nullable=False, index=True),
    Column("probability", Float, nullable=False),
    #: open (to review) | merged (automatically) | accepted | rejected (never merges again)
    Column("status", String(16), nullable=False),
    #: field → {left, right, verdict, weight}: why the pair scored what it did.
    Column("evidence", JSON, nullable=False),
    Column("run_id", _Id, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("decided_at", UtcDateTime(), nullable=True),
    Column("actor", String(128), nullable=True),
    UniqueConstraint("left_record", "right_record"),
    Index("ix_match_pairs_status", "status"),
)

cursors = Table(
    "cursors", metadata,
    Column("connector", String(64), primary_key=True),
    Column("stream", String(64), primary_key=True),
    Column("value", Text, nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)

sync_state = Table(
    "sync_state", metadata,
    Column("connector", String(64), primary_key=True),
    Column("contact_id", _Id, primary_key=True),
    Column("external_id", String(512), nullable=True),
    #: Hash of the fields last written and acknowledged; equal hash → nothing to push.
    Column("pushed_hash", String(32), nullable=True),
    Column("pushed_at", UtcDateTime(), nullable=True),
    #: a contact's links in every system (consent read-back, merges, splits, erasure) and a
    #: record's holders (lifecycle's shared records): without them, a scan per lookup
    Index("ix_sync_state_contact_id", "contact_id"),
    Index("ix_sync_state_external_id", "external_id"),
)

outbox = Table(
    "outbox", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("key", String(128), nullable=False, unique=True),
    Column("connector", String(64), nullable=False),
    Column("contact_id", _Id, nullable=False),
    Column("operation", String(16), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("payload_hash", String(32), nullable=False),
    Column("external_id", String(512), nullable=True),
    #: pending → done | dead
    Column("status", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("run_id", _Id, nullable=True),
    Index("ix_outbox_connector_status", "connector", "status"),
    #: planning replaces a contact's older pending write: one lookup per contact planned,
    #: a scan of every pending write without it (a first sync of 100,000 contacts to a
    #: writable connector never finished)
    Index("ix_outbox_contact_id", "contact_id"),
)

dead_letters = Table(
    "dead_letters", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("run_id", _Id, nullable=True, index=True),
    Column("connector", String(64), nullable=False),
    #: read (the record could not be used) | push (the system refused it) | veto (a plugin)
    Column("stage", String(16), nullable=False),
    Column("record_id", String(512), nullable=True),
    Column("origin", String(512), nullable=True),
    Column("reason", Text, nullable=False),
    Column("payload", JSON, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("resolved_at", UtcDateTime(), nullable=True),
)

runs = Table(
    "runs", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("pipeline", String(64), nullable=False, default="manual"),
    Column("trigger", String(32), nullable=False, default="manual"),
    #: running | ok | failed (record-level failures) | error (a system or config failed)
    Column("status", String(16), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=True),
    Column("exit_code", Integer, nullable=True),
    Column("summary", JSON, nullable=True),
    #: The `hub run` node (host:pid) that ran it; None for a manual `hub sync`.
    Column("node", String(128), nullable=True),
    Index("ix_runs_pipeline_id", "pipeline", "id"),
)

pipelines = Table(
    "pipelines", metadata,
    #: One row per scheduled pipeline, shared by every `hub run` node (see hub/lease.py).
    Column("name", String(64), primary_key=True),
    #: The schedule slot (fire time) last run: a slot is run once, whichever node gets there.
    Column("last_slot", UtcDateTime(), nullable=True),
    #: The last full reconciliation (``full_every``).
    Column("last_full_at", UtcDateTime(), nullable=True),
    #: Who holds the pipeline now (informative: the lock itself is the database's).
    Column("holder", String(128), nullable=True),
    Column("held_since", UtcDateTime(), nullable=True),
)

#: APScheduler's SQLAlchemyJobStore table, declared here so migrations own it (the job store
#: only creates it when missing). Same columns as apscheduler.jobstores.sqlalchemy.
scheduler_jobs = Table(
    "scheduler_jobs", metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)

consent_ledger = Table(
    "consent_ledger", metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("contact_id", _Id, nullable=True, index=True),
    #: The normalised address the entry is about (replaced by its hash on erasure).
    Column("email", String(320), nullable=True, index=True),
    Column("channel", String(16), nullable=False),
    Column("purpose", String(64), nullable=False),
    #: signup, single_opt_in, doi_requested, doi_confirmed, opt_out, bounce, complaint,
    #: erasure — or decision:<state> for what hub decided and wrote.
    Column("kind", String(32), nullable=False),
    #: When it happened in the source system (ISO-8601 UTC), when known.
    Column("occurred_at", String(40), nullable=True),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("connector", String(64), nullable=True),
    Column("record_id", String(512), nullable=True),
    Column("evidence", JSON, nullable=True),
    Column("run_id", _Id, nullable=True),
    #: Digest of the personal part (address and evidence): the chain covers it, so erasing
    #: that part later leaves the chain verifiable.
    Column("subject_hash", String(64), nullable=False, server_default=""),
    #: When the personal part was erased (GDPR Art. 17); the entry itself stays in the chain.
    Column("erased_at", UtcDateTime(), nullable=True),
    #: Hash of the previous entry and of this one: `hub consent verify` walks the chain.
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False, unique=True),
    #: an observation is recorded once per (system, record, event)
    Index("ix_consent_ledger_connector_record", "connector", "record_id"),
    #: this run's observations make their contacts candidates for writes
    Index("ix_consent_ledger_run_id", "run_id"),
)

#: The newsletter consent state of each contact that has one other than "none", as
#: hub.consent.newsletter decides it: the console counts states without deciding every
#: contact on each visit (hub.consent.states). Derived, kept current at the end of each run.
consent_states = Table(
    "consent_states", metadata,
    Column("contact_id", _Id, primary_key=True),
    Column("state", String(16), nullable=False, index=True),
)

#: Contacts whose consent inputs changed since their state was last decided (records, golden
#: address, hub's own decisions and sync states); decided again at the end of a run, and
#: decided on the fly by a count taken before that.
consent_pending = Table(
    "consent_pending", metadata,
    Column("contact_id", _Id, primary_key=True),
)

#: Addresses erased with `hub consent forget`: only a salted hash (HMAC-SHA256), so the person
#: is not re-imported from any source while the address itself is gone (docs/consent.md, rule 6).
suppression = Table(
    "suppression", metadata,
    Column("digest", String(64), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("reason", String(64), nullable=False),
    #: Imports refused since (counted; the address is never stored).
    Column("refused", Integer, nullable=False, default=0),
)

#: Installation-wide values hub creates once (the suppression salt).
settings = Table(
    "settings", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

leads = Table(
    "leads", metadata,
    #: One row per golden contact: its lifecycle as hub last decided it (hub.lifecycle).
    Column("contact_id", _Id, primary_key=True),
    Column("stage", String(16), nullable=False),
    #: Who set the stage: default | score | orders | crm | ops
    Column("stage_source", String(16), nullable=False),
    Column("score", Integer, nullable=False),
    Column("band", String(32), nullable=False),
    Column("owner", String(64), nullable=True),
    #: Sales rejected the lead in the CRM (e.g. hs_lead_status UNQUALIFIED): never re-MQL'd.
    Column("disqualified", Boolean, nullable=False, default=False),
    Column("tags", JSON, nullable=False),
    #: Customer value (hub.value.CustomerValue.as_dict) or null for non-customers.
    Column("value", JSON(none_as_null=True), nullable=True),
    #: signal → [value, since when]: behaviour ages from when its value last changed.
    Column("signals_seen", JSON, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("updated_run", _Id, nullable=True),
    #: An ops action changed the row: the next run tells the systems even if nothing else did.
    Column("dirty", Boolean, nullable=False, default=False),
    #: Systems whose data the stage decision lacked (unreadable in that run); null: final.
    Column("provisional", JSON(none_as_null=True), nullable=True),
    Index("ix_leads_stage", "stage"),
    Index("ix_leads_band", "band"),
)

stage_changes = Table(
    "stage_changes", metadata,
    #: The audit trail of every stage move: by a sync (with its rule) or by ops (with reason).
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("contact_id", _Id, nullable=False, index=True),
    #: indexed: the console's funnel counts each day's moves
    Column("at", UtcDateTime(), nullable=False, index=True),
    Column("run_id", _Id, nullable=True, index=True),
    Column("from_stage", String(16), nullable=True),
    Column("to_stage", String(16), nullable=False),
    #: default | score | orders | crm | ops
    Column("source", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("owner", String(64), nullable=True),
)

audit_log = Table(
    "audit_log", metadata,
    #: Every action taken in the web console (and every sign-in), with who took it.
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(128), nullable=False),
    #: login, login_failed, logout, duplicate_accept, dead_letter_retry, erasure, export, …
    Column("action", String(64), nullable=False),
    #: What it was done to (a contact id, a dead letter id; never an address).
    Column("subject", String(256), nullable=True),
    Column("detail", JSON, nullable=True),
    Column("remote", String(64), nullable=True),
    Index("ix_audit_log_at", "at"),
)
