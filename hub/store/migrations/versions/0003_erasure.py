"""erasure: suppression list, installation settings, ledger subject hashes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 08:00:00

The ledger's chain now covers a digest of each entry's personal part (address and
evidence) instead of the part itself, so an erasure can remove that part and leave the chain
verifiable. Existing entries are re-sealed in order under the new rule.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppression",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_suppression")),
    )
    op.create_table(
        "settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_settings")),
    )
    with op.batch_alter_table("consent_ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject_hash", sa.String(length=64), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_consent_ledger_run_id", ["run_id"], unique=False)
    from hub.consent.ledger import reseal

    reseal(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("consent_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_ledger_run_id")
        batch_op.drop_column("erased_at")
        batch_op.drop_column("subject_hash")
    op.drop_table("settings")
    op.drop_table("suppression")
