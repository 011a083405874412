"""Conditional requests (issue 17): each page keeps the validators it was served with (``etag``,
``last_modified``), what the page hooks learnt from it (``facts``) and whether the scan reused it (``reused``);
the links are indexed by (scan_id, page_url), so a rescan copies an unchanged page's links without reading the
scan's other links. New nullable columns and a wider index only: no existing row changes.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_COLUMNS = (("etag", sa.Text), ("last_modified", sa.Text), ("facts", sa.JSON), ("reused", sa.String(20)))


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    have = {c["name"] for c in inspector.get_columns("pages")}
    for name, type_ in _COLUMNS:
        if name not in have:            # (a store whose version was lost, made with the columns, has them)
            op.add_column("pages", sa.Column(name, type_, nullable=True))
    indexes = {ix["name"] for ix in inspector.get_indexes("links")}
    if "ix_links_scan_page" not in indexes:
        op.create_index("ix_links_scan_page", "links", ["scan_id", "page_url"])
    if "ix_links_scan" in indexes:      # its leading column serves every query by scan
        op.drop_index("ix_links_scan", table_name="links")


def downgrade() -> None:
    op.create_index("ix_links_scan", "links", ["scan_id"])
    op.drop_index("ix_links_scan_page", table_name="links")
    with op.batch_alter_table("pages") as batch:
        for name, _ in _COLUMNS:
            batch.drop_column(name)
