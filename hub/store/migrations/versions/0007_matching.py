"""probabilistic matching: blocking keys per record, scored pairs for review and undo

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 22:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "match_keys",
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("source_record_id", _Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["source_record_id"], ["source_records.id"],
            name=op.f("fk_match_keys_source_record_id_source_records"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key", "source_record_id", name=op.f("pk_match_keys")),
    )
    op.create_index("ix_match_keys_source_record_id", "match_keys", ["source_record_id"],
                    unique=False)
    op.create_table(
        "match_pairs",
        sa.Column("id", _Id, autoincrement=True, nullable=False),
        sa.Column("left_record", _Id, nullable=False),
        sa.Column("right_record", _Id, nullable=False),
        sa.Column("left_contact", _Id, nullable=False),
        sa.Column("right_contact", _Id, nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("run_id", _Id, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_pairs")),
        sa.UniqueConstraint("left_record", "right_record",
                            name=op.f("uq_match_pairs_left_record_right_record")),
    )
    op.create_index("ix_match_pairs_left_contact", "match_pairs", ["left_contact"])
    op.create_index("ix_match_pairs_right_contact", "match_pairs", ["right_contact"])
    op.create_index("ix_match_pairs_status", "match_pairs", ["status"])


def downgrade() -> None:
    op.drop_table("match_pairs")
    op.drop_index("ix_match_keys_source_record_id", table_name="match_keys")
    op.drop_table("match_keys")
