"""leads: a stage decided while a contributing system could not be read is provisional

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-04 22:15:00

``provisional`` lists the systems whose data the decision lacked (their read failed in that
run); null for a final decision. A provisional stage does not hold a contact against moving
back: once those systems have been read, the rules decide again from complete data.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("provisional", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("provisional")
