"""Text without a length for values that come from outside: a page's encoding and content type (from its server),
site names (from a config or a start URL) and job ids.

SQLite never enforces a VARCHAR length, so this changes nothing there; PostgreSQL does, and a server's 150-character
Content-Type would otherwise fail the whole scan.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = {"scans": ["site"], "pages": ["encoding", "content_type"], "probes": ["site"],
           "job_runs": ["job_id", "site"]}
BEFORE = {("scans", "site"): 200, ("pages", "encoding"): 40, ("pages", "content_type"): 100, ("probes", "site"): 200,
          ("job_runs", "job_id"): 300, ("job_runs", "site"): 200}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, columns in COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, type_=sa.Text, existing_type=sa.String(BEFORE[table, column]))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, columns in COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, type_=sa.String(BEFORE[table, column]), existing_type=sa.Text)
