"""Fleet jobs (issue 19): a job run records the worker that ran it (``worker``), when it was queued
(``queued_at``) and what it needs to run on any machine (``payload``: the site's config table); a job queued for
workers starts as ``queued``. New nullable columns and an index on the status only: no existing row changes.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_COLUMNS = (("worker", sa.Text), ("queued_at", sa.DateTime), ("payload", sa.JSON))


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    have = {c["name"] for c in inspector.get_columns("job_runs")}
    for name, type_ in _COLUMNS:
        if name not in have:
            op.add_column("job_runs", sa.Column(name, type_, nullable=True))
    if "ix_job_runs_status" not in {ix["name"] for ix in inspector.get_indexes("job_runs")}:
        op.create_index("ix_job_runs_status", "job_runs", ["status"])


def downgrade() -> None:
    op.drop_index("ix_job_runs_status", table_name="job_runs")
    with op.batch_alter_table("job_runs") as batch:
        for name, _ in _COLUMNS:
            batch.drop_column(name)
