"""The scheduler's job runs (``sitewatch schedule``), created with the store rather than by the first scheduler.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("job_runs"):       # a scheduler ran on this store before 0003
        return
    c = sa.Column
    op.create_table(
        "job_runs", c("id", sa.Integer, primary_key=True), c("job_id", sa.String(300), nullable=False),
        c("site", sa.String(200), nullable=False), c("kind", sa.String(20), nullable=False),
        c("scan_id", sa.Integer, nullable=True), c("started_at", sa.DateTime, nullable=False),
        c("finished_at", sa.DateTime, nullable=True), c("status", sa.String(20), nullable=False),
        c("detail", sa.Text, nullable=False))
    op.create_index("ix_job_runs_job_id", "job_runs", ["job_id"])


def downgrade() -> None:
    op.drop_table("job_runs")
