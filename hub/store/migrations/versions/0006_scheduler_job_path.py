"""scheduler jobs: the job function moved from hub.scheduler to hub.ops.scheduler

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 20:40:00

APScheduler keeps each job in ``scheduler_jobs`` as a pickled state holding the dotted path of
the function it runs. A stored path that no longer imports makes APScheduler drop the job, and
with it the run a stopped node still owes (a missed slot that ``coalesce`` would catch up).
Rewriting the path keeps every stored job, its trigger and its next run time.
"""

from __future__ import annotations

import pickle

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD = "hub.scheduler:scheduled_run"
NEW = "hub.ops.scheduler:scheduled_run"


def _rewrite(old: str, new: str) -> None:
    conn = op.get_bind()
    jobs = sa.table("scheduler_jobs", sa.column("id", sa.String),
                    sa.column("job_state", sa.LargeBinary))
    for job_id, blob in conn.execute(sa.select(jobs.c.id, jobs.c.job_state)).all():
        try:
            state = pickle.loads(blob)  # written by APScheduler into hub's own store
        except Exception:  # unreadable already: APScheduler drops it on start, as it always did
            continue
        if not isinstance(state, dict) or state.get("func") != old:
            continue
        state["func"] = new
        conn.execute(sa.update(jobs).where(jobs.c.id == job_id)
                     .values(job_state=pickle.dumps(state, pickle.HIGHEST_PROTOCOL)))


def upgrade() -> None:
    _rewrite(OLD, NEW)


def downgrade() -> None:
    _rewrite(NEW, OLD)
