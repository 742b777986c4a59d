"""match keys as 64-bit integers, without a foreign key

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 23:00:00

A million records hold about eleven million match keys; stored as text with a foreign key
check per row they were the largest write of an import. They are derived data: the table is
created again, empty, and the `matching.keyed` setting removed, so the next sync keys every
record again (one slower run) with the integer keys of hub.matching.model.stored_key.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _rekey_on_next_sync() -> None:
    op.execute("DELETE FROM settings WHERE name = 'matching.keyed'")


def upgrade() -> None:
    op.drop_index("ix_match_keys_source_record_id", table_name="match_keys")
    op.drop_table("match_keys")
    op.create_table(
        "match_keys",
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("source_record_id", _Id, nullable=False),
        sa.PrimaryKeyConstraint("key", "source_record_id", name=op.f("pk_match_keys")),
    )
    op.create_index("ix_match_keys_source_record_id", "match_keys", ["source_record_id"],
                    unique=False)
    _rekey_on_next_sync()


def downgrade() -> None:
    op.drop_index("ix_match_keys_source_record_id", table_name="match_keys")
    op.drop_table("match_keys")
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
    _rekey_on_next_sync()
