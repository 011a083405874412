"""The ``declarations`` table: what units (整改状态, 整改措施, 完成时间) and assessors (核查结论) declared on the
workbooks sitewatch wrote, read back by ``sitewatch import``. A new table only: no existing row changes.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("declarations"):  # a store whose version was lost, made with the table
        return
    c = sa.Column
    op.create_table(
        "declarations", c("id", sa.Integer, primary_key=True),
        c("scan_id", sa.Integer, sa.ForeignKey("scans.id"), nullable=False),
        c("kind", sa.String(20), nullable=False), c("key", sa.String(64), nullable=False),
        c("url", sa.Text, nullable=False), c("status", sa.Text, nullable=False), c("note", sa.Text, nullable=False),
        c("done_on", sa.Date, nullable=True), c("declared_by", sa.Text, nullable=False),
        c("source", sa.Text, nullable=False), c("imported_at", sa.DateTime, nullable=False))
    op.create_index("ix_declarations_scan_kind_key", "declarations", ["scan_id", "kind", "key"], unique=True)


def downgrade() -> None:
    op.drop_table("declarations")
