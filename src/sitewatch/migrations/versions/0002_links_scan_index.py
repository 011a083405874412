"""Links indexed on scan_id alone (2026-11-28): the (scan_id, target) index cost more to write than it saved.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _indexes() -> set[str]:
    return {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes("links") if ix["name"] is not None}


def upgrade() -> None:
    have = _indexes()
    if "ix_links_scan_target" in have:
        op.drop_index("ix_links_scan_target", table_name="links")
    if "ix_links_scan" not in have:
        op.create_index("ix_links_scan", "links", ["scan_id"])


def downgrade() -> None:
    op.drop_index("ix_links_scan", table_name="links")
    op.create_index("ix_links_scan_target", "links", ["scan_id", "target"])
