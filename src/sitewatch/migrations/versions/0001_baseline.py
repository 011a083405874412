"""Baseline: the schema of sitewatch 0.1.0 (its first release).

A store written before migrations existed has no version: ``sitewatch db upgrade`` stamps it at this revision
and runs the later ones, each of which also accepts a store that already holds its change.

Revision ID: 0001
Revises:
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column[Any]:
    return sa.Column("id", sa.Integer, primary_key=True)


def _scan_id() -> sa.Column[Any]:
    return sa.Column("scan_id", sa.Integer, sa.ForeignKey("scans.id"), nullable=False)


def upgrade() -> None:
    c = sa.Column
    op.create_table(
        "scans", _id(), c("site", sa.String(200), nullable=False), c("start_urls", sa.JSON, nullable=False),
        c("as_of", sa.Date, nullable=False), c("kind", sa.String(20), nullable=False),
        c("status", sa.String(20), nullable=False), c("started_at", sa.DateTime, nullable=False),
        c("finished_at", sa.DateTime, nullable=True), c("config", sa.JSON, nullable=False),
        c("stats", sa.JSON, nullable=False))
    op.create_table(
        "pages", _id(), _scan_id(), c("url", sa.Text, nullable=False), c("status", sa.Integer, nullable=True),
        c("title", sa.Text, nullable=False), c("encoding", sa.String(40), nullable=False),
        c("content_type", sa.String(100), nullable=False), c("elapsed_ms", sa.Integer, nullable=False),
        c("size", sa.Integer, nullable=False), c("depth", sa.Integer, nullable=False),
        c("content_hash", sa.String(40), nullable=False), c("pub_date", sa.Date, nullable=True),
        c("meta", sa.JSON, nullable=False))
    op.create_index("ix_pages_scan_id", "pages", ["scan_id"])
    op.create_table(
        "links", _id(), _scan_id(), c("page_url", sa.Text, nullable=False), c("target", sa.Text, nullable=False),
        c("tag", sa.String(20), nullable=False), c("text", sa.Text, nullable=False))
    op.create_index("ix_links_scan_target", "links", ["scan_id", "target"])
    op.create_table(
        "targets", _id(), _scan_id(), c("url", sa.Text, nullable=False), c("internal", sa.Boolean, nullable=False),
        c("method", sa.String(8), nullable=False), c("status", sa.Integer, nullable=True),
        c("verdict", sa.String(20), nullable=False), c("reason", sa.String(40), nullable=False),
        c("detail", sa.Text, nullable=False), c("final_url", sa.Text, nullable=False),
        c("chain", sa.JSON, nullable=False), c("elapsed_ms", sa.Integer, nullable=False))
    op.create_index("ix_targets_scan_url", "targets", ["scan_id", "url"])
    op.create_index("ix_targets_scan_verdict", "targets", ["scan_id", "verdict"])
    op.create_table(
        "columns", _id(), _scan_id(), c("key", sa.Text, nullable=False), c("name", sa.Text, nullable=False),
        c("url", sa.Text, nullable=False), c("engine", sa.String(20), nullable=False),
        c("total", sa.Integer, nullable=True), c("empty_marker", sa.Boolean, nullable=False))
    op.create_index("ix_columns_scan_id", "columns", ["scan_id"])
    op.create_table(
        "list_items", _id(), _scan_id(), c("column_key", sa.Text, nullable=False),
        c("page_url", sa.Text, nullable=False), c("title", sa.Text, nullable=False), c("url", sa.Text, nullable=False),
        c("date", sa.Date, nullable=True), c("date_source", sa.String(20), nullable=True),
        c("pinned", sa.Boolean, nullable=False), c("document_number", sa.Text, nullable=True),
        c("attachments", sa.JSON, nullable=False))
    op.create_index("ix_items_scan_column", "list_items", ["scan_id", "column_key"])
    op.create_table(
        "findings", _id(), _scan_id(), c("rule", sa.String(60), nullable=False),
        c("severity", sa.String(20), nullable=False), c("url", sa.Text, nullable=False),
        c("fingerprint", sa.String(32), nullable=False), c("message", sa.Text, nullable=False),
        c("found_on", sa.JSON, nullable=False), c("evidence", sa.JSON, nullable=False),
        c("extra", sa.JSON, nullable=False))
    op.create_index("ix_findings_scan_id", "findings", ["scan_id"])
    op.create_index("ix_findings_fingerprint", "findings", ["fingerprint"])
    op.create_table(
        "frontier", _id(), _scan_id(), c("url", sa.Text, nullable=False), c("depth", sa.Integer, nullable=False),
        c("crawl", sa.Boolean, nullable=False))
    op.create_index("ix_frontier_scan_id", "frontier", ["scan_id"])
    op.create_table(
        "probes", _id(), c("site", sa.String(200), nullable=False), c("url", sa.Text, nullable=False),
        c("at", sa.DateTime, nullable=False), c("ok", sa.Boolean, nullable=False),
        c("status", sa.Integer, nullable=True), c("latency_ms", sa.Integer, nullable=True),
        c("error", sa.Text, nullable=False))
    op.create_index("ix_probes_site", "probes", ["site"])
    op.create_index("ix_probes_at", "probes", ["at"])
    op.create_table("sitewatch_meta", c("key", sa.String(40), primary_key=True), c("value", sa.Text, nullable=False))


def downgrade() -> None:
    for table in ("sitewatch_meta", "probes", "frontier", "findings", "list_items", "columns", "targets", "links",
                  "pages", "scans"):
        op.drop_table(table)
