"""consent states kept per contact, so counting them needs no decision per contact

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 02:00:00

Every existing contact starts as pending: the next sync (or the first count before it)
decides them all once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "consent_states",
        sa.Column("contact_id", _Id, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_consent_states")),
    )
    op.create_index("ix_consent_states_state", "consent_states", ["state"], unique=False)
    op.create_table(
        "consent_pending",
        sa.Column("contact_id", _Id, nullable=False),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_consent_pending")),
    )
    op.execute("INSERT INTO consent_pending (contact_id) SELECT id FROM contacts")


def downgrade() -> None:
    op.drop_table("consent_pending")
    op.drop_index("ix_consent_states_state", table_name="consent_states")
    op.drop_table("consent_states")
