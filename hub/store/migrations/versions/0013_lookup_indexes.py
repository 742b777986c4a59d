"""indexes for the outbox and sync states by contact and record, and stage moves by date

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 02:10:00

Planning a write replaces the contact's older pending write, found by contact id; with only
the (connector, status) index each lookup read every pending write, so a first sync of
100,000 contacts to a writable connector spent its time there. Sync states are looked up by
contact (consent read-back, merges, splits, erasure) and by record (lifecycle's shared
records), neither of which the (connector, contact_id) key serves. The console's funnel
counts each day's stage moves by their date.
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_contact_id", "outbox", ["contact_id"], unique=False)
    op.create_index("ix_sync_state_contact_id", "sync_state", ["contact_id"], unique=False)
    op.create_index("ix_sync_state_external_id", "sync_state", ["external_id"], unique=False)
    op.create_index("ix_stage_changes_at", "stage_changes", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_stage_changes_at", table_name="stage_changes")
    op.drop_index("ix_sync_state_external_id", table_name="sync_state")
    op.drop_index("ix_sync_state_contact_id", table_name="sync_state")
    op.drop_index("ix_outbox_contact_id", table_name="outbox")
