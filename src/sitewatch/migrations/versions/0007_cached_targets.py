"""The ``cached_targets`` table: targets of a scan whose result was taken from the link cache (``[crawl]
link_cache_days``), with when and by which scan the result was measured. A new table only: no existing row changes.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("cached_targets"):  # a store whose version was lost, made with the table
        return
    c = sa.Column
    op.create_table(
        "cached_targets", c("id", sa.Integer, primary_key=True),
        c("scan_id", sa.Integer, sa.ForeignKey("scans.id"), nullable=False),
        c("url", sa.Text, nullable=False), c("measured_at", sa.DateTime, nullable=False),
        c("measured_scan", sa.Integer, nullable=False))
    op.create_index("ix_cached_targets_scan_url", "cached_targets", ["scan_id", "url"])


def downgrade() -> None:
    op.drop_table("cached_targets")
