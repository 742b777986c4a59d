"""source records remember the connector's digest of the record as delivered

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 05:00:00

A changed export is read again in full, and most of its rows did not change. Comparing the
content hash meant building and hashing every row first: at a million rows, most of the time
of a run that changed 30,000. With the connector's own digest of the raw row stored, an
unchanged row is recognised before it is built. Existing records start with none (NULL) and
get theirs at their next read, so the first run after the upgrade compares as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("source_records", sa.Column("raw_hash", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("source_records") as batch:
        batch.drop_column("raw_hash")
