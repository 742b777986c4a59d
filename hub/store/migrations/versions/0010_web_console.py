"""web console: the audit log, indexes for searching contacts and for the overview's counts

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 22:10:00

The search indexes are on expressions over the golden fields (lower-cased name parts and
phone).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SEARCHED_FIELDS = ("last_name", "first_name", "phone")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False,
                  autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=256), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("remote", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)
    # the path is written inline: an index is only used by a query spelling it the same way
    # (hub.store.types.golden_text renders the console's queries exactly like this)
    for name in SEARCHED_FIELDS:
        field = (f"json_extract(fields, '$.{name}')" if op.get_bind().dialect.name == "sqlite"
                 else f"(fields ->> '{name}'::text)")
        op.create_index(f"ix_contacts_search_{name}", "contacts", [sa.text(f"lower({field})")],
                        unique=False)
    # the overview's counts (active contacts, leads per stage and band) from indexes alone
    op.create_index("ix_contacts_status_id", "contacts", ["status", "id"], unique=False)
    op.create_index("ix_leads_band", "leads", ["band"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_leads_band", table_name="leads")
    op.drop_index("ix_contacts_status_id", table_name="contacts")
    for name in SEARCHED_FIELDS:
        op.drop_index(f"ix_contacts_search_{name}", table_name="contacts")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
